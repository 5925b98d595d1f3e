"""Where results go. A sink is a plain callable ``sink(result: FrameResult)``, called by
``stream.runner.Runner`` for every frame and once for the final result; its optional ``start(info)``,
``close(report)``, ``abort()``, ``stage`` and ``poll`` are described there.

- ``VideoFile``: the annotated frames as H.264 mp4 (PyAV), written to a temp file and renamed on close.
- ``EventsFile``: events.jsonl, one JSON object per event (after its prediction), then a summary line;
  written to a temp file and renamed on close.
- ``Window``: an OpenCV window; keys q quit, space pause, + / - amplification (asked of the runner),
  m a live magnified view.
- ``Summary``: frames, fps, dropped frames, events by label; printed at exit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np

from mecore.atomic import atomic_path
from mecore.errors import MexError
from mecore.h264 import x264_options
from mecore.types import Prediction, SpotEvent

log = logging.getLogger("stream")


def event_record(ev: SpotEvent, pred: Prediction | None, times: dict[int, float] | None = None) -> dict:
    """The events.jsonl object of one event (label, probs, backend, latency_ms null when unclassified). Its
    seconds are its frames' own timestamps where ``times`` has them (a phone's variable frame rate, a live
    source's dropped frames), else frame / fps."""
    def at(frame: int) -> float:
        return round(times[frame] if times and frame in times else frame / ev.fps, 4)

    return {
        "type": "event", "face_id": ev.face_id,
        "onset_frame": ev.onset_frame, "apex_frame": ev.apex_frame, "offset_frame": ev.offset_frame,
        "onset_s": at(ev.onset_frame), "apex_s": at(ev.apex_frame), "offset_s": at(ev.offset_frame),
        "score": round(float(ev.score), 4),
        "kind": ev.kind, "regions": list(ev.regions), "aus": list(ev.aus),
        "label": pred.label if pred else None,
        "probs": {k: round(float(v), 5) for k, v in pred.probs.items()} if pred else None,
        "backend": pred.backend if pred else None,
        "latency_ms": round(float(pred.latency_ms), 1) if pred else None,
    }


