"""Where ``train.spotter``'s clips come from: recordings of the generator's long clips, each frame labelled by
the event it falls in; real event-free footage (never a held-out person's); the generator's event-free clips of
the training people; the validation people drawn."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mecore import spotrec
from mecore.atomic import atomic_path
from mecore.errors import MexError
from mecore.spotflow import FEATURES_VERSION
from mecore.spotlearn import CLASSES, features, k_for, windows
from mecore.spotscore import Interval, read_synthetic
from train.spotter_decode import Clip

if TYPE_CHECKING:
    from train.spotter import SpotterConfig


def load_clips(cfg: SpotterConfig) -> list[Clip]:
    clips = []
    for folder, only in [(f, False) for f in cfg.truth] + [(f, True) for f in cfg.train_only]:
        truth, videos = read_synthetic(folder)
        for key in sorted(truth):
            got = recorded(cfg, folder, key, videos[key])
            if got is not None:
                clip = labelled(key, person(folder.name, key), got, truth[key], cfg)
                clips.append(dataclasses.replace(clip, source=source_of(videos[key].with_suffix(".json")), train_only=only))
    # by person and clip, not by folder: one folder of 6 clips a person trains as two folders of 3 do
    return sorted(clips, key=lambda c: (c.identity, c.key))


def person(folder: str, key: str) -> str:
    """The identity a generator clip belongs to: long/sub07 for long/sub07_02, the second long clip of subject 7."""
    sub = re.match(r"sub\d+", key)
    return f"{folder}/{sub.group(0) if sub else key}"


def recorded(cfg: SpotterConfig, folder: Path, key: str, video: Path) -> tuple[np.ndarray, np.ndarray, float] | None:
    """A generator clip's features from its recording (none, said, where no face was tracked); a clip not recorded
    yet is an error that says how to record it."""
    rec = spotrec.path_for(cfg.record, video)
    if not rec.is_file():
        raise MexError(f"{rec}: no recording of {video}; record them first: python -m bench.spotting "
                       f"--record {cfg.record} --truth {folder} --no-real --face ''")
    got = cached_features(rec, cfg)
    if got is None:
        print(f"note: {key}: no face tracked; left out", file=sys.stderr)
    return got


def own_free(cfg: SpotterConfig, people: list[Clip]) -> list[Clip]:
    """The generator's event-free clips (``--free``: ``train.synth_me --train-free``) of the people of ``people``'s
    clips, as event-free clips: any micro event there is false. Each must show the person that person's long clips
    show (the same draw of people); other people's clips are not read."""
    sources = {c.identity: c.source for c in people}
    clips = []
    for folder in cfg.free:
        truth, videos = read_synthetic(folder)
        for key in sorted(truth):
            # free/sub09_01 is the event-free clip of the person whose long clips are long/sub09_*
            who = person(folder.name.replace("free", "long", 1), key)
            if who not in sources:
                continue
            source = source_of(videos[key].with_suffix(".json"))
            if truth[key] or source != sources[who]:
                why = "has events" if truth[key] else f"is of {source!r}, {who}'s long clips of {sources[who]!r}"
                raise MexError(f"{videos[key]}: not an event-free clip of {who} ({why}); give --free the "
                               "spot/free folders of the generator run the --truth clips came from (--train-free K)")
            got = recorded(cfg, folder, key, videos[key])
            if got is not None:
                clips.append(labelled(f"{folder.name}/{key}", who, got, [], cfg))
    return clips


def source_of(sheet: Path) -> str:
    """What a generator clip was made from, per its sheet (the generator writes clip.json beside clip.mp4)."""
    try:
        return str(json.loads(sheet.read_text(encoding="utf-8")).get("source") or "")
    except (OSError, ValueError, AttributeError) as exc:
        raise MexError(f"{sheet}: no ground-truth sheet beside its clip ({type(exc).__name__}: {exc})") from None


def labelled(key: str, identity: str, got: tuple[np.ndarray, np.ndarray, float], truth: list[Interval],
             cfg: SpotterConfig) -> Clip:
    """A recording's (indices, features, fps) as a clip, each frame labelled by the event it falls in (none outside)."""
    idx, x, fps = got
    y = np.zeros(len(idx), np.int64)
    for ev in truth:
        y[(idx >= ev.onset) & (idx <= ev.offset)] = CLASSES.index(ev.kind)
    return Clip(key, identity, x, y, idx, fps, windows(idx, cfg.past, cfg.lookahead), truth)


