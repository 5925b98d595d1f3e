"""The one frame loop: source -> ``Analyzer.process`` -> sinks, for every front end.

    runner = Runner(analyzer, [EventsFile("ev.jsonl"), VideoFile("out.mp4", fps)], pace=False)
    report = runner.run(source)             # every frame, the final result, outputs closed; the summary

    for result in runner.results(source):   # the same loop, yielding each FrameResult (a UI's generator)
        ...
    report = runner.close()

    result = runner.step(frame)             # frames pushed one at a time (a browser's webcam)
    runner.finish(); runner.close()

A sink is a plain callable ``sink(result)``; it gets every frame's ``FrameResult`` and, at the end of
stream, the analyser's final one (``result.final``: no frame, the last events and predictions). Optional
parts of a sink: ``start(info)`` before the first frame (the run's provenance: config, artifacts, code,
machine), ``close(report)`` at the end (the summary), ``abort()`` when the run failed, ``stage`` (the
name under which the runner times it into ``result.timings``, e.g. "encode", so later sinks see it)
and ``poll(wait_ms)`` (called while paused). An error in one sink is logged once and never stops
the others. ``Controls`` is how a UI asks the loop to quit, pause or change live config fields: the
runner applies the changes between frames, so no sink reaches into the analyser.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from mecore.cli import to_dict
from mecore.errors import MexError
from mecore.provenance import stamp
from mecore.types import Frame
from stream.pipeline import Analyzer, FrameResult
from stream.sinks import Summary
from stream.spotters import resolve

log = logging.getLogger("stream")

Progress = Callable[[int, FrameResult | None], None]  # (frames done, the newest result; None: finishing)


class Controls:
    """What a UI asks of the loop: quit, pause, and changes to live config fields (thread-safe)."""

    def __init__(self):
        self.quit = False
        self.paused = False
        self._changes: dict = {}
        self._lock = threading.Lock()

    def change(self, **config_changes) -> None:
        """Ask for ``Analyzer.update_config(**config_changes)`` before the next frame."""
        with self._lock:
            self._changes.update(config_changes)

    def take(self) -> dict:
        with self._lock:
            out, self._changes = self._changes, {}
        return out


class Runner:
    """Options in ``__init__``; ``run(source)`` (or ``results`` / ``step``) is the verb."""

    def __init__(self, analyzer: Analyzer, sinks: Iterable[Callable | None] = (), *,
                 controls: Controls | None = None, max_frames: int | None = None, pace: bool = False,
                 progress: Progress | None = None, finish_timeout: float = 30.0, source_name: str = "",
                 lock=None):
        if max_frames is not None and max_frames < 1:
            raise MexError(f"max_frames must be >= 1, got {max_frames}")
        self.analyzer = analyzer
        self.summary = Summary()
        # the summary last: it sees the timings the other sinks add (encode)
        self.sinks = [s for s in sinks if s is not None] + [self.summary]
        self.controls = controls or Controls()
        self.max_frames = max_frames
        self.pace = pace
        self.progress = progress
        self.finish_timeout = finish_timeout
        self.source_name = source_name
        self.lock = lock or contextlib.nullcontext()  # held around each frame and the finish (a UI's session)
        self.cancelled = False
        self.errors: Counter = Counter()
        self.error: MexError | None = None  # the source failed: outputs keep what was analysed
        self.interrupted = False
        self.changes: list[dict] = []  # live config changes applied, with the frame they applied from
        self._started = self._finished = self._closed = False
        self._start_config = analyzer.config
        self._stats = None

    # -- provenance -----------------------------------------------------------------------------------
    def info(self) -> dict:
        """How this run is made: the analyser's config, its artifacts' SHA-256s, the code, the machine."""
        an = self.analyzer
        return {"source": self.source_name, "backend": an.backend, "spotter": resolve(self._start_config),
                **stamp(to_dict(self._start_config), an.artifacts())}

    def start(self, source=None) -> None:
        if self._started:
            return
        self._started = True
        self._start_config = self.analyzer.config  # changes from here on are listed in ``changes``
        if source is not None:
            self.source_name = self.source_name or getattr(source, "name", "")
            self._stats = getattr(source, "stats", None)
        self._each("start", self.info())

    # -- the verbs ------------------------------------------------------------------------------------
    def step(self, frame: Frame, decode_ms: float | None = None) -> FrameResult:
        """One frame through the analyser and the sinks (controls applied first)."""
        with self.lock:
            self.start()
            self._apply_controls(frame.index)
            result = self.analyzer.process(frame, None if decode_ms is None else {"decode": decode_ms})
            self._emit(result)
        if self.progress is not None:
            self.progress(self.summary.frames, result)
        return result

    def results(self, source) -> Iterator[FrameResult]:
        """The frame loop: each frame's result after the sinks saw it, then the final result. Stops at the
        end of the source, ``max_frames``, ``controls.quit``, a source error (kept in ``error``) or Ctrl-C
        (``interrupted``). Call ``close`` afterwards for the report."""
        self.start(source)
        frames = iter(source)
        live = bool(getattr(source, "live", True))
        t_start, n = time.monotonic(), 0
        try:
            while not self.controls.quit:
                t0 = time.perf_counter()
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except MexError as e:
                    self.error = e
                    break
                if self.cancelled:
                    return
                decode_ms = (time.perf_counter() - t0) * 1e3
                if self.pace and not live:  # a file read at its frame rate, as a camera delivers it
                    delay = t_start + n / max(getattr(source, "fps", 0.0) or 30.0, 1e-3) - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                n += 1
                yield self.step(frame, decode_ms)
                while self.controls.paused and not self.controls.quit:
                    if not self._each("poll", 50):
                        time.sleep(0.05)
                if self.max_frames and self.summary.frames >= self.max_frames:
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        if not self.cancelled:
            yield self.finish()

    def run(self, source, extra: dict | None = None, keep_partial: bool = True) -> dict:
        """Every frame of ``source``, the final result, the outputs closed with the report (plus ``extra``);
        returns it. A source that fails part way (``error``): outputs keep what was analysed, or with
        ``keep_partial`` off are aborted and the error raised."""
        try:
            for _ in self.results(source):
                pass
            if self.error is not None and not keep_partial:
                raise self.error
        except BaseException:
            self.abort()
            raise
        return self.close(extra)

    def finish(self) -> FrameResult:
        """End of stream: the analyser's final result (open events closed, last predictions) to the sinks."""
        if self.progress is not None:
            self.progress(self.summary.frames, None)
        with self.lock:
            self._finished = True
            result = self.analyzer.finish(timeout=self.finish_timeout)
            self._emit(result)
        return result

    def cancel(self) -> None:
        """Stop the loop without a final result (its analyser is being closed by someone else)."""
        self.cancelled = True
        self.controls.quit = True

    def close(self, extra: dict | None = None) -> dict:
        """The report (summary + provenance), given to each sink's ``close``; returns it."""
        if not self._finished:
            self.finish()
        stats = self._stats
        report = self.summary.report(getattr(stats, "dropped", 0), getattr(stats, "reconnects", 0),
                                     {"damaged_packets": getattr(stats, "damaged", 0)})
        report.update(self.info())
        if self.changes:
            report["config_changes"] = self.changes
        if self.error is not None:
            report["error"] = str(self.error)
        if self.interrupted:
            report["interrupted"] = True
        report.update(extra or {})
        for sink in self.sinks:
            path = getattr(sink, "path", None)
            if path is not None and getattr(sink, "kind", None) and getattr(sink, "frames", 1):  # a video of 0 frames: none
                report[f"{sink.kind}_file"] = str(path)
        if not self._closed:
            self._closed = True
            self._each("close", report)
        return report

    def abort(self) -> None:
        """The run failed: sinks with ``abort`` delete what they were writing."""
        if not self._closed:
            self._closed = True
            self._each("abort")

    # -- internals ------------------------------------------------------------------------------------
    def _apply_controls(self, index: int) -> None:
        changes = self.controls.take()
        fixed = set(changes) - type(self.analyzer.config).live()
        if fixed:
            log.warning("%s cannot change while running; ignored", ", ".join(sorted(fixed)))
        changes = {k: v for k, v in changes.items() if k not in fixed}
        if not changes:
            return
        try:
            cfg = self.analyzer.update_config(**changes)
        except ValueError as e:
            log.warning("config change %s refused: %s", changes, e)
            return
        applied = {k: getattr(cfg, k) for k in changes}
        self.changes.append({"frame": index, **applied})
        for k, v in applied.items():
            log.info("%s %s from frame %d", k, v, index)

    def _emit(self, result: FrameResult) -> None:
        for sink in self.sinks:
            t0 = time.perf_counter()
            try:
                sink(result)
            except Exception as exc:  # noqa: BLE001 - one broken sink must not stop the others
                self._failed(sink, "", exc)
            stage = getattr(sink, "stage", None)
            if stage and not result.final:
                result.timings[stage] = (time.perf_counter() - t0) * 1e3

    def _each(self, method: str, *args) -> bool:
        """Call ``method`` on every sink that has it; True when one had it."""
        found = False
        for sink in self.sinks:
            fn = getattr(sink, method, None)
            if fn is None:
                continue
            found = True
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001
                self._failed(sink, f".{method}", exc)
        return found

    def _failed(self, sink, where: str, exc: BaseException) -> None:
        name = getattr(sink, "__name__", None) or type(sink).__name__
        self.errors[name + where] += 1
        if self.errors[name + where] == 1:  # once per sink, not per frame
            print(f"warning: {name}{where} failed: {exc}", file=sys.stderr)
