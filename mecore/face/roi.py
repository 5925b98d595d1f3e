"""FGRMER's 30 graph nodes on MediaPipe's 478-point mesh, and patch extraction around them.

FGRMER (Lei et al., CVPRW 2021) takes dlib's 68-point eyebrow points 17-26 (10 nodes) and mouth
points 48-67 (20 nodes). MediaPipe's mesh is denser; each dlib point maps to the mesh vertex at the
same anatomical place. "Right"/"left" are the subject's; dlib numbers from the image's left.

| node | dlib | mesh | place                        |  node | dlib | mesh | place                    |
|------|------|------|------------------------------|-------|------|------|--------------------------|
| 0    | 17   | 70   | right brow, outer end        |  15   | 53   | 270  | upper lip, left peak out |
| 1    | 18   | 63   | right brow                   |  16   | 54   | 291  | left mouth corner        |
| 2    | 19   | 105  | right brow, middle           |  17   | 55   | 321  | lower lip, left          |
| 3    | 20   | 66   | right brow                   |  18   | 56   | 314  | lower lip, left of mid   |
| 4    | 21   | 107  | right brow, inner end        |  19   | 57   | 17   | lower lip, middle        |
| 5    | 22   | 336  | left brow, inner end         |  20   | 58   | 84   | lower lip, right of mid  |
| 6    | 23   | 296  | left brow                    |  21   | 59   | 91   | lower lip, right         |
| 7    | 24   | 334  | left brow, middle            |  22   | 60   | 78   | inner right corner       |
| 8    | 25   | 293  | left brow                    |  23   | 61   | 81   | inner upper lip, right   |
| 9    | 26   | 300  | left brow, outer end         |  24   | 62   | 13   | inner upper lip, middle  |
| 10   | 48   | 61   | right mouth corner           |  25   | 63   | 311  | inner upper lip, left    |
| 11   | 49   | 40   | upper lip, right peak out    |  26   | 64   | 308  | inner left corner        |
| 12   | 50   | 37   | upper lip, right peak        |  27   | 65   | 402  | inner lower lip, left    |
| 13   | 51   | 0    | upper lip, middle            |  28   | 66   | 14   | inner lower lip, middle  |
| 14   | 52   | 267  | upper lip, left peak         |  29   | 67   | 178  | inner lower lip, right   |
"""

from __future__ import annotations

import numpy as np

BROW_NODES: tuple[int, ...] = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
MOUTH_NODES: tuple[int, ...] = (
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lip, dlib 48-59
    78, 81, 13, 311, 308, 402, 14, 178,  # inner lip, dlib 60-67
)
NODES: tuple[int, ...] = BROW_NODES + MOUTH_NODES
N_BROW, N_MOUTH = len(BROW_NODES), len(MOUTH_NODES)
N_NODES = len(NODES)
PATCH_SIZE = 7


def node_points(landmarks: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(30, 2) x, y of the graph nodes from (478, >=2) landmarks, times ``scale`` (crop 256 -> map 128: 0.5)."""
    return np.asarray(landmarks, dtype=np.float32)[list(NODES), :2] * np.float32(scale)


def extract_patches(feature_map: np.ndarray, points: np.ndarray, size: int = PATCH_SIZE) -> np.ndarray:
    """(N, size, size) patches of a 2-D map centred on ``points`` (x, y); rows are y, columns x.

    A patch near the border is shifted inside the map (clamped) rather than padded, so every value
    comes from the face and the shape is always the same.
    """
    fmap = np.asarray(feature_map)
    if fmap.ndim != 2:
        raise ValueError(f"feature map must be 2-D, got shape {fmap.shape}")
    h, w = fmap.shape
    if h < size or w < size:
        raise ValueError(f"feature map {fmap.shape} smaller than patch {size}")
    half = size // 2
    centres = np.rint(np.asarray(points, dtype=np.float64)).astype(np.int64)
    x0 = np.clip(centres[:, 0] - half, 0, w - size)
    y0 = np.clip(centres[:, 1] - half, 0, h - size)
    offs = np.arange(size)
    rows = (y0[:, None] + offs)[:, :, None]  # (N, size, 1)
    cols = (x0[:, None] + offs)[:, None, :]  # (N, 1, size)
    return fmap[rows, cols]
