"""Draw the analyser's state on a frame: face boxes and ids, the fading label, the magnified face inset,
a timeline of the spotting signal with its threshold and detected intervals, fps and stage latencies.

Drawing works on frame indices, not wall time, so an annotated file looks the same however fast it
was processed. Colours are RGB (frames are RGB throughout the pipeline).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from mecore.types import FaceTrack, Prediction, SpotEvent
from stream.config import StreamConfig
from stream.spotting import SignalPoint

FONT = cv2.FONT_HERSHEY_SIMPLEX
COLOURS = [(60, 220, 60), (60, 170, 255), (255, 170, 40), (230, 80, 230)]  # per face id
WHITE, GREY, RED, YELLOW = (255, 255, 255), (150, 150, 150), (255, 70, 70), (255, 220, 60)
STAGES = ("decode", "landmarks", "align", "spot", "overlay", "encode", "motion", "classify", "magnify")


@dataclass
class FaceView:
    """What the overlay remembers about one face."""

    signal: deque = field(default_factory=lambda: deque(maxlen=600))  # SignalPoint
    intervals: deque = field(default_factory=lambda: deque(maxlen=32))  # SpotEvent
    prediction: Prediction | None = None
    prediction_at: int = 0  # analyser frame count when it arrived
    inset_ready: bool = False  # the prediction's magnified face has come (it follows the prediction)

    def add_signal(self, sig: SignalPoint, keep: int) -> None:
        if self.signal.maxlen != keep:
            self.signal = deque(self.signal, maxlen=keep)
        self.signal.append(sig)

    def add_event(self, ev: SpotEvent) -> None:
        self.intervals.append(ev)

    def add_prediction(self, pred: Prediction, at: int) -> None:
        self.prediction, self.prediction_at, self.inset_ready = pred, at, False

    def add_inset(self, ev: SpotEvent) -> None:
        self.inset_ready = self.inset_ready or (self.prediction is not None and self.prediction.event == ev)


def _colour(face_id: int) -> tuple[int, int, int]:
    return COLOURS[face_id % len(COLOURS)]


def _text(img, s, org, scale=0.5, colour=WHITE, thick=1):
    """Text on a darkened box: an outline smears small glyphs."""
    (tw, th), base = cv2.getTextSize(s, FONT, scale, thick)
    x, y = org
    x0, y0, x1, y1 = max(0, x - 2), max(0, y - th - 3), min(img.shape[1], x + tw + 2), min(img.shape[0], y + base + 1)
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1].astype(np.uint16) * 2 // 5).astype(np.uint8)
    cv2.putText(img, s, org, FONT, scale, colour, thick, cv2.LINE_AA)


def _blend(dst: np.ndarray, layer: np.ndarray, mask: np.ndarray, alpha: float) -> None:
    if alpha <= 0 or not mask.any():
        return
    dst[mask] = (alpha * layer[mask] + (1 - alpha) * dst[mask]).astype(np.uint8)


def draw(rgb: np.ndarray, faces: list[FaceTrack], views: dict[int, FaceView], index: int,
         cfg: StreamConfig, fps: float, timings: dict[str, float], frame_count: int | None = None,
         insets: dict[int, np.ndarray] | None = None, small: frozenset[int] = frozenset()) -> np.ndarray:
    """The annotated copy of ``rgb``; ``insets``: the newest magnified face per face id; ``small``: ids of
    faces tracked but too small to spot on. Under each face: its newest event's kind, regions and AUs."""
    img = rgb.copy()
    h, w = img.shape[:2]
    unit = max(0.6, min(w, h) / 480.0)  # text scale follows the frame size
    now = frame_count if frame_count is not None else index
    fade = cfg.frames(cfg.label_fade_s)
    for tr in faces:
        c = _colour(tr.track_id)
        x0, y0, x1, y1 = (int(round(v)) for v in tr.bbox)
        cv2.rectangle(img, (x0, y0), (x1, y1), c, max(1, int(2 * unit)))
        tag = " (too small to spot)" if tr.track_id in small else ""
        _text(img, f"face {tr.track_id}{tag}", (x0, min(h - 4, y1 + int(18 * unit))), 0.5 * unit, c)
        view = views.get(tr.track_id)
        if view and view.intervals and index - view.intervals[-1].offset_frame < fade:
            _text(img, event_text(view.intervals[-1]), (x0, min(h - 4, y1 + int(36 * unit))), 0.42 * unit, c)
        if view and view.prediction is not None and (age := _age(view, now, frame_count)) < fade:
            p = view.prediction
            layer = np.zeros_like(img)
            mask = np.zeros(img.shape[:2], dtype=np.uint8)
            s = f"{p.label} {100 * p.confidence:.0f}%"
            org = (x0, max(int(24 * unit), y0 - int(8 * unit)))
            for target, col in ((layer, YELLOW), (mask, 255)):
                cv2.putText(target, s, org, FONT, 0.8 * unit, col if target is layer else (255,), max(1, int(2 * unit)),
                            cv2.LINE_AA)
            _blend(img, layer, mask > 0, 1.0 - age / fade)
    _inset(img, views, insets or {}, unit)
    _timeline(img, views, index, cfg, unit)
    parts = [f"{k} {timings[k]:.1f}" for k in STAGES if k in timings]
    _text(img, f"{fps:.1f} fps", (6, int(20 * unit)), 0.55 * unit)
    for row, start in enumerate(range(0, len(parts), 4)):
        _text(img, "  ".join(parts[start:start + 4]) + (" ms" if start + 4 >= len(parts) else ""),
              (6, int((40 + 18 * row) * unit)), 0.42 * unit)
    return img


