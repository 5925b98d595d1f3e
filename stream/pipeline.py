"""The Analyzer: one frame in, one FrameResult out. Face core -> aligned crops -> spotting -> (worker)
magnify + classify -> overlay.

    with Analyzer(StreamConfig(fps=30)) as an:
        result = an.process(frame)          # a FrameResult: faces, annotated image, new events, ...
        last = an.finish()                  # a FrameResult (final): events still open, the last predictions

The frame loop around it (sources, sinks, pacing, Ctrl-C) is ``stream.runner.Runner``'s, for every
front end.

Magnify + classify run in one worker thread with a small queue of pending events, so capture and
tracking never wait for the models; a prediction comes back in the ``predictions`` of a later
``process`` call (or ``finish``). Each face keeps a deque of its aligned crops long enough to reach
back to an event's onset when the spotter emits it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mecore.errors import MexError
from mecore.face.align import AlignedFace, Aligner
from mecore.face.tracker import FaceTracker
from mecore.types import FaceTrack, Frame, Prediction, SpotEvent
from stream.config import StreamConfig
from stream.overlay import FaceView, draw
from stream.predictor import Predictor
from stream.spotters import AnySpotter, make_spotter
from stream.spotting import SignalPoint, blink_score

log = logging.getLogger("stream")
HISTORY = 5000  # events / predictions kept in Analyzer.events / .predictions
SMOOTH_BETA = 5.0  # One-Euro speed coefficient (per face width per second): head motion passes with little lag


def face_tracker(cfg: StreamConfig) -> FaceTracker:
    """The analyser's face tracker for a config (VIDEO mode: one per stream)."""
    return FaceTracker(cfg.face_model, mode="video", max_faces=cfg.max_faces, far_faces=cfg.far_faces,
                       scan_every=cfg.frames(cfg.far_scan_s),
                       smooth=(cfg.smooth_hz, SMOOTH_BETA) if cfg.smooth_hz else None)


@dataclass(frozen=True, eq=False)
class FrameResult:
    """Everything a consumer of one frame needs; ``Analyzer.finish`` gives one too (``final``, no frame)."""

    frame: Frame | None  # None in the final result
    faces: list[FaceTrack]
    image: np.ndarray | None  # RGB uint8: annotated when the overlay is on, else the frame itself; None: final
    events: list[SpotEvent]  # spotted in this call (their predictions come later)
    predictions: list[Prediction]  # finished since the previous call
    signals: dict[int, SignalPoint]  # newest contrast value per face (lags the frame by 2k)
    # ms per stage of this frame (decode given by the caller, encode added by the runner after the video
    # sink), and the worker's of the newest event (motion, classify, magnify)
    timings: dict[str, float] = field(default_factory=dict)
    insets: dict[int, np.ndarray] = field(default_factory=dict)  # newest magnified face per face id, newest last
    amplification: float | None = None  # the factor of the faces magnified from now on
    backend: str = "none"
    fps: float = 0.0  # measured processing rate
    final: bool = False
    small: frozenset[int] = frozenset()  # ids of the faces tracked but too small to spot on (min_face_px)


@dataclass
class _Face:
    spotter: AnySpotter
    crops: deque  # (frame index, AlignedFace, read time)
    view: FaceView
    last_seen: int = 0


