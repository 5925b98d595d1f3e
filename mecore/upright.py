"""Decoded video frames the way up their camera saw them.

Phones record portrait video as landscape frames and put the turn that displays them upright in the
container (the track's display matrix; the old ``rotate`` tag). FFmpeg's decoders, and so PyAV's, hand out
the frames as stored: a face filmed upright on a phone arrives lying on its side. The landmarker and the
alignment still find and straighten most such faces, but the window, the annotated and magnified videos and
the generator's clips would show the person on their side. Every reader of user video turns its frames with
``rgb`` below. Mirrored display matrices (rare, and not written by cameras) are read for their rotation only.
"""

from __future__ import annotations

import numpy as np


def quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that display a PyAV ``VideoFrame`` upright (0-3); 0 without a display matrix.

    PyAV's ``rotation`` is the display matrix's counter-clockwise angle in degrees: -90 for an iPhone's
    portrait video, which is shown turned a quarter clockwise."""
    return int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) % 4


def rgb(frame) -> np.ndarray:
    """The frame as upright RGB uint8 (H, W, 3), contiguous (what MediaPipe and OpenCV take)."""
    a = frame.to_ndarray(format="rgb24")
    k = quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(a, k)) if k else a
