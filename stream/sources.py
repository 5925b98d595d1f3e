"""Video sources: webcam index, rtsp/rtmp/http URLs (PyAV), video files, image folders, and ``demo``.

    with open_source("rtsp://user:pw@cam/stream") as src:
        for frame in src:           # mecore.types.Frame, RGB
            ...
        src.stats                   # frames, dropped, reconnects, state

Files and folders give every frame, in order, as fast as the consumer takes them (or paced to their
frame rate with ``realtime``). Live sources (webcams, URLs) are read by a capture thread into a
drop-oldest buffer, so the consumer always gets the freshest frame; frames it could not take are
counted as dropped. A live stream that fails or ends is reopened with exponential backoff in the
same process; after ``max_reconnects`` failures in a row the source fails with one clear message.
Passwords in URLs never reach a log line or an error message (``mask_url``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np

from mecore.errors import MexError
from mecore.types import Frame

log = logging.getLogger("stream")

DEMO_CLIP = Path(__file__).parent / "assets" / "demo.mp4"
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
_URL_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass|token|key|secret|auth)=)[^&#]*")


def mask_url(text: str) -> str:
    """``rtsp://user:pw@host/x?token=t`` -> ``rtsp://user:***@host/x?token=***``; other text unchanged."""
    text = re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*):[^@/\s]*@", r"\1:***@", str(text))
    return _SECRET_QUERY.sub(r"\1***", text)


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


class _Lost(Exception):
    """A live stream broke or ended: reconnect."""


# -- readers: open() then frames() yields (rgb, time_s or None) ------------------------------------------