class Analyzer:
    """Options in ``__init__``; ``process(frame)`` per frame; ``finish()`` at the end; ``close()``.

    ``engines_dir``: where the magnifier and classifier artifacts are (None: the project's engines/);
    ``backend``: engines backend ("auto", "onnxruntime", "torch", ...). With ``config.classify`` off no
    engine is loaded and only spotting runs. ``spot_tap(face_id, inputs)`` sees each spotter update's
    keyword arguments before the spotter does, and ``inputs`` None when a face's spotter is flushed
    (bench.spot_replay records spotting inputs with it, to replay spotters without the tracker).
    """

    def __init__(self, config: StreamConfig | None = None, engines_dir: str | Path | None = None,
                 backend: str = "auto", spot_tap: Callable[[int, dict | None], None] | None = None):
        self.config = config or StreamConfig()
        self.spot_tap = spot_tap
        self.predictor: Predictor | None = None
        if self.config.classify:
            self.predictor = Predictor(engines_dir, backend, self.config.amplification,
                                       max_pending=self.config.max_pending,
                                       threads=self.config.engine_threads, insets=self.config.insets)
        self.crop_size = self.predictor.crop_size if self.predictor else self.config.align_size
        if self.predictor and self.config.align_size != self.crop_size:
            self.predictor.close()
            raise MexError(f"align_size {self.config.align_size}: the engines take {self.crop_size}x{self.crop_size} "
                           f"crops; use {self.crop_size}, or spotting only (classify off)")
        self.aligner = Aligner(self.crop_size)
        self.tracker = face_tracker(self.config)
        if self.predictor and self.config.amplification is not None:
            self.config = self.config.updated(amplification=self.predictor.amplification)  # clamped
        self._faces: dict[int, _Face] = {}
        # History for a UI, bounded so a stream can run for days; magnified faces are not kept in it.
        self.events: list[SpotEvent] = []  # the last HISTORY events
        self.predictions: list[Prediction] = []  # the last HISTORY predictions
        self._insets: dict[int, np.ndarray] = {}  # newest magnified face per face id (the one place it lives)
        self.frames = 0
        self.fps = 0.0  # measured processing rate (EMA)
        self._last_t: float | None = None
        self._lock = threading.Lock()  # setters may come from a UI thread

    # -- settings a UI can change while running ---------------------------------------------------
    @property
    def amplification(self) -> float | None:
        return self.predictor.amplification if self.predictor else None

    def set_amplification(self, value: float) -> float:
        """Clamp to the magnifier's range; returns the value in use."""
        self.update_config(amplification=float(value))
        return self.amplification if self.predictor else float(value)

    def set_threshold(self, p: float | None = None, noise_factor: float | None = None) -> None:
        """The baseline (moilanen) spotter's threshold: T = max(mean + p (max - mean), noise_factor * noise level)
        of the contrast; the demo's sensitivity moves whichever spotter runs (stream.spotters.retune)."""
        changes = {}
        if p is not None:
            changes["threshold_p"] = float(p)
        if noise_factor is not None:
            changes["noise_factor"] = float(noise_factor)
        self.update_config(**changes)

    def update_config(self, **changes) -> StreamConfig:
        """Change the ``live`` fields of StreamConfig mid-stream; validated like new, and what depends on
        them follows: each face's crop history and spotter buffers are resized (max_event_s), the
        amplification is clamped to the magnifier's range."""
        bad = set(changes) - StreamConfig.live()
        if bad:
            raise ValueError(f"cannot change {sorted(bad)} while running; make a new Analyzer")
        with self._lock:
            if changes.get("amplification") is not None and self.predictor:
                changes["amplification"] = self.predictor.set_amplification(changes["amplification"])
            self.config = self.config.updated(**changes)
            for face in self._faces.values():
                if face.crops.maxlen != self.config.history:
                    face.crops = deque(face.crops, maxlen=self.config.history)
                face.spotter.reconfigure(self.config)
        return self.config

    def artifacts(self) -> list[dict]:
        """The models this analyser runs: the face model, then the engines (model, file, version, SHA-256)."""
        from mecore.face import model_file

        out = [model_file.describe(self.config.face_model)]
        if self.predictor:
            out += [e.artifact for e in {id(e): e for e in self.predictor.engines}.values()]
        return out

    @property
    def labels(self) -> list[str]:
        return list(self.predictor.labels) if self.predictor else []

    @property
    def backend(self) -> str:
        return self.predictor.backend if self.predictor else "none"

    # -- the verb --------------------------------------------------------------------------------
    def process(self, frame: Frame, timings: dict[str, float] | None = None) -> FrameResult:
        """One frame; ``timings``: the caller's stages of this frame so far (e.g. decode), shown with ours."""
        cfg = self.config
        t = dict(timings or {})
        now = time.perf_counter()
        if self._last_t is not None:
            dt = max(now - self._last_t, 1e-6)
            self.fps = 1.0 / dt if self.fps == 0 else 0.9 * self.fps + 0.1 / dt
        self._last_t = now
        rgb = frame.image

        t0 = time.perf_counter()
        faces = self._track(rgb, frame.timestamp_s)
        t1 = time.perf_counter()
        t["landmarks"] = (t1 - t0) * 1e3

        aligned: dict[int, AlignedFace] = {}
        # tracked, but too few pixels for a micro-expression: not spotted on (noise), marked as such
        small = frozenset(tr.track_id for tr in faces if tr.bbox[2] - tr.bbox[0] < cfg.min_face_px)
        for tr in faces:
            if tr.track_id in small:
                continue
            try:
                aligned[tr.track_id] = self.aligner.align(rgb, tr.landmarks)
            except ValueError:
                continue  # degenerate landmarks (a face at the border): skip this face this frame
        t2 = time.perf_counter()
        t["align"] = (t2 - t1) * 1e3

        events: list[SpotEvent] = []
        signals: dict[int, SignalPoint] = {}
        with self._lock:
            for tr in faces:
                if tr.track_id not in aligned:
                    continue
                events += self._spot(frame, tr, aligned[tr.track_id], now, signals)
            guesses = [self._faces[fid].spotter.guess for fid in aligned if self._faces[fid].spotter.guess]
            events += self._expire(frame.index)
        t3 = time.perf_counter()
        t["spot"] = (t3 - t2) * 1e3

        for ev in events:
            self._submit(ev)
        for ev in guesses:
            self._speculate(ev)
        predictions = self._collect()

        image = rgb
        if cfg.overlay:
            views = {fid: f.view for fid, f in self._faces.items()}
            image = draw(rgb, faces, views, frame.index, cfg, self.fps, self.stage_ms(t), self.frames,
                         self._insets, small)
        t["overlay"] = (time.perf_counter() - t3) * 1e3
        self.frames += 1
        return self._result(frame, faces, image, events, predictions, signals, self.stage_ms(t), small=small)

    def finish(self, timeout: float = 30.0) -> FrameResult:
        """End of stream: close open events and wait (up to ``timeout`` s) for all predictions; the
        result is ``final``, with no frame or image."""
        events: list[SpotEvent] = []
        with self._lock:
            for fid, face in self._faces.items():
                events += self._flush(fid, face)
        for ev in events:
            self._submit(ev)
        if self.predictor:
            self.predictor.wait(timeout)
        return self._result(None, [], None, events, self._collect(), {}, self.stage_ms(), final=True)

    def _result(self, frame, faces, image, events, predictions, signals, timings, final=False,
                small=frozenset()) -> FrameResult:
        return FrameResult(frame, faces, image, events, predictions, signals, timings, dict(self._insets),
                           self.amplification, self.backend, self.fps, final, small)

    def close(self) -> None:
        if self.predictor:
            self.predictor.close()
        self.tracker.close()

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stage_ms(self, frame_timings: dict[str, float] | None = None) -> dict[str, float]:
        out = dict(frame_timings or {})
        if self.predictor:
            out.update(self.predictor.timings)
        return out

    # -- internals -------------------------------------------------------------------------------
    def _track(self, rgb: np.ndarray, timestamp_s: float) -> list[FaceTrack]:
        s = self.config.landmark_scale
        if s >= 1.0:
            return self.tracker.track(rgb, int(round(timestamp_s * 1000)))
        small = cv2.resize(rgb, (max(16, round(rgb.shape[1] * s)), max(16, round(rgb.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
        sx, sy = rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0]
        scale = np.array([sx, sy, sx], dtype=np.float32)
        return [FaceTrack(f.track_id, f.landmarks * scale,
                          (f.bbox[0] * sx, f.bbox[1] * sy, f.bbox[2] * sx, f.bbox[3] * sy), f.blendshapes)
                for f in self.tracker.track(small, int(round(timestamp_s * 1000)))]

    def _spot(self, frame: Frame, tr: FaceTrack, al: AlignedFace, now: float,
              signals: dict[int, SignalPoint]) -> list[SpotEvent]:
        face = self._faces.get(tr.track_id)
        if face is None:
            face = _Face(make_spotter(self.config, tr.track_id), deque(maxlen=self.config.history), FaceView())
            self._faces[tr.track_id] = face
        face.last_seen = frame.index
        face.crops.append((frame.index, al, now))
        grey = cv2.cvtColor(al.image, cv2.COLOR_RGB2GRAY)
        x0, y0, x1, y1 = tr.bbox
        inputs = dict(index=frame.index, grey=grey, crop_landmarks=al.landmarks, crop_size=self.crop_size,
                      blink=blink_score(tr.blendshapes, tr.landmarks), centre=(0.5 * (x0 + x1), 0.5 * (y0 + y1)),
                      face_width=x1 - x0, blendshapes=tr.blendshapes)
        if self.spot_tap is not None:
            self.spot_tap(tr.track_id, inputs)
        evs, sig = face.spotter.update(**inputs)
        if sig is not None:
            signals[tr.track_id] = sig
            face.view.add_signal(sig, self.config.frames(self.config.timeline_s))
        return self._emitted(face, evs)

    def _flush(self, fid: int, face: _Face) -> list[SpotEvent]:
        if self.spot_tap is not None:
            self.spot_tap(fid, None)
        return self._emitted(face, face.spotter.flush())

    def _emitted(self, face: _Face, evs: list[SpotEvent]) -> list[SpotEvent]:
        for ev in evs:
            face.view.add_event(ev)
            self.events.append(ev)
            if len(self.events) > 2 * HISTORY:
                del self.events[:-HISTORY]
            log.info("face %d: %s event frames %d-%d-%d (score %.2f; %s)", ev.face_id, ev.kind, ev.onset_frame,
                     ev.apex_frame, ev.offset_frame, ev.score, ", ".join(ev.regions) or "-")
        return evs

    def _expire(self, index: int) -> list[SpotEvent]:
        """Forget faces unseen for track_timeout_s, closing their open events."""
        gone = [fid for fid, f in self._faces.items()
                if index - f.last_seen > self.config.frames(self.config.track_timeout_s)]
        events: list[SpotEvent] = []
        for fid in gone:
            events += self._flush(fid, self._faces[fid])
            del self._faces[fid]
            self._insets.pop(fid, None)
        return events

    def _submit(self, ev: SpotEvent) -> None:
        if self.predictor is None or ev.kind != "micro":
            return  # a macro-expression is reported as such, not classified as a micro-expression
        pair = self._pair(ev)
        if pair is None:
            log.warning("face %d: event at frame %d: crops no longer held; not classified", ev.face_id,
                        ev.apex_frame)
            return
        self.predictor.submit(ev, *pair)

    def _speculate(self, ev: SpotEvent) -> None:
        pair = self._pair(ev) if self.predictor is not None else None
        if pair is not None:
            self.predictor.speculate(ev, pair[0], pair[1])

    def _pair(self, ev: SpotEvent) -> tuple[AlignedFace, AlignedFace, float] | None:
        """(onset crop, apex crop, when the apex frame was read), or None when not held."""
        face = self._faces.get(ev.face_id)
        crops = {i: (al, t) for i, al, t in face.crops} if face else {}
        onset = _nearest(crops, ev.onset_frame, ev.apex_frame)
        apex = _nearest(crops, ev.apex_frame, ev.onset_frame)
        if onset is None or apex is None:
            return None
        return onset[0], apex[0], apex[1]

    def _collect(self) -> list[Prediction]:
        if self.predictor is None:
            return []
        preds, insets = self.predictor.collect()
        for p in preds:
            self.predictions.append(p)
            if len(self.predictions) > 2 * HISTORY:
                del self.predictions[:-HISTORY]
            face = self._faces.get(p.event.face_id)
            if face is not None:
                face.view.add_prediction(p, self.frames)
        for ev, image in insets:
            self._insets.pop(ev.face_id, None)  # re-inserted: the dict's order is the order they came
            self._insets[ev.face_id] = image
            face = self._faces.get(ev.face_id)
            if face is not None:
                face.view.add_inset(ev)
        return preds


def _nearest(crops: dict, want: int, towards: int):
    """The crop at frame ``want``, or the closest one held between it and ``towards``."""
    step = 1 if towards >= want else -1
    for i in range(want, towards + step, step):
        if i in crops:
            return crops[i]
    return None


__all__ = ["Analyzer", "FrameResult", "MexError", "StreamConfig"]