def load_event_free(cfg: SpotterConfig) -> list[Clip]:
    """The event-free videos as clips without events; a held-out person's source footage is refused."""
    try:
        ids = json.loads(cfg.identities.read_text(encoding="utf-8")) if cfg.identities else {}
        held = {str(Path(ids["sources"][p]["path"]).resolve()): p for p in ids.get("holdout", [])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MexError(f"{cfg.identities}: not a generator identities.json ({type(exc).__name__}: {exc})") from None
    clips = []
    listed = [(v, not f.is_dir()) for f in cfg.event_free for v in (sorted(f.glob("*.mp4")) if f.is_dir() else [f])]
    for video, named in listed:
        who = held.get(str(video.resolve()))
        if who and named:
            raise MexError(f"{video}: held-out person {who}'s footage (per {cfg.identities}); it must not steer "
                           "the choice: leave it out of --event-free")
        if who:  # in a folder: left out, said
            print(f"note: {video.name}: held-out person {who}'s footage, left out of the event-free clips", file=sys.stderr)
            continue
        rec = spotrec.path_for(cfg.record, video)
        if not rec.is_file():
            raise MexError(f"{rec}: no recording of {video}; record it first: python -m bench.spotting --record "
                           f"{cfg.record} --real {video.parent}")
        got = cached_features(rec, cfg)
        if got is not None:
            clips.append(labelled(video.stem, f"event-free/{video.stem}", got, [], cfg))
    return clips


def cached_features(rec: Path, cfg: SpotterConfig) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(indices, features, fps) of a recording's main face, kept beside it (the flow is most of the cost)."""
    cache = rec.with_name(f".{rec.stem}.features-v{FEATURES_VERSION}-{cfg.flow_size}-{cfg.flow_patch:g}.npz")
    stamp = rec.stat().st_mtime_ns
    if cache.is_file():
        with np.load(cache) as z:
            if int(z["stamp"]) == stamp:
                return z["idx"], z["x"], float(z["fps"])
    meta, faces = spotrec.faces(rec)
    if not faces:
        return None
    fps = float(meta["fps"])
    a = max(faces.values(), key=lambda f: len(f["index"]))  # the clip's one person
    idx, x = features(a, k_for(fps), cfg.flow_size, cfg.flow_patch)
    with atomic_path(cache, suffix=".npz") as tmp:
        np.savez(tmp, idx=idx, x=x, fps=fps, stamp=stamp)
    return idx, x, fps


def people_by_folder(clips: list[Clip]) -> dict[str, list[str]]:
    """Truth folder (long: photo people, long_video: real videos) -> its identities that validation may draw, in the
    clips' order: never a --train-only folder's people, so adding those changes no draw (a split, the folds)."""
    fixed = {c.identity for c in clips if c.train_only}
    by_folder: dict[str, list[str]] = {}
    for c in clips:
        if c.identity in fixed:
            continue
        ids = by_folder.setdefault(c.identity.split("/")[0], [])
        if c.identity not in ids:
            ids.append(c.identity)
    return by_folder


def split(clips: list[Clip], k: int, seed: int) -> tuple[list[str], list[str]]:
    """(training, validation) identities: the validation ones drawn from each truth folder in proportion (photo and
    video people alike; ``people_by_folder``), the rest and every --train-only person to train."""
    rng = np.random.default_rng(seed)
    by_folder = people_by_folder(clips)
    total = sum(len(v) for v in by_folder.values())
    if total <= k:
        raise MexError(f"train.spotter: {total} identities, {k} asked for validation: need more")
    val: list[str] = []
    for ids in by_folder.values():
        n = max(1, round(k * len(ids) / total)) if len(ids) > 1 else 0
        val += [str(i) for i in rng.choice(ids, size=min(n, len(ids) - 1), replace=False)]
    train = sorted({c.identity for c in clips} - set(val))
    return train, sorted(val)
