"""Per-browser-session state of the Gradio demo: each session owns its analysers; nothing is shared.

A ``Session`` holds one ``Run`` per source kind ("live" webcam, "url" camera): an ``Analyzer`` (the
same object ``run_stream.py`` uses) driven by a ``stream.runner.Runner`` (the same loop), its frame
clock and its event log. ``SessionStore`` maps
Gradio's session hash to a ``Session`` and closes it when the tab closes (``unload``), when it has
been idle too long, or when the server stops.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from engines.backends import ALIASES, BACKENDS
from mecore.errors import MexError
from mecore.types import Frame, Prediction, SpotEvent
from stream.runner import Runner
from stream.spotters import retune

log = logging.getLogger("stream.app")

BACKEND_CHOICES = [*ALIASES, *BACKENDS]  # the names engines.load takes
COLUMNS = ["face", "onset s", "apex s", "offset s", "kind", "label", "confidence", "regions (AUs)", "score",
           "latency ms", "backend"]


def explain(e: BaseException) -> str:
    """One line for the page about an unexpected error (the traceback stays in the server log)."""
    text = " ".join(str(e).split())
    return f"internal error ({type(e).__name__}{': ' + text[:200] if text else ''}); see the server log"


def amplification_range(engines_dir: str | Path | None) -> tuple[float, float, float]:
    """(min, max, default) amplification from the magnifier's own (verified) metadata; (1, 50, 10) without one."""
    from engines import resolve

    try:
        amp = resolve("magnifier", "onnx", engines_dir).meta.get("amplification")
        if isinstance(amp, dict) and "min" in amp and "max" in amp:
            lo, hi = float(amp["min"]), float(amp["max"])
            return lo, hi, min(max(float(amp.get("default", 10.0)), lo), hi)  # 10: stream.predictor's fallback
    except (MexError, TypeError, ValueError, AttributeError):
        pass
    return 1.0, 50.0, 10.0


@dataclass(frozen=True)
class PageSettings:
    """The page's sliders and backend, as handlers receive them (runner.Controls is the loop's quit/pause channel)."""

    amplification: float
    sensitivity: float  # 0..1, 0.5 the running spotter's own setting (stream.spotters.retune)
    backend: str = "auto"

    def __post_init__(self):
        if not 0.0 <= self.sensitivity <= 1.0:
            raise MexError(f"sensitivity {self.sensitivity}: choose a value in [0, 1]")
        if self.backend not in BACKEND_CHOICES:
            raise MexError(f"backend {self.backend!r}: choose one of {', '.join(BACKEND_CHOICES)}")


class EventLog:
    """Events of one run, one row each; a row's label is filled in when its prediction arrives."""

    def __init__(self, classify: bool = True, max_rows: int = 500):
        self.classify = classify
        self.max_rows = max_rows  # a long live session keeps its newest events
        self._rows: OrderedDict[tuple[int, int], dict] = OrderedDict()
        self.version = 0  # bumps on every change, so handlers send the table only when it changed
        self.seconds: Callable[[int, float], float] | None = None  # (index, fps) -> s of a live clock

    @staticmethod
    def empty() -> pd.DataFrame:
        return pd.DataFrame(columns=COLUMNS)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, events: list[SpotEvent], predictions: list[Prediction],
            seconds: Callable[[int, float], float] | None = None) -> None:
        sec = seconds or (lambda index, fps: index / fps)
        for ev in events:
            self._rows[(ev.face_id, ev.apex_frame)] = {
                "face": ev.face_id, "onset s": round(sec(ev.onset_frame, ev.fps), 2),
                "apex s": round(sec(ev.apex_frame, ev.fps), 2), "offset s": round(sec(ev.offset_frame, ev.fps), 2),
                "kind": ev.kind,
                "label": ("…" if self.classify else "—") if ev.kind == "micro" else "macro (not classified)",
                "confidence": None, "score": round(ev.score, 3),
                "regions (AUs)": ", ".join(ev.regions) + (f" (AU{'+'.join(map(str, ev.aus))})" if ev.aus else ""),
                "latency ms": None, "backend": None,
            }
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)
        for p in predictions:
            row = self._rows.get((p.event.face_id, p.event.apex_frame))
            if row is not None:
                row.update({"label": p.label, "confidence": round(p.confidence, 3),
                            "latency ms": round(p.latency_ms, 1), "backend": p.backend})
        if events or predictions:
            self.version += 1

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self._rows.values()), columns=COLUMNS) if self._rows else self.empty()

    def __call__(self, result) -> None:
        """A sink: the result's events and predictions."""
        self.add(result.events, result.predictions, self.seconds)


