"""Frame readers, one per kind of source: ``open()`` then ``frames()`` yields (RGB uint8, time_s or None).

PyAV for files and URLs (packet by packet: a damaged packet is skipped and counted, not the end of the
file or a reconnect), OpenCV for webcams, image files for folders. ``stream.sources.VideoSource``
drives them (capture thread, reconnects, state). Passwords in URLs never reach a message (``mask_url``).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mecore.errors import MexError
from mecore.upright import rgb

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
# damaged packets in a row after which a stream counts as broken rather than damaged in places
MAX_DAMAGED_RUN = 25
log = logging.getLogger("stream")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass|token|key|secret|auth)=)[^&#]*")


def mask_url(text: str) -> str:
    """``rtsp://user:pw@host/x?token=t`` -> ``rtsp://user:***@host/x?token=***``; other text unchanged."""
    text = re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*):[^@/\s]*@", r"\1:***@", str(text))
    return _SECRET_QUERY.sub(r"\1***", text)


def why(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask_url(msg)


class Lost(Exception):
    """A live stream broke or ended: reconnect."""


# -- readers: open() then frames() yields (rgb, time_s or None) ------------------------------------------

class AVReader:
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
        self.damaged = 0  # packets skipped (a live stream's, over all its reconnects)
        self.damaged_after: list[int] = []  # the frames decoded before the first few of them, for the warning

    def open(self) -> None:
        import av

        try:
            self.container = av.open(self.target, options=self.options, timeout=self.timeout)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MexError(f"{mask_url(self.target)}: cannot open ({why(exc)})") from None
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
        stream = self.container.streams.video[0]
        n, last_t, run = 0, None, 0
        try:
            for packet in self.container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    # one damaged packet (a lost RTP packet, a bad block on a card): skipped, as a player does; the
                    # decoder takes up again at the next packet, its picture damaged until the next keyframe
                    run += 1
                    self.damaged += 1
                    if len(self.damaged_after) < 5:  # bounded: a lossy camera link may damage packets for days
                        self.damaged_after.append(n)
                    if run >= MAX_DAMAGED_RUN:
                        raise
                    if self.live and self.damaged in (1, 10, 100, 1000, 10000):
                        log.warning("%s: %d damaged packet(s) skipped so far, the last after frame %d",
                                    mask_url(self.target), self.damaged, n)
                    continue
                run = 0
                for frame in decoded:
                    n += 1
                    last_t = frame.time
                    yield rgb(frame), frame.time
        except (av.error.FFmpegError, OSError) as exc:
            if self.live:
                raise Lost(why(exc)) from None
            raise MexError(f"{self.target}: corrupt or truncated video after frame {n} ({why(exc)})") from None
        if self.damaged and not self.live:
            at = ", ".join(map(str, self.damaged_after)) + (", ..." if self.damaged > len(self.damaged_after) else "")
            log.warning("%s: %d damaged packet(s) skipped, after frame(s) %s: frames there are missing or show "
                        "decoding damage", mask_url(self.target), self.damaged, at)
        if self.live:
            near_end = self.duration_s is not None and last_t is not None and last_t >= self.duration_s - 1.0
            if not near_end:
                raise Lost("stream ended")
        elif n == 0:
            raise MexError(f"{self.target}: no decodable video frames (corrupt or truncated)")
        elif self.expected and n + self.damaged < self.expected - max(2, self.expected // 50):
            raise MexError(f"{self.target}: truncated: only {n} of its {self.expected} frames could be decoded")

    def close(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):  # a broken stream may raise anything on close; it is gone
                self.container.close()
            self.container = None


class WebcamReader:
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
                raise Lost("no frame from the camera")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class FolderReader:
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