class _Atomic:
    """A file written under a temp name and renamed over ``path`` on ``commit`` (deleted on ``abort``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._cm = atomic_path(self.path)
        self.tmp = self._cm.__enter__()

    def commit(self) -> None:
        self._cm.__exit__(None, None, None)

    def abort(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._cm.__exit__(RuntimeError, RuntimeError("aborted"), None)


class EventsFile:
    """events.jsonl. ``wait_for_labels``: write an event when its prediction arrives (else at once).
    The last line is the run's summary with its provenance (config, artifacts, code, machine)."""

    kind = "events"

    def __init__(self, path: str | os.PathLike, wait_for_labels: bool = True):
        self.out = _Atomic(path)
        self.path = self.out.path
        self.f = open(self.out.tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.wait = wait_for_labels
        self._pending: dict[SpotEvent, None] = {}
        self.written = 0
        self._times: OrderedDict[int, float] = OrderedDict()  # frame index -> its timestamp, the newest KEEP frames

    KEEP = 8192  # frames whose timestamp is kept: more than an event and its classification reach back

    def _write(self, obj: dict) -> None:
        self.f.write(json.dumps(obj) + "\n")
        self.f.flush()

    def __call__(self, result) -> None:
        frame = result.frame
        if frame is not None and frame.timestamp_s is not None:
            self._times[frame.index] = float(frame.timestamp_s)
            if len(self._times) > self.KEEP:
                self._times.popitem(last=False)
        self.add_events(result.events)
        self.add_predictions(result.predictions)

    def add_events(self, events: list[SpotEvent]) -> None:
        for ev in events:
            if self.wait and ev.kind == "micro":  # a macro-expression is not classified: no label comes
                self._pending[ev] = None
            else:
                self._write(event_record(ev, None, self._times))
                self.written += 1

    def add_predictions(self, preds: list[Prediction]) -> None:
        for p in preds:
            self._pending.pop(p.event, None)
            self._write(event_record(p.event, p, self._times))
            self.written += 1

    def close(self, report: dict | None = None) -> None:
        for ev in list(self._pending):
            self._write(event_record(ev, None, self._times))
            self.written += 1
        self._pending.clear()
        if report is not None:
            self._write({"type": "summary", **report})
        self.f.close()
        self.out.commit()

    def abort(self) -> None:
        self.f.close()
        self.out.abort()


class VideoFile:
    """Annotated frames as H.264 (libx264, yuv420p) in an mp4 written atomically; the run's provenance
    (``start(info)``: config, artifacts, code, machine) as JSON in the container's ``comment`` tag."""

    kind = "video"
    stage = "encode"  # the runner times each call into result.timings["encode"]

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = 23, preset: str = "veryfast"):
        import av

        self.out = _Atomic(path)
        self.path = self.out.path
        self.fps = fps
        try:
            self.container = av.open(str(self.out.tmp), mode="w")
        except Exception as exc:  # noqa: BLE001 - PyAV raises many types for a bad path
            self.out.abort()
            raise MexError(f"{path}: cannot write video ({exc})") from None
        rate = _rate(fps)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = x264_options(crf, preset)
        self.frames = 0

    def start(self, info: dict) -> None:
        """Before the first frame: the container's header carries the metadata."""
        self.container.metadata["comment"] = json.dumps(info, sort_keys=True, default=str)

    def __call__(self, result) -> None:
        import av

        if result.image is None:  # the final result: no frame
            return
        img = result.image
        h, w = img.shape[:2]
        if self.frames == 0:
            self.stream.width, self.stream.height = w - w % 2, h - h % 2
        if (w, h) != (self.stream.width, self.stream.height):
            img = np.ascontiguousarray(img[: self.stream.height, : self.stream.width])
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self.frames
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self, report: dict | None = None) -> None:
        if self.frames == 0:
            self.container.close()
            self.out.abort()
            log.warning("%s: no frames, no video written", self.path)
            return
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self.out.commit()

    def abort(self) -> None:
        try:
            self.container.close()
        finally:
            self.out.abort()


def _rate(fps: float):
    from fractions import Fraction

    return Fraction(fps).limit_denominator(1001) if not float(fps).is_integer() else int(fps)


class Window:
    """An OpenCV window. q / Esc quit, space pause, + / - amplification (steps of 10%), m toggles a live
    magnified view of the frame (``stream.magnify_live``). Keys go to ``controls``
    (stream.runner.Controls): the runner quits, pauses or changes the config."""

    def __init__(self, controls, title: str = "micro-expressions"):
        import cv2

        self.cv2, self.controls, self.title = cv2, controls, title
        self.amplification: float | None = None  # the factor in use, from the newest result
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        self.live = None  # a LiveView while the magnified view is on

    def __call__(self, result) -> None:
        self.amplification = result.amplification
        if result.image is None:
            return
        img = result.image
        if self.live is not None and result.frame is not None:
            img = self.live.apply(result.frame.image, result.frame.timestamp_s)
        self.cv2.imshow(self.title, self.cv2.cvtColor(img, self.cv2.COLOR_RGB2BGR))
        self.poll(1)

    def poll(self, wait_ms: int) -> None:
        key = self.cv2.waitKey(wait_ms) & 0xFF
        if key in (ord("q"), 27):
            self.controls.quit = True
        elif key == ord(" "):
            self.controls.paused = not self.controls.paused
        elif key in (ord("+"), ord("="), ord("-"), ord("_")) and self.amplification is not None:
            self.controls.change(amplification=self.amplification * (1.1 if key in (ord("+"), ord("=")) else 1 / 1.1))
        elif key == ord("m"):
            from stream.magnify_live import LiveView

            self.live = None if self.live is not None else LiveView()

    def close(self, report: dict | None = None) -> None:
        self.cv2.destroyWindow(self.title)


