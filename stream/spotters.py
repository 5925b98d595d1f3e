"""The spotters by name (``--spotter``): each is one face's online spotter with the same verbs,
``update(index, grey, crop_landmarks, crop_size, blink, centre, face_width, blendshapes) -> (events, signal)``,
``flush() -> events`` and ``reconfigure(config)``; ``guess`` is the micro event that ``update`` expects to emit
within a few frames (None when it has none: the flow and Moilanen spotters emit within a frame or two of
the offset anyway), which the stream classifies ahead of time."""

from __future__ import annotations

from stream.config import StreamConfig
from stream.spotting import Spotter
from stream.spotting_flow import FlowSpotter
from stream.spotting_learned import LearnedSpotter

SPOTTER_CLASSES = {"flow": FlowSpotter, "moilanen": Spotter, "learned": LearnedSpotter}
AnySpotter = FlowSpotter | Spotter | LearnedSpotter


def make_spotter(config: StreamConfig, face_id: int = 0) -> AnySpotter:
    return SPOTTER_CLASSES[config.spotter](config, face_id)
