"""The spotters by name (``--spotter``): each is one face's online spotter with the same verbs,
``update(index, grey, crop_landmarks, crop_size, blink, centre, face_width, blendshapes) -> (events, signal)``,
``flush() -> events`` and ``reconfigure(config)``; ``guess`` is the micro event that ``update`` expects to emit
within a few frames (None when it has none: the flow and Moilanen spotters emit within a frame or two of
the offset anyway), which the stream classifies ahead of time."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache

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
    if name == "learned" and (n := LearnedSpotter.stride(config) or 1) > 1:
        return Strided(LearnedSpotter(config.with_fps(config.fps / n), face_id), n, config.fps)
    return SPOTTER_CLASSES[name](config, face_id)


def resolve(config: StreamConfig) -> str:
    """The spotter that runs: ``auto`` is the learned one where its engine was trained for the source's frame
    rate or a whole fraction of it (a 60 fps phone, a 200 fps dataset clip: ``Strided``), flow elsewhere (its
    windows are in seconds: a browser webcam at 10 fps) or without an engine."""
    return config.spotter if config.spotter != "auto" else _auto(config.spotter_model, config.fps)


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
    """A spotter made for a lower frame rate, fed one frame in each run of ``n`` of a faster source, as if the
    source ran at its rate (a 60 fps phone video: every second frame; a 200 fps dataset clip: every seventh). The
    first frame seen in each run is the one fed, so a live source's dropped frames do not break its window. Its
    events, guess and signal come back in the source's frame indices and rate."""

    KEEP = 4096  # runs whose fed frame is remembered: further back than any event of the spotter reaches

    def __init__(self, spotter: LearnedSpotter, n: int, fps: float):
        self.spotter, self.n, self.fps = spotter, n, fps
        self.guess: SpotEvent | None = None
        self._fed: dict[int, int] = {}  # run -> the source frame fed for it

    def update(self, index: int, *args, **kwargs) -> tuple[list[SpotEvent], SignalPoint | None]:
        self.guess = None
        run = index // self.n
        if run in self._fed:
            return [], None
        self._fed[run] = index
        self._fed.pop(run - self.KEEP, None)
        events, signal = self.spotter.update(run, *args, **kwargs)
        self.guess = self._source(self.spotter.guess)
        return [self._source(e) for e in events], (replace(signal, frame=self._index(signal.frame)) if signal else None)

    def flush(self) -> list[SpotEvent]:
        self.guess = None
        return [self._source(e) for e in self.spotter.flush()]

    def reconfigure(self, config: StreamConfig) -> None:
        self.spotter.reconfigure(config.with_fps(config.fps / self.n))

    def _index(self, run: int) -> int:
        return self._fed.get(run, run * self.n)

    def _source(self, ev: SpotEvent | None) -> SpotEvent | None:
        if ev is None:
            return None
        return replace(ev, onset_frame=self._index(ev.onset_frame), apex_frame=self._index(ev.apex_frame),
                       offset_frame=self._index(ev.offset_frame), fps=self.fps)
