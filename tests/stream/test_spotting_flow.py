"""The region optical-flow spotter on the real face video: MediaPipe landmarks and aligned crops of
face.mp4 (a person sitting still), with facial movements warped into the crops at known frames."""

from __future__ import annotations

import math

import av
import cv2
import numpy as np
import pytest

from mecore.face.align import Aligner
from mecore.face.tracker import FaceTracker
from stream.config import StreamConfig
from stream.spot_eval import Interval
from stream.spotting import blink_score
from stream.spotting_flow import REGIONS, FlowSpotter

CFG = StreamConfig(fps=30.0)
N = 240


@pytest.fixture(scope="module")
def face_frames(face_video, face_model):
    """(grey 256 crops, crop landmarks, blink, bbox) of the first N frames of face.mp4."""
    al, out = Aligner(256), []
    with av.open(str(face_video)) as c, FaceTracker(face_model, max_faces=1) as tr:
        for i, f in zip(range(N), c.decode(video=0)):
            rgb = f.to_ndarray(format="rgb24")
            face = tr.track(rgb, i * 33)[0]
            a = al.align(rgb, face.landmarks)
            out.append((cv2.cvtColor(a.image, cv2.COLOR_RGB2GRAY), a.landmarks,
                        blink_score(face.blendshapes, face.landmarks), face.bbox))
    return out


