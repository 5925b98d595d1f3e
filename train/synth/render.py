"""Rendering frames: the base face, warped by an AU field, moved by the head, lit, with sensor noise.

The expression happens on the face and the head then carries it: an output pixel y comes from the
base image at x, where z = head^-1(y) and x + field(x) = z (the forward field inverted by two
fixed-point steps, exact to second order for fields this small and smooth).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from train.synth.distractors import Distractor
from train.synth.events import Event
from train.synth.warp import FaceGeometry


@dataclass(frozen=True)
class Nuisance:
    """Everything that is not the expression. Amplitudes in crop pixels / degrees / relative gain."""

    head_px: float = 0.4  # head translation amplitude (smooth, a few slow sinusoids)
    head_deg: float = 0.15  # in-plane rotation amplitude
    head_scale: float = 0.002  # relative scale amplitude (moving towards the camera)
    head_hz: tuple[float, float] = (0.2, 0.8)  # frequencies of the head's sway
    light: float = 0.02  # relative amplitude of the global gain and of a left-right gradient
    light_hz: tuple[float, float] = (0.05, 0.3)
    noise: tuple[float, float] = (0.8, 1.8)  # sensor noise sigma (grey levels), drawn per clip

    def __post_init__(self):
        if min(self.head_px, self.head_deg, self.head_scale, self.light) < 0 or min(self.noise) < 0:
            raise ValueError("nuisance amplitudes must be >= 0")

    @classmethod
    def none(cls) -> Nuisance:
        """A still, evenly lit, noise-free camera: only the expression changes pixels."""
        return cls(head_px=0.0, head_deg=0.0, head_scale=0.0, light=0.0, noise=(0.0, 0.0))


def _sway(n: int, fps: float, rng: np.random.Generator, hz: tuple[float, float], amplitude: float) -> np.ndarray:
    """A smooth zero-mean path of ``n`` samples in [-amplitude, amplitude]: two random sinusoids."""
    t = np.arange(n) / fps
    f = rng.uniform(*hz, size=2)
    ph = rng.uniform(0, 2 * math.pi, size=2)
    w = rng.uniform(0.3, 1.0, size=2)
    path = (w[:, None] * np.sin(2 * math.pi * f[:, None] * t + ph[:, None])).sum(0) / w.sum()
    return amplitude * path


@dataclass(frozen=True)
class Clip:
    """Per-frame nuisance of one clip: head (tx, ty frame px, roll deg, scale), light (gain, slope), noise."""

    head: np.ndarray  # (n, 4)
    light: np.ndarray  # (n, 2)
    noise_sigma: float

    @classmethod
    def draw(cls, n: int, fps: float, rng: np.random.Generator, nuisance: Nuisance, scale: float) -> Clip:
        head = np.stack(
            [
                _sway(n, fps, rng, nuisance.head_hz, nuisance.head_px * scale),
                _sway(n, fps, rng, nuisance.head_hz, nuisance.head_px * scale),
                _sway(n, fps, rng, nuisance.head_hz, nuisance.head_deg),
                1.0 + _sway(n, fps, rng, nuisance.head_hz, nuisance.head_scale),
            ],
            axis=1,
        )
        light = np.stack(
            [
                1.0 + _sway(n, fps, rng, nuisance.light_hz, nuisance.light),
                _sway(n, fps, rng, nuisance.light_hz, nuisance.light),
            ],
            axis=1,
        )
        return cls(head, light, float(rng.uniform(*nuisance.noise)))

    def records(self) -> list[list[float]]:
        """Per-frame [tx, ty, roll_deg, scale, gain, slope] rounded, for the ground truth."""
        return np.round(np.concatenate([self.head, self.light], 1), 5).tolist()


class Renderer:
    """Renders frames of one base image; ``centre`` is the head's pivot (e.g. the nose)."""

    def __init__(self, base: np.ndarray, centre: tuple[float, float]):
        self.base = np.ascontiguousarray(base)
        self.height, self.width = base.shape[:2]
        self.centre = (float(centre[0]), float(centre[1]))
        self._gx, self._gy = np.meshgrid(
            np.arange(self.width, dtype=np.float32), np.arange(self.height, dtype=np.float32)
        )
        self._xramp = ((self._gx[:1] - self.width / 2) / self.width)[..., None]  # (1, W, 1)

    def head_matrix(self, head: np.ndarray) -> np.ndarray:
        """(2, 3) base -> output similarity for one frame's (tx, ty, roll deg, scale)."""
        tx, ty, deg, s = (float(v) for v in head)
        m = cv2.getRotationMatrix2D(self.centre, deg, s)
        m[:, 2] += (tx, ty)
        return m

    def source_coords(self, field: np.ndarray | None, head: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Where each output pixel samples the base image."""
        if head is None or np.allclose(head, (0, 0, 0, 1)):
            zx, zy = self._gx, self._gy
        else:
            inv = cv2.invertAffineTransform(self.head_matrix(head)).astype(np.float32)
            zx = inv[0, 0] * self._gx + inv[0, 1] * self._gy + inv[0, 2]
            zy = inv[1, 0] * self._gx + inv[1, 1] * self._gy + inv[1, 2]
        if field is None:
            return zx, zy
        x, y = zx, zy
        for _ in range(2):  # x = z - field(x), by fixed-point steps
            d = cv2.remap(field, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            x, y = zx - d[..., 0], zy - d[..., 1]
        return x, y

    def render(
        self,
        field: np.ndarray | None = None,
        head: np.ndarray | None = None,
        light: np.ndarray | None = None,
        noise: np.ndarray | None = None,
    ) -> np.ndarray:
        """One RGB uint8 frame; ``noise`` is an (H, W, 3) float32 array added before rounding."""
        if field is None and (head is None or np.allclose(head, (0, 0, 0, 1))):
            img = self.base.copy()  # exact: a still frame is the base itself
        else:
            x, y = self.source_coords(field, head)
            img = cv2.remap(self.base, x, y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        lit = light is not None and not np.allclose(light, (1.0, 0.0))
        if not lit and noise is None:
            return img
        out = img.astype(np.float32)
        if lit:
            out *= np.float32(light[0]) * (1.0 + np.float32(light[1]) * self._xramp)
        if noise is not None:
            out += noise
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class SensorNoise:
    """Gaussian sensor noise, fresh in every frame: a random window of one larger noise block per
    clip (drawing a whole frame of normals each time costs more than rendering it)."""

    PAD = 32

    def __init__(self, shape: tuple[int, int], sigma: float, rng: np.random.Generator):
        self.shape, self.sigma, self.rng = shape, float(sigma), rng
        h, w = shape
        self._block = (
            rng.standard_normal((h + self.PAD, w + self.PAD, 3), dtype=np.float32) * np.float32(sigma)
            if sigma > 0 else None
        )

    def next(self) -> np.ndarray | None:
        if self._block is None:
            return None
        dy, dx = (int(v) for v in self.rng.integers(0, self.PAD + 1, size=2))
        flip = self.rng.integers(0, 4)  # mirrored windows too, so frames rarely repeat a pattern
        win = self._block[dy : dy + self.shape[0], dx : dx + self.shape[1]]
        return win[:: (-1 if flip & 1 else 1), :: (-1 if flip & 2 else 1)]


def frame_field(geometry: FaceGeometry, events: list[Event], frame: int,
                distractors: tuple[Distractor, ...] = (), fps: float = 30.0) -> np.ndarray | None:
    """The face's displacement field at ``frame``: every event in its own warp family, plus the
    distractors that move the face (blinks, speech); None when nothing moves."""
    parts = [(ev.motions(frame), ev.warp) for ev in events] + [(d.motions(frame, fps), "rbf") for d in distractors]
    fields = [geometry.field(m, warp) for m, warp in parts if m]
    return None if not fields else fields[0] if len(fields) == 1 else np.sum(fields, axis=0)


def head_at(head: np.ndarray, distractors: tuple[Distractor, ...], frame: int, scale: float) -> np.ndarray:
    """The head's (tx, ty, roll, scale) at ``frame``: the clip's sway plus head turns and nods."""
    extra = sum((d.head(frame, scale) for d in distractors), np.zeros(4))
    return head + extra if np.any(extra) else head


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma) if sigma > 0.05 else img


def animate(
    renderer: Renderer,
    geometry: FaceGeometry,
    events: list[Event],
    n_frames: int,
    clip: Clip,
    rng: np.random.Generator,
    distractors: tuple[Distractor, ...] = (),
    fps: float = 30.0,
) -> Iterator[np.ndarray]:
    """The ``n_frames`` RGB frames of a still face carrying ``events`` and ``distractors`` (frame
    indices 0-based)."""
    noise = SensorNoise((renderer.height, renderer.width), clip.noise_sigma, rng)
    for i in range(n_frames):
        field = frame_field(geometry, events, i, distractors, fps)
        yield renderer.render(field, head_at(clip.head[i], distractors, i, geometry.scale), clip.light[i], noise.next())
