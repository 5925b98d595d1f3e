"""One call for the whole synthetic set: one subject per real person, clips in the CASME II layout,
the held-out people in a folder of their own, optional long clips, the folder guarded and recorded.

    DIR/                      training identities (CASME II layout, ground_truth.json)
    DIR/long/                 K long clips of training identities (--long-clips K; for tuning)
    DIR/holdout/              held-out identities, same layout, subjects numbered after the training ones
    DIR/holdout/long/         long clips of held-out photo identities (micro, macro and distractors)
    DIR/holdout/long_video/   the same injected into held-out real videos
    DIR/holdout/free/, free_video/ event-free long clips of the held-out people (--holdout-free K): blinks,
                              speech, head turns and nods only, where every micro event a spotter gives is false
    DIR/spot/long, long_video/ the same kind of long clips of the training identities (--train-long K):
                              what a learned spotter is trained and tuned on
    DIR/spot/free, free_video/ event-free long clips of the training identities (--train-free K): where a
                              learned spotter's false-alarm budget is checked on its validation people
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from train.synth import output
from train.synth.casme_layout import (
    GROUND_TRUTH,
    LONG_KEY,
    SHEET_CSV,
    SHEET_XLSX,
    SUBJECT_KEY,
    SynthConfig,
    rng_for,
    summary_line,
    write_dataset,
)
from train.synth.faces import Subject, make_subject
from train.synth.identities import (
    Identity,
    check_distinct,
    default_identities,
    photo_source,
    split_holdout,
    user_identities,
)
from train.synth.long_clips import LongClipConfig, long_clip_from_subject, long_clip_from_video
from train.synth.video import VideoSubject

LONG_DIR = "long"
HOLDOUT_DIR = "holdout"
TRAIN_LONG_DIR = "spot"
FREE_KEY = 500  # the event-free held-out clips' seeds (100 + subject: the held-out long clips', 300 +: training's)
TRAIN_FREE_KEY = 700  # the training people's event-free clips'
# Held-out long clips: every kind of event and distractor, the ranges of size, compression and focus.
HOLDOUT_LONG = LongClipConfig(seconds=24.0, events=5, amplitude=(0.5, 3.0), duration_s=(0.15, 0.5), macro=1,
                              distractors=4, warps=("rbf", "tps"), crf_range=(18, 30), blur_range=(0.0, 0.8),
                              video_seconds=24.0)


def identities_for(faces: list[str] | None, default_faces: bool, tracker: FaceTracker) -> tuple[list[Identity], list[str]]:
    ids, notes = default_identities(tracker) if default_faces else ([], [])
    ids += user_identities(faces or [])
    if not ids:
        raise MexError("no face sources: give --faces or allow the default set")
    check_distinct(ids)
    return ids, notes


def make_subjects(cfg: SynthConfig, identities: list[Identity], tracker: FaceTracker,
                  first: int = 1) -> list[Subject | VideoSubject]:
    """One subject per identity, numbered from ``first``: photos re-shot, videos tracked."""
    faces_of: dict = {}
    out = []
    for i, ident in enumerate(identities, start=first):
        if ident.kind == "video":
            out.append(VideoSubject.load(i, ident.person, ident.path))
        else:
            src = photo_source(ident, tracker, faces_of)
            out.append(make_subject(src, i, rng_for(cfg.seed, SUBJECT_KEY, i), tracker))
    return out


def generate(
    out: str | Path,
    cfg: SynthConfig | None = None,
    faces: list[str] | None = None,
    long_clips: int = 0,
    long_cfg: LongClipConfig | None = None,
    progress: bool = True,
    default_faces: bool = True,
    holdout_long: int = 0,
    train_long: int = 0,
    train_long_from: int = 1,
    train_long_kind: str | None = None,
    train_long_after: int = 0,
    long_fps: float = HOLDOUT_LONG.fps,
    holdout_warp: str = "",
    holdout_free: int = 0,
    train_free: int = 0,
) -> dict:
    """Write the set into ``out`` (new, empty, or a previous synth output) and return its ground truth
    with ``"summary"`` (the one-line summary), ``"seconds"`` and ``"identities"`` added.

    ``holdout_long``: long clips per held-out identity (photo ones into holdout/long, video ones into
    holdout/long_video); ``train_long``: the same per training identity, into spot/, numbered from
    ``train_long_from``, of ``train_long_kind``'s identities only when given (photo, video; ``train_free``'s too),
    and of the people numbered above ``train_long_after`` only (those a larger ``subjects`` adds, their clips as that
    set writes them);
    ``long_fps``: the rate of those made from photos (a phone's 60 fps; a video keeps its own); ``holdout_warp``:
    every held-out event in this warp family (``warp.EVAL_WARPS``: one no training clip uses), the draws otherwise
    unchanged; ``holdout_free``: event-free long clips per held-out identity (holdout/free, free_video: the
    distractors alone, drawn with seeds of their own); ``train_free``: the same per training identity (spot/free,
    free_video). Bad counts, rate or family: MexError, before any work."""
    start = time.perf_counter()
    if min(holdout_long, holdout_free, train_long, long_clips, train_long_after, train_free) < 0 or train_long_from < 1:
        raise MexError("--long-clips, --holdout-long, --holdout-free, --train-long, --train-long-after and --train-free "
                       "must be >= 0, --train-long-from >= 1")
    if train_long_kind not in (None, "photo", "video"):
        raise MexError(f"--train-long-kind {train_long_kind!r}: photo or video")
    try:
        identity_long_config(long_fps)  # the clips' own check
    except ValueError as exc:
        raise MexError(f"--long-fps {long_fps:g}: {exc}") from None
    try:
        identity_long_config(warp=holdout_warp)
    except ValueError as exc:
        raise MexError(f"--holdout-warp {holdout_warp}: {exc}") from None
    cfg = cfg or SynthConfig()
    if holdout_free and not cfg.holdout_identities:
        raise MexError("--holdout-free K: event-free clips of held-out people; give --holdout-identities too")
    out = Path(out)
    n_train = cfg.subjects
    planned = [f"sub{i:02d}" for i in range(1, n_train + 1)] + [SHEET_XLSX, SHEET_CSV, GROUND_TRUTH, output.SPLIT]
    if long_clips:
        planned.append(LONG_DIR)
    if cfg.holdout_identities:
        planned.append(HOLDOUT_DIR)
    if train_long or train_free:
        planned.append(TRAIN_LONG_DIR)
    settings = {"config": asdict(cfg), "faces": list(faces or []), "long_clips": long_clips,
                "default_faces": default_faces, "holdout_long": holdout_long}
    if train_long or train_free:  # only when asked: earlier outputs' settings stay as they were
        if train_long:
            settings["train_long"] = train_long
        if (train_long_from, train_long_kind) != (1, None):
            settings["train_long_from"], settings["train_long_kind"] = train_long_from, train_long_kind
        if train_long_after:
            settings["train_long_after"] = train_long_after
    if long_fps != HOLDOUT_LONG.fps:
        settings["long_fps"] = long_fps
    if holdout_warp:
        settings["holdout_warp"] = holdout_warp
    if holdout_free:
        settings["holdout_free"] = holdout_free
    if train_free:
        settings["train_free"] = train_free
    with FaceTracker(mode="image", max_faces=6, blendshapes=False) as tracker:
        identities, notes = identities_for(faces, default_faces, tracker)
        train_ids, held_ids = split_holdout(identities, cfg.holdout_identities, cfg.seed)
        if n_train > len(train_ids):
            raise MexError(f"{n_train} subjects asked for, but only {len(train_ids)} distinct people are available"
                           f" ({len(identities)} found, {len(held_ids)} held out)"
                           + (f"; {len(notes)} registry files missing: run python -m train.synth.sources fetch"
                              if notes else ""))
        train_ids = train_ids[:n_train]
        output.claim(out, settings, planned)
        subjects = make_subjects(cfg, train_ids, tracker)
        held = make_subjects(cfg, held_ids, tracker, first=n_train + 1) if held_ids else []
    for line in notes:  # stderr: stdout keeps the one summary line that scripts read
        print(f"note: {line}", file=sys.stderr)
    split = {"train": [i.person for i in train_ids], "holdout": [i.person for i in held_ids]}
    truth = write_dataset(out, cfg, subjects, progress=progress)
    if long_clips:
        write_long_clips(out / LONG_DIR, subjects, faces, long_clips, long_cfg or LongClipConfig(fps=cfg.fps), cfg.seed)
    if train_long:
        write_identity_long(out / TRAIN_LONG_DIR, subjects, train_ids, train_long, cfg.seed, key=300,
                            first=train_long_from, kind=train_long_kind, fps=long_fps, after=train_long_after)
    if train_free:
        write_identity_long(out / TRAIN_LONG_DIR, subjects, train_ids, train_free, cfg.seed, key=TRAIN_FREE_KEY,
                            kind=train_long_kind, fps=long_fps, free=True)
    if held:
        hcfg = replace(cfg, clips_per_subject=cfg.holdout_clips, render_warp=holdout_warp)
        write_dataset(out / HOLDOUT_DIR, hcfg, held, progress=progress)
        if holdout_long:
            write_identity_long(out / HOLDOUT_DIR, held, held_ids, holdout_long, cfg.seed, fps=long_fps,
                                warp=holdout_warp)
        if holdout_free:
            write_identity_long(out / HOLDOUT_DIR, held, held_ids, holdout_free, cfg.seed, key=FREE_KEY, fps=long_fps,
                                free=True)
    output.write_split(out, split, identities)
    output.finish(out, settings, planned)
    seconds = time.perf_counter() - start
    truth["seconds"] = round(seconds, 2)
    truth["identities"] = split
    truth["summary"] = summary_line(truth, seconds, long_clips) + (f", {len(held)} held-out identities" if held else "")
    return truth


def identity_long_config(fps: float = HOLDOUT_LONG.fps, warp: str = "") -> LongClipConfig:
    """The identity long clips' settings at ``fps`` (the photo clips' rate), every event in ``warp``'s family
    when given; a bad rate or family is LongClipConfig's ValueError."""
    return replace(HOLDOUT_LONG, fps=fps, render_warp=warp)