def event_text(ev: SpotEvent) -> str:
    """'micro 0.27 s: brow_inner_r, brow_inner_l (AU1+4)' / 'macro 1.50 s (not classified): ...'."""
    what = f"{ev.kind} {ev.duration_s:.2f} s" + (" (not classified)" if ev.kind != "micro" else "")
    where = ", ".join(ev.regions[:3]) + (f" (AU{'+'.join(map(str, ev.aus))})" if ev.aus else "")
    return f"{what}: {where}" if ev.regions else what


def _age(view: FaceView, now: int, frame_count: int | None) -> int:
    return max(0, now - view.prediction_at) if frame_count is not None else 0


def _inset(img: np.ndarray, views: dict[int, FaceView], insets: dict[int, np.ndarray], unit: float) -> None:
    """The newest magnified face (at the user's factor, made just after its prediction), top right."""
    shown = [fid for fid, v in views.items() if v.prediction is not None and v.inset_ready and fid in insets]
    if not shown:
        return
    fid = max(shown, key=lambda i: views[i].prediction.event.apex_frame)
    pred = views[fid].prediction
    h, w = img.shape[:2]
    side = max(48, min(h, w) // 4)
    face = cv2.resize(insets[fid], (side, side), interpolation=cv2.INTER_AREA)
    x0, y0 = w - side - 6, 6
    img[y0:y0 + side, x0:x0 + side] = face
    cv2.rectangle(img, (x0 - 1, y0 - 1), (x0 + side, y0 + side), WHITE, 1)
    _text(img, f"magnified ({pred.label})", (x0, y0 + side + int(14 * unit)), 0.4 * unit)


def _timeline(img: np.ndarray, views: dict[int, FaceView], index: int, cfg: StreamConfig, unit: float) -> None:
    """The spotting signal per face over the last timeline_s, threshold dashed, detected intervals shaded."""
    h, w = img.shape[:2]
    ph = max(40, h // 6)
    y0, y1 = h - ph, h - 1
    panel = img[y0:y1]
    panel[:] = (panel.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken
    span = cfg.frames(cfg.timeline_s)
    first = index - span

    def px(frame: int) -> int:
        return int(round((frame - first) / span * (w - 1)))

    top = 1e-6
    for v in views.values():
        for s in v.signal:
            top = max(top, s.contrast, s.threshold if np.isfinite(s.threshold) else 0.0)
    top *= 1.15

    def py(value: float) -> int:
        return int(round((ph - 4) * (1 - min(value, top) / top))) + 2

    for fid, v in views.items():
        c = _colour(fid)
        for ev in v.intervals:
            if ev.offset_frame >= first:
                xa, xb = max(0, px(ev.onset_frame)), min(w - 1, px(ev.offset_frame))
                region = panel[:, xa:xb + 1]
                region[:] = (region.astype(np.uint16) // 2 + np.array(c, np.uint16) // 3).astype(np.uint8)
        pts = [(px(s.frame), py(s.contrast)) for s in v.signal if s.frame >= first]
        if len(pts) >= 2:
            cv2.polylines(panel, [np.array(pts, np.int32)], False, c, 1, cv2.LINE_AA)
        thr = [(px(s.frame), py(s.threshold)) for s in v.signal if s.frame >= first and np.isfinite(s.threshold)]
        for a, b in zip(thr[::2], thr[1::2]):  # dashed
            cv2.line(panel, a, b, RED, 1)
    _text(panel, f"spotting signal, last {cfg.timeline_s:g} s (red: threshold)", (6, int(14 * unit)),
          0.4 * unit, GREY)
