"""Onset/apex spotting by feature difference on the aligned face (Moilanen et al., ICPR 2014), online.

For each frame i of a face: block features of the grey aligned crop (a grid of blocks, each as 4x4
cell intensities, or as a uniform-LBP histogram). F_i is the mean of the most changed blocks (the top
``top_fraction``; Moilanen takes a third) of the distances between frame i and the average of frames
i-k and i+k, over the blocks inside the face's hull only (background and hair carry alignment
residue of head motion), eye blocks left out so that blinks do not count, less the face-wide level
of change (the ``baseline_quantile`` of the same blocks: a sub-pixel shift of the aligned crop, a
light flicker or compression noise changes every block a little, an expression a few a lot). The contrast
C_j = F_j - (F_{j-k} + F_{j+k}) / 2 (negatives to 0) keeps short movements and removes slow drift. A
movement is spotted where C goes above T = max(mean + p (max - mean), noise_factor * q75, floor), the
statistics of C over a rolling window (q75, its 75th percentile, is the noise level: the p-term alone
lets noise through in a window without events, and a large event would mask the next ones; the floor,
``StreamConfig.min_contrast``, holds on a still face whose window is all noise). The
event's apex is the C peak; onset and offset are apex -/+ k, widened to where F stays above half its
peak. C at frame j needs frame j + 2k, so the signal lags the input by 2k frames; an event is emitted
when C falls back below T.

Alignment removes head motion; what is left of it, and blinks, is gated: an event is dropped when
eyeBlink (blendshapes) rises inside it or the face moved more than ``motion_gate`` face widths.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from mecore.face.register import EYE_POINTS
from mecore.types import SpotEvent
from stream.config import StreamConfig

_EAR_POINTS = ((33, 133, 159, 145), (362, 263, 386, 374))  # corner, corner, upper lid, lower lid


def _uniform_lut() -> np.ndarray:
    """8-bit LBP code -> 59 bins: 58 uniform patterns (<= 2 transitions) and one bin for the rest."""
    lut = np.full(256, 58, dtype=np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> b) & 1 for b in range(8)]
        if sum(bits[b] != bits[(b + 1) % 8] for b in range(8)) <= 2:
            lut[code] = nxt
            nxt += 1
    return lut


_LUT = _uniform_lut()
N_LBP = 59


class BlockFeatures:
    """Grey aligned crop (S, S) uint8 -> (grid*grid, D) float32 features, one row per block."""

    def __init__(self, size: int, grid: int, kind: str = "lbp"):
        self.size, self.grid, self.kind = size, grid, kind
        self.block = size // grid
        inner = np.arange(1, size - 1)
        by = np.minimum((inner // self.block), grid - 1)
        self._block_id = (by[:, None] * grid + by[None, :]).ravel()  # block of each inner pixel

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        if grey.shape != (self.size, self.size):
            grey = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(grey, (3, 3), 0)
        if self.kind == "intensity":
            s = self.block * self.grid
            g = grey[:s, :s].astype(np.float32) / 255.0
            cells = cv2.resize(g, (self.grid * 4, self.grid * 4), interpolation=cv2.INTER_AREA)
            return cells.reshape(self.grid, 4, self.grid, 4).transpose(0, 2, 1, 3).reshape(self.grid**2, 16)
        c = grey[1:-1, 1:-1].astype(np.int16)
        code = np.zeros(c.shape, dtype=np.uint8)
        h, w = grey.shape
        for bit, (dy, dx) in enumerate(((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))):
            code |= (grey[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx] >= c).astype(np.uint8) << bit
        bins = self._block_id * N_LBP + _LUT[code.ravel()]
        hist = np.bincount(bins, minlength=self.grid**2 * N_LBP).reshape(self.grid**2, N_LBP).astype(np.float32)
        return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per-block distance (grid*grid,): chi-squared for histograms, mean absolute difference else."""
        if self.kind == "intensity":
            return np.abs(a - b).mean(axis=1)
        return ((a - b) ** 2 / np.maximum(a + b, 1e-9)).sum(axis=1)

    def mask(self, crop_landmarks: np.ndarray, crop_size: int, eyes: bool = True, face: float = 0.5) -> np.ndarray:
        """(grid*grid,) True for blocks to keep: at least ``face`` of the block inside the face's hull
        (background, hair and the crop's corners only carry alignment residue of head motion), and,
        with ``eyes``, not touching an eye's box (padded), so blinks do not count."""
        scale = self.size / float(crop_size)
        pts = np.asarray(crop_landmarks, dtype=np.float32)[:, :2] * scale
        keep = np.ones((self.grid, self.grid), dtype=bool)
        if face > 0:
            inside = np.zeros((self.size, self.size), np.uint8)
            cv2.fillConvexPoly(inside, cv2.convexHull(np.rint(pts).astype(np.int32)), 1)
            s = self.block * self.grid
            cover = inside[:s, :s].reshape(self.grid, self.block, self.grid, self.block).mean(axis=(1, 3))
            keep &= cover >= face
        if eyes:
            for half in (EYE_POINTS[:16], EYE_POINTS[16:]):
                p = pts[list(half)]
                (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
                pad = 0.25 * (y1 - y0) + 1.0
                bx0, bx1 = int((x0 - pad) // self.block), int((x1 + pad) // self.block)
                by0, by1 = int((y0 - pad) // self.block), int((y1 + pad) // self.block)
                keep[max(by0, 0):min(by1, self.grid - 1) + 1, max(bx0, 0):min(bx1, self.grid - 1) + 1] = False
        return keep.ravel()


def blink_score(blendshapes: dict[str, float], landmarks: np.ndarray | None = None) -> float:
    """How closed the eyes are, 0..1: MediaPipe's eyeBlink blendshapes, else the eye aspect ratio."""
    if blendshapes:
        return max(blendshapes.get("eyeBlinkLeft", 0.0), blendshapes.get("eyeBlinkRight", 0.0))
    if landmarks is None:
        return 0.0
    p = np.asarray(landmarks, dtype=np.float32)[:, :2]
    ears = [np.linalg.norm(p[u] - p[d]) / max(np.linalg.norm(p[a] - p[b]), 1e-6) for a, b, u, d in _EAR_POINTS]
    return float(np.clip(1.0 - min(ears) / 0.28, 0.0, 1.0))  # an open eye's EAR is about 0.28


@dataclass(frozen=True)
class SignalPoint:
    """One value of the contrast signal, at the frame it describes (2k frames before the newest)."""

    frame: int
    contrast: float
    threshold: float
    active: bool


@dataclass
class _Open:
    start: int
    peak: int
    peak_value: float
    threshold: float
    below: int = 0  # frames in a row below the threshold


class Spotter:
    """Spotting for one face. ``update`` once per frame in which the face was seen, in frame order."""

    guess: SpotEvent | None = None  # emits within a frame or two of the offset: nothing to classify early

    def __init__(self, config: StreamConfig, face_id: int = 0):
        self.cfg, self.face_id = config, face_id
        self.k = config.k
        self.features = BlockFeatures(config.spot_size, config.grid, config.feature)
        n = 2 * self.k + 1
        self._feats: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=n)  # index, feature, mask
        self._F: deque[tuple[int, float]] = deque(maxlen=n)
        self._Fhist: deque[tuple[int, float]] = deque(maxlen=config.history + 2 * n)
        self._C: deque[float] = deque(maxlen=config.frames(config.window_s, minimum=n))
        self._gates: deque[tuple[int, float, np.ndarray, float]] = deque(maxlen=config.history + 2 * n)
        self._open: _Open | None = None
        self._last_offset = -(10**9)
        self._seen = 0
        self.suppressed: dict[str, int] = {"blink": 0, "motion": 0, "long": 0, "short": 0}
        self.last_signal: SignalPoint | None = None

    def reconfigure(self, config: StreamConfig) -> None:
        """Take a config with changed live fields: buffers that reach back over an event follow max_event_s."""
        self.cfg = config
        n = 2 * self.k + 1
        for name in ("_Fhist", "_gates"):
            buf = getattr(self, name)
            if buf.maxlen != config.history + 2 * n:
                setattr(self, name, deque(buf, maxlen=config.history + 2 * n))

    # -- verbs -------------------------------------------------------------------------------------
    def update(self, index: int, grey: np.ndarray, crop_landmarks: np.ndarray, crop_size: int,
               blink: float = 0.0, centre: tuple[float, float] = (0.0, 0.0), face_width: float = 1.0,
               blendshapes: dict[str, float] | None = None) -> tuple[list[SpotEvent], SignalPoint | None]:
        """Add the face's frame ``index``; returns the events that ended and the newest signal point
        (``blendshapes`` is not used here: the baseline gates on ``blink``)."""
        if self._feats and index - self._feats[-1][0] > self.k:
            self._feats.clear()  # a gap (face lost, frames dropped): i-k no longer means k frames back
            self._F.clear()
        feat = self.features(grey)
        mask = self.features.mask(crop_landmarks, crop_size, self.cfg.mask_eyes, self.cfg.face_cover)
        self._feats.append((index, feat, mask))
        self._gates.append((index, blink, np.asarray(centre, dtype=np.float32), max(face_width, 1.0)))
        self._seen += 1
        if len(self._feats) < self._feats.maxlen:
            return [], None
        (_, tail, _), (i, cur, m), (_, head, _) = self._feats[0], self._feats[self.k], self._feats[-1]
        d = self.features.distance(cur, 0.5 * (tail + head))
        if m is not None and m.any():
            d = d[m]
        top = np.sort(d)[-max(1, int(round(len(d) * self.cfg.top_fraction))):]
        F = float(top.mean())
        if self.cfg.baseline_quantile is not None:
            F -= float(np.quantile(d, self.cfg.baseline_quantile))
        self._F.append((i, F))
        self._Fhist.append((i, F))
        if len(self._F) < self._F.maxlen:
            return [], None
        j, Fj = self._F[self.k]
        return self._step(j, max(0.0, Fj - 0.5 * (self._F[0][1] + self._F[-1][1])))

    def flush(self) -> list[SpotEvent]:
        """End of stream: close an event still open."""
        if self._open is None or self.last_signal is None:
            return []
        return self._close(self.last_signal.frame)

    # -- internals ---------------------------------------------------------------------------------
    def threshold(self) -> float:
        c = np.fromiter(self._C, dtype=np.float64)
        if c.size == 0:
            return float("inf")
        mean, top = c.mean(), c.max()
        noise = float(np.quantile(c, 0.75))  # robust to events filling up to a quarter of the window
        return float(max(mean + self.cfg.threshold_p * (top - mean), self.cfg.noise_factor * noise,
                         self.cfg.contrast_floor, 1e-9))

    def _step(self, j: int, c: float) -> tuple[list[SpotEvent], SignalPoint]:
        self._C.append(c)
        thr = self.threshold() if self._open is None else self._open.threshold
        events: list[SpotEvent] = []
        warm = self._seen >= self.cfg.frames(self.cfg.warmup_s) + 4 * self.k
        if self._open is None:
            ready = warm and j - self._last_offset > self.cfg.frames(self.cfg.refractory_s, minimum=0)
            if ready and c > thr:
                self._open = _Open(start=j, peak=j, peak_value=c, threshold=thr)
        else:
            if c > self._open.peak_value:
                self._open.peak, self._open.peak_value = j, c
            low = max(self._open.threshold, self.cfg.close_fraction * self._open.peak_value)
            self._open.below = self._open.below + 1 if c <= low else 0
            if self._open.below >= self.cfg.frames(self.cfg.merge_s):
                events = self._close(j - self._open.below + 1)
            elif j - self._open.start > self.cfg.frames(self.cfg.max_event_s):
                self.suppressed["long"] += 1  # a long movement: not a micro-expression
                self._last_offset, self._open = j, None
        self.last_signal = SignalPoint(j, c, thr, self._open is not None)
        return events, self.last_signal

    def _close(self, end: int) -> list[SpotEvent]:
        ev, self._open = self._open, None
        assert ev is not None
        if end - ev.start < self.cfg.frames(self.cfg.min_event_s):
            self.suppressed["short"] += 1
            return []
        onset, offset = self._extent(ev.peak)
        self._last_offset = max(offset, end)
        reason = self._gate(onset, offset)
        if reason:
            self.suppressed[reason] += 1
            return []
        score = ev.peak_value / max(ev.threshold, 1e-9)
        kind = "micro" if (offset - onset) / self.cfg.fps <= self.cfg.micro_max_s else "macro"
        return [SpotEvent(self.face_id, onset, ev.peak, offset, float(score), float(self.cfg.fps), kind=kind)]

    def _extent(self, apex: int) -> tuple[int, int]:
        """apex -/+ k, widened (to at most 2k) while F stays above half its peak over the local floor."""
        F = dict(self._Fhist)
        peak = F.get(apex, 0.0)
        near = [F[i] for i in range(apex - 3 * self.k, apex + 3 * self.k + 1) if i in F]
        floor = min(near) if near else 0.0
        half = floor + 0.5 * (peak - floor)
        onset, offset = apex - self.k, apex + self.k
        while onset > apex - 2 * self.k and F.get(onset - 1, -1.0) > half:
            onset -= 1
        while offset < apex + 2 * self.k and F.get(offset + 1, -1.0) > half:
            offset += 1
        return max(onset, 0), offset

    def _gate(self, onset: int, offset: int) -> str | None:
        inside = [g for g in self._gates if onset - 1 <= g[0] <= offset + 1]
        if not inside:
            return None
        if max(g[1] for g in inside) > self.cfg.blink_gate:
            return "blink"
        centres = np.stack([g[2] for g in inside])
        span = float(np.linalg.norm(centres.max(axis=0) - centres.min(axis=0)))
        if span / float(np.median([g[3] for g in inside])) > self.cfg.motion_gate:
            return "motion"
        return None
