"""Video sources: webcam index, rtsp/rtmp/http URLs (PyAV), video files, image folders, and ``demo``.

    with open_source("rtsp://user:pw@cam/stream") as src:
        for frame in src:           # mecore.types.Frame, RGB
            ...
        src.stats                   # frames, dropped, reconnects, state

Files and folders give every frame, in order, as fast as the consumer takes them (stream.runner paces
them to their frame rate when asked). Live sources (webcams, URLs) are read by a capture thread into a
drop-oldest buffer, so the consumer always gets the freshest frame; frames it could not take are
counted as dropped. A live stream that fails or ends is reopened with exponential backoff in the
same process; after ``max_reconnects`` failures in a row the source fails with one clear message.
Passwords in URLs never reach a log line or an error message (``mask_url``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from mecore.errors import MexError
from mecore.types import Frame
from stream.readers import AVReader, FolderReader, Lost, WebcamReader, mask_url, why

log = logging.getLogger("stream")

DEMO_CLIP = Path(__file__).parent / "assets" / "demo.mp4"
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
_URL_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")


class State(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    ENDED = "ended"  # a file or folder read to its end
    FAILED = "failed"  # could not open, or gave up reconnecting
    CLOSED = "closed"


TRANSITIONS: dict[State, set[State]] = {
    State.IDLE: {State.CONNECTING, State.CLOSED},
    State.CONNECTING: {State.RUNNING, State.RECONNECTING, State.FAILED, State.CLOSED, State.ENDED},
    State.RUNNING: {State.RECONNECTING, State.ENDED, State.FAILED, State.CLOSED},
    State.RECONNECTING: {State.CONNECTING, State.FAILED, State.CLOSED},
    State.ENDED: {State.CLOSED},
    State.FAILED: {State.CLOSED},
    State.CLOSED: set(),
}


@dataclass
class SourceStats:
    state: str = State.IDLE.value
    frames: int = 0  # frames handed to the consumer
    captured: int = 0  # frames decoded (live: including the dropped ones)
    dropped: int = 0
    reconnects: int = 0
    damaged: int = 0  # damaged packets the decoder skipped (files and streams; see readers.AVReader)


# -- the source ------------------------------------------------------------------------------------------

class VideoSource:
    """Frames from one source; see the module docstring. Use ``open_source`` to build one from a spec."""

    def __init__(self, spec: str | int, *, fps: float | None = None, buffer: int = 4,
                 transport: str = "tcp", open_timeout_s: float = 10.0, read_timeout_s: float = 5.0,
                 max_reconnects: int = 8, backoff_s: tuple[float, float] = (0.5, 8.0)):
        if buffer < 1:
            raise ValueError("buffer must be >= 1")
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be 'tcp' or 'udp', got {transport!r}")
        self.spec = spec
        self.max_reconnects = max_reconnects
        self.backoff_s = backoff_s
        self.stats = SourceStats()
        self._state = State.IDLE
        self._state_lock = threading.Lock()
        self._reader, self.kind, self.name = self._make_reader(spec, fps, transport, open_timeout_s, read_timeout_s)
        self.fps = fps or 0.0
        self.size = (0, 0)
        self._buffer: deque = deque(maxlen=buffer)
        self._cv = threading.Condition()
        self._error: MexError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    # -- construction -----------------------------------------------------------------------------------
    @staticmethod
    def _make_reader(spec, fps, transport, open_timeout, read_timeout):
        if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
            return WebcamReader(int(spec)), "webcam", f"webcam {int(spec)}"
        spec = str(spec)
        if spec == "demo":
            if not DEMO_CLIP.is_file():
                raise MexError(f"{DEMO_CLIP}: the demo clip is missing; regenerate it (see README, 'demo clip')")
            spec = str(DEMO_CLIP)
        m = _URL_RE.match(spec)
        if m and m.group("scheme").lower() in URL_SCHEMES:
            return AVReader(spec, True, transport, open_timeout, read_timeout), "stream", mask_url(spec)
        if m and m.group("scheme").lower() != "file":
            raise MexError(f"{mask_url(spec)}: unsupported URL scheme {m.group('scheme')!r}; use one of "
                           f"{', '.join(URL_SCHEMES)}, a file, a folder or a webcam index")
        path = Path(spec[7:] if spec.startswith("file://") else spec)
        if path.is_dir():
            return FolderReader(path, fps or 30.0), "folder", str(path)
        if not path.exists():
            raise MexError(f"{path}: no such file, folder or webcam")
        return AVReader(str(path), False, transport, open_timeout, read_timeout), "file", str(path)

    @property
    def live(self) -> bool:
        return self.kind in ("webcam", "stream")

    @property
    def state(self) -> State:
        return self._state

    def _to(self, new: State) -> None:
        with self._state_lock:
            if new == self._state:
                return
            if new not in TRANSITIONS[self._state]:
                raise RuntimeError(f"source state {self._state.value} -> {new.value} is not allowed")
            log.debug("%s: %s -> %s", self.name, self._state.value, new.value)
            self._state = new
            self.stats.state = new.value

    # -- lifecycle ----------------------------------------------------------------------------------------
    def open(self) -> VideoSource:
        """Open now (raises MexError with the masked name when it cannot); iterating opens too."""
        if self._state != State.IDLE:
            return self
        self._to(State.CONNECTING)
        try:
            self._reader.open()
        except MexError:
            self._to(State.FAILED)
            raise
        self._opened()
        self._t0 = time.monotonic()
        return self

    def _start_capture(self) -> None:
        """Live sources: the capture thread starts with the first read, so nothing is dropped while the
        consumer is still loading its models."""
        if self.live and self._thread is None and self._state == State.RUNNING:
            self._thread = threading.Thread(target=self._capture, name="mex-capture", daemon=True)
            self._thread.start()

    def _opened(self) -> None:
        if self._reader.fps and not (self.kind == "folder" and self.fps):
            self.fps = self._reader.fps if 1.0 <= self._reader.fps <= 1000.0 else (self.fps or 30.0)
        self.fps = self.fps or 30.0
        self.size = self._reader.size
        self._to(State.RUNNING)
        log.info("%s: %s, %.2f fps", self.name, self.kind, self.fps)

    def close(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._reader.close()
        if self._state != State.CLOSED:
            self._to(State.CLOSED)

    def __enter__(self) -> VideoSource:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        self.open()
        if self.live:
            while True:
                frame = self.read()
                if frame is None:
                    return
                yield frame
        else:
            yield from self._file_frames()

    def _file_frames(self) -> Iterator[Frame]:
        try:
            for i, (rgb, t) in enumerate(self._reader.frames()):
                if self._stop.is_set():
                    return
                ts = t if t is not None and np.isfinite(t) else i / self.fps
                self.stats.captured += 1
                self.stats.frames += 1
                yield Frame(rgb, i, float(i / self.fps) if self.kind == "folder" else float(ts), self.name)
        except MexError:
            self._to(State.FAILED)
            raise
        finally:
            self.stats.damaged = getattr(self._reader, "damaged", 0)
        if self._state == State.RUNNING:
            self._to(State.ENDED)

    def read(self, timeout: float | None = None) -> Frame | None:
        """Live sources: the oldest frame in the buffer (waits for one); None once the source has stopped.

        Raises MexError when the source failed for good.
        """
        end = None if timeout is None else time.monotonic() + timeout
        self._start_capture()
        with self._cv:
            while not self._buffer:
                if self._error is not None:
                    raise self._error
                if self._stop.is_set() or self._state in (State.ENDED, State.CLOSED):
                    return None
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cv.wait(timeout=0.2 if left is None else min(0.2, left))
            frame = self._buffer.popleft()
        self.stats.frames += 1
        return frame

    def _capture(self) -> None:
        """Live capture thread: read, push (dropping the oldest), reconnect with backoff on failure."""
        failures = 0
        while not self._stop.is_set():
            try:
                for rgb, _ in self._reader.frames():
                    if self._stop.is_set():
                        return
                    failures = 0
                    idx = self.stats.captured
                    self.stats.captured += 1
                    self.stats.damaged = getattr(self._reader, "damaged", 0)
                    frame = Frame(rgb, idx, time.monotonic() - self._t0, self.name)
                    with self._cv:
                        if len(self._buffer) == self._buffer.maxlen:
                            self.stats.dropped += 1
                        self._buffer.append(frame)
                        self._cv.notify_all()
                self._finish(State.ENDED, None)
                return
            except Lost as lost:
                reason = str(lost)
            except MexError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a capture thread must report, never die silently
                reason = f"{type(exc).__name__}: {why(exc)}"
            self._reader.close()
            if self._stop.is_set():
                return
            self._to(State.RECONNECTING)
            while not self._stop.is_set():
                failures += 1
                if failures > self.max_reconnects:
                    self._finish(State.FAILED, MexError(
                        f"{self.name}: stream lost and {self.max_reconnects} reconnects failed ({mask_url(reason)})"))
                    return
                delay = min(self.backoff_s[1], self.backoff_s[0] * 2 ** (failures - 1))
                log.warning("%s: %s; reconnecting in %.1f s (attempt %d/%d)", self.name, mask_url(reason), delay,
                            failures, self.max_reconnects)
                if self._stop.wait(delay):
                    return
                self._to(State.CONNECTING)
                try:
                    self._reader.open()
                except MexError as exc:
                    reason = str(exc)
                    self._to(State.RECONNECTING)
                    continue
                self.stats.reconnects += 1
                self._to(State.RUNNING)
                log.info("%s: reconnected", self.name)
                break

    def _finish(self, state: State, error: MexError | None) -> None:
        with self._cv:
            self._error = error
            if self._state != State.CLOSED:
                self._to(state)
            self._cv.notify_all()


def open_source(spec: str | int, **options) -> VideoSource:
    """Build a source from ``--source``: an int/digits (webcam), a URL, a file, a folder, or ``demo``."""
    return VideoSource(spec, **options)