def write_identity_long(folder: Path, subjects: list, ids: list[Identity], k: int, seed: int,
                        key: int = 100, first: int = 1, kind: str | None = None,
                        fps: float = HOLDOUT_LONG.fps, warp: str = "", free: bool = False, after: int = 0) -> list[dict]:
    """``k`` long clips per identity, numbered from ``first``: photos in ``long/``, real videos in
    ``long_video/``; only ``kind``'s identities (photo, video) when given. A clip's seed is its person's and
    its number's, so a later run from ``first`` adds clips a larger ``k`` would have written, byte for byte.
    ``key`` keeps the training identities' clip seeds (300 + subject) apart from the held-out ones' (100 + subject).
    ``fps``: the photo clips' rate (a video keeps its own); ``warp``: every event's family, when given; ``free``:
    no micro- or macro-expression, the distractors alone, into ``free/`` and ``free_video/``; ``after``: only the
    subjects numbered above it."""
    cfg = identity_long_config(fps, warp)
    if free:
        cfg = replace(cfg, events=0, macro=0)
    truths = []
    for subject, ident in zip(subjects, ids):
        if (kind and ident.kind != kind) or subject.index <= after:
            continue
        sub = folder / (("free" if free else "long") + ("_video" if ident.kind == "video" else ""))
        sub.mkdir(parents=True, exist_ok=True)
        for j in range(first - 1, first - 1 + k):
            path = sub / f"sub{subject.index:02d}_{j + 1:02d}.mp4"
            clip_seed = int(rng_for(seed, LONG_KEY, key + subject.index, j).integers(0, 2**31))
            if ident.kind == "video":
                truths.append(long_clip_from_video(ident.path, path, cfg, clip_seed))
            else:
                truths.append(long_clip_from_subject(subject, path, cfg, clip_seed))
    return truths


def write_long_clips(folder: Path, subjects: list, faces: list[str] | None, k: int,
                     cfg: LongClipConfig, seed: int) -> list[dict]:
    """``k`` long clips: from the given videos in turn when there are any, else from the subjects."""
    from train.synth.faces import VIDEO_SUFFIXES

    videos = [f for f in faces or [] if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    stills = [s for s in subjects if isinstance(s, Subject)]
    folder.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(k):
        path = folder / f"long{i + 1:02d}.mp4"
        clip_seed = int(rng_for(seed, LONG_KEY, i).integers(0, 2**31))
        if videos or not stills:
            vids = videos or [str(s.path) for s in subjects]
            truths.append(long_clip_from_video(vids[i % len(vids)], path, cfg, clip_seed))
        else:
            truths.append(long_clip_from_subject(stills[i % len(stills)], path, cfg, clip_seed))
    return truths
