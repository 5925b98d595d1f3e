"""One-Euro filter (Casiez et al., CHI 2012) for landmarks: steady when still, little lag when moving.

MediaPipe re-detects a face every frame while it tracks fewer faces than it may (``num_faces`` > the
faces in view), and landmarks from a fresh detection jump by a pixel or two from frame to frame: the
jitter that kept ``max_faces`` at 1. A low-pass filter whose cutoff rises with speed removes it without
smearing real head motion. Speed is measured in face widths per second, so one setting serves a face
of 40 px and one of 400 px.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """``filter(x, t, scale)``: x an array (the same shape every call), t seconds, scale the face width."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or beta < 0 or d_cutoff <= 0:
            raise ValueError(f"need min_cutoff > 0, beta >= 0, d_cutoff > 0; got {min_cutoff}, {beta}, {d_cutoff}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def filter(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self._x is None or self._x.shape != x.shape or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x
        dt = t - self._t
        self._t = t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        speed = np.abs(self._dx) / max(scale, 1e-6)  # face widths per second
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = (self._x + a * (x - self._x)).astype(np.float32)
        return self._x.copy()
