"""Frames per second of whole-video magnification: MagNet and the fast magnifier (fp32, and with its INT8
decoder), one table.

``python -m bench.magnify [--sizes 256 480p 720p] [--threads 2] [--repeats 5] [--backends onnxruntime-cpu ...]
[--face-video ../shared/media/face.mp4]``

One frame of ``stream.magnify`` in temporal mode = one encoder call + the band-pass on the shape
representation + one decoder call (``mecore.magnify.learned.LearnedMagnifier`` over the engines
``*_encoder`` / ``*_decoder``), whole frame in one tile. Sizes: 256 (256x256), 480p (848x480), 720p
(1280x720). Backends: ONNX Runtime CPU, plus ONNX Runtime CUDA / TensorRT / PyTorch CUDA where they
load. The two magnifiers' calls are interleaved so both see the same machine load; the load average
is printed, and beside the ratio of medians the ratio of the fastest calls: on a shared machine those
are the least disturbed ones (docs/magnifier.md: a 480p dip in the medians was load, not a size
cost). ``--face-video``: also the end-to-end ``--face`` path (MediaPipe tracking, alignment,
256x256 crop magnified, pasted back) on that video's frames.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from mecore.errors import MexError, run_cli

SIZES = {"256": (256, 256), "480p": (480, 848), "720p": (720, 1280)}
METHODS = {"MagNet": "magnet", "fast": "fast", "fast int8": "fast-int8"}  # column -> stream.magnify method


def _magnifier(method: str, backend: str, threads: int, engines_dir=None):
    import engines
    from mecore.magnify.learned import LearnedMagnifier
    from stream.magnify import ENGINE_NAMES

    enc, dec = (engines.load(n, backend, threads=threads, engines_dir=engines_dir) for n in ENGINE_NAMES[method])
    return LearnedMagnifier(enc, dec, 10.0, "temporal", 0.8, 1.0, 30.0)


def _frames(h: int, w: int, n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.random((1, 3, h, w), dtype=np.float32) * 2 - 1
    return [np.clip(base + 0.01 * rng.standard_normal(base.shape, dtype=np.float32), -1, 1) for _ in range(n)]


def bench_sizes(sizes: list[str], backend: str, threads: int, repeats: int, engines_dir=None) -> list[dict]:
    mags = {}
    for label, method in METHODS.items():
        try:
            mags[label] = _magnifier(method, backend, threads, engines_dir)
        except MexError as e:
            print(f"{label} on {backend}: skipped ({e})")
    rows = []
    for size in sizes:
        h, w = SIZES[size]
        frames = _frames(h, w)
        times: dict[str, list[float]] = {k: [] for k in mags}
        for mag in mags.values():  # warm-up: first call allocates / builds plans
            mag.step(frames[0])
        for i in range(repeats):
            for label, mag in mags.items():
                t0 = time.perf_counter()
                mag.step(frames[i % len(frames)])
                times[label].append(time.perf_counter() - t0)
        row = {"size": f"{w}x{h}", "backend": backend}
        for label, ts in times.items():
            row[label] = 1.0 / statistics.median(ts)
            row[f"{label} best"] = 1.0 / min(ts)
        if "MagNet" in row and "fast" in row:
            row["ratio"] = row["fast"] / row["MagNet"]
            row["best ratio"] = row["fast best"] / row["MagNet best"]
        if "MagNet" in row and "fast int8" in row:
            row["int8 ratio"] = row["fast int8"] / row["MagNet"]
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def bench_face(video: str, backend: str, threads: int, frames: int = 60, engines_dir=None,
               method: str = "fast") -> float:
    """End-to-end fps of ``--face`` with ``method`` on ``video``'s first frames."""
    from mecore.face.tracker import FaceTracker
    from mecore.magnify.video import FaceFrames, LearnedFrames
    from stream.sources import open_source

    with open_source(video) as src:
        imgs = [f for _, f in zip(range(frames), src)]
    face = FaceFrames(LearnedFrames(_magnifier(method, backend, threads, engines_dir)),
                      FaceTracker(max_faces=1, blendshapes=False), 256)
    try:
        face.apply(imgs[0].image, 0)
        t0 = time.perf_counter()
        for f in imgs[1:]:
            face.apply(f.image, int(f.timestamp_s * 1000))
        return (len(imgs) - 1) / (time.perf_counter() - t0)
    finally:
        face.close()


def _line(row: dict) -> str:
    f = [f"{row[k]:.2f}" if k in row else "-" for k in METHODS]
    r = [f"{row[k]:.2f}x" if k in row else "-" for k in ("ratio", "best ratio", "int8 ratio")]
    return f"| {row['size']} | {row['backend']} | {' | '.join(f)} | {' | '.join(r)} |"


def _backends(requested: list[str] | None) -> list[str]:
    if requested:
        return requested
    from engines.backends import available

    usable = available()
    return [b for b in ("onnxruntime-cpu", "onnxruntime-cuda", "tensorrt", "torch-cuda") if usable.get(b) is None]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.magnify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--backends", nargs="+", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--face-video", default=None)
    p.add_argument("--engines-dir", default=None)
    args = p.parse_args(argv)

    def body() -> None:
        if args.repeats < 1:
            raise MexError(f"--repeats {args.repeats}: must be >= 1")
        load0 = os.getloadavg()[0]
        print(f"frames per second, median of {args.repeats} (temporal mode: encoder + band-pass + decoder), "
              f"{args.threads} ONNX Runtime threads")
        print("| size | backend | MagNet fps | fast fps | fast int8 fps | fast / MagNet | fastest calls' ratio "
              "| fast int8 / MagNet |\n|---|---|---|---|---|---|---|---|")
        for backend in _backends(args.backends):
            bench_sizes(args.sizes, backend, args.threads, args.repeats, args.engines_dir)
        for label in ("fast", "fast int8") if args.face_video else ():
            try:
                fps = bench_face(args.face_video, "onnxruntime-cpu", args.threads, engines_dir=args.engines_dir,
                                 method=METHODS[label])
            except MexError as e:
                print(f"--face with {label}: skipped ({e})")
                continue
            print(f"--face with {label} (tracking + 256x256 crop + paste), ORT CPU: {fps:.1f} fps")
        print(f"load average: {load0:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)")

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
