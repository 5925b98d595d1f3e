"""The spotters by name (``--spotter``): each is one face's online spotter with the same verbs,
``update(index, grey, crop_landmarks, crop_size, blink, centre, face_width, blendshapes) -> (events, signal)``,
``flush() -> events`` and ``reconfigure(config)``; ``guess`` is the micro event that ``update`` expects to emit
within a few frames (None when it has none: the flow and Moilanen spotters emit within a frame or two of
the offset anyway), which the stream classifies ahead of time."""

from __future__ import annotations

import logging
from functools import lru_cache

from mecore.errors import MexError
from stream.config import StreamConfig
from stream.spotting import Spotter
from stream.spotting_flow import FlowSpotter
from stream.spotting_learned import LearnedSpotter

SPOTTER_CLASSES = {"flow": FlowSpotter, "moilanen": Spotter, "learned": LearnedSpotter}
AnySpotter = FlowSpotter | Spotter | LearnedSpotter
log = logging.getLogger("stream")


def make_spotter(config: StreamConfig, face_id: int = 0) -> AnySpotter:
    return SPOTTER_CLASSES[resolve(config)](config, face_id)


def resolve(config: StreamConfig) -> str:
    """The spotter that runs: ``auto`` is the learned one where its engine was trained for the source's frame
    rate, flow elsewhere (its windows are in seconds: a browser webcam at 10 fps) or without an engine."""
    return config.spotter if config.spotter != "auto" else _auto(config.spotter_model, config.fps)


@lru_cache(maxsize=16)
def _auto(model: str, fps: float) -> str:
    try:
        if LearnedSpotter.fits(StreamConfig(spotter="learned", spotter_model=model, fps=fps)):
            return "learned"
        why = f"its engine was trained for other frame rates than {fps:g} fps"
    except MexError as exc:
        why = str(exc)
    log.info("--spotter auto: flow, as the learned spotter does not fit here (%s)", why)
    return "flow"