class Run:
    """One analysed stream of a session: an Analyzer, its frame clock and its events."""

    def __init__(self, analyzer, note: str, controls: PageSettings, fps: float, lock=None):
        self.analyzer = analyzer
        self.note = note  # e.g. why nothing is classified
        self.controls = controls
        self.fps = fps
        # the config the run started with, at controls.sensitivity: a new sensitivity is applied from it, not from the
        # last one, so slider moves between two frames do not add up
        self.base, self.base_sensitivity = analyzer.config, controls.sensitivity
        self.log = EventLog(classify=bool(getattr(analyzer.config, "classify", True)))
        self.log.seconds = self.seconds
        self.runner = Runner(analyzer, [self.log], finish_timeout=5.0, lock=lock)
        self.inset = None  # the magnified face shown beside the stream
        self._inset_face: int | None = None  # face id of the newest prediction
        self._t0 = time.monotonic()
        self._last_ts = -1.0
        self._index = -1
        self._times: OrderedDict[int, float] = OrderedDict()  # frame index -> seconds, for live clocks
        self._sent_table = -1
        self._sent_inset = None
        self.frames = 0
        self.faceless = 0  # consecutive frames without a face

    def next_index(self) -> int:
        self._index += 1
        return self._index

    def clock(self) -> float:
        """Seconds since the run began; strictly increasing (MediaPipe's VIDEO mode needs it)."""
        t = max(time.monotonic() - self._t0, self._last_ts + 0.001)
        self._last_ts = t
        return t

    def apply(self, controls: PageSettings) -> None:
        """The page's controls, to the runner: applied before the next frame."""
        changes = {}
        if controls.amplification != self.controls.amplification:
            changes["amplification"] = float(controls.amplification)
        if controls.sensitivity != self.controls.sensitivity:
            changes.update(retune(self.base, self.base_sensitivity, controls.sensitivity))
        if changes:
            self.runner.controls.change(**changes)
        self.controls = controls

    def step(self, frame: Frame):
        """A frame pushed by the page (the webcam) through the runner."""
        self._clock(frame)
        return self.shown(self.runner.step(frame))

    def _clock(self, frame: Frame) -> None:
        self._times[frame.index] = frame.timestamp_s
        while len(self._times) > 4096:
            self._times.popitem(last=False)

    def shown(self, result):
        """Count and pick what the page shows of ``result`` (a frame's or the final one); returns it.
        (Events are of frames 2k and more back, so a frame's time is known before its events come.)"""
        if not result.final:
            self._clock(result.frame)
            self.frames += 1
            self.faceless = 0 if result.faces else self.faceless + 1
        self._pick_inset(result.predictions, result.insets)
        return result

    def _pick_inset(self, predictions: list[Prediction], insets: dict[int, np.ndarray]) -> None:
        """The face magnified at the slider's factor comes in ``insets`` some frames after its prediction
        (a display pass), so look every frame: the newest prediction's face, or any (the newest)."""
        for p in predictions:
            self._inset_face = p.event.face_id
        image = insets.get(self._inset_face)
        if image is None:
            image = next(reversed(insets.values()), None)
        if image is not None:
            self.inset = image

    def finish(self) -> None:
        """The stream ended: close open events and wait for their labels and magnified faces."""
        self.shown(self.runner.finish())

    def seconds(self, index: int, fps: float) -> float:
        return self._times.get(index, index / fps)

    def table_update(self):
        if self._sent_table == self.log.version:
            return gr.skip()
        self._sent_table = self.log.version
        return self.log.frame()

    def inset_update(self):
        if self.inset is None or self._sent_inset is self.inset:
            return gr.skip()
        self._sent_inset = self.inset
        return self.inset

    def status(self, result) -> str:
        parts = [f"frame {result.frame.index}", f"{len(result.faces)} face(s)", f"{result.fps:.1f} fps",
                 f"{len(self.log)} event(s)", f"backend {result.backend}"]
        if result.amplification is not None:
            parts.append(f"amplification {result.amplification:g}")
        text = " · ".join(parts)
        if self.faceless >= 5:
            text = f"⚠️ no face found in the last {self.faceless} frames (frame {result.frame.index}) · " + text
        if self.note:
            text += f"  \n{self.note}"
        return text

    def close(self) -> None:
        self.runner.cancel()
        self.analyzer.close()