class _AVReader:
    def __init__(self, target: str, live: bool, transport: str, open_timeout: float, read_timeout: float):
        self.target, self.live = target, live
        self.options = {}
        if target.lower().startswith(("rtsp://", "rtsps://")):
            self.options["rtsp_transport"] = transport
        self.timeout = (open_timeout, read_timeout)
        self.container = None
        self.fps = 0.0
        self.duration_s: float | None = None
        self.size = (0, 0)
        self.expected = 0

    def open(self) -> None:
        import av

        try:
            self.container = av.open(self.target, options=self.options, timeout=self.timeout)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MexError(f"{mask_url(self.target)}: cannot open ({_why(exc)})") from None
        if not self.container.streams.video:
            self.close()
            raise MexError(f"{mask_url(self.target)}: has no video stream")
        st = self.container.streams.video[0]
        st.thread_type = "AUTO"
        rate = st.average_rate or st.guessed_rate or st.base_rate
        self.fps = float(rate) if rate else 0.0
        if self.container.duration:
            self.duration_s = self.container.duration / 1e6
        self.size = (st.codec_context.width, st.codec_context.height)
        self.expected = int(st.frames or 0)  # frame count the container declares (0: unknown)

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        import av

        assert self.container is not None
        n, last_t = 0, None
        try:
            for frame in self.container.decode(video=0):
                n += 1
                last_t = frame.time
                yield frame.to_ndarray(format="rgb24"), frame.time
        except (av.error.FFmpegError, OSError) as exc:
            if self.live:
                raise _Lost(_why(exc)) from None
            raise MexError(f"{self.target}: corrupt or truncated video after frame {n} ({_why(exc)})") from None
        if self.live:
            near_end = self.duration_s is not None and last_t is not None and last_t >= self.duration_s - 1.0
            if not near_end:
                raise _Lost("stream ended")
        elif n == 0:
            raise MexError(f"{self.target}: no decodable video frames (corrupt or truncated)")
        elif self.expected and n < self.expected - max(2, self.expected // 50):
            raise MexError(f"{self.target}: truncated: only {n} of its {self.expected} frames could be decoded")

    def close(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):  # a broken stream may raise anything on close; it is gone
                self.container.close()
            self.container = None


class _WebcamReader:
    live = True

    def __init__(self, index: int):
        self.index = index
        self.cap = None
        self.fps, self.size, self.duration_s = 0.0, (0, 0), None

    def open(self) -> None:
        self.cap = cv2.VideoCapture(self.index)
        if not self.cap.isOpened():
            self.close()
            raise MexError(f"webcam {self.index}: cannot open (no camera at this index, or it is busy)")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        while True:
            ok, bgr = self.cap.read()
            if not ok:
                raise _Lost("no frame from the camera")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class _FolderReader:
    live = False

    def __init__(self, folder: Path, fps: float):
        self.folder, self.fps, self.duration_s = folder, fps, None
        self.files: list[Path] = []
        self.size = (0, 0)

    def open(self) -> None:
        self.files = sorted((p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_EXTS),
                            key=lambda p: _natural_key(p.name))
        if not self.files:
            raise MexError(f"{self.folder}: no images ({', '.join(sorted(IMAGE_EXTS))}) in this folder")

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        for i, path in enumerate(self.files):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise MexError(f"{path}: not a readable image (frame {i} of the folder)")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / self.fps

    def close(self) -> None:
        pass


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _why(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask_url(msg)


# -- the source ------------------------------------------------------------------------------------------

class VideoSource:
    """Frames from one source; see the module docstring. Use ``open_source`` to build one from a spec."""

    def __init__(self, spec: str | int, *, realtime: bool = False, fps: float | None = None, buffer: int = 4,
                 transport: str = "tcp", open_timeout_s: float = 10.0, read_timeout_s: float = 5.0,
                 max_reconnects: int = 8, backoff_s: tuple[float, float] = (0.5, 8.0)):
        if buffer < 1:
            raise ValueError("buffer must be >= 1")
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be 'tcp' or 'udp', got {transport!r}")
        self.spec = spec
        self.realtime = realtime
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
            return _WebcamReader(int(spec)), "webcam", f"webcam {int(spec)}"
        spec = str(spec)
        if spec == "demo":
            if not DEMO_CLIP.is_file():
                raise MexError(f"{DEMO_CLIP}: the demo clip is missing; regenerate it (see README, 'demo clip')")
            spec = str(DEMO_CLIP)
        m = _URL_RE.match(spec)
        if m and m.group("scheme").lower() in URL_SCHEMES:
            return _AVReader(spec, True, transport, open_timeout, read_timeout), "stream", mask_url(spec)
        if m and m.group("scheme").lower() != "file":
            raise MexError(f"{mask_url(spec)}: unsupported URL scheme {m.group('scheme')!r}; use one of "
                           f"{', '.join(URL_SCHEMES)}, a file, a folder or a webcam index")
        path = Path(spec[7:] if spec.startswith("file://") else spec)
        if path.is_dir():
            return _FolderReader(path, fps or 30.0), "folder", str(path)
        if not path.exists():
            raise MexError(f"{path}: no such file, folder or webcam")
        return _AVReader(str(path), False, transport, open_timeout, read_timeout), "file", str(path)

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
        start = time.monotonic()
        try:
            for i, (rgb, t) in enumerate(self._reader.frames()):
                if self._stop.is_set():
                    return
                ts = t if t is not None and np.isfinite(t) else i / self.fps
                if self.realtime:
                    delay = start + i / self.fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                self.stats.captured += 1
                self.stats.frames += 1
                yield Frame(rgb, i, float(i / self.fps) if self.kind == "folder" else float(ts), self.name)
        except MexError:
            self._to(State.FAILED)
            raise
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
                    frame = Frame(rgb, idx, time.monotonic() - self._t0, self.name)
                    with self._cv:
                        if len(self._buffer) == self._buffer.maxlen:
                            self.stats.dropped += 1
                        self._buffer.append(frame)
                        self._cv.notify_all()
                self._finish(State.ENDED, None)
                return
            except _Lost as lost:
                reason = str(lost)
            except MexError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a capture thread must report, never die silently
                reason = f"{type(exc).__name__}: {_why(exc)}"
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
