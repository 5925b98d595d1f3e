"""The one definition of what the magnifier and the classifier see, used by training and serving.

FGRMER's preprocessing, with changes: aligned onset and apex faces at 256x256 RGB in [-1, 1] go into
MagNet; the motion part of its manipulated shape representation (C x 128 x 128) becomes one map, the
mean absolute value over its channels (FGRMER min-max normalises each channel first, which throws away
the amplitude: docs/training.md); 7x7 patches of it around the 30 graph nodes (apex landmarks in the
128x128 frame) are the classifier's input, with two more channels beside them: the optical flow (x, y)
from the onset to the registered apex, cut at the same nodes (``node_flow``; features v6: the
magnifier's maps are blind to direction, which tells a raised lip corner from a lowered one). (30,
IN_CHANNELS, 7, 7) in all. The decoded (magnified) face is for people to look at; the classifier never
needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mecore.face.roi import PATCH_SIZE, extract_patches, node_points

MAGNET_SIZE = 256
MAP_SIZE = 128
MAP_GROUPS = 1  # channel groups of the motion, one map each (v4-v5: 8; one map with the flow beside it did better)
FLOW_CHANNELS = 2  # the onset -> apex optical flow, x and y, in map pixels
IN_CHANNELS = MAP_GROUPS + FLOW_CHANNELS  # per node: the maps' patches, then the flow's
# bump when the classifier's input changes (3: apex in the onset's frame; 4: 8 channel-group maps;
# 5: the apex registered on its onset, mecore.face.register; 6: the flow channels):
# caches are keyed by it and the stream refuses a classifier made for another version
FEATURES_VERSION = 6
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


def motion_maps(motion: np.ndarray, groups: int = MAP_GROUPS, size: int = MAP_SIZE) -> np.ndarray:
    """(C, h, w) motion part of the shape representation -> (groups, size, size) float32 >= 0: map g is
    the mean of |motion| over channels g, g + groups, ... Unlike ``shape_to_map`` it keeps amplitude
    and the difference between channels."""
    motion = np.asarray(motion, dtype=np.float32)
    if motion.ndim != 3 or motion.shape[0] < groups:
        raise ValueError(f"motion must be (C >= {groups}, h, w), got shape {motion.shape}")
    maps = np.stack([np.abs(motion[g::groups]).mean(axis=0) for g in range(groups)])
    if maps.shape[1:] != (size, size):
        maps = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in maps])
    return maps.astype(np.float32)


def classifier_input(maps: np.ndarray, crop_landmarks: np.ndarray, crop_size: int = MAGNET_SIZE) -> np.ndarray:
    """(30, G, 7, 7) float32 patches of (G, H, W) maps (or (30, 7, 7) of one (H, W) map) at the 30 nodes;
    landmarks are in the aligned crop's pixels."""
    maps = np.asarray(maps)
    scale = maps.shape[-1] / float(crop_size)
    points = node_points(crop_landmarks, scale)
    if maps.ndim == 2:
        return extract_patches(maps, points, PATCH_SIZE).astype(np.float32)
    return np.stack([extract_patches(m, points, PATCH_SIZE) for m in maps], axis=1).astype(np.float32)


def node_flow(onset: np.ndarray, apex: np.ndarray, size: int = MAP_SIZE) -> np.ndarray:
    """(2, size, size) float32: dense optical flow (DIS, medium preset) from the onset to the apex crop
    (aligned RGB uint8, the apex registered on the onset), measured at the crops' own resolution and
    averaged down to ``size``, in ``size``-frame pixels."""
    grey = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in (onset, apex)]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey[0], grey[1], None)
    k = size / float(onset.shape[0])
    if k != 1.0:
        flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) * np.float32(k)
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class MotionFeatures:
    """What one (onset, apex, amplification) gives the classifier."""

    amplification: float
    shape_map: np.ndarray  # (128, 128) float32 in [0, 1]: FGRMER's single map of the motion, for display
    patches: np.ndarray  # (30, IN_CHANNELS, 7, 7) float32, the classifier's input: motion_maps, node_flow


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
    (docs/training.md). The patches are of ``motion_maps`` and, the same at every amplification,
    ``node_flow``; ``shape_map`` is FGRMER's own map.
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
    flow = classifier_input(node_flow(onset, apex), apex_landmarks, crop_size)  # the same at every amplification
    features = []
    for amp, m in zip(amps, motion):
        patches = np.concatenate([classifier_input(motion_maps(m), apex_landmarks, crop_size), flow], axis=1)
        features.append(MotionFeatures(float(amp), shape_to_map(m), patches))
    return features


def magnify(magnifier, onset: np.ndarray, apex: np.ndarray, amplification: float) -> np.ndarray:
    """The apex face magnified against the onset (aligned RGB uint8 crops) -> RGB uint8, for display."""
    out = magnifier(onset=to_magnet_input(onset)[None], apex=to_magnet_input(apex)[None],
                    amplification=np.array([amplification], np.float32))
    return from_magnet_output(out["magnified"][0])
