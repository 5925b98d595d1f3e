"""A live magnified view of a stream (``run_stream.py --show``, key ``m``): ``LiveView().apply(rgb, t)``.

Temporal mode (the band-pass state carried frame to frame, so it runs on a live stream), at a working
resolution so it keeps up: the fast magnifier when engines/ has it (with its INT8 decoder on a CPU),
else MagNet. The filter needs the rate frames arrive at, which on a live source is what the analyser
keeps up with, not the camera's: it is measured from the first ``probe`` frames' timestamps (shown
unmagnified meanwhile).
"""

from __future__ import annotations

import logging

import numpy as np

from mecore.errors import MexError

log = logging.getLogger("stream")


def best_method(engines_dir=None, backend: str = "auto") -> str:
    """The fastest published learned magnifier for ``backend``: ``fast-int8`` on ONNX Runtime CPU, else
    ``fast``; ``magnet`` when the fast magnifier is not published."""
    from engines.artifacts import resolve
    from engines.backends import unavailable

    def published(name: str) -> bool:
        try:
            resolve(name, ("onnx", "torch"), engines_dir)
            return True
        except MexError:  # not listed (NotListed is one), or a file that fails its checks
            return False

    if not published("fast_magnifier_encoder"):
        return "magnet"
    # the INT8 decoder is ONNX only, and a CPU speed-up: the choice when auto lands on ONNX Runtime CPU
    cpu_onnx = backend == "onnxruntime-cpu" or (backend == "auto" and all(
        unavailable(b) is not None for b in ("tensorrt", "onnxruntime-cuda", "torch-cuda")))
    return "fast-int8" if cpu_onnx and published("fast_magnifier_int8_decoder") else "fast"


class LiveView:
    def __init__(self, alpha: float = 10.0, band: tuple[float, float] = (0.5, 3.0), work_size: int = 320,
                 backend: str = "auto", engines_dir=None, probe: int = 8):
        self.alpha, self.band, self.work_size = alpha, band, work_size
        self.backend, self.engines_dir, self.probe = backend, engines_dir, probe
        self.fps: float | None = None
        self._times: list[float] = []
        self._mag = None

    def _build(self):
        from stream.magnify import MagnifyConfig, build

        band = (self.band[0], min(self.band[1], 0.45 * self.fps))
        cfg = MagnifyConfig(method=best_method(self.engines_dir, self.backend), mode="temporal", alpha=self.alpha,
                            band=band, work_size=self.work_size, backend=self.backend, engines_dir=self.engines_dir)
        log.info("live magnified view: %s, temporal %.2f-%.2f Hz, alpha %g", cfg.method, *band, cfg.alpha)
        return build(cfg, self.fps)

    def apply(self, rgb: np.ndarray, timestamp_s: float) -> np.ndarray:
        if self._mag is None:
            self._times.append(float(timestamp_s))
            if len(self._times) < self.probe:
                return rgb
            span = self._times[-1] - self._times[0]
            self.fps = min(240.0, max(2.0, (len(self._times) - 1) / span)) if span > 0 else 30.0
            self._mag = self._build()
        return self._mag.apply(rgb)
