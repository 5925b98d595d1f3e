"""One frozen dataclass per pipeline hop: Frame -> FaceTrack -> SpotEvent -> Prediction."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded frame. ``image`` is RGB uint8 (H, W, 3)."""

    image: np.ndarray
    index: int
    timestamp_s: float
    source: str = ""


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One face in one frame. ``landmarks`` are (478, 3) float32: x, y in pixels, z relative depth."""

    track_id: int
    landmarks: np.ndarray
    bbox: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    blendshapes: dict[str, float] = field(default_factory=dict)

    @property
    def points(self) -> np.ndarray:
        """(478, 2) pixel x, y."""
        return self.landmarks[:, :2]


@dataclass(frozen=True)
class SpotEvent:
    """A spotted facial movement of one face, in frame indices of its source."""

    face_id: int
    onset_frame: int
    apex_frame: int
    offset_frame: int
    score: float
    fps: float
    kind: str = "micro"  # "micro" (onset..offset <= 0.5 s, as MEGC defines it) or "macro"
    regions: tuple[str, ...] = ()  # the face regions whose signal crossed, strongest first
    aus: tuple[int, ...] = ()  # the action units those regions suggest

    @property
    def duration_s(self) -> float:
        return (self.offset_frame - self.onset_frame) / self.fps

    @property
    def onset_s(self) -> float:
        return self.onset_frame / self.fps

    @property
    def apex_s(self) -> float:
        return self.apex_frame / self.fps

    @property
    def offset_s(self) -> float:
        return self.offset_frame / self.fps


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one event."""

    event: SpotEvent
    label: str
    probs: dict[str, float]
    backend: str
    latency_ms: float

    @property
    def confidence(self) -> float:
        return self.probs.get(self.label, 0.0)
