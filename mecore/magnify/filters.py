"""Temporal band-pass filters over a stream of arrays (numpy or torch), state carried frame to frame.

``DifferenceOfIIR`` is causal and runs live (MagNet's temporal mode, EVM's IIR variant);
``ideal_bandpass`` is EVM's ideal filter over a whole clip (FFT along time), for files only.
"""

from __future__ import annotations

import math

import numpy as np

from mecore.errors import MexError


def check_band(low_hz: float, high_hz: float, fps: float) -> None:
    """One-line error unless 0 < low < high < fps / 2."""
    if not (fps > 0 and 0 < low_hz < high_hz < fps / 2):
        raise MexError(f"band {low_hz}-{high_hz} Hz: need 0 < low < high < fps/2 "
                       f"({fps / 2:g} Hz at {fps:g} fps)")


class DifferenceOfIIR:
    """Temporal band-pass: the difference of two first-order IIR low-passes (Wadhwa et al., used by Oh et al.).

    Equivalent to the original's ``differenceOfIIR`` filter b = [rh - rl, rl - rh],
    a = [1, -(2 - rh - rl), (1 - rl)(1 - rh)], where each coefficient comes from a cut-off in Hz as
    r = 1 - exp(-2 pi f / fs). Both low-passes start at the first sample, so a constant signal gives 0.
    Works on numpy arrays and torch tensors alike (elementwise, any shape).
    """

    def __init__(self, low_hz: float, high_hz: float, fps: float):
        check_band(low_hz, high_hz, fps)
        self.r_low = 1.0 - math.exp(-2.0 * math.pi * low_hz / fps)
        self.r_high = 1.0 - math.exp(-2.0 * math.pi * high_hz / fps)
        self._low = self._high = None

    def reset(self) -> None:
        self._low = self._high = None

    def __call__(self, x):
        if self._low is None or self._low.shape != x.shape:
            self._low, self._high = x * 1.0, x * 1.0  # copies, for numpy and torch
        else:
            self._low = self._low + self.r_low * (x - self._low)
            self._high = self._high + self.r_high * (x - self._high)
        return self._high - self._low


def ideal_bandpass(signal: np.ndarray, low_hz: float, high_hz: float, fps: float) -> np.ndarray:
    """EVM's ideal temporal filter: (T, ...) -> the same with every frequency outside [low, high] zeroed."""
    check_band(low_hz, high_hz, fps)
    t = signal.shape[0]
    freqs = np.fft.rfftfreq(t, d=1.0 / fps)
    keep = (freqs >= low_hz) & (freqs <= high_hz)
    spectrum = np.fft.rfft(signal.astype(np.float64), axis=0)
    spectrum[~keep] = 0
    return np.fft.irfft(spectrum, n=t, axis=0).astype(np.float32)
