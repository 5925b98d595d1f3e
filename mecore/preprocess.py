"""The one definition of what the magnifier and the classifier see, used by training and serving.

FGRMER's preprocessing: aligned onset and apex faces at 256x256 RGB in [-1, 1] go into MagNet; the
motion part of its manipulated shape representation (C x 128 x 128) is min-max normalised per
channel, averaged over channels into one 128x128 map; 7x7 patches of that map around the 30 graph
nodes (apex landmarks in the 128x128 frame) are the classifier's input. The decoded (magnified) face
is for people to look at; the classifier never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mecore.face.roi import PATCH_SIZE, extract_patches, node_points

MAGNET_SIZE = 256
MAP_SIZE = 128
FEATURES_VERSION = 3  # bump when the classifier's input changes (3: apex in the onset's frame): caches are keyed by it
EPS = 1e-6


def to_magnet_input(rgb: np.ndarray, size: int = MAGNET_SIZE) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, size, size) in [-1, 1]."""
    if rgb.shape[:2] != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray((rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1))


def from_magnet_output(out: np.ndarray) -> np.ndarray:
    """float (3, H, W) in [-1, 1] -> RGB uint8 (H, W, 3)."""
    img = (np.clip(out, -1.0, 1.0) + 1.0) * 127.5
    return np.ascontiguousarray(np.rint(img).astype(np.uint8).transpose(1, 2, 0))


def shape_to_map(shape: np.ndarray, size: int = MAP_SIZE) -> np.ndarray:
    """(C, h, w) shape representation -> (size, size) float32 in [0, 1]: per-channel min-max, channel mean."""
    shape = np.asarray(shape, dtype=np.float32)
    lo = shape.min(axis=(1, 2), keepdims=True)
    hi = shape.max(axis=(1, 2), keepdims=True)
    fmap = ((shape - lo) / np.maximum(hi - lo, EPS)).mean(axis=0)
    if fmap.shape != (size, size):
        fmap = cv2.resize(fmap, (size, size), interpolation=cv2.INTER_LINEAR)
    return fmap.astype(np.float32)


def classifier_input(shape_map: np.ndarray, crop_landmarks: np.ndarray, crop_size: int = MAGNET_SIZE) -> np.ndarray:
    """(30, 7, 7) float32 patches of the shape map at the 30 nodes; landmarks are in the aligned crop's pixels."""
    scale = shape_map.shape[0] / float(crop_size)
    return extract_patches(shape_map, node_points(crop_landmarks, scale), PATCH_SIZE).astype(np.float32)


@dataclass(frozen=True, eq=False)
class MotionFeatures:
    """What one (onset, apex, amplification) gives the classifier."""

    amplification: float
    shape_map: np.ndarray  # (128, 128) float32 in [0, 1], of the motion part of the shape representation
    patches: np.ndarray  # (30, 7, 7) float32, the classifier's input


def motion_features(model, onset: np.ndarray, apex: np.ndarray, apex_landmarks: np.ndarray,
                    amplifications: Sequence[float]) -> list[MotionFeatures]:
    """The classifier's input for one aligned (onset, apex) pair at each amplification.

    ``model`` is an ``engines`` Engine (or anything with its call contract: onset, apex (N, 3, H, W)
    in [-1, 1], amplification (N,) -> named arrays): the ``motion`` artifact (output ``motion``), or
    a magnifier (output ``shape``), from which the same quantity is taken as a difference at the
    price of a full decode. ``onset``/``apex`` are aligned RGB uint8 crops (MAGNET_SIZE square);
    ``apex_landmarks`` (478, >=2) are in that crop's pixels. Training (train/cache.py) and serving
    (stream/) both call this, so the classifier sees the same thing.

    The map is made from the *motion part* of the manipulated shape representation,
    shape(alpha) - shape(1) = h(g(shape_apex - shape_onset) * (alpha - 1)): the apex face's own
    appearance (which differs far more between people than any micro-expression) cancels out.
    On the synthetic set this took a linear probe on the patches from 0.76 to 0.96 LOSO accuracy
    (docs/training.md).
    """
    amps = np.asarray(list(amplifications), dtype=np.float32).reshape(-1)
    if amps.size == 0:
        raise ValueError("no amplification factors given")
    a, b = to_magnet_input(onset), to_magnet_input(apex)
    direct = "motion" in getattr(model, "output_names", ("motion",))
    batch = amps if direct else np.concatenate([np.ones(1, np.float32), amps])  # row 0: shape at alpha 1
    n = batch.size
    out = model(onset=np.repeat(a[None], n, axis=0), apex=np.repeat(b[None], n, axis=0), amplification=batch)
    motion = out["motion"] if direct else out["shape"][1:] - out["shape"][:1]
    crop_size = onset.shape[0]
    features = []
    for amp, m in zip(amps, motion):
        fmap = shape_to_map(m)
        features.append(MotionFeatures(float(amp), fmap, classifier_input(fmap, apex_landmarks, crop_size)))
    return features


def magnify(magnifier, onset: np.ndarray, apex: np.ndarray, amplification: float) -> np.ndarray:
    """The apex face magnified against the onset (aligned RGB uint8 crops) -> RGB uint8, for display."""
    out = magnifier(onset=to_magnet_input(onset)[None], apex=to_magnet_input(apex)[None],
                    amplification=np.array([amplification], np.float32))
    return from_magnet_output(out["magnified"][0])
