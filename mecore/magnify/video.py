"""Frame-in, frame-out magnifiers for whole videos: ``apply(rgb uint8 (H, W, 3)) -> rgb uint8``.

``LearnedFrames`` runs a learned magnifier (``LearnedMagnifier``) on frames of any size: optionally
at a working resolution (the magnified change is up-sampled and added to the full-resolution frame,
so the frame's own detail is kept), in overlapping tiles blended without seams. ``FaceFrames`` runs
any frame magnifier on the aligned face crop only and pastes the change back through the inverse
alignment under a feathered mask, so head motion is taken out before magnifying.
"""

from __future__ import annotations

import cv2
import numpy as np

from mecore.magnify.learned import LearnedMagnifier
from mecore.magnify.tiles import Tiler


def to_net(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 127.5 - 1.0


def working_size(h: int, w: int, long_side: int | None) -> tuple[int, int]:
    """(h, w) scaled so the long side is ``long_side`` (never up), multiples of 4."""
    scale = 1.0 if not long_side else min(1.0, long_side / max(h, w))
    return max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4)


class LearnedFrames:
    """A learned magnifier over whole frames: working resolution + seamless tiles."""

    def __init__(self, magnifier: LearnedMagnifier, work_size: int | None = None, tile: int = 384,
                 overlap: int = 32):
        self.magnifier, self.work_size = magnifier, work_size
        self.tiler = Tiler(tile, overlap)

    def reset(self) -> None:
        self.magnifier.reset()

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        wh, ww = working_size(h, w, self.work_size)
        small = rgb if (wh, ww) == (h, w) else cv2.resize(rgb, (ww, wh), interpolation=cv2.INTER_AREA)
        x = to_net(small)
        out = self.tiler.merge(self.magnifier.step(self.tiler.split(x)))
        change = (out - x[: out.shape[0], : out.shape[1]]) * 127.5
        if change.shape[:2] != (h, w):
            change = cv2.resize(change, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(rgb.astype(np.float32) + change + 0.5, 0, 255).astype(np.uint8)


class FaceFrames:
    """Magnify the aligned face only: ``inner`` sees ``size`` x ``size`` crops of the tracked face.

    Frames without a face pass through unchanged (the inner magnifier keeps its state, so the face
    continues where it left off). ``matrices`` records each frame's alignment (None: no face), so a
    second pass over a file (EVM's ideal filter) can reuse them without tracking again.
    """

    def __init__(self, inner, tracker, size: int = 256, feather: float = 0.12):
        from mecore.face.align import Aligner

        self.inner, self.tracker, self.aligner = inner, tracker, Aligner(size)
        self.size = size
        self.matrices: list[np.ndarray | None] = []
        m = np.zeros((size, size), np.float32)
        pad = int(size * feather)
        m[pad:size - pad, pad:size - pad] = 1.0
        self.mask = cv2.GaussianBlur(m, (0, 0), pad / 2.5)[..., None]

    def reset(self) -> None:
        self.inner.reset()
        self.matrices = []

    def close(self) -> None:
        self.tracker.close()

    def align(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        faces = self.tracker.track(rgb, timestamp_ms)
        matrix = self.aligner.estimate(faces[0].landmarks) if faces else None
        self.matrices.append(matrix)
        return matrix

    def crop(self, rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return self.aligner.warp(rgb, matrix).image

    def paste(self, rgb: np.ndarray, matrix: np.ndarray, crop: np.ndarray, magnified: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        change = (magnified.astype(np.float32) - crop.astype(np.float32)) * self.mask
        inverse = cv2.invertAffineTransform(matrix)
        back = cv2.warpAffine(change, inverse, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return np.clip(rgb.astype(np.float32) + back + 0.5, 0, 255).astype(np.uint8)

    def apply(self, rgb: np.ndarray, timestamp_ms: int = 0) -> np.ndarray:
        matrix = self.align(rgb, timestamp_ms)
        if matrix is None:
            return rgb
        crop = self.crop(rgb, matrix)
        return self.paste(rgb, matrix, crop, self.inner.apply(crop))
