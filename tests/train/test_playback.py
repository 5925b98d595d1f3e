"""How a short real video is played to a long clip's length: turning back at its stillest frames."""

from __future__ import annotations

import numpy as np

from train.synth.playback import face_motion, ping_pong, playback, still_span, turns


def _face(m: int, still: set[int], seed: int = 0) -> np.ndarray:
    """(m, 478, 2) landmarks of a 200-px face moving on its own (each point a little, every frame) except at the
    frames in ``still``, while the whole head turns and drifts every frame."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 200, (478, 2))
    own = np.cumsum([np.zeros((478, 2)) if s in still or s == 0 else rng.normal(0, 0.5, (478, 2)) for s in range(m)], 0)
    out = []
    for s in range(m):
        a = 0.01 * s
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * (1 + 0.002 * s)
        out.append((base + own[s]) @ rot.T + [3.0 * s, -1.0 * s])
    return np.asarray(out, np.float32)


def test_head_motion_is_not_face_motion():
    lms = _face(20, still=set(range(20)))
    assert face_motion(lms).max() < 1e-5  # turned, scaled and moved, but the face itself never moved
    moving = face_motion(_face(20, still=set()))
    assert moving[0] == 0 and moving[1:].min() > 1e-3  # 0.5 px per point on a 200-px face: about 3e-3 face widths


def test_turns_at_the_stillest_frames_of_the_first_and_last_thirds():
    # 90 frames at 30 fps: a turn mirrors 6 frames; the face holds still after frame 10 and before frame 76
    lms = _face(90, still=set(range(11, 17)) | set(range(71, 77)))
    assert still_span(lms, 30.0) == (10, 76)
    order = playback(300, lms, 30.0)
    assert order[0] == 10 and order.min() == 10 and order.max() == 76
    assert sorted({int(order[i]) for i in turns(order)}) == [10, 76]  # it turns there and nowhere else


def test_long_enough_or_too_short_to_choose():
    lms = _face(30, still=set())
    assert playback(30, lms, 30.0).tolist() == list(range(30))  # long enough: once, from its start
    assert still_span(lms, 30.0) == (0, 29)  # under six turn stretches (36 frames): its ends
    assert playback(45, lms, 30.0).tolist() == ping_pong(45, 30).tolist()


def test_turns_are_where_the_order_goes_back():
    assert turns(ping_pong(9, 4)) == [3, 6]
    assert turns(np.arange(10)) == []
