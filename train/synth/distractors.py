"""Motion that is not a micro-expression, labelled in the ground truth so that a spotter's false
calls can be counted by what caused them.

| kind      | what moves                                           | length      | size (aligned crop px)        |
|-----------|------------------------------------------------------|-------------|-------------------------------|
| blink     | upper lids down to the lower lids and back (AU43)    | 0.1-0.4 s   | 5-9                           |
| speech    | jaw and lower lip open and close (AU26), 3-6 Hz      | 0.8-3 s     | 1.5-6                         |
| head_turn | the head moves sideways and back, a little roll      | 0.6-2 s     | 8-30 across, roll 1-4 deg     |
| nod       | the head moves down and up, once or twice            | 0.5-1.5 s   | 4-15                          |

Macro-expressions are events (``events.Event(kind="macro")``), not distractors: they carry a class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DISTRACTOR_KINDS: tuple[str, ...] = ("blink", "speech", "head_turn", "nod")
DURATION_S: dict[str, tuple[float, float]] = {
    "blink": (0.1, 0.4), "speech": (0.8, 3.0), "head_turn": (0.6, 2.0), "nod": (0.5, 1.5),
}
SIZE_PX: dict[str, tuple[float, float]] = {
    "blink": (5.0, 9.0), "speech": (1.5, 6.0), "head_turn": (8.0, 30.0), "nod": (4.0, 15.0),
}


@dataclass(frozen=True)
class Distractor:
    """One distractor from ``start`` (still neutral) to ``end`` (neutral again); frames 0-based."""

    kind: str
    start: int
    end: int
    size: float  # aligned-crop px (lids, jaw, head shift)
    hz: float = 0.0  # speech: syllable rate; nod: cycles over the whole nod
    direction: float = 1.0  # head_turn: +1 right, -1 left; nod: +1 down first
    roll_deg: float = 0.0  # head_turn

    def __post_init__(self):
        if self.kind not in DISTRACTOR_KINDS:
            raise ValueError(f"unknown distractor {self.kind!r}; choose from {DISTRACTOR_KINDS}")
        if not self.start < self.end:
            raise ValueError(f"need start < end, got {self.start}, {self.end}")

    def _phase(self, frame: int) -> float | None:
        if frame <= self.start or frame >= self.end:
            return None
        return (frame - self.start) / (self.end - self.start)

    def motions(self, frame: int, fps: float) -> list[tuple[int, str, float]]:
        """Face-field motions [(au, side, crop px)] at ``frame`` (blink, speech); empty otherwise."""
        x = self._phase(frame)
        if x is None or self.kind not in ("blink", "speech"):
            return []
        envelope = 0.5 - 0.5 * math.cos(2 * math.pi * x)
        if self.kind == "blink":
            return [(43, "", self.size * envelope)]
        t = (frame - self.start) / fps
        return [(26, "", self.size * min(1.0, 2 * envelope) * abs(math.sin(math.pi * self.hz * t)))]

    def head(self, frame: int, scale: float) -> np.ndarray:
        """(tx, ty frame px, roll deg, scale - 1) added to the head's path at ``frame``."""
        x = self._phase(frame)
        out = np.zeros(4)
        if x is None or self.kind not in ("head_turn", "nod"):
            return out
        bump = 0.5 - 0.5 * math.cos(2 * math.pi * x)
        if self.kind == "head_turn":
            out[0] = self.direction * self.size * scale * bump
            out[2] = self.roll_deg * bump
        else:
            cycles = max(1.0, round(self.hz))
            out[1] = self.direction * self.size * scale * math.sin(math.pi * cycles * x) * (1 if cycles == 1 else bump)
        return out

    def record(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "size_px": round(self.size, 3)}


def draw(kind: str, start: int, fps: float, rng: np.random.Generator) -> Distractor:
    """One distractor of ``kind`` starting at ``start``, its length and size drawn from the tables."""
    n = max(2, int(round(rng.uniform(*DURATION_S[kind]) * fps)))
    size = float(rng.uniform(*SIZE_PX[kind]))
    if kind == "speech":
        return Distractor(kind, start, start + n, size, hz=float(rng.uniform(3, 6)))
    if kind == "head_turn":
        return Distractor(kind, start, start + n, size, direction=float(rng.choice([-1, 1])),
                          roll_deg=float(rng.uniform(1, 4) * rng.choice([-1, 1])))
    if kind == "nod":
        return Distractor(kind, start, start + n, size, hz=float(rng.integers(1, 3)), direction=1.0)
    return Distractor(kind, start, start + n, size)


def length_frames(kind: str, fps: float) -> int:
    """The longest ``kind`` can be, in frames (for placing it)."""
    return max(2, int(round(DURATION_S[kind][1] * fps)))
