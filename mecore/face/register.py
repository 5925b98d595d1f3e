"""Registration of a face crop on another: the face-wide motion between two aligned crops, removed.

Alignment (``mecore.face.align``) fits seven landmarks per frame, so the apex crop keeps what their
jitter and the head's own motion between onset and apex leave: a fraction of a pixel up to a few, as
large as a micro-expression (0.5-3 px per 200 px of face width). On footage with natural head motion
the magnifier amplified that residue and the classifier read it. ``Registration`` measures it on the
pixels instead of on landmarks: DIS optical flow between the two crops, averaged in blocks, and a
robust affine fit over the face's blocks with the eyes and mouth left out (they move on their own;
an affine is what a small head turn, nod or tilt of a nearly flat face looks like), then warps the
apex back by it. What stays is each region's own movement.

The block fit is shared with the flow spotters (``mecore.spotflow``), which remove the same global
motion from their region signals.
"""

from __future__ import annotations

import cv2
import numpy as np

from mecore.face.align import AlignedFace, apply, in_frame_of

# MediaPipe mesh contours of both eyes (subject's right, then left) and of the lips
EYE_POINTS: tuple[int, ...] = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
)
MOUTH_POINTS: tuple[int, ...] = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
GRID = 16  # blocks per side for the global motion fit


def face_blocks(points: np.ndarray, size: int) -> np.ndarray:
    """(GRID * GRID,) bool: the blocks of a ``size`` crop inside the face's hull, not on an eye or the
    mouth; ``points`` (478, 2) are landmarks in that crop's pixels."""
    pts = np.asarray(points, dtype=np.float32)[:, :2] * (GRID / float(size))
    inside = np.zeros((GRID, GRID), np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.rint(pts).astype(np.int32)), 1)
    for idx in (EYE_POINTS[:16], EYE_POINTS[16:], MOUTH_POINTS):
        cv2.fillConvexPoly(inside, cv2.convexHull(np.rint(pts[list(idx)]).astype(np.int32)), 0)
    return inside.ravel().astype(bool)


def block_design(size: int) -> np.ndarray:
    """(GRID * GRID, 3) float32: each block's centre (x, y, 1) in a ``size`` crop."""
    c = (np.arange(GRID, dtype=np.float32) + 0.5) * (size / GRID)
    xx, yy = np.meshgrid(c, c)
    return np.stack([xx.ravel(), yy.ravel(), np.ones(GRID * GRID, np.float32)], axis=1)


def global_motion(flow: np.ndarray, face: np.ndarray, design: np.ndarray) -> np.ndarray:
    """(3, 2) affine fit of a dense ``flow`` (size, size, 2) over the ``face`` blocks: the flow at (x, y)
    is [x, y, 1] @ coef. Robust: the blocks that fit worst (over twice the median error) are left out
    of a second fit, so a region that moved on its own does not drag the face's motion with it."""
    blocks = cv2.resize(flow, (GRID, GRID), interpolation=cv2.INTER_AREA).reshape(-1, 2)[face]
    design = design[face]
    coef, *_ = np.linalg.lstsq(design, blocks, rcond=None)
    err = np.linalg.norm(design @ coef - blocks, axis=1)
    keep = err <= max(2.0 * float(np.median(err)), 1e-6)
    if keep.sum() >= 6:
        coef, *_ = np.linalg.lstsq(design[keep], blocks[keep], rcond=None)
    return coef


class Registration:
    """``register(onset, apex)``: the apex crop in the onset's frame with the face-wide motion between
    them removed. Flow is measured at ``size`` px (a 256-px crop's micro-expression is still 0.25-1.5 px
    there; 5 ms a pair on one core)."""

    def __init__(self, size: int = 128):
        self.size = int(size)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._design = block_design(self.size)

    def _grey(self, rgb: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)

    def matrix(self, ref: AlignedFace, face: AlignedFace) -> np.ndarray:
        """(2, 3) crop -> crop: where each pixel of ``ref`` is found in ``face`` (both in one frame)."""
        k = ref.image.shape[0] / float(self.size)
        flow = self._dis.calc(self._grey(ref.image), self._grey(face.image), None)
        coef = global_motion(flow, face_blocks(ref.landmarks / k, self.size), self._design)
        # flow in crop px at crop point P: lin^T P + k t (coef's rows: x, y, 1; flow scales with the crop)
        m = np.eye(2, 3)
        m[:, :2] += coef[:2].T.astype(np.float64)
        m[:, 2] += k * coef[2].astype(np.float64)
        return m

    def register(self, onset: AlignedFace, apex: AlignedFace) -> AlignedFace:
        """``apex`` re-cut in ``onset``'s frame (``in_frame_of``), then warped back by the face-wide motion."""
        apex = in_frame_of(onset, apex)
        m = self.matrix(onset, apex)
        h, w = apex.image.shape[:2]
        image = cv2.warpAffine(apex.image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        inv = cv2.invertAffineTransform(m)  # apex-crop points -> registered-crop points
        source = np.vstack([inv, [0.0, 0.0, 1.0]]) @ np.vstack([apex.matrix, [0.0, 0.0, 1.0]])
        return AlignedFace(image, source[:2], apply(inv, apex.landmarks))
