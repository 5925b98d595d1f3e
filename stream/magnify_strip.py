"""Picture strips of magnified videos for the docs: ``python -m stream.magnify_strip``.

    python -m stream.magnify_strip ORIGINAL.mp4 MAGNIFIED.mp4 [...] --labels original EVM --frames 0 15 30 45
        --column 0.5 --out docs/img/strip.jpg

One row per video: the chosen frames, then the video's x-t slice -- the pixel column at ``--column``
(fraction of the width) of every frame side by side, time running right -- where a periodic colour
change (pulse) shows as vertical bands and a magnified motion as wavy edges. JPEG/PNG, atomic.
``--trace motion|colour``: below the rows, a plot per video of the centre box's displacement against
frame 0 (phase correlation, px) or of its mean colour change (grey levels), over time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from mecore.errors import MexError, run_cli


def read_all(path: str, max_frames: int) -> list[np.ndarray]:
    from stream.sources import open_source

    with open_source(path) as src:
        return [f.image for _, f in zip(range(max_frames), src)]


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = np.ascontiguousarray(img)
    cv2.putText(img, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def strip(videos: list[str], labels: list[str], frames: list[int], column: float, height: int,
          max_frames: int, fps: float) -> np.ndarray:
    rows = []
    for path, label in zip(videos, labels):
        clip = read_all(path, max_frames)
        if not clip or max(frames) >= len(clip):
            raise MexError(f"{path}: has {len(clip)} frames, the strip needs frame {max(frames)}")
        h, w = clip[0].shape[:2]
        scale = height / h
        tiles = [_label(cv2.resize(clip[i], (round(w * scale), height), interpolation=cv2.INTER_AREA),
                        f"{label} #{i}") for i in frames]
        x = min(w - 1, int(column * w))
        xt = np.stack([f[:, x] for f in clip], axis=1)  # (H, T, 3)
        xt = cv2.resize(xt, (max(len(clip), 2 * height), height), interpolation=cv2.INTER_AREA)
        tiles.append(_label(xt, f"x-t at x={x}, {len(clip) / fps:.1f} s"))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def traces(videos: list[str], labels: list[str], kind: str, max_frames: int, fps: float, width: int) -> np.ndarray:
    """RGB plot of each video's centre-box displacement (``motion``) or mean colour change (``colour``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.registration import phase_cross_correlation

    fig, ax = plt.subplots(figsize=(width / 100, 1.9), dpi=100)
    for path, label in zip(videos, labels):
        clip = read_all(path, max_frames)
        h, w = clip[0].shape[:2]
        box = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
        ref = clip[0][box].astype(np.float32)
        if kind == "motion":
            ys = [phase_cross_correlation(ref.mean(-1), f[box].astype(np.float32).mean(-1), upsample_factor=20,
                                          normalization=None)[0][1] for f in clip]
        else:
            ys = [float((f[box].astype(np.float32) - ref)[..., 0].mean()) for f in clip]
        ax.plot(np.arange(len(clip)) / fps, ys, label=label, lw=1)
    ax.set_xlabel("s")
    ax.set_ylabel("horizontal shift, px" if kind == "motion" else "red change, grey levels")
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return cv2.resize(img, (width, img.shape[0] * width // img.shape[1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stream.magnify_strip", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="+")
    p.add_argument("--labels", nargs="+", default=None)
    p.add_argument("--frames", nargs="+", type=int, default=[0, 15, 30, 45])
    p.add_argument("--column", type=float, default=0.5, help="x-t slice column, fraction of the width")
    p.add_argument("--height", type=int, default=160)
    p.add_argument("--max-frames", type=int, default=300)
    p.add_argument("--fps", type=float, default=30.0, help="for the time label only")
    p.add_argument("--trace", choices=["motion", "colour"], default=None)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)

    def body() -> None:
        from mecore.atomic import atomic_path

        labels = args.labels or [Path(v).stem for v in args.videos]
        if len(labels) != len(args.videos):
            raise MexError(f"--labels: {len(labels)} labels for {len(args.videos)} videos")
        img = strip(args.videos, labels, args.frames, args.column, args.height, args.max_frames, args.fps)
        if args.trace:
            img = np.concatenate([img, traces(args.videos, labels, args.trace, args.max_frames, args.fps,
                                              img.shape[1])], axis=0)
        suffix = args.out.suffix.lower() or ".jpg"
        params = [cv2.IMWRITE_JPEG_QUALITY, 85] if suffix in (".jpg", ".jpeg") else []
        ok, data = cv2.imencode(suffix, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise MexError(f"{args.out}: cannot encode the image (use .jpg or .png)")
        with atomic_path(args.out) as tmp:
            tmp.write_bytes(data.tobytes())
        print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
