"""What happens in a synthetic micro-expression: the class, its AUs, their sizes, and the timing.

Classes are CASME II's five, each coded by the AUs its clips carry in the real set. Every class
moves the brow or mouth nodes FGRMER looks at in its own consistent direction, so the classes can
be learned from motion alone:

| class      | AU strings (weight)                                   | visible motion (nodes)            |
|------------|-------------------------------------------------------|-----------------------------------|
| happiness  | 6+12 (.65), 12 (.35)                                   | lip corners up and out            |
| surprise   | 1+2                                                    | whole brows up                    |
| disgust    | 4+9 (.3), 4+10 (.3), 9+10 (.2), 4+9+10 (.2)            | brows down+together / upper lip up|
| repression | 14, R14, L14, 15, 17, 14+17, 15+17                     | corners in or down / lower lip up |
| others     | 25 (.5), 7+25 (.5)                                     | lower lip down                    |

Timing: the expression rises from the onset frame (still neutral) to the apex with a raised-cosine
profile and falls back to zero at the offset frame; onset to offset lasts 40-500 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = ("happiness", "surprise", "disgust", "repression", "others")

# class -> [(AU string as CASME II writes it, weight)]
PROGRAMS: dict[str, tuple[tuple[str, float], ...]] = {
    "happiness": (("6+12", 0.65), ("12", 0.35)),
    "surprise": (("1+2", 1.0),),
    "disgust": (("4+9", 0.3), ("4+10", 0.3), ("9+10", 0.2), ("4+9+10", 0.2)),
    "repression": (
        ("14", 0.15), ("R14", 0.1), ("L14", 0.1), ("15", 0.15), ("17", 0.15), ("14+17", 0.15), ("15+17", 0.2),
    ),
    "others": (("25", 0.5), ("7+25", 0.5)),
}


@dataclass(frozen=True)
class AUMotion:
    """One AU of an event: number, side ("R", "L" or "" for both) and apex displacement (crop px)."""

    au: int
    side: str
    displacement_px: float

    @property
    def code(self) -> str:
        return f"{self.side}{self.au}"


@dataclass(frozen=True)
class Event:
    """One micro-expression. Frames are indices into its clip (0-based); onset is still neutral."""

    label: str
    aus: tuple[AUMotion, ...]
    onset: int
    apex: int
    offset: int

    def __post_init__(self):
        if not self.onset < self.apex < self.offset:
            raise ValueError(f"need onset < apex < offset, got {self.onset}, {self.apex}, {self.offset}")
        if self.label not in CLASSES:
            raise ValueError(f"unknown class {self.label!r}")

    @property
    def au_string(self) -> str:
        return "+".join(m.code for m in self.aus)

    def intensity(self, frame: int) -> float:
        """0 outside (onset, offset), 1 at the apex, raised-cosine ramps in between."""
        if frame <= self.onset or frame >= self.offset:
            return 0.0
        if frame <= self.apex:
            x = (frame - self.onset) / (self.apex - self.onset)
        else:
            x = (self.offset - frame) / (self.offset - self.apex)
        return 0.5 - 0.5 * math.cos(math.pi * x)

    def motions(self, frame: int) -> list[tuple[int, str, float]]:
        """[(au, side, displacement crop px)] at ``frame``; empty when the face is neutral."""
        a = self.intensity(frame)
        return [(m.au, m.side, a * m.displacement_px) for m in self.aus] if a > 0 else []

    def shifted(self, by: int) -> Event:
        return Event(self.label, self.aus, self.onset + by, self.apex + by, self.offset + by)


def parse_program(text: str) -> list[tuple[int, str]]:
    """"R14+17" -> [(14, "R"), (17, "")]."""
    out = []
    for tok in text.split("+"):
        side = tok[0] if tok[0] in "RL" else ""
        out.append((int(tok[len(side):]), side))
    return out


def sample_aus(label: str, rng: np.random.Generator, amplitude: tuple[float, float]) -> tuple[AUMotion, ...]:
    """Pick one of the class's AU combinations and an apex displacement per AU."""
    options = PROGRAMS[label]
    weights = np.array([w for _, w in options])
    text = options[int(rng.choice(len(options), p=weights / weights.sum()))][0]
    return tuple(AUMotion(au, side, round(float(rng.uniform(*amplitude)), 3)) for au, side in parse_program(text))


def sample_timing(
    rng: np.random.Generator, fps: float, duration_s: tuple[float, float]
) -> tuple[int, int]:
    """(apex - onset, offset - onset) in frames for a duration drawn from ``duration_s``, at least (1, 2)."""
    total = max(2, int(round(rng.uniform(*duration_s) * fps)))
    rise = int(round(total * rng.uniform(0.35, 0.6)))
    return min(max(1, rise), total - 1), total


def class_schedule(n: int, rng: np.random.Generator, start: int = 0) -> list[str]:
    """``n`` labels cycling through a shuffled class order from position ``start``: every class as
    often as possible, also over several calls that continue where the last one stopped."""
    order = [CLASSES[i] for i in rng.permutation(len(CLASSES))]
    return [order[(start + i) % len(order)] for i in range(n)]
