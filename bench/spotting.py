"""Spotting on real and synthetic footage, spotters side by side: ``python -m bench.spotting``.

One table per run, each spotter (``--spotters flow,moilanen``) a column group:

- real clips without coded micro-expressions (``--real DIR``, default ``../shared/media/real``; its
  ``SOURCES.tsv`` kind column: a talking, b still, c macro-expressions, d crowd / head turns): micro and
  macro events per clip and per minute, pooled by kind. Every micro event there is a false one.
- synthetic long clips with known events (``--truth DIR``, repeatable: ``train.synth_me long`` output, e.g.
  held-out identities injected into real video): MEGC TP / FP / FN and F1 per type (micro, macro) and
  overall, per clip and pooled (``stream.spot_eval``'s matching, IoU >= 0.5).
  Below them: micro-expressions found by amplitude; false micro events by what they fell on; per person, the
  missed ones by what the spotter gave there; and by what the clip's source is (a photo, a talking / still /
  macro-expression video) and where the AUs move the face (brows and eyes, mouth and below, both).
- ``--face``: the event-free ``face.mp4`` (default ``../shared/media/face.mp4``).

Each clip runs through the whole per-frame path (decode, MediaPipe, alignment, spotting; no engines),
or with ``--record DIR`` once, its spotting inputs kept in DIR (``bench.spot_replay``), and replayed
after: a setting (any StreamConfig option but ``--spotter``, e.g. ``--flow-noise-factor 3``) is then
measured on every clip in seconds. ``--max-clips`` keeps a quick run short. Figures go to stdout as a Markdown table and, with ``--out``,
as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from mecore.cli import add_options, from_options
from mecore.errors import MexError, run_cli
from stream.config import SPOTTERS, StreamConfig
from stream.spot_eval import (
    Interval,
    f1,
    f1_interval,
    false_by_cause,
    match,
    matched,
    missed_by_cause,
    person_of,
    read_distractors,
    read_synthetic,
    spot_video,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEX_SHARED", REPO.parent / "shared"))
KINDS = {"a": "talking", "b": "still", "bc": "still", "c": "macro", "d": "crowd / head turns"}
BANDS = ((0.0, 1.0), (1.0, 2.0), (2.0, float("inf")))  # an event's largest AU displacement, px on the 256 crop
HALVES = ("upper", "lower", "both")  # where an event's AUs move the face (face_half)


def real_clips(folder: Path) -> list[tuple[str, Path]]:
    """(kind, path) of each clip SOURCES.tsv lists (its kind column's first letters), else by name prefix."""
    listed = folder / "SOURCES.tsv"
    rows: list[tuple[str, Path]] = []
    if listed.is_file():
        with open(listed, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                kind = row.get("kind", "").split()[0].split("/")[0] if row.get("kind") else row["file"].split("_")[0]
                rows.append((KINDS.get(kind, kind), folder / row["file"]))
    else:
        rows = [(KINDS.get(p.name.split("_")[0], "other"), p) for p in sorted(folder.glob("*.mp4"))]
    if not rows:
        raise MexError(f"{folder}: no clips (a SOURCES.tsv or *.mp4)")
    missing = [str(p) for _, p in rows if not p.is_file()]
    if missing:
        raise MexError(f"{listed}: listed clips not found: {', '.join(missing[:3])}")
    return rows


def spot(video: Path, cfg: StreamConfig, record: Path | None = None) -> tuple[list, int, float]:
    """spot_video's (intervals, frames, fps), live, or replayed from ``record`` (recorded first when
    missing, made from another version of the clip, or with other face-tracking options)."""
    if record is None:
        return spot_video(video, cfg)
    from bench import spot_replay
    from mecore import spotrec

    path = spotrec.path_for(record, video)
    meta = spot_replay.recorded(path, video)
    if meta is None or meta["tracking"] != spot_replay.tracking(cfg):
        spot_replay.record(video, path, cfg)
    events, n, fps = spot_replay.replay(path, cfg)
    return [Interval(video.stem, e.onset_frame, e.offset_frame, e.kind) for e in events], n, fps


def run_real(clips: list[tuple[str, Path]], config: StreamConfig, record: Path | None = None) -> list[dict]:
    out = []
    for kind, path in clips:
        preds, n, fps = spot(path, config, record)
        micro = sum(p.kind == "micro" for p in preds)
        out.append({"clip": path.name, "kind": kind, "seconds": round(n / fps, 2), "micro": micro,
                    "macro": len(preds) - micro})
        print(f"{config.spotter}: {path.name}: {micro} micro, {len(preds) - micro} macro in {n / fps:.1f} s", file=sys.stderr)
    return out


def sheet(folder: str | Path, key: str) -> dict:
    """The synthetic clip's ground-truth JSON (``folder`` is a folder of them or the one file)."""
    f = Path(folder) / f"{key}.json" if Path(folder).is_dir() else Path(folder)
    return json.loads(f.read_text(encoding="utf-8"))


def amplitudes(d: dict) -> list[float]:
    """Each ground-truth event's largest AU displacement (``displacement_px``; 0 where not given), in order."""
    return [max((e.get("displacement_px") or {"": 0.0}).values()) for e in d["events"]]


def face_half(aus: str) -> str:
    """Where an event's AUs ("6+L12") move the face: "upper" (brows and eyes: AUs 1-7, 41-46), "lower" or "both"."""
    nums = {int(a.lstrip("LRB")) for a in aus.split("+") if a.lstrip("LRB").isdigit()}
    up = {a for a in nums if a <= 7 or 41 <= a <= 46}
    return "both" if up and nums - up else "upper" if up else "lower"


def source_kind(d: dict) -> str:
    """What the clip's source is: a real video's kind by its name's prefix (``KINDS``: talking, still, macro...), or
    "photo" for a still photograph (a clip without ``turns``, which the generator writes for a video's clip only)."""
    if "turns" not in d:
        return "photo"
    return KINDS.get(str(d.get("source", "")).split("_")[0], "other video")


def recall_by(d: dict, truth: list[Interval], preds: list[Interval]) -> tuple[list[list[int]], dict[str, list[int]]]:
    """[found, of] micro-expressions by amplitude band (``BANDS``) and by face half (``HALVES``); ``truth`` is
    ``d``'s events as intervals, in its order."""
    micro = [(a, face_half(e.get("aus", ""))) for i, a, e in zip(truth, amplitudes(d), d["events"]) if i.kind == "micro"]
    hit = {gi for gi, _ in matched([i for i in truth if i.kind == "micro"], [p for p in preds if p.kind == "micro"])}
    bands = [[sum(1 for j, (a, _) in enumerate(micro) if lo <= a < hi and j in hit),
              sum(1 for a, _ in micro if lo <= a < hi)] for lo, hi in BANDS]
    halves = {h: [sum(1 for j, (_, w) in enumerate(micro) if w == h and j in hit), sum(1 for _, w in micro if w == h)]
              for h in HALVES}
    return bands, halves


def run_truth(folders: list[str], config: StreamConfig, record: Path | None = None) -> list[dict]:
    out = []
    for folder in folders:
        truth, videos = read_synthetic(folder)
        around = read_distractors(folder)
        for key in sorted(truth):
            preds, n, fps = spot(Path(videos[key]), config, record)
            row = {"clip": key, "seconds": round(n / fps, 2)}
            for kind in ("micro", "macro"):
                row[kind] = match([i for i in truth[key] if i.kind == kind], [p for p in preds if p.kind == kind])
            d = sheet(folder, key)
            row["bands"], row["halves"] = recall_by(d, truth[key], preds)
            row["source_kind"] = source_kind(d)
            # the false micro events by what they fell on: a distractor, an expression they mislocated, nothing
            row["false"] = false_by_cause({key: truth[key]}, {key: [p for p in preds if p.kind == "micro"]}, around)
            row["missed"] = missed_by_cause(truth[key], preds)
            out.append(row)
            print(f"{config.spotter}: {key}: micro TP/FP/FN {row['micro']}, macro {row['macro']}", file=sys.stderr)
    return out


def steered(config: StreamConfig) -> dict[str, str]:
    """Clip stem -> how the learned spotter's engine used that real footage ("trained on": mixed into its
    training clips; "chose it": its false alarms there chose the decoder), from the engine's metadata; empty
    when there is no engine or it does not say (an engine from before session 19)."""
    import engines

    try:
        footage = engines.load(config.spotter_model, "onnxruntime", threads=1).meta.get("footage")
    except (FileNotFoundError, MexError, LookupError):
        return {}
    if not isinstance(footage, dict):
        return {}
    return {**{k: "chose it" for k in footage.get("checked", [])}, **{k: "trained on" for k in footage.get("mixed", [])}}


def table(results: dict[str, dict], seen: dict[str, str] | None = None) -> str:
    """The Markdown tables; ``seen`` (``steered``) adds whether the learned engine saw each real clip, and the rates
    on the clips it never saw: the only ones that are not a figure of its own selection."""
    names = list(results)
    seen = seen or {}
    lines = ["| clip | kind | s | learned engine | " + " | ".join(f"{s}: micro | {s}: macro" for s in names) + " |",
             "|---|---|---|---|" + "---|---|" * len(names)]
    first = results[names[0]]
    for i, row in enumerate(first.get("real", [])):
        cells = [f"{results[s]['real'][i]['micro']} | {results[s]['real'][i]['macro']}" for s in names]
        use = seen.get(Path(row["clip"]).stem, "never saw it") if seen else "?"
        lines.append(f"| {row['clip']} | {row['kind']} | {row['seconds']} | {use} | " + " | ".join(cells) + " |")
    groups = [(kind, "", lambda r, k=kind: r["kind"] == k) for kind in sorted({r["kind"] for r in first.get("real", [])})]
    if seen:
        groups.append(("all", "never saw it", lambda r: Path(r["clip"]).stem not in seen))
    for label, use, keep in groups:
        cells = []
        for s in names:
            rows = [r for r in results[s]["real"] if keep(r)]
            minutes = sum(r["seconds"] for r in rows) / 60
            cells.append(f"{sum(r['micro'] for r in rows) / minutes:.2f}/min | {sum(r['macro'] for r in rows) / minutes:.2f}/min"
                         if minutes else "- | -")
        secs = sum(r["seconds"] for r in first["real"] if keep(r))
        lines.append(f"| **pooled** | {label} | {secs:.0f} | {use} | " + " | ".join(cells) + " |")
    if first.get("synthetic"):
        lines += ["", "| synthetic clip | s | " + " | ".join(f"{s}: micro TP/FP/FN | {s}: macro TP/FP/FN" for s in names) + " |",
                  "|---|---|" + "---|---|" * len(names)]
        for i, row in enumerate(first["synthetic"]):
            cells = [" | ".join("/".join(map(str, results[s]["synthetic"][i][k])) for k in ("micro", "macro")) for s in names]
            lines.append(f"| {row['clip']} | {row['seconds']} | " + " | ".join(cells) + " |")
        cells = []
        for s in names:
            tot = {k: [sum(r[k][j] for r in results[s]["synthetic"]) for j in range(3)] for k in ("micro", "macro")}
            all3 = [tot["micro"][j] + tot["macro"][j] for j in range(3)]
            people = [person_of(r["clip"]) for r in results[s]["synthetic"]]
            ci = {k: f1_interval([r[k] for r in results[s]["synthetic"]], people) for k in ("micro", "macro")}
            results[s]["pooled"] = {"micro": tot["micro"], "macro": tot["macro"], "overall": all3,
                                    "f1": {"micro": round(f1(*tot["micro"]), 3), "macro": round(f1(*tot["macro"]), 3),
                                           "overall": round(f1(*all3), 3)}, "f1_ci95": ci}
            cells.append(" | ".join(f"{'/'.join(map(str, tot[k]))} " + (
                f"F1 {f1(*tot[k]):.3f} [{ci[k][0]:.2f}, {ci[k][1]:.2f}]" if tot[k][0] + tot[k][2] else "(none in the truth: no F1)")
                for k in ("micro", "macro")) + (f" (overall {f1(*all3):.3f})" if all3[0] + all3[2] else ""))
        secs = sum(r["seconds"] for r in first["synthetic"])
        lines.append(f"| **pooled** | {secs:.0f} | " + " | ".join(cells) + " |")
        if any(sum(r[k][0] + r[k][2] for r in first["synthetic"]) for k in ("micro", "macro")):
            lines.append(f"\n[lo, hi]: 95 % interval of the pooled F1 over {len(set(people))} people (percentile bootstrap, "
                         "each person's clips resampled together)")
        names_b = [f"{lo:g}-{hi:g} px" if hi != float("inf") else f">= {lo:g} px" for lo, hi in BANDS]
        lines += ["", "| micro events found (IoU >= 0.5) by largest AU displacement (256 crop) | "
                  + " | ".join(names_b) + " |", "|---|" + "---|" * len(BANDS)]
        for s in names:
            tot = [[sum(r["bands"][b][j] for r in results[s]["synthetic"]) for j in range(2)] for b in range(len(BANDS))]
            results[s]["pooled"]["bands"] = tot
            lines.append(f"| {s} | " + " | ".join(f"{f}/{n}" for f, n in tot) + " |")
        lines += ["", "| false micro events, by what they fell on | in all | per minute | of which on no expression "
                  "(per minute) | by cause (event: a mislocated expression) |", "|---|---|---|---|---|"]
        for s in names:
            where: dict[str, int] = {}
            for r in results[s]["synthetic"]:
                for k, v in r["false"].items():
                    where[k] = where.get(k, 0) + v
            n, alarms = sum(where.values()), sum(v for k, v in where.items() if k != "event")
            results[s]["pooled"]["false"] = where
            lines.append(f"| {s} | {n} | {n / (secs / 60):.2f}/min | {alarms} ({alarms / (secs / 60):.2f}/min) | "
                         + (", ".join(f"{k} {v}" for k, v in sorted(where.items())) or "-") + " |")
        lines += missed_table(results, names) + halves_table(results, names)
    return "\n".join(lines)


def halves_table(results: dict[str, dict], names: list[str]) -> list[str]:
    """Micro-expressions found by what the clip's source is and where their AUs move the face: whether misses
    follow the face's own motion (a talking source) and whether that motion hides only the mouth's events."""
    rows = results[names[0]]["synthetic"]
    if any("halves" not in r for r in rows) or not any(sum(v[1] for v in r["halves"].values()) for r in rows):
        return []  # a report written before the column, or event-free clips
    lines = ["", "| micro-expressions found, by source and face half | " + " | ".join(HALVES) + " | all |",
             "|---|" + "---|" * (len(HALVES) + 1)]
    for s in names:
        kinds: dict[str, dict[str, list[int]]] = {}
        for r in results[s]["synthetic"]:
            got = kinds.setdefault(r["source_kind"], {h: [0, 0] for h in HALVES})
            for h in HALVES:
                got[h] = [got[h][0] + r["halves"][h][0], got[h][1] + r["halves"][h][1]]
        results[s]["pooled"]["halves"] = kinds
        for kind, got in sorted(kinds.items()):
            tot = [sum(v[j] for v in got.values()) for j in range(2)]
            lines.append(f"| {s}: {kind} | " + " | ".join(f"{got[h][0]}/{got[h][1]}" for h in HALVES)
                         + f" | {tot[0]}/{tot[1]} |")
    return lines


def missed_table(results: dict[str, dict], names: list[str]) -> list[str]:
    """Micro-expressions found per person and the missed ones by what the spotter gave there (``missed_by_cause``):
    whether a person's misses are motion called macro, mislocated events or nothing at all."""
    rows = results[names[0]]["synthetic"]
    if not any(r["micro"][0] + r["micro"][2] for r in rows) or any("missed" not in r for r in rows):
        return []  # event-free clips, or a report written before the column
    lines = ["", "| micro-expressions, by person | found | missed: under a macro event | missed: a micro event off in time "
             "| missed: nothing there |", "|---|---|---|---|---|"]
    for s in names:
        people: dict[str, list[int]] = {}
        for r in results[s]["synthetic"]:
            got = people.setdefault(person_of(r["clip"]), [0, 0, 0, 0, 0])
            for j, v in enumerate((r["micro"][0], r["micro"][0] + r["micro"][2], r["missed"].get("macro", 0),
                                   r["missed"].get("micro", 0), r["missed"].get("none", 0))):
                got[j] += v
        people["all"] = [sum(v[j] for v in people.values()) for j in range(5)]
        results[s]["pooled"]["missed"] = {k: dict(zip(("found", "of", "macro", "micro", "none"), v)) for k, v in people.items()}
        lines += [f"| {s}: {who} | {v[0]}/{v[1]} | {v[2]} | {v[3]} | {v[4]} |" for who, v in people.items()]
    return lines


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.spotting", description=__doc__.split("\n")[0])
    ap.add_argument("--real", default=str(SHARED / "media" / "real"), help="folder of event-free real clips")
    ap.add_argument("--no-real", action="store_true", help="skip the real clips")
    ap.add_argument("--face", default=str(SHARED / "media" / "face.mp4"), help="event-free face video ('' to skip)")
    ap.add_argument("--truth", action="append", default=[], help="folder of synthetic long clips (repeatable)")
    ap.add_argument("--spotters", default=",".join(SPOTTERS), help=f"comma list of {SPOTTERS}")
    ap.add_argument("--max-clips", type=int, default=None, help="at most this many real clips")
    ap.add_argument("--out", help="also write the figures as JSON here")
    ap.add_argument("--record", type=Path, help="keep each clip's spotting inputs here and replay them (bench.spot_replay)")
    # spot_video sets classify and overlay itself
    add_options(ap, StreamConfig, skip=("spotter", "classify", "overlay"), group="analyser settings for every "
                "spotter (stream.config.StreamConfig; defaults are the dataclass's)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        spotters = [s.strip() for s in args.spotters.split(",") if s.strip()]
        bad = [s for s in spotters if s not in SPOTTERS]
        if bad or not spotters:
            raise MexError(f"--spotters: {bad or 'none'} not in {SPOTTERS}")
        clips = [] if args.no_real else real_clips(Path(args.real))[: args.max_clips]
        if args.face:
            if not Path(args.face).is_file():
                raise MexError(f"{args.face}: face video not found")
            clips.append(("still (face.mp4)", Path(args.face)))
        base = from_options(StreamConfig, args)
        results = {s: {"real": run_real(clips, base.updated(spotter=s), args.record),
                       "synthetic": run_truth(args.truth, base.updated(spotter=s), args.record)} for s in spotters}
        print(table(results, steered(base) if clips else None))
        if args.out:
            from mecore.atomic import write_text

            write_text(args.out, json.dumps(results, indent=2) + "\n")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
