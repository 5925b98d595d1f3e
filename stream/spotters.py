"""The spotters by name (``--spotter``): each is one face's online spotter with the same verbs,
``update(index, grey, crop_landmarks, crop_size, blink, centre, face_width, blendshapes) -> (events, signal)``,
``flush() -> events`` and ``reconfigure(config)``; ``guess`` is the micro event that ``update`` expects to emit
within a few frames (None when it has none: the flow and Moilanen spotters emit within a frame or two of
the offset anyway), which the stream classifies ahead of time."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from mecore.errors import MexError
from mecore.types import SpotEvent
from stream.config import StreamConfig
from stream.spotting import SignalPoint, Spotter
from stream.spotting_flow import FlowSpotter
from stream.spotting_learned import LearnedSpotter

SPOTTER_CLASSES = {"flow": FlowSpotter, "moilanen": Spotter, "learned": LearnedSpotter}
AnySpotter = FlowSpotter | Spotter | LearnedSpotter
log = logging.getLogger("stream")


def make_spotter(config: StreamConfig, face_id: int = 0) -> AnySpotter | Strided:
    name = resolve(config)
    if config.spot_threshold is not None and name != "learned":
        _unused_threshold(name, config.fps)
    if name == "learned" and (n := LearnedSpotter.stride(config) or 1) > 1:
        return Strided(LearnedSpotter(config.with_fps(config.fps / n), face_id), n, config.fps)
    return SPOTTER_CLASSES[name](config, face_id)


def resolve(config: StreamConfig) -> str:
    """The spotter that runs: ``auto`` is the learned one where its engine was trained for the source's frame
    rate or a whole fraction of it (a 60 fps phone, a 200 fps dataset clip: ``Strided``), flow elsewhere (its
    windows are in seconds: a browser webcam at 10 fps) or without an engine."""
    return config.spotter if config.spotter != "auto" else _auto(config.spotter_model, config.fps)


def retune(config: StreamConfig, before: float, after: float) -> dict[str, float]:
    """The config changes that take the spotter ``config`` runs from sensitivity ``before`` to ``after`` (0..1, as
    the demo's slider gives it; 0.5 up halves the flow spotter's noise factor and the baseline's p, and moves the
    learned spotter's p(event) threshold's logit down by 2: the shipped 0.95 -> 0.72; 0.5 down: up by 2, 0.95 ->
    0.993), so the one control acts on whichever spotter ``auto`` picked for the source."""
    step = after - before
    name = resolve(config)
    if name == "learned":
        t = config.spot_threshold if config.spot_threshold is not None else LearnedSpotter.default_threshold(config)
        return {"spot_threshold": 1.0 / (1.0 + math.exp(-(math.log(t / (1.0 - t)) - 4.0 * step)))}
    if name == "flow":
        return {"flow_noise_factor": config.flow_noise_factor * 2.0 ** (-2.0 * step)}
    return {"threshold_p": min(0.95, config.threshold_p * 2.0 ** (-2.0 * step))}


@lru_cache(maxsize=16)
def _unused_threshold(name: str, fps: float) -> None:
    """Said once per spotter and rate: --spot-threshold is the learned spotter's, and another one runs."""
    log.warning("--spot-threshold is the learned spotter's; the %s spotter runs here (%g fps), so it is not used "
                "(the demo's sensitivity moves whichever spotter runs)", name, fps)


@lru_cache(maxsize=16)
def _auto(model: str, fps: float) -> str:
    try:
        if LearnedSpotter.stride(StreamConfig(spotter="learned", spotter_model=model, fps=fps)):
            return "learned"
        why = f"its engine was trained for faster frame rates than {fps:g} fps"
    except MexError as exc:
        why = str(exc)
    log.info("--spotter auto: flow, as the learned spotter does not fit here (%s)", why)
    return "flow"


class Strided:
    """A spotter made for a lower frame rate, fed each run of ``n`` frames of a faster source as one frame, as if
    the source ran at its rate (a 60 fps phone video: runs of 2; a 200 fps dataset clip: runs of 7). The run's
    aligned crops, landmarks, face measures and blendshapes are averaged (the picture a camera at the engine's rate with the
    longer exposure would take, with less of the sensor's and encoder's noise) and fed at the run's last frame,
    or, when a live source dropped that, at the next run's first. Its events, guess and signal come back in the
    source's frame indices (a run's first frame) and rate."""

    KEEP = 4096  # runs whose first frame is remembered: further back than any event of the spotter reaches

    def __init__(self, spotter: LearnedSpotter, n: int, fps: float):
        self.spotter, self.n, self.fps = spotter, n, fps
        self.guess: SpotEvent | None = None
        self._first: dict[int, int] = {}  # run -> its first frame seen
        self._run: list[dict] = []  # the inputs of the run not fed yet

    def update(self, index: int, grey: np.ndarray, crop_landmarks: np.ndarray, crop_size: int, blink: float = 0.0,
               centre: tuple[float, float] = (0.0, 0.0), face_width: float = 1.0,
               blendshapes: dict[str, float] | None = None) -> tuple[list[SpotEvent], SignalPoint | None]:
        self.guess = None
        events: list[SpotEvent] = []
        signal = None
        if self._run and self._run[0]["index"] // self.n != index // self.n:  # the last one's end was dropped
            events, signal = self._feed()
        self._run.append(dict(index=index, grey=grey, crop_landmarks=crop_landmarks, crop_size=crop_size, blink=blink,
                              centre=centre, face_width=face_width, blendshapes=blendshapes))
        if index % self.n == self.n - 1:
            more, newer = self._feed()
            events, signal = events + more, newer or signal
        return events, signal

    def flush(self) -> list[SpotEvent]:
        events = self._feed()[0] if self._run else []
        self.guess = None
        return events + [self._source(e) for e in self.spotter.flush()]

    def reconfigure(self, config: StreamConfig) -> None:
        self.spotter.reconfigure(config.with_fps(config.fps / self.n))

    def _feed(self) -> tuple[list[SpotEvent], SignalPoint | None]:
        run, frames, self._run = self._run[0]["index"] // self.n, self._run, []
        self._first[run] = frames[0]["index"]
        if len(self._first) > 2 * self.KEEP:  # pruned in bulk: a live source's skipped runs leave gaps in the keys
            self._first = {r: i for r, i in self._first.items() if r > run - self.KEEP}

        def mean(key):
            return np.mean([np.asarray(f[key], np.float32) for f in frames], axis=0)

        grey = frames[0]["grey"] if len(frames) == 1 else np.rint(mean("grey")).astype(np.uint8)
        shapes = [f["blendshapes"] for f in frames if f["blendshapes"]]
        blend = {k: float(np.mean([s.get(k, 0.0) for s in shapes])) for k in shapes[-1]} if shapes else None
        events, signal = self.spotter.update(run, grey, mean("crop_landmarks"), frames[0]["crop_size"], float(mean("blink")),
                                             tuple(mean("centre")), float(mean("face_width")), blend)
        self.guess = self._source(self.spotter.guess)
        return [self._source(e) for e in events], (replace(signal, frame=self._index(signal.frame)) if signal else None)

    def _index(self, run: int) -> int:
        return self._first.get(run, run * self.n)

    def _source(self, ev: SpotEvent | None) -> SpotEvent | None:
        if ev is None:
            return None
        return replace(ev, onset_frame=self._index(ev.onset_frame), apex_frame=self._index(ev.apex_frame),
                       offset_frame=self._index(ev.offset_frame), fps=self.fps)
