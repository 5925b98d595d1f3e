"""Faces too small for the landmarker's own detector: its bundled BlazeFace run on overlapping tiles.

The FaceLandmarker looks for faces on the whole frame squeezed into BlazeFace's 128x128 input, so a
face under about a sixth of the frame's height is never found (a crowd 10 m from a 720p camera: 30-60
px faces, none found). The same detector, from the same ``face_landmarker.task`` bundle (no other
model is fetched), finds them on tiles a few face widths wide: 240 px tiles find faces of 30-60 px,
480 px tiles the larger ones a tile of 240 would cut. One scan of a 1280x720 frame costs about 90 ms
here, so the tracker runs it only while it tracks fewer faces than it may, every few frames.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecore.errors import MexError

DETECTOR_MEMBER = "face_detector.tflite"


@dataclass(frozen=True)
class Detection:
    """A face box in frame pixels and the detector's score."""

    bbox: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px, neighbours overlapping by ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, int(tile * (1.0 - overlap)))
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def suppress(dets: list[Detection], max_iou: float = 0.3) -> list[Detection]:
    """Non-maximum suppression: the same face found on two overlapping tiles is kept once."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: d.score, reverse=True):
        if all(iou(d.bbox, k.bbox) < max_iou for k in kept):
            kept.append(d)
    return kept


class FaceFinder:
    """BlazeFace (the landmarker bundle's) on tiles of ``tiles`` px; ``find(rgb)`` -> detections, best first."""

    def __init__(self, model_path: str | Path, tiles: tuple[int, ...] = (240, 480), overlap: float = 0.25,
                 min_confidence: float = 0.5):
        if not tiles or min(tiles) < 64:
            raise ValueError(f"tiles must be sizes >= 64 px, got {tiles}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        self.model_path = Path(model_path)
        self.tiles = tuple(sorted(tiles))
        self.overlap = overlap
        try:
            with zipfile.ZipFile(self.model_path) as bundle:
                model = bundle.read(DETECTOR_MEMBER)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise MexError(f"{self.model_path}: no {DETECTOR_MEMBER} in the face model bundle ({exc})") from None
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_buffer=model),
                                             running_mode=vision.RunningMode.IMAGE,
                                             min_detection_confidence=min_confidence)
        try:
            self._detector = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise MexError(f"{self.model_path}: {DETECTOR_MEMBER} is not a usable face detector ({exc})") from None

    def find(self, rgb: np.ndarray) -> list[Detection]:
        import mediapipe as mp

        h, w = rgb.shape[:2]
        dets: list[Detection] = []
        # the whole frame first (the large faces), then the tiles clearly smaller than it
        for tile in [max(h, w)] + [t for t in self.tiles if t <= 0.75 * max(h, w)]:
            for y in tile_origins(h, tile, self.overlap):
                for x in tile_origins(w, tile, self.overlap):
                    crop = np.ascontiguousarray(rgb[y:y + tile, x:x + tile])
                    for d in self._detector.detect(mp.Image(mp.ImageFormat.SRGB, crop)).detections:
                        b = d.bounding_box
                        box = (float(x + b.origin_x), float(y + b.origin_y),
                               float(x + b.origin_x + b.width), float(y + b.origin_y + b.height))
                        dets.append(Detection(box, float(d.categories[0].score)))
        return suppress(dets)

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