def _warp(grey: np.ndarray, centre: np.ndarray, vec: tuple[float, float], sigma: float = 14.0) -> np.ndarray:
    """Move the skin around ``centre`` by ``vec`` px (Gaussian fall-off): a local facial movement."""
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))
    return cv2.remap(grey, xx - vec[0] * g, yy - vec[1] * g, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _bump(i: int, onset: int, apex: int, offset: int, hold: int = 0) -> float:
    """0 outside (onset, offset), raised-cosine rise to 1 at the apex, held ``hold`` frames, then down."""
    if i <= onset or i >= offset + hold:
        return 0.0
    if i <= apex:
        return 0.5 - 0.5 * math.cos(math.pi * (i - onset) / (apex - onset))
    if i <= apex + hold:
        return 1.0
    return 0.5 - 0.5 * math.cos(math.pi * (offset + hold - i) / (offset - apex))


def _run(frames, moves=(), blinks=(), jaw=None, cfg=CFG):
    """Spot the frames with ``moves`` [(region, vec, f(i) -> 0..1)] applied; ``blinks``: frames with the eyes
    shut (the lids warped down and the blink score high); ``jaw``: f(i) -> jawOpen."""
    sp, events = FlowSpotter(cfg), []
    for i, (grey, lms, blink, (x0, y0, x1, y1)) in enumerate(frames):
        for region, vec, amount in moves:
            a = amount(i)
            if a > 0:
                grey = _warp(grey, lms[list(REGIONS[region][0])].mean(axis=0), (vec[0] * a, vec[1] * a))
        if i in blinks:
            for eye in ("eye_r", "eye_l"):
                grey = _warp(grey, lms[list(REGIONS[eye][0])].mean(axis=0), (0.0, 6.0), sigma=8.0)
            blink = 0.9
        evs, _ = sp.update(i, grey, lms, 256, blink, (0.5 * (x0 + x1), 0.5 * (y0 + y1)), x1 - x0,
                           {"jawOpen": jaw(i) if jaw else 0.0})
        events += evs
    return events + sp.flush(), sp


def test_event_free_real_face_gives_nothing(face_frames):
    events, _ = _run(face_frames)
    assert events == []


def test_brow_raise_is_a_micro_event_named_by_its_regions(face_frames):
    up = (0.0, -1.2)
    moves = [(r, up, lambda i: _bump(i, 100, 105, 111)) for r in ("brow_inner_r", "brow_inner_l")]
    events, _ = _run(face_frames, moves)
    assert len(events) == 1, events
    ev = events[0]
    assert ev.kind == "micro" and 102 <= ev.apex_frame <= 110
    assert Interval("c", 100, 111).iou(Interval("c", ev.onset_frame, ev.offset_frame)) >= 0.5
    assert set(ev.regions) & {"brow_inner_r", "brow_inner_l"} and 1 in ev.aus


def test_a_blink_inside_an_event_does_not_hide_it(face_frames):
    moves = [("mouth_r", (1.0, -1.0), lambda i: _bump(i, 100, 106, 113)),
             ("mouth_l", (-1.0, -1.0), lambda i: _bump(i, 100, 106, 113))]
    events, _ = _run(face_frames, moves, blinks=range(103, 108))
    assert [e.kind for e in events] == ["micro"], events
    assert not {"eye_r", "eye_l"} & set(events[0].regions)
    assert 100 <= events[0].apex_frame <= 112


def test_a_blink_alone_is_no_event(face_frames):
    events, _ = _run(face_frames, blinks=range(120, 126))
    assert events == []


def test_a_blink_that_pulls_the_cheeks_and_brows_is_no_event(face_frames):
    """A real blink moves the upper cheeks and the brows a little too (orbicularis oculi)."""
    def pull(i):
        return _bump(i, 118, 122, 127)

    moves = [(r, (0.0, 1.2 if r.startswith("brow") else -1.2), pull)
             for r in ("cheek_r", "cheek_l", "brow_inner_r", "brow_inner_l")]
    events, sp = _run(face_frames, moves, blinks=range(120, 126))
    assert events == [] and sp.suppressed["blink"] == 1, events


def test_speech_like_mouth_motion_gives_no_micro_event(face_frames):
    """The lower lip and chin going down and up at 4 Hz for 4 s, jawOpen with them."""
    def talk(i):
        return max(0.0, math.sin(2 * math.pi * 4 * (i - 60) / 30)) if 60 <= i < 180 else 0.0

    moves = [("lower_lip", (0.0, 3.0), talk), ("chin", (0.0, 2.0), talk)]
    events, _ = _run(face_frames, moves, jaw=lambda i: 0.25 * talk(i))
    assert [e for e in events if e.kind == "micro"] == []


def test_a_held_expression_is_macro(face_frames):
    """A smile: 0.3 s up, held 0.9 s, 0.3 s down (1.5 s)."""
    moves = [("mouth_r", (2.5, -2.0), lambda i: _bump(i, 60, 69, 78, hold=27)),
             ("mouth_l", (-2.5, -2.0), lambda i: _bump(i, 60, 69, 78, hold=27)),
             ("cheek_r", (0.0, -1.5), lambda i: _bump(i, 60, 69, 78, hold=27)),
             ("cheek_l", (0.0, -1.5), lambda i: _bump(i, 60, 69, 78, hold=27))]
    events, _ = _run(face_frames, moves)
    assert events and all(e.kind == "macro" for e in events), events


def _yaw(rgb: np.ndarray, cx: float, radius: float, theta: float) -> np.ndarray:
    """The frame as if the head, a vertical cylinder of ``radius`` px about x = ``cx``, turned by ``theta`` rad:
    the middle of the face moves more than its sides (the parallax a 2-D alignment cannot remove)."""
    h, w = rgb.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    u = np.clip((xx - cx) / radius, -1.0, 1.0)
    src = np.where(np.abs(u) < 1.0, cx + radius * np.sin(np.clip(np.arcsin(u) - theta, -math.pi / 2, math.pi / 2)), xx)
    return cv2.remap(rgb, src.astype(np.float32), yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _turn(i: int) -> float:
    """0..1 of a 20 degree turn: away over 0.4 s from frame 90, held 0.5 s, back over 0.4 s; then a glance of
    60 % of it, there and back within 0.55 s, at frame 180."""
    def rc(x):
        return 0.5 - 0.5 * math.cos(math.pi * min(max(x, 0.0), 1.0))

    return rc((i - 90) / 12) - rc((i - 117) / 12) + 0.6 * (rc((i - 180) / 8) - rc((i - 190) / 8))


def test_a_head_turn_on_an_event_free_clip_gives_no_micro_event(face_video, face_model):
    """face.mp4 (no expression) with the head turned in the frame before MediaPipe sees it (real landmarks,
    real alignment of the turned face)."""
    al, frames = Aligner(256), []
    with av.open(str(face_video)) as c, FaceTracker(face_model, max_faces=1) as tr:
        for i, f in zip(range(N), c.decode(video=0)):
            rgb = f.to_ndarray(format="rgb24")
            if i == 0:
                x0, _, x1, _ = tr.track(rgb, 0)[0].bbox
                cx, radius = 0.5 * (x0 + x1), 0.75 * (x1 - x0)
            rgb = _yaw(rgb, cx, radius, math.radians(20.0) * _turn(i))
            face = tr.track(rgb, (i + 1) * 33)[0]
            a = al.align(rgb, face.landmarks)
            frames.append((cv2.cvtColor(a.image, cv2.COLOR_RGB2GRAY), a.landmarks,
                           blink_score(face.blendshapes, face.landmarks), face.bbox))
    events, _ = _run(frames)
    assert [e for e in events if e.kind == "micro"] == [], events


def test_config_rejects_an_unknown_spotter():
    with pytest.raises(ValueError, match="spotter"):
        StreamConfig(spotter="magic")

