"""The overlay on a real-size frame: box and id, the fading label, the magnified face of the current
prediction only, the timeline panel, the stage timings; always on a copy."""

from __future__ import annotations

import numpy as np

from mecore.types import FaceTrack, Prediction, SpotEvent
from stream.config import StreamConfig
from stream.overlay import FaceView, draw
from stream.spotting import SignalPoint

CFG = StreamConfig(fps=30.0, label_fade_s=1.0, timeline_s=2.0)
EV = SpotEvent(0, 10, 14, 18, 3.0, 30.0)


def _face() -> FaceTrack:
    return FaceTrack(0, np.zeros((478, 3), np.float32), (200.0, 120.0, 360.0, 300.0), {})


def _view(ready: bool) -> FaceView:
    view = FaceView()
    for i in range(30):
        view.add_signal(SignalPoint(i, 0.01 * (i == 14), 0.005, False), CFG.frames(CFG.timeline_s))
    view.add_event(EV)
    view.add_prediction(Prediction(EV, "surprise", {"surprise": 0.9, "others": 0.1}, "test", 50.0), at=20)
    if ready:
        view.add_inset(EV)
    return view


def test_draws_on_a_copy_with_box_label_inset_and_timeline():
    rgb = np.full((480, 640, 3), 90, np.uint8)
    inset = np.zeros((256, 256, 3), np.uint8)
    inset[:, :, 0] = 255  # pure red: easy to find
    out = draw(rgb, [_face()], {0: _view(True)}, 30, CFG, 25.0, {"landmarks": 12.3, "encode": 4.0}, 20,
               {0: inset})
    assert out is not rgb and (rgb == 90).all()  # the frame itself untouched
    side = min(480, 640) // 4
    corner = out[6:6 + side, 640 - side - 6:640 - 6]
    assert (corner[..., 0] > 250).mean() > 0.95 and (corner[..., 1] < 5).mean() > 0.95  # the inset, top right
    assert (out[120, 200:361] != 90).any() and (out[300, 200:361] != 90).any()  # the box
    assert (out[480 - 480 // 6:, :] != 90).mean() > 0.9  # the timeline panel (darkened)
    label_row = out[95:118, 200:400]
    assert (np.abs(label_row.astype(int) - 90).sum(axis=2) > 100).any()  # the label, fresh


def test_the_inset_waits_for_its_prediction_and_the_label_fades():
    rgb = np.full((480, 640, 3), 90, np.uint8)
    stale = np.zeros((256, 256, 3), np.uint8)  # an older event's face: not this prediction's
    out = draw(rgb, [_face()], {0: _view(False)}, 30, CFG, 25.0, {}, 20, {0: stale})
    side = min(480, 640) // 4
    assert (out[6:6 + side, 640 - side - 6:640 - 6] == 90).mean() > 0.5  # no inset drawn yet
    late = draw(rgb, [_face()], {0: _view(True)}, 30, CFG, 25.0, {}, 20 + CFG.frames(CFG.label_fade_s), {})
    fresh = draw(rgb, [_face()], {0: _view(True)}, 30, CFG, 25.0, {}, 20, {})
    unlabelled = _view(True)
    unlabelled.prediction = None
    none = draw(rgb, [_face()], {0: unlabelled}, 30, CFG, 25.0, {}, 20, {})
    band = (slice(95, 118), slice(200, 400))
    assert not np.array_equal(fresh[band], none[band])  # the label is drawn ...
    assert np.array_equal(late[band], none[band])  # ... and gone after label_fade_s