class Session:
    """Everything one browser tab owns; ``lock`` serialises its handlers."""

    def __init__(self, key: str, make_analyzer: Callable[[float, PageSettings], tuple[object, str]]):
        self.key = key
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        self._make = make_analyzer
        self._runs: dict[str, Run] = {}
        self._workdir: Path | None = None
        self.generation: dict[str, int] = {}
        self._attached: dict[str, object] = {}  # e.g. the camera source feeding a run
        self.last_warning: str | None = None
        self.closed = False

    def run(self, kind: str, fps: float, controls: PageSettings) -> Run:
        """The session's run of ``kind``; a new Analyzer the first time, or when fps or backend change."""
        if self.closed:
            raise MexError("this session has ended; reload the page")
        self.last_used = time.monotonic()
        run = self._runs.get(kind)
        if run is not None and (run.controls.backend != controls.backend or abs(run.fps - fps) > 1e-6):
            self.drop(kind)
            run = None
        if run is None:
            analyzer, note = self._make(fps, controls)
            run = Run(analyzer, note, controls, fps, self.lock)
            if controls.amplification is not None:
                analyzer.set_amplification(controls.amplification)
            self._runs[kind] = run
        else:
            run.apply(controls)
        return run

    def drop(self, kind: str) -> None:
        """Close the run of ``kind``; a loop feeding it sees ``generation`` change and stops."""
        # first: a loop that checks it between frames stops now, and so cannot write a frame analysed
        # while the source below closes over the page's "Stopped."
        self.generation[kind] = self.generation.get(kind, 0) + 1
        run = self._runs.get(kind)
        if run is not None:
            run.runner.cancel()  # a loop waiting for its next frame ends without a final result
        attached = self._attached.pop(kind, None)
        if attached is not None:
            try:  # first, outside the lock: unblocks a loop waiting for its next frame
                attached.close()
            except Exception:  # a broken stream may fail to close; it is being dropped anyway
                log.warning("closing the %s source failed", kind, exc_info=True)
        with self.lock:
            run = self._runs.pop(kind, None)
            if run is not None:
                run.close()

    def attach(self, kind: str, closeable) -> None:
        """Close ``closeable`` (e.g. a camera source) with the run of ``kind``."""
        self._attached[kind] = closeable

    def workdir(self) -> Path:
        """A private folder for this session's outputs (annotated videos, JSONL); removed on close."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="mex-gradio-"))
        return self._workdir

    def kinds(self) -> list[str]:
        return list(self._runs)

    def current(self, kind: str) -> Run | None:
        """The run of ``kind`` if one is going, without creating it."""
        return self._runs.get(kind)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for kind in set(self._runs) | set(self._attached):
                self.drop(kind)
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None


class SessionStore:
    """Session hash -> Session. Thread-safe; idle sessions are closed after ``idle_s``."""

    def __init__(self, make_analyzer: Callable[[float, PageSettings], tuple[object, str]], max_sessions: int = 8,
                 idle_s: float = 900.0):
        self._make = make_analyzer
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self._sessions: dict[str, Session] = {}
        # keys of closed tabs: a frame the browser sent before the tab closed, handled after its unload,
        # must not open a new session (an orphan holding its analysers until the idle timeout)
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, key: str) -> bool:
        return key in self._sessions

    def __iter__(self):
        return iter(list(self._sessions))

    def get(self, key: str) -> Session:
        self._close_idle()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                if key in self._ended:
                    raise MexError("this session has ended; reload the page")
                if len(self._sessions) >= self.max_sessions:
                    raise MexError(f"the server is busy ({self.max_sessions} sessions open); try again later")
                session = self._sessions[key] = Session(key, self._make)
            session.last_used = time.monotonic()
            return session

    def close(self, key: str, ended: bool = True) -> None:
        """Close a session; ``ended`` (its tab closed): the key opens no new session."""
        with self._lock:
            session = self._sessions.pop(key, None)
            if ended:
                self._ended[key] = None
                while len(self._ended) > 1024:
                    self._ended.popitem(last=False)
        if session is not None:
            session.close()
            log.info("session %s closed", key[:8])

    def close_all(self) -> None:
        for key in list(self._sessions):
            self.close(key)

    def _close_idle(self) -> None:
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            # a session busy in a handler is not idle, however long ago it started
            if now - session.last_used > self.idle_s and session.lock.acquire(blocking=False):
                session.lock.release()
                self.close(key, ended=False)  # the tab may still be open: it gets a new session
