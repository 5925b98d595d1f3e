"""Cut a frame into overlapping tiles, and put processed tiles back without seams.

Each tile's weight ramps linearly from 0 to 1 across the overlap on every side that meets another
tile, and the weights are divided by their sum (the last tile of a row may overlap more), so a network's edge effects at a tile border
fade out instead of showing as a seam. Sizes are padded (reflect) to multiples of ``multiple``.
"""

from __future__ import annotations

import numpy as np

from mecore.errors import MexError


def _axis(length: int, tile: int, overlap: int, m: int) -> tuple[int, list[int]]:
    """(tile length, starts) covering ``length`` with as few equal tiles as ``tile`` allows; starts are
    multiples of ``m`` so every tile samples the same stride grid as a whole-frame pass would."""
    if length <= tile:
        return length, [0]
    n = -(-(length - overlap) // (tile - overlap))
    t = min(length, -(-(length + (n - 1) * overlap) // (n * m)) * m)
    starts = [min(length - t, round(i * (length - t) / (n - 1) / m) * m) for i in range(n)]
    return t, starts


def _ramp(n: int, overlap: int, before: bool, after: bool) -> np.ndarray:
    w = np.ones(n, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if before and overlap:
        w[:overlap] = ramp
    if after and overlap:
        w[n - overlap:] = ramp[::-1]
    return w


class Tiler:
    """``split(img (H, W, C)) -> (N, C, t, t)`` tiles; ``merge(tiles) -> (H, W, C)``, for one frame size."""

    def __init__(self, tile: int = 512, overlap: int = 32, multiple: int = 4):
        if tile % multiple or overlap < 0 or 2 * overlap >= tile:
            raise MexError(f"tile {tile} / overlap {overlap}: the tile must be a multiple of {multiple} "
                           "and more than twice the overlap")
        self.tile, self.overlap, self.multiple = tile, overlap, multiple
        self._layout = None

    def _plan(self, h: int, w: int):
        m = self.multiple
        ph, pw = -(-h // m) * m, -(-w // m) * m
        th, ys = _axis(ph, self.tile, self.overlap, m)
        tw, xs = _axis(pw, self.tile, self.overlap, m)
        boxes, weights = [], []
        norm = np.zeros((ph, pw), np.float32)
        for y in ys:
            for x in xs:
                wy = _ramp(th, self.overlap, y > 0, y + th < ph)
                wx = _ramp(tw, self.overlap, x > 0, x + tw < pw)
                wt = wy[:, None] * wx[None, :]
                boxes.append((y, x))
                weights.append(wt)
                norm[y:y + th, x:x + tw] += wt
        weights = [wt / norm[y:y + th, x:x + tw] for wt, (y, x) in zip(weights, boxes)]
        return {"size": (h, w), "padded": (ph, pw), "tile": (th, tw), "boxes": boxes, "weights": weights}

    @property
    def count(self) -> int:
        return len(self._layout["boxes"]) if self._layout else 0

    def split(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if self._layout is None or self._layout["size"] != (h, w):
            self._layout = self._plan(h, w)
        ph, pw = self._layout["padded"]
        th, tw = self._layout["tile"]
        if (ph, pw) != (h, w):
            img = np.pad(img, ((0, ph - h), (0, pw - w), (0, 0)), mode="reflect")
        tiles = [img[y:y + th, x:x + tw] for y, x in self._layout["boxes"]]
        return np.ascontiguousarray(np.stack(tiles).transpose(0, 3, 1, 2))

    def merge(self, tiles: np.ndarray) -> np.ndarray:
        lay = self._layout
        ph, pw = lay["padded"]
        th, tw = lay["tile"]
        out = np.zeros((ph, pw, tiles.shape[1]), np.float32)
        for t, (y, x), wt in zip(tiles, lay["boxes"], lay["weights"]):
            out[y:y + th, x:x + tw] += t.transpose(1, 2, 0) * wt[..., None]
        h, w = lay["size"]
        return out[:h, :w]
