"""``python -m stream.magnify INPUT --out OUT.mp4``: a video in, the same video with small motions magnified.

    python -m stream.magnify ../shared/media/face.mp4 --out x.mp4 --mode temporal --band 0.8 1.0 --alpha 20
    python -m stream.magnify ../shared/media/face.mp4 --out pulse.mp4 --method evm-colour --alpha 50 --band 0.83 1.0
    python -m stream.magnify 0 --out cam.mp4 --method fast --face --side-by-side --max-frames 300

INPUT is anything the analyser reads (file, image folder, rtsp/http URL, webcam index, ``demo``).
Methods: ``magnet`` (the shipped MagNet, engines/magnifier_{encoder,decoder}), ``fast`` (the project's
fast magnifier, engines/fast_magnifier_{encoder,decoder}), ``fast-int8`` (the same with its INT8
decoder, engines/fast_magnifier_int8_decoder: for CPUs), ``evm-motion`` (linear Eulerian, Laplacian
pyramid) and ``evm-colour`` (Gaussian pyramid level; the ideal temporal filter for files, a causal IIR
for live sources). Learned modes: static (each frame against the first), dynamic (against the
previous frame), temporal (the shape representation band-passed in time, as in MagNet's temporal
mode). See docs/magnifier.md ("Magnifying a whole video").
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecore.errors import MexError, run_cli
from mecore.magnify.filters import check_band

METHODS = ("magnet", "fast", "fast-int8", "evm-motion", "evm-colour")
MODES = ("static", "dynamic", "temporal")
FILTERS = ("auto", "ideal", "iir")
# method -> (encoder, decoder) artifacts; fast-int8 shares the fp32 encoder (train/magnet/quantize.py says why)
ENGINE_NAMES = {"magnet": ("magnifier_encoder", "magnifier_decoder"),
                "fast": ("fast_magnifier_encoder", "fast_magnifier_decoder"),
                "fast-int8": ("fast_magnifier_encoder", "fast_magnifier_int8_decoder")}
log = logging.getLogger("stream")


@dataclass(frozen=True)
class MagnifyConfig:
    method: str = "magnet"
    mode: str | None = None            # None: static for learned methods, temporal for EVM
    alpha: float = 10.0
    band: tuple[float, float] = (0.5, 3.0)
    face: bool = False
    face_size: int = 256
    side_by_side: bool = False
    backend: str = "auto"
    threads: int | None = None
    engines_dir: str | None = None
    work_size: int | None = None       # long side of the working resolution (None: full resolution)
    tile: int = 512
    overlap: int = 32
    filter: str = "auto"               # evm-colour: ideal (files) or iir (live); auto picks by source
    levels: int = 4                    # evm-colour pyramid level
    lambda_c: float = 16.0             # evm-motion spatial cut-off (pixels)
    max_frames: int | None = None
    crf: int = 18                      # H.264 quality (0 best, 51 worst)

    def __post_init__(self):
        if self.method not in METHODS:
            raise MexError(f"--method {self.method!r}: choose one of {', '.join(METHODS)}")
        if self.mode is not None and self.mode not in MODES:
            raise MexError(f"--mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.method.startswith("evm") and self.mode not in (None, "temporal"):
            raise MexError(f"--method {self.method} is a temporal band-pass magnifier; --mode {self.mode} "
                           "is for the learned methods (magnet, fast, fast-int8)")
        if not self.alpha >= 1.0:
            raise MexError(f"--alpha {self.alpha}: must be >= 1 (1 = no magnification)")
        lo, hi = self.band
        if not 0 < lo < hi:
            raise MexError(f"--band {lo} {hi}: need 0 < LO < HI (Hz)")
        if self.filter not in FILTERS:
            raise MexError(f"--filter {self.filter!r}: choose one of {', '.join(FILTERS)}")
        if self.work_size is not None and self.work_size < 16:
            raise MexError(f"--work-size {self.work_size}: must be at least 16 pixels")
        if not 0 <= self.crf <= 51:
            raise MexError(f"--crf {self.crf}: must be in 0-51")
        if self.max_frames is not None and self.max_frames < 1:
            raise MexError(f"--max-frames {self.max_frames}: must be >= 1")

    @property
    def temporal(self) -> bool:
        return (self.mode or ("temporal" if self.method.startswith("evm") else "static")) == "temporal"


def load_engines(cfg: MagnifyConfig):
    import engines

    opts = {"threads": cfg.threads, "engines_dir": cfg.engines_dir}
    return tuple(engines.load(name, cfg.backend, **opts) for name in ENGINE_NAMES[cfg.method])


def build(cfg: MagnifyConfig, fps: float, parts=None):
    """The frame magnifier for ``cfg`` at ``fps``: ``apply(rgb) -> rgb`` (``FaceFrames`` with ``--face``).

    ``parts``: (encoder, decoder) engines to reuse (a live view switching modes); loaded when None.
    """
    from mecore.magnify.evm import EVMColour, EVMMotion
    from mecore.magnify.learned import LearnedMagnifier
    from mecore.magnify.video import FaceFrames, LearnedFrames

    lo, hi = cfg.band
    if cfg.temporal:
        check_band(lo, hi, fps)
    if cfg.method == "evm-colour":
        inner = EVMColour(cfg.alpha, lo, hi, fps, levels=cfg.levels)
    elif cfg.method == "evm-motion":
        inner = EVMMotion(cfg.alpha, lo, hi, fps, lambda_c=cfg.lambda_c)
    else:
        enc, dec = parts or load_engines(cfg)
        mode = cfg.mode or "static"
        learned = LearnedMagnifier(enc, dec, cfg.alpha, mode, lo, hi, fps)
        inner = LearnedFrames(learned, None if cfg.face else cfg.work_size, cfg.tile, cfg.overlap)
    if not cfg.face:
        return inner
    from mecore.face.tracker import FaceTracker

    return FaceFrames(inner, FaceTracker(max_faces=1, blendshapes=False), cfg.face_size)


def _apply(mag, frame) -> np.ndarray:
    from mecore.magnify.video import FaceFrames

    if isinstance(mag, FaceFrames):
        return mag.apply(frame.image, int(round(frame.timestamp_s * 1000)))
    return mag.apply(frame.image)


def _compose(original: np.ndarray, magnified: np.ndarray, side_by_side: bool) -> np.ndarray:
    return np.concatenate([original, magnified], axis=1) if side_by_side else magnified


def _frames(src, cfg: MagnifyConfig):
    for frame in src:
        if cfg.max_frames is not None and frame.index >= cfg.max_frames:
            return
        yield frame


def magnify(input_spec: str, out: str | Path, cfg: MagnifyConfig, progress: bool = True) -> dict:
    """Magnify ``input_spec`` into ``out`` (atomic); returns a summary."""
    from tqdm import tqdm

    from mecore.atomic import check_outputs
    from stream.magnify_io import MagnifiedVideo, frame_count
    from stream.sources import open_source

    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise MexError(f"{out}: the output must be an .mp4, .mov or .mkv file")
    check_outputs(out, inputs=(input_spec,))
    src = open_source(input_spec).open()
    mag = None
    try:
        ideal = cfg.method == "evm-colour" and (cfg.filter == "ideal" or (cfg.filter == "auto" and not src.live))
        if ideal and src.live:
            raise MexError(f"{src.name}: the ideal filter needs the whole clip; use --filter iir for a live source")
        total = frame_count(input_spec) if src.kind == "file" else None
        if cfg.max_frames:
            total = min(total or cfg.max_frames, cfg.max_frames)
        mag = build(cfg, src.fps)
        filtered = None
        if ideal:
            filtered = _ideal_pass(src, mag, cfg, total, progress)
            src = open_source(input_spec).open()
        writer = MagnifiedVideo(out, src.fps, audio_from=input_spec if src.kind == "file" else None,
                                crf=cfg.crf)
        try:
            with tqdm(total=total, disable=not progress, unit="frame", desc="magnify", dynamic_ncols=True) as bar:
                for i, frame in enumerate(_frames(src, cfg)):
                    if filtered is not None:
                        result = _ideal_apply(mag, frame.image, filtered, i)
                    else:
                        result = _apply(mag, frame)
                    writer.write(_compose(frame.image, result, cfg.side_by_side))
                    bar.update(1)
        except BaseException:
            writer.abort()
            raise
        writer.close()
    finally:
        src.close()
        if hasattr(mag, "close"):
            mag.close()  # the face tracker
    return {"out": str(out), "frames": writer.frames, "fps": src.fps, "audio": writer.audio_kept,
            "method": cfg.method, "mode": cfg.mode or ("temporal" if cfg.temporal else "static")}


def _ideal_pass(src, mag, cfg: MagnifyConfig, total, progress: bool) -> np.ndarray:
    """EVM colour, pass 1: the pyramid level of every frame (or face crop), ideal-band-passed over the clip."""
    from tqdm import tqdm

    from mecore.magnify.filters import ideal_bandpass
    from mecore.magnify.video import FaceFrames

    levels, last = [], None
    with src, tqdm(total=total, disable=not progress, unit="frame", desc="filter", dynamic_ncols=True) as bar:
        for frame in _frames(src, cfg):
            img = frame.image
            if isinstance(mag, FaceFrames):
                matrix = mag.align(img, int(round(frame.timestamp_s * 1000)))
                img = mag.crop(img, matrix) if matrix is not None else None
            level = mag_inner(mag).level(img) if img is not None else last
            levels.append(level)
            last = level if level is not None else last
            bar.update(1)
    if last is None:
        raise MexError(f"{src.name}: no face found in any frame" if isinstance(mag, FaceFrames)
                       else f"{src.name}: no frames")
    levels = [lv if lv is not None else next(x for x in levels if x is not None) for lv in levels]
    return ideal_bandpass(np.stack(levels), *cfg.band, src.fps)


def mag_inner(mag):
    return getattr(mag, "inner", mag)


def _ideal_apply(mag, rgb: np.ndarray, filtered: np.ndarray, i: int) -> np.ndarray:
    from mecore.magnify.video import FaceFrames

    if i >= len(filtered):
        return rgb
    if not isinstance(mag, FaceFrames):
        return mag.add(rgb, filtered[i])
    matrix = mag.matrices[i] if i < len(mag.matrices) else None
    if matrix is None:
        return rgb
    crop = mag.crop(rgb, matrix)
    return mag.paste(rgb, matrix, crop, mag.inner.add(crop, filtered[i]))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stream.magnify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="file, image folder, URL, webcam index or 'demo'")
    p.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    p.add_argument("--method", default="magnet", choices=METHODS)
    p.add_argument("--mode", default=None, choices=MODES, help="learned methods (default static); EVM is temporal")
    p.add_argument("--alpha", type=float, default=10.0, help="amplification (1 = none)")
    p.add_argument("--band", nargs=2, type=float, default=(0.5, 3.0), metavar=("LO", "HI"),
                   help="temporal band in Hz (temporal mode and EVM)")
    p.add_argument("--face", action="store_true", help="magnify the aligned face only and paste it back")
    p.add_argument("--face-size", type=int, default=256)
    p.add_argument("--side-by-side", action="store_true", help="write original | magnified")
    p.add_argument("--backend", default="auto", help="engines backend: auto, onnxruntime, tensorrt, torch, ...")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    p.add_argument("--engines-dir", default=None)
    p.add_argument("--work-size", type=int, default=None, help="learned methods: long side of the working "
                   "resolution (the magnified change is up-sampled onto the full frame)")
    p.add_argument("--tile", type=int, default=512, help="learned methods: largest tile side")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap (blended)")
    p.add_argument("--filter", default="auto", choices=FILTERS, help="evm-colour temporal filter")
    p.add_argument("--levels", type=int, default=4, help="evm-colour Gaussian pyramid level")
    p.add_argument("--lambda-c", type=float, default=16.0, help="evm-motion spatial cut-off (pixels)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 (best) to 51")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _sigterm_as_interrupt() -> tuple[list[int], bool, object]:
    """SIGTERM (a service manager, ``kill``, a closed container) takes Ctrl-C's path -- writer aborted,
    temporary folder removed, no output -- instead of ending the process where it stands. One-shot: a
    second SIGTERM during that clean-up kills as usual. Returns (signals seen, installed, previous handler)."""
    seen: list[int] = []

    def on_term(signum, frame):
        seen.append(signum)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return seen, False, None
    return seen, True, signal.signal(signal.SIGTERM, on_term)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    terminated, installed, previous = _sigterm_as_interrupt()
    try:
        rc = run_cli(lambda: _main(args), interrupted="interrupted, nothing written")
    finally:
        if installed:  # main() also runs inside tests and the demo: leave their handler as it was
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return 128 + signal.SIGTERM if terminated and rc == 130 else rc


def _main(args) -> None:
    cfg = MagnifyConfig(method=args.method, mode=args.mode, alpha=args.alpha, band=tuple(args.band),
                        face=args.face, face_size=args.face_size, side_by_side=args.side_by_side,
                        backend=args.backend, threads=args.threads, engines_dir=args.engines_dir,
                        work_size=args.work_size, tile=args.tile, overlap=args.overlap, filter=args.filter,
                        levels=args.levels, lambda_c=args.lambda_c, max_frames=args.max_frames,
                        crf=args.crf)
    s = magnify(args.input, args.out, cfg, progress=not args.quiet)
    print(f"wrote {s['out']}: {s['frames']} frames at {s['fps']:g} fps, {s['method']} {s['mode']}"
          f"{', audio kept' if s['audio'] else ''}")


if __name__ == "__main__":
    sys.exit(main())
