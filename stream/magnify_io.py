"""Output of ``stream.magnify``: H.264 video written atomically, with the input's audio copied in.

Frames go through ``stream.sinks.VideoFile`` into a temp file; on ``close`` the video packets and the
input file's audio packets (stream copy, cut at the video's end) are muxed into a second temp file
that is renamed over the output, so a crash or Ctrl-C never leaves half a file at ``path``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from types import SimpleNamespace

from mecore.atomic import atomic_path
from mecore.errors import MexError
from stream.sinks import VideoFile

log = logging.getLogger("stream")


def frame_count(path: str) -> int | None:
    """Frames a file's video stream declares (for the progress bar); None when unknown or not a file."""
    import av

    if not Path(path).is_file():
        return None
    try:
        with av.open(path) as c:
            n = c.streams.video[0].frames if c.streams.video else 0
            return n or None
    except Exception:  # noqa: BLE001 - the source reports unreadable files itself, with its own message
        return None


def has_audio(path: str | None) -> bool:
    import av

    if not path or not Path(path).is_file():
        return False
    try:
        with av.open(path) as c:
            return bool(c.streams.audio)
    except Exception:  # noqa: BLE001
        return False


class MagnifiedVideo:
    """``write(rgb)`` frames, then ``close()`` (commit) or ``abort()``; audio from ``audio_from`` when it has any."""

    def __init__(self, path: str | Path, fps: float, audio_from: str | None = None, crf: int = 20):
        self.path, self.fps = Path(path), fps
        self.audio_from = audio_from if has_audio(audio_from) else None
        self._tmpdir = tempfile.TemporaryDirectory(prefix=".magnify-", dir=self.path.parent if
                                                   self.path.parent.exists() else None)
        try:
            self.video = VideoFile(Path(self._tmpdir.name) / "video.mp4", fps, crf=crf)
        except BaseException:  # a bad fps or a SIGTERM right here: the folder must not outlive us
            self._tmpdir.cleanup()
            raise
        self.frames = 0
        self.audio_kept = False

    def write(self, rgb) -> None:
        self.video(SimpleNamespace(image=rgb))
        self.frames += 1

    def close(self) -> Path:
        try:
            if self.frames == 0:
                raise MexError(f"{self.path}: no frames were read, nothing written")
            self.video.close()
            with atomic_path(self.path) as tmp:
                self._mux(self.video.path, tmp)
            return self.path
        finally:
            self._tmpdir.cleanup()

    def abort(self) -> None:
        try:
            self.video.abort()
        finally:
            self._tmpdir.cleanup()

    def _mux(self, video: Path, out: Path) -> None:
        import av

        with av.open(str(video)) as vin, av.open(str(out), mode="w") as dst:
            vs = vin.streams.video[0]
            vout = dst.add_stream_from_template(vs)
            ain = aout = None
            if self.audio_from:
                try:
                    ain = av.open(self.audio_from)
                    aout = dst.add_stream_from_template(ain.streams.audio[0])
                except Exception as exc:  # noqa: BLE001 - an unusual audio codec must not lose the video
                    log.warning("%s: audio not kept (%s)", self.audio_from, exc)
                    ain = aout = None
            for packet in vin.demux(vs):
                if packet.dts is None:
                    continue
                packet.stream = vout
                dst.mux(packet)
            if ain is not None:
                self._copy_audio(ain, aout, dst, self.frames / self.fps)
                ain.close()

    def _copy_audio(self, ain, aout, dst, duration_s: float) -> None:
        astream = ain.streams.audio[0]
        try:
            for packet in ain.demux(astream):
                if packet.dts is None:
                    continue
                if packet.pts is not None and float(packet.pts * astream.time_base) >= duration_s:
                    break
                packet.stream = aout
                dst.mux(packet)
            self.audio_kept = True
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: audio not kept (%s)", self.audio_from, exc)