class Summary:
    """Counts frames, faces and predictions; ``report`` gives the end-of-run numbers."""

    def __init__(self):
        self.frames = 0
        self.frames_with_face = 0
        self.events = 0
        self.labels: Counter = Counter()
        self.kinds: Counter = Counter()
        self.face_frames: Counter = Counter()  # frames each face id was tracked on ...
        self.face_spotted: Counter = Counter()  # ... and spotted on (not too small)
        self.latencies: list[float] = []
        self.t0 = time.perf_counter()
        self.stage_sum: Counter = Counter()
        self.stage_n: Counter = Counter()

    def __call__(self, result) -> None:
        self.events += len(result.events)
        self.kinds.update(ev.kind for ev in result.events)
        self.add_predictions(result.predictions)
        if result.final:  # the end of stream's events and predictions, no frame
            return
        self.frames += 1
        self.frames_with_face += bool(result.faces)
        small = getattr(result, "small", frozenset())
        for tr in result.faces:
            self.face_frames[tr.track_id] += 1
            self.face_spotted[tr.track_id] += tr.track_id not in small
        for k, v in result.timings.items():
            if k not in ("motion", "classify", "magnify"):  # the worker's, per event, not per frame
                self.stage_sum[k] += v
                self.stage_n[k] += 1

    def add_predictions(self, preds: list[Prediction]) -> None:
        for p in preds:
            self.labels[p.label] += 1
            if math.isfinite(p.latency_ms):
                self.latencies.append(p.latency_ms)

    def report(self, dropped: int = 0, reconnects: int = 0, extra: dict | None = None) -> dict:
        secs = max(time.perf_counter() - self.t0, 1e-9)
        out = {"frames": self.frames, "frames_with_face": self.frames_with_face, "seconds": round(secs, 2),
               "fps": round(self.frames / secs, 2), "dropped": dropped, "reconnects": reconnects,
               "events": self.events, "events_by_kind": dict(sorted(self.kinds.items())),
               "events_by_label": dict(sorted(self.labels.items())),
               "faces": {str(fid): {"frames": n, "spotted_frames": self.face_spotted[fid]}
                         for fid, n in sorted(self.face_frames.items())},
               "stage_ms": {k: round(self.stage_sum[k] / self.stage_n[k], 2) for k in self.stage_sum}}
        if self.latencies:
            out["prediction_latency_ms"] = {"median": round(float(np.median(self.latencies)), 1),
                                            "max": round(float(np.max(self.latencies)), 1)}
        out.update(extra or {})
        return out


def format_summary(s: dict) -> str:
    labels = ", ".join(f"{k} {v}" for k, v in s.get("events_by_label", {}).items()) or "none"
    kinds = ", ".join(f"{k} {v}" for k, v in s.get("events_by_kind", {}).items()) or "none"
    lines = [f"frames {s['frames']} ({s['frames_with_face']} with a face) in {s['seconds']} s: {s['fps']} fps; "
             f"dropped {s['dropped']}, reconnects {s['reconnects']}"
             + (f", damaged packets skipped {s['damaged_packets']}" if s.get("damaged_packets") else ""),
             f"events {s['events']} ({kinds}); micro-expressions by label: {labels}"]
    faces = s.get("faces", {})
    if faces:
        lines.append("faces: " + "; ".join(f"{fid}: {v['frames']} frames, spotted on {v['spotted_frames']}"
                                           for fid, v in list(faces.items())[:8])
                     + (f"; {len(faces) - 8} more" if len(faces) > 8 else ""))
    if "prediction_latency_ms" in s:
        lat = s["prediction_latency_ms"]
        lines.append(f"prediction after apex read: median {lat['median']} ms, max {lat['max']} ms")
    if s.get("stage_ms"):
        lines.append("stage ms: " + ", ".join(f"{k} {v}" for k, v in s["stage_ms"].items()))
    for key in ("events_file", "video_file"):
        if s.get(key):
            lines.append(f"wrote {s[key]}")
    return "\n".join(lines)
