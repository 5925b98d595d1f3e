"""Eulerian video magnification (Wu et al., SIGGRAPH 2012), frame by frame: colour and motion.

``EVMColour``: a coarse Gaussian pyramid level of each frame is band-passed in time, multiplied by
alpha and added back up-sampled (the paper's pulse result: level 4, ideal band 0.83-1 Hz, alpha 50).
``EVMMotion``: every Laplacian pyramid band is band-passed in time and amplified, attenuated per band
by the paper's bound (1 + alpha) delta < lambda / 8 for spatial wavelength cut-off ``lambda_c``,
finest band and residual left alone, then the pyramid is collapsed.

Both work on uint8 RGB frames with OpenCV pyramids and carry their filter state frame to frame
(``DifferenceOfIIR``), so they run on live streams; ``EVMColour.level`` / ``add`` let a file be done
with the ideal filter in two passes instead. The chroma of the amplified signal is scaled by
``attenuation`` in YIQ space, as in the paper's code.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mecore.magnify.filters import DifferenceOfIIR

# NTSC RGB -> YIQ, as the EVM code's rgb2ntsc
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_INV = np.linalg.inv(_YIQ).astype(np.float32)


def _chroma(delta: np.ndarray, attenuation: float) -> np.ndarray:
    """Scale the I and Q parts of an RGB change (..., 3) by ``attenuation``; Y is kept."""
    if attenuation == 1.0:
        return delta
    m = _YIQ_INV @ np.diag([1.0, attenuation, attenuation]).astype(np.float32) @ _YIQ
    return delta @ m.T


def gaussian_level(rgb: np.ndarray, levels: int) -> np.ndarray:
    x = rgb.astype(np.float32)
    for _ in range(levels):
        x = cv2.pyrDown(x)
    return x


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


class EVMColour:
    """``apply(rgb uint8) -> rgb uint8``: colour magnification with a causal band-pass (live)."""

    def __init__(self, alpha: float, low_hz: float, high_hz: float, fps: float, levels: int = 4,
                 attenuation: float = 1.0):
        self.alpha, self.levels, self.attenuation = float(alpha), int(levels), float(attenuation)
        self.filter = DifferenceOfIIR(low_hz, high_hz, fps)

    def level(self, rgb: np.ndarray) -> np.ndarray:
        return gaussian_level(rgb, self.levels)

    def add(self, rgb: np.ndarray, filtered: np.ndarray) -> np.ndarray:
        """The frame plus alpha times a band-passed level, up-sampled to the frame's size."""
        h, w = rgb.shape[:2]
        delta = _chroma(self.alpha * filtered, self.attenuation)
        return _to_uint8(rgb.astype(np.float32) + cv2.resize(delta, (w, h), interpolation=cv2.INTER_LINEAR))

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        return self.add(rgb, self.filter(self.level(rgb)))

    def reset(self) -> None:
        self.filter.reset()


def laplacian_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    """Band-pass levels of a float32 image, finest first, then the low-pass residual."""
    bands = []
    for _ in range(levels):
        low = cv2.pyrDown(x)
        bands.append(x - cv2.pyrUp(low, dstsize=(x.shape[1], x.shape[0])))
        x = low
    return bands + [x]


def collapse(bands: list[np.ndarray]) -> np.ndarray:
    x = bands[-1]
    for band in reversed(bands[:-1]):
        x = band + cv2.pyrUp(x, dstsize=(band.shape[1], band.shape[0]))
    return x


def band_gains(alpha: float, lambda_c: float, levels: int, height: int, width: int) -> list[float]:
    """Per-band amplification, finest first (EVM's amplify_spatial_lpyr_temporal_iir)."""
    delta = lambda_c / 8 / (1 + alpha)
    lam = math.sqrt(height ** 2 + width ** 2) / 3  # the coarsest band's wavelength; halves per finer band
    gains = []
    for i in range(levels, -1, -1):  # coarsest (residual) first, as the original loops
        if i in (0, levels):
            gains.append(0.0)
        else:
            gains.append(min(alpha, (lam / delta / 8 - 1) * 2))  # exaggeration factor 2
        lam /= 2
    return gains[::-1]


class EVMMotion:
    """``apply(rgb uint8) -> rgb uint8``: linear Eulerian motion magnification (Laplacian pyramid, IIR)."""

    def __init__(self, alpha: float, low_hz: float, high_hz: float, fps: float, lambda_c: float = 16.0,
                 levels: int | None = None, attenuation: float = 0.1):
        self.alpha, self.lambda_c, self.levels, self.attenuation = float(alpha), float(lambda_c), levels, attenuation
        self.band = (low_hz, high_hz, fps)
        self.filters: list[DifferenceOfIIR] = []
        DifferenceOfIIR(*self.band)  # check the band now, before the first frame
        self._gains: list[float] | None = None

    def reset(self) -> None:
        self.filters, self._gains = [], None

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        levels = self.levels or max(1, int(math.log2(min(h, w) / 8)))
        if self._gains is None:
            self._gains = band_gains(self.alpha, self.lambda_c, levels, h, w)
            self.filters = [DifferenceOfIIR(*self.band) for _ in range(levels + 1)]
        bands = laplacian_pyramid(rgb.astype(np.float32), levels)
        out = [b + _chroma(g * f(b), self.attenuation) if g else b
               for b, g, f in zip(bands, self._gains, self.filters)]
        return _to_uint8(collapse(out))
