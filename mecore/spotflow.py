"""Region optical flow on the aligned face: what both flow spotters see, and the learned spotter's features.

Shared by ``stream`` (``--spotter flow`` and ``--spotter learned``) and ``train.spotter`` so that the
learned spotter is trained on exactly the signals it is served with. On the grey aligned crop (head
shift, roll and scale already removed by the alignment) DIS optical flow between two frames gives each
region of interest (``REGIONS``) the mean flow of a patch at its landmarks, less an affine fit of the
face's block flow (robust; eyes and mouth left out; ``mecore.face.register``, which registers the
classifier's apex with the same fit): what alignment left of head motion goes, a region's own movement
stays.

``SpotFeatures`` turns one face's frames into one vector per frame for the learned spotter: each region's
flow over the last ``k`` frames divided by its own running noise level, the log of that level, and the
blink, jaw, speech and head-motion context the hand-made spotter gates on.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from mecore.face.register import block_design, face_blocks, global_motion

# region -> (mesh vertices its patch is centred on, the action units a movement there suggests)
REGIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "brow_inner_r": ((107, 66, 55, 65), (1, 4)),
    "brow_inner_l": ((336, 296, 285, 295), (1, 4)),
    "brow_outer_r": ((70, 63, 46, 53), (2,)),
    "brow_outer_l": ((300, 293, 276, 283), (2,)),
    "eye_r": ((145, 153, 144, 159, 158), (7,)),
    "eye_l": ((374, 380, 373, 386, 385), (7,)),
    "cheek_r": ((117, 118, 101, 50), (6,)),
    "cheek_l": ((346, 347, 330, 280), (6,)),
    "nose_r": ((48, 64, 98), (9,)),
    "nose_l": ((278, 294, 327), (9,)),
    "upper_lip": ((0, 37, 267), (10,)),
    "mouth_r": ((61, 146, 185), (12, 14, 15)),
    "mouth_l": ((291, 375, 409), (12, 14, 15)),
    "lower_lip": ((17, 84, 314), (25,)),
    "chin": ((175, 199, 200, 18), (17,)),
}
NAMES: tuple[str, ...] = tuple(REGIONS)
# a region's mirror image: the learned spotter is trained on mirrored faces too
MIRROR: tuple[int, ...] = tuple(NAMES.index(n[:-1] + {"r": "l", "l": "r"}[n[-1]]) if n[-2:] in ("_r", "_l")
                                else NAMES.index(n) for n in NAMES)
FEATURES_VERSION = 1
CONTEXT = ("blink", "jaw_open", "jaw_range", "head_motion")
# a region's noise level: the median of its step flow over the last NOISE_WINDOW frames, recomputed every
# NOISE_EVERY, at least NOISE_FLOOR px at 128 (train.spotter_mix recomputes it for its mixed clips)
NOISE_WINDOW, NOISE_EVERY, NOISE_FLOOR = 300, 5, 0.12


def n_features() -> int:
    """Per frame: each region's normalised (x, y) flow and log noise level, then CONTEXT."""
    return 3 * len(NAMES) + len(CONTEXT)


@dataclass
class FlowFrame:
    index: int
    grey: np.ndarray  # (size, size) uint8
    centres: np.ndarray  # (len(NAMES), 2) patch centres at size
    face: np.ndarray  # (GRID * GRID,) blocks inside the face's hull, the eyes' and mouth's left out
    blink: float
    centre: np.ndarray  # face centre in the source, px
    width: float  # face width in the source, px


