"""Score spotting on long videos with the MEGC protocol: ``python -m stream.spot_eval``.

A predicted interval is a hit (TP) when its IoU with a not yet matched ground-truth interval of the same
video and type is >= 0.5; unmatched predictions are FP, unmatched ground truth FN. TP, FP and FN are
pooled over all videos, then precision, recall and F1 per type (micro, macro) and overall; per clip the
report gives TP, FP, FN of each type. A predicted interval's type is the spotter's ``kind`` (an events
file without it: micro when onset..offset <= ``micro_max_s``, as MEGC methods do); a ground-truth
event's is its ``kind`` (synthetic JSON; micro when absent) or the sheet's Type column.

Ground truth (frame indices are turned into 0-based decoded-frame indices): the synthetic long clips' JSON
(``train.synth_me --long-clips``; one .json beside each .mp4), or a released dataset's sheets
(``stream.spot_sheets``: CAS(ME)^2, SAMM-LV, CAS(ME)^3 part A).

    python -m stream.spot_eval --truth clips/            # run the spotter on every clip, then score
    python -m stream.spot_eval --truth clips/ --predictions preds/   # score <video>.jsonl files
    python -m stream.spot_eval --samm-lv SAMM_LongVideos_V3_Release.xlsx --predictions preds/
    python -m stream.spot_eval --casme3 cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx \
        --casme3 cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx --videos part_A/data
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mecore.errors import MexError, run_cli
from mecore.spotscore import (  # noqa: F401
    IOU_HIT,
    Interval,
    f1,
    f1_interval,
    kind_of,
    match,
    matched,
    person_of,
    read_synthetic,
)
from stream.config import SPOTTERS
from stream.spot_sheets import (  # noqa: F401 (API: the readers were here before spot_sheets)
    KNOWN_FPS,
    casme3_folders,
    casme3_positions,
    casme3_truth,
    find_video,
    read_casme2,
    read_casme3,
    read_samm_lv,
)

# -- ground truth readers ---------------------------------------------------------------------------

def read_distractors(path: str | Path) -> dict[str, list[Interval]]:
    """The distractors of synthetic long clips ({video: intervals whose kind is blink, speech, head_turn or
    nod}), and the turns of a short video's playback (kind "turn": ``turn_s`` on either side of the frame where it
    turns back, the motion it mirrors); files without any give none."""
    path = Path(path)
    out: dict[str, list[Interval]] = {}
    for f in (sorted(path.glob("*.json")) if path.is_dir() else [path]):
        if f.name.startswith("."):
            continue
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            base = int(d.get("frame_index_base", 0))
            video = Path(d["video"]).stem
            out[video] = [Interval(video, int(x["start"]) - base, int(x["end"]) - base, str(x["kind"]))
                          for x in d.get("distractors", [])]
            w = round(float(d.get("turn_s", 0.0)) * float(d.get("fps", 30.0)))
            out[video] += [Interval(video, int(t) - base - w, int(t) - base + w, "turn") for t in d.get("turns", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MexError(f"{f}: not a synthetic ground-truth file ({type(exc).__name__}: {exc})") from None
    return out


def false_by_cause(truth: dict[str, list[Interval]], preds: dict[str, list[Interval]],
                   distractors: dict[str, list[Interval]]) -> dict[str, int]:
    """Predictions that hit no ground-truth event (IoU < 0.5 with every one), counted by what they
    overlap most: a distractor kind, a true event they missed ("event"), or nothing ("none")."""
    out: dict[str, int] = defaultdict(int)
    for video, ps in preds.items():
        gts = truth.get(video, [])
        for p in ps:
            if any(p.iou(g) >= IOU_HIT for g in gts):
                continue
            near = [(p.iou(x), x.kind) for x in distractors.get(video, [])] + [(p.iou(g), "event") for g in gts]
            best = max(near, default=(0.0, "none"))
            out[best[1] if best[0] > 0 else "none"] += 1
    return dict(sorted(out.items()))


def missed_by_cause(truth: list[Interval], preds: list[Interval]) -> dict[str, int]:
    """The micro-expressions of ``truth`` no micro prediction matched (MEGC's one-to-one, IoU >= 0.5), by what
    the spotter gave there: a micro event off in time ("micro"), a macro event over it ("macro": it saw the
    motion but as part of a longer one, such as the face's own expression around it), or nothing ("none")."""
    micro = [g for g in truth if g.kind == "micro"]
    hit = {gi for gi, _ in matched(micro, [p for p in preds if p.kind == "micro"])}
    out: dict[str, int] = defaultdict(int)
    for gi, g in enumerate(micro):
        if gi not in hit:
            over = {p.kind for p in preds if p.iou(g) > 0}
            out["micro" if "micro" in over else "macro" if "macro" in over else "none"] += 1
    return dict(sorted(out.items()))


def read_predictions(path: str | Path, video: str, fps: float | None = None, micro_max_s: float = 0.5,
                     ) -> list[Interval]:
    """events.jsonl (run_stream.py --events) -> intervals of ``video``."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                raise MexError(f"{path}: line {n}: not JSON") from None
            if rec.get("type") != "event":
                continue
            on, off = int(rec["onset_frame"]), int(rec["offset_frame"])
            rate = fps or (on / rec["onset_s"] if rec.get("onset_s") else 30.0)
            kind = rec.get("kind") or ("micro" if (off - on) / rate <= micro_max_s else "macro")
            out.append(Interval(video, on, off, kind, rec.get("label")))
    return out


# -- scoring ------------------------------------------------------------------------------------------

def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1(tp, fp, fn), 4)}


def score(truth: dict[str, list[Interval]], preds: dict[str, list[Interval]]) -> dict:
    """MEGC scores: per type (micro, macro) and overall, TP/FP/FN pooled over videos, each F1 with its 95 %
    interval over the people (``f1_interval``: a person's videos resampled together)."""
    videos = sorted(set(truth) | set(preds))
    per = {kind: [match([i for i in truth.get(v, []) if i.kind == kind], [i for i in preds.get(v, []) if i.kind == kind])
                  for v in videos] for kind in ("micro", "macro")}
    per["overall"] = [tuple(a + b for a, b in zip(m, n)) for m, n in zip(per["micro"], per["macro"])]
    people = [person_of(v) for v in videos]
    out = {kind: _prf(*(sum(c[j] for c in rows) for j in range(3))) | {"f1_ci95": list(f1_interval(rows, people))}
           for kind, rows in per.items()}
    out["videos"] = len(videos)
    out["people"] = len(set(people))
    return out


# -- running the spotter ------------------------------------------------------------------------------

def spot_video(video: str | Path, config=None, fps: float | None = None, classify: bool = False,
               spot_tap=None) -> tuple[list[Interval], int, float]:
    """Run the analyser (spotting only, or with ``classify`` the whole path: spot -> motion ->
    classifier, each interval carrying its predicted label) on one video: (intervals, frames, fps).

    ``fps`` is the rate of an image folder (a video file keeps its own): the spotter's windows are in
    seconds, so a 200 fps SAMM folder read as 30 fps would look for events 6.7 times too long.
    ``spot_tap`` goes to the Analyzer (bench.spot_replay records with it).
    """
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.runner import Runner
    from stream.sources import open_source

    name = Path(video).stem
    events: list = []
    labels: dict = {}  # SpotEvent -> predicted label

    def collect(result) -> None:
        events.extend(result.events)
        labels.update({p.event: p.label for p in result.predictions})

    with open_source(str(video), fps=fps) as src:
        cfg = (config or StreamConfig()).updated(classify=classify, overlay=False).with_fps(src.fps)
        with Analyzer(cfg, spot_tap=spot_tap) as an:
            runner = Runner(an, [collect])
            n = runner.run(src)["frames"]
            labels.update({p.event: p.label for p in an.predictions})
    if runner.error is not None:
        raise runner.error
    return [Interval(name, e.onset_frame, e.offset_frame, e.kind, labels.get(e)) for e in events], n, cfg.fps


def class_accuracy(truth: dict[str, list[Interval]], preds: dict[str, list[Interval]]) -> dict:
    """Of the spotted micro-expressions that hit a labelled ground-truth micro-expression (IoU >= 0.5,
    greedy as ``match``): how many the classifier labelled right (the end-to-end figure: spot ->
    motion -> classify; macro-expressions are not classified)."""
    hits = right = 0
    for video in sorted(truth):
        g = [i for i in truth[video] if i.label and i.kind == "micro"]
        p = [i for i in preds.get(video, []) if i.kind == "micro"]
        for gi, pi in matched(g, p):
            hits += 1
            right += int(p[pi].label == g[gi].label)
    return {"matched": hits, "correct": right, "accuracy": round(right / hits, 4) if hits else 0.0}


@dataclass(frozen=True)
class Sources:
    """Every ground truth given on the command line, each by video key."""

    truth: dict[str, list[Interval]] = field(default_factory=dict)  # its intervals
    videos: dict[str, Path] = field(default_factory=dict)  # the video or image folder
    rates: dict[str, float | None] = field(default_factory=dict)  # read and scored at (None: its own rate)
    distractors: dict[str, list[Interval]] = field(default_factory=dict)  # a synthetic clip's distractors

    def add(self, truth: dict[str, list[Interval]], rate: float | None, videos: dict[str, Path]) -> None:
        self.truth.update(truth)
        self.videos.update(videos)
        self.rates.update(dict.fromkeys(truth, rate))


def gather(args) -> Sources:
    """Every ground truth given on the command line (--truth, --casme2, --samm-lv, --casme3)."""
    src = Sources()
    for t in args.truth:
        tr, found = read_synthetic(t)
        src.add(tr, args.fps, found)
        src.distractors.update(read_distractors(t))
    for sheet, reader, known in ((args.casme2, read_casme2, "casme2"), (args.samm_lv, read_samm_lv, "samm_lv")):
        if sheet:
            tr = reader(sheet)
            found = {key: v for key in tr if args.videos and (v := find_video(Path(args.videos), key))}
            src.add(tr, args.fps or KNOWN_FPS[known], found)
    if args.casme3:
        tr, found = casme3_truth(args.casme3, args.videos)
        src.add(tr, args.fps or KNOWN_FPS["casme3"], found)
    return src


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stream.spot_eval", description=__doc__.split("\n")[0])
    ap.add_argument("--truth", action="append", default=[], help="synthetic ground-truth .json or a folder of them")
    ap.add_argument("--casme2", help="CAS(ME)^2code_final.xlsx")
    ap.add_argument("--samm-lv", help="SAMM_LongVideos_V*_Release.xlsx")
    ap.add_argument("--casme3", action="append", default=[],
                    help="a CAS(ME)^3 part A sheet: cas(me)3_part_A_ME_label...xlsx and/or ..._MaE_label...xlsx (repeatable)")
    ap.add_argument("--videos", help="folder with the dataset's videos / image folders (for --casme2 / --samm-lv / "
                                     "--casme3: part A's data folder, spNO.1/a/color/...)")
    ap.add_argument("--predictions", help="folder of <video>.jsonl (run_stream.py --events); else run the spotter")
    ap.add_argument("--fps", type=float, default=None,
                    help="frame rate of image-folder videos (default: CAS(ME)^2 30, SAMM 200, else 30)")
    ap.add_argument("--minutes", action="store_true", help="also report false events per minute")
    ap.add_argument("--classify", action="store_true",
                    help="run the whole analyser (spot -> motion -> classifier) and report the class accuracy "
                         "on spotted events that hit a ground-truth event")
    ap.add_argument("--spotter", default=None, choices=SPOTTERS, help="spotter to run (default: StreamConfig's)")
    ap.add_argument("--out", help="write the report as JSON here")
    args = ap.parse_args(argv)

    def body() -> int:
        if args.fps is not None and not 1 <= args.fps <= 1000:
            raise MexError(f"--fps must be in [1, 1000], got {args.fps}")
        src = gather(args)
        truth, videos, rates, distractors = src.truth, src.videos, src.rates, src.distractors
        if not truth:
            raise MexError("no ground truth: give --truth, --casme2, --samm-lv or --casme3")
        from stream.config import StreamConfig

        try:
            config = StreamConfig() if args.spotter is None else StreamConfig(spotter=args.spotter)
        except ValueError as exc:
            raise MexError(str(exc)) from None
        preds: dict[str, list[Interval]] = {}
        frames = 0
        seconds = 0.0
        for key in sorted(truth):
            if args.predictions:
                f = Path(args.predictions) / f"{key}.jsonl"
                preds[key] = read_predictions(f, key, rates.get(key)) if f.is_file() else []
                if not f.is_file():
                    print(f"warning: {f}: no predictions for {key}", file=sys.stderr)
            elif key in videos:
                preds[key], n, fps = spot_video(videos[key], config, fps=rates.get(key), classify=args.classify)
                frames += n
                seconds += n / fps
                print(f"{key}: {len(preds[key])} spotted, {len(truth[key])} true", file=sys.stderr)
            else:
                raise MexError(f"{key}: video not found (give --videos or --predictions)")
        report = score(truth, preds)
        if not args.predictions:  # how the spotting was made: spot_video's config (fps: each video's own)
            from mecore.cli import to_dict
            from mecore.face import model_file
            from mecore.provenance import stamp

            report.update(stamp(to_dict(config.updated(classify=False, overlay=False)),
                                [model_file.describe()]))
        if any(distractors.values()):
            report["false_by_cause"] = false_by_cause(truth, preds, distractors)
        if args.classify:
            report["classification"] = class_accuracy(truth, preds)
        report["clips"] = {key: {kind: list(match([i for i in truth[key] if i.kind == kind],
                                                  [i for i in preds.get(key, []) if i.kind == kind]))
                                 for kind in ("micro", "macro")} for key in sorted(truth)}  # TP, FP, FN
        if seconds:
            report["minutes"] = round(seconds / 60, 3)
            report["false_per_minute"] = round(report["overall"]["fp"] / (seconds / 60), 3)
            report["false_micro_per_minute"] = round(report["micro"]["fp"] / (seconds / 60), 3)
        text = json.dumps(report, indent=2)
        print(text)
        if args.out:
            from mecore.atomic import write_text

            write_text(args.out, text + "\n")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
