"""The learned spotter's two ends that training and serving share: the per-frame features of a face's
frames, and the decoder that turns the network's per-frame probabilities into events.

``train.spotter`` runs ``features`` over recordings of the analyser and ``Decoder`` over its validation
predictions to choose the threshold; ``stream.spotting_learned`` runs the same two online, frame by frame,
so what is measured in training is what the stream does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from mecore.spotflow import SpotFeatures

CLASSES = ("none", "micro", "macro")
STEP_S = 0.15  # the flow's step, k frames: the stream's k at its default me_length_s (0.3 s / 2)


def k_for(fps: float, step_s: float = STEP_S) -> int:
    """k at ``fps`` (4 at 30 fps, 3 at 25), as ``StreamConfig.k`` rounds it."""
    return max(1, int(step_s * fps))


def micro_frames(fps: float, micro_max_s: float = 0.5, step_s: float = STEP_S) -> int:
    """The longest micro event in frames: MEGC's 0.5 s, plus k frames of measuring slack (as the flow spotter)."""
    return max(1, int(round(micro_max_s * fps))) + k_for(fps, step_s)


def features(a: dict, k: int, size: int = 128, patch: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(indices, (n, F) features) of one face's recorded frames (``mecore.spotrec.faces``), the frames
    SpotFeatures gives a vector for (after the first k, and k after each gap); the spotter's flushes start
    it afresh, as the stream's spotter is made anew."""
    flushes = set(a["flush"].tolist())
    feats = SpotFeatures(k, size, patch)
    idx, out = [], []
    for i in range(len(a["index"])):
        if i in flushes:
            feats = SpotFeatures(k, size, patch)
        frame = feats.flow.frame(int(a["index"][i]), a["grey"][i], a["landmarks"][i], a["grey"].shape[1],
                                 float(a["blink"][i]), a["centre"][i], float(a["width"][i]))
        v = feats.update(frame, float((a["blendshapes"][i] or {}).get("jawOpen", 0.0)))
        if v is not None:
            idx.append(int(a["index"][i]))
            out.append(v)
    n = len(out)
    return np.asarray(idx, np.int64), (np.stack(out) if n else np.zeros((0, 0), np.float32))


def windows(idx: np.ndarray, past: int, lookahead: int) -> np.ndarray:
    """Positions t of ``idx`` whose window t - past .. t + lookahead is unbroken (consecutive frames)."""
    w = past + 1 + lookahead
    if len(idx) < w:
        return np.zeros(0, np.int64)
    span = idx[w - 1:] - idx[: len(idx) - w + 1]
    return np.nonzero(span == w - 1)[0] + past


@dataclass(frozen=True)
class Decoded:
    onset: int
    apex: int  # the frame the network was surest of
    offset: int
    kind: str  # "micro" | "macro"
    score: float  # the highest p(event) inside it


class Decoder:
    """Hysteresis on p(event) = p(micro) + p(macro), one frame at a time in index order: an event opens at a
    frame above ``threshold`` and ends at the last frame above ``low`` before ``gap`` frames below it; its
    kind is micro when the micro class has more probability mass over it and it lasts at most ``micro_frames``
    (MEGC: onset to offset <= 0.5 s), else macro. Shorter than ``min_frames``: dropped; one still open after
    ``max_frames`` (a held expression) is closed there."""

    def __init__(self, threshold: float = 0.5, low: float | None = None, gap: int = 2, min_frames: int = 3,
                 max_frames: int = 120, micro_frames: int = 19):
        self.threshold, self.low = threshold, threshold * 0.6 if low is None else low
        self.gap, self.min_frames, self.max_frames, self.micro_frames = gap, min_frames, max_frames, micro_frames
        self._open: list[tuple[int, np.ndarray]] = []
        self._below = 0
        self._last = None

    @property
    def active(self) -> bool:
        return bool(self._open)

    def push(self, index: int, probs: np.ndarray) -> list[Decoded]:
        out: list[Decoded] = []
        if self._last is not None and index - self._last > self.gap:
            out = self.flush()
        self._last = index
        p = float(probs[1] + probs[2])
        if not self._open:
            if p >= self.threshold:
                self._open, self._below = [(index, probs)], 0
            return out
        self._open.append((index, probs))
        self._below = self._below + 1 if p < self.low else 0
        if self._below > self.gap or len(self._open) >= self.max_frames:
            return out + self.flush()
        return out

    @property
    def ending(self) -> bool:
        """The open event's first frame below ``low``: it ends here unless the next ``gap`` frames rise again."""
        return bool(self._open) and self._below == 1

    def pending(self) -> Decoded | None:
        """The event ``flush`` would give now, the decoder left as it is (what the stream classifies while it
        waits for the gap to confirm the end)."""
        got = self._decode(list(self._open))
        return got[0] if got else None

    def flush(self) -> list[Decoded]:
        frames, self._open, self._below = self._open, [], 0
        return self._decode(frames)

    def _decode(self, frames: list[tuple[int, np.ndarray]]) -> list[Decoded]:
        while frames and float(frames[-1][1][1] + frames[-1][1][2]) < self.low:
            frames.pop()
        if not frames or frames[-1][0] - frames[0][0] + 1 < self.min_frames:
            return []
        probs = np.stack([p for _, p in frames])
        event = probs[:, 1] + probs[:, 2]
        brief = frames[-1][0] - frames[0][0] <= self.micro_frames
        kind = "micro" if brief and probs[:, 1].sum() >= probs[:, 2].sum() else "macro"
        top = int(np.argmax(event))
        return [Decoded(frames[0][0], frames[top][0], frames[-1][0], kind, float(event[top]))]


class Window:
    """The last ``size`` feature vectors of one face, newest last; ``full`` once unbroken for ``size`` frames."""

    def __init__(self, size: int):
        self.size = size
        self._idx: deque[int] = deque(maxlen=size)
        self._x: deque[np.ndarray] = deque(maxlen=size)

    def add(self, index: int, x: np.ndarray) -> None:
        if self._idx and index != self._idx[-1] + 1:
            self.clear()
        self._idx.append(index)
        self._x.append(x)

    def clear(self) -> None:
        self._idx.clear()
        self._x.clear()

    @property
    def full(self) -> bool:
        return len(self._idx) == self.size

    def index(self, pos: int) -> int:
        return self._idx[pos]

    def array(self) -> np.ndarray:
        """(1, F, size) for the network."""
        return np.stack(self._x, axis=1)[None].astype(np.float32)