class RegionFlow:
    """Frames of one face at ``size`` px, and each region's flow between two of them."""

    def __init__(self, size: int = 128, patch: float = 0.1):
        self.size = size
        self.half = max(2, int(round(patch * size / 2)))
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._design = block_design(size)

    def frame(self, index: int, grey: np.ndarray, crop_landmarks: np.ndarray, crop_size: int, blink: float = 0.0,
              centre=(0.0, 0.0), face_width: float = 1.0) -> FlowFrame:
        if grey.shape != (self.size, self.size):
            grey = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)
        pts = np.asarray(crop_landmarks, dtype=np.float32)[:, :2] * (self.size / float(crop_size))
        centres = np.array([pts[list(v)].mean(axis=0) for v, _ in REGIONS.values()])
        return FlowFrame(index, grey, centres.astype(np.float32), face_blocks(pts, self.size), float(blink),
                         np.asarray(centre, np.float32), max(float(face_width), 1.0))

    def vectors(self, ref: FlowFrame, cur: FlowFrame) -> np.ndarray:
        """(R, 2) each region's mean flow ref -> cur less the face's global motion, px at ``size``.

        The global motion is an affine fit to the flow of the face's blocks (robust: the blocks that fit
        worst are left out of a second fit), so what alignment left of a head turn or nod, a shift, tilt or
        shear of the whole face, is removed and a region's own movement stays."""
        flow = self._dis.calc(ref.grey, cur.grey, None)
        h = self.half
        means = np.empty((len(ref.centres), 2), np.float32)
        for r, (x, y) in enumerate(np.rint(ref.centres).astype(int)):
            x0, y0 = min(max(x - h, 0), self.size - 2 * h), min(max(y - h, 0), self.size - 2 * h)
            means[r] = flow[y0:y0 + 2 * h, x0:x0 + 2 * h].reshape(-1, 2).mean(axis=0)
        coef = global_motion(flow, ref.face, self._design)
        at = np.hstack([ref.centres, np.ones((len(NAMES), 1), np.float32)])
        return means - at @ coef

    def displacement(self, ref: FlowFrame, cur: FlowFrame) -> np.ndarray:
        return np.linalg.norm(self.vectors(ref, cur), axis=1)


def nanmedian(a: np.ndarray) -> np.ndarray:
    """Per column; NaN (not a warning) for a region masked in every frame of the window (a long talk)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0)


class SpotFeatures:
    """One face's per-frame feature vectors for the learned spotter, online: ``update`` once per frame seen.

    ``k`` frames of flow per step (the learned spotter's artifact names it); each region's noise level is
    the median of its step flow over the last ``window`` frames (recomputed every ``every``), at least
    ``floor`` px, so a talking mouth's flow counts less than a still brow's of the same size."""

    def __init__(self, k: int, size: int = 128, patch: float = 0.1, window: int = NOISE_WINDOW,
                 floor: float = NOISE_FLOOR, every: int = NOISE_EVERY, speech: int = 30):
        self.k, self.every = k, every
        self.flow = RegionFlow(size, patch)
        self.floor = floor * size / 128.0
        self._frames: deque[FlowFrame] = deque(maxlen=k + 1)
        self._steps: deque[np.ndarray] = deque(maxlen=window)
        self._jaw: deque[float] = deque(maxlen=speech)
        self._noise = np.full(len(NAMES), self.floor, np.float32)
        self._n = 0

    @property
    def noise(self) -> np.ndarray:
        """(R,) each region's running noise level, px at ``size``."""
        return self._noise

    def reset(self) -> None:
        """A gap in the face's frames: frame n - k is no longer k frames back."""
        self._frames.clear()
        self._jaw.clear()

    def update(self, frame: FlowFrame, jaw_open: float = 0.0) -> np.ndarray | None:
        """The feature vector of ``frame`` (n_features(),), or None until k frames precede it."""
        if self._frames and frame.index - self._frames[-1].index > self.k:
            self.reset()
        self._frames.append(frame)
        self._jaw.append(float(jaw_open))
        if len(self._frames) < self.k + 1:
            return None
        ref = self._frames[0]
        v = self.flow.vectors(ref, frame)
        self._steps.append(np.linalg.norm(v, axis=1))
        self._n += 1
        if self._n % self.every == 1 or self.every == 1:
            self._noise = np.maximum(self.floor, nanmedian(np.stack(self._steps))).astype(np.float32)
        head = float(np.linalg.norm(frame.centre - ref.centre)) / frame.width
        context = [frame.blink, float(jaw_open), max(self._jaw) - min(self._jaw), 10.0 * head]
        return np.concatenate([(v / self._noise[:, None]).ravel(), np.log(self._noise / self.floor),
                               np.asarray(context, np.float32)]).astype(np.float32)


def mirror(features: np.ndarray) -> np.ndarray:
    """Features of the mirrored face (..., n_features()): regions swapped left for right, x flow negated."""
    r = len(NAMES)
    out = features.copy()
    flow = features[..., :2 * r].reshape(*features.shape[:-1], r, 2)[..., list(MIRROR), :].copy()
    flow[..., 0] *= -1.0
    out[..., :2 * r] = flow.reshape(*features.shape[:-1], 2 * r)
    out[..., 2 * r:3 * r] = features[..., 2 * r:3 * r][..., list(MIRROR)]
    return out
