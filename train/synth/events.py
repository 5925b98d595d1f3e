"""What happens in a synthetic micro-expression: the class, its AUs, their sizes, and the timing.

Classes are CASME II's five, each coded by the AUs its clips carry in the real set. Every class
moves the brow or mouth nodes FGRMER looks at in its own consistent direction, so the classes can
be learned from motion alone:

| class      | AU strings (FACS; R/L: one side only)                      | visible motion (nodes)            |
|------------|------------------------------------------------------------|-----------------------------------|
| happiness  | 6+12, 12, R12, L12, 6+R12, 6+L12                           | lip corners up and out            |
| surprise   | 1+2, 1+2+25, 1, R1+R2, L1+L2                               | brows up                          |
| disgust    | 4+9, 4+10, 9+10, 4+9+10, 9, R10, L10                       | brows down+together / upper lip up|
| repression | 14, R14, L14, 15, 17, 14+17, 15+17, R15, L15               | corners in or down / lower lip up |
| others     | 25, 7+25, 4, R4, L4, 4+7                                   | lower lip down / brows down alone |

Timing (CASME II): the expression rises from the onset frame (still neutral) to the apex with a
raised-cosine profile (60-250 ms) and falls back to zero at the offset frame (150-500 ms after the
onset). Each event's field comes from one of two warp families (``warp.WARPS``: RBF or thin-plate
spline). A macro-expression (``kind="macro"``) uses the same AU strings, larger and 0.5-4 s long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = ("happiness", "surprise", "disgust", "repression", "others")

# class -> [(AU string as CASME II writes it, weight)]
PROGRAMS: dict[str, tuple[tuple[str, float], ...]] = {
    "happiness": (("6+12", 0.4), ("12", 0.25), ("R12", 0.1), ("L12", 0.1), ("6+R12", 0.075), ("6+L12", 0.075)),
    "surprise": (("1+2", 0.55), ("1+2+25", 0.15), ("1", 0.1), ("R1+R2", 0.1), ("L1+L2", 0.1)),
    "disgust": (("4+9", 0.25), ("4+10", 0.25), ("9+10", 0.15), ("4+9+10", 0.15), ("9", 0.1), ("R10", 0.05),
                ("L10", 0.05)),
    "repression": (
        ("14", 0.15), ("R14", 0.1), ("L14", 0.1), ("15", 0.1), ("17", 0.15), ("14+17", 0.15), ("15+17", 0.15),
        ("R15", 0.05), ("L15", 0.05),
    ),
    "others": (("25", 0.35), ("7+25", 0.3), ("4", 0.1), ("R4", 0.075), ("L4", 0.075), ("4+7", 0.1)),
}
KINDS: tuple[str, ...] = ("micro", "macro")
RISE_S: tuple[float, float] = (0.06, 0.25)  # onset -> apex of a micro-expression (CASME II)


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
    warp: str = "rbf"  # the field's family: warp.WARPS
    kind: str = "micro"  # "micro" | "macro"

    def __post_init__(self):
        if not self.onset < self.apex < self.offset:
            raise ValueError(f"need onset < apex < offset, got {self.onset}, {self.apex}, {self.offset}")
        if self.label not in CLASSES:
            raise ValueError(f"unknown class {self.label!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")

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
        return Event(self.label, self.aus, self.onset + by, self.apex + by, self.offset + by, self.warp, self.kind)


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
    rng: np.random.Generator, fps: float, duration_s: tuple[float, float], rise_s: tuple[float, float] | None = RISE_S,
) -> tuple[int, int]:
    """(apex - onset, offset - onset) in frames for a duration drawn from ``duration_s``, at least (1, 2);
    the rise is 35-60 % of it, kept within ``rise_s`` (None: no limit, e.g. macro-expressions)."""
    total = max(2, int(round(rng.uniform(*duration_s) * fps)))
    rise = int(round(total * rng.uniform(0.35, 0.6)))
    if rise_s is not None:
        rise = min(max(rise, int(math.ceil(rise_s[0] * fps))), int(rise_s[1] * fps))
    return min(max(1, rise), total - 1), total


def class_schedule(n: int, rng: np.random.Generator, start: int = 0) -> list[str]:
    """``n`` labels cycling through a shuffled class order from position ``start``: every class as
    often as possible, also over several calls that continue where the last one stopped."""
    order = [CLASSES[i] for i in rng.permutation(len(CLASSES))]
    return [order[(start + i) % len(order)] for i in range(n)]
