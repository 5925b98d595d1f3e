"""Spotting: the online Moilanen detector on controlled frames, and the whole path on real clips."""

from __future__ import annotations

import numpy as np
import pytest

from stream.config import StreamConfig
from stream.spot_eval import Interval, read_synthetic, score, spot_video
from stream.spotting import EYE_POINTS, BlockFeatures, Spotter

SIZE = 256


def _landmarks() -> np.ndarray:
    """Landmarks in a 256 crop: the eyes where an aligned face has them, the rest on a face-sized oval."""
    t = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    lms = np.stack([128 + 100 * np.cos(t), 140 + 112 * np.sin(t)], axis=1).astype(np.float32)
    for i, p in enumerate(EYE_POINTS):
        cx = 85.0 if i < 16 else 171.0
        lms[p] = (cx + 14 * np.cos(i), 100 + 5 * np.sin(i))
    return lms


def _frames(n, moving, region, rng, amplitude=14.0):
    """n grey 256x256 frames with noise; in frames ``moving`` a bump rises and falls in ``region``."""
    base = rng.integers(60, 200, (SIZE, SIZE)).astype(np.float32)
    base = np.array(__import__("cv2").GaussianBlur(base, (0, 0), 3))
    y0, y1, x0, x1 = region
    out = []
    for i in range(n):
        img = base + rng.normal(0, 1.0, base.shape)
        if i in moving:
            a = np.sin(np.pi * (i - moving.start + 1) / (len(moving) + 1))
            img[y0:y1, x0:x1] += amplitude * a
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _run(frames, cfg, blinks=None):
    sp = Spotter(cfg)
    lms = _landmarks()
    events = []
    for i, g in enumerate(frames):
        evs, _ = sp.update(i, g, lms, SIZE, blink=0.0 if blinks is None else blinks[i])
        events += evs
    return events + sp.flush(), sp


CFG = StreamConfig(fps=30, classify=False)
MOUTH = (170, 200, 100, 156)
EYE = (92, 108, 72, 100)


def test_k_and_windows_scale_with_fps():
    assert StreamConfig(fps=30).k == 4 and StreamConfig(fps=200).k == 30
    assert StreamConfig(fps=200).history > StreamConfig(fps=30).history
    with pytest.raises(ValueError, match="threshold_p"):
        StreamConfig(threshold_p=1.5)
    with pytest.raises(ValueError, match="fps"):
        StreamConfig(fps=0)


def test_a_short_mouth_movement_is_one_event_at_its_apex():
    rng = np.random.default_rng(0)
    events, _ = _run(_frames(150, range(90, 99), MOUTH, rng), CFG)
    assert len(events) == 1
    ev = events[0]
    assert 92 <= ev.apex_frame <= 97
    assert Interval("v", ev.onset_frame, ev.offset_frame).iou(Interval("v", 90, 98)) >= 0.5
    assert ev.score > 1 and ev.fps == 30


def test_still_face_and_slow_drift_give_no_event():
    rng = np.random.default_rng(1)
    frames = _frames(200, range(0), MOUTH, rng)
    drift = [np.clip(f.astype(np.float32) + 0.2 * i, 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    assert _run(frames, CFG)[0] == []
    assert _run(drift, CFG)[0] == []


def test_only_blocks_inside_the_face_count():
    rng = np.random.default_rng(4)
    corner = (0, 30, 0, 30)  # background outside the face oval: alignment residue, not expression
    assert _run(_frames(150, range(90, 99), corner, rng, amplitude=40), CFG)[0] == []
    assert len(_run(_frames(150, range(90, 99), corner, rng, amplitude=40), CFG.updated(face_cover=0.0))[0]) == 1
    keep = BlockFeatures(128, 8, "intensity").mask(_landmarks(), SIZE, eyes=False)
    assert keep.reshape(8, 8)[4, 4] and not keep.reshape(8, 8)[0, 0]


def test_a_movement_below_the_contrast_floor_is_noise():
    rng = np.random.default_rng(5)
    frames = _frames(150, range(90, 99), MOUTH, rng, amplitude=1.0)  # one grey level, noise sigma 1
    assert len(_run(frames, CFG.updated(min_contrast=0.0))[0]) == 1  # relative to a still window: an event
    assert _run(frames, CFG)[0] == []  # but a fraction of a grey level in the top blocks
    assert CFG.contrast_floor == 1.3e-3 and CFG.updated(feature="lbp").contrast_floor == 0.0


def test_a_change_spread_over_the_whole_face_is_not_an_event():
    """A sub-pixel shift of the whole aligned crop (alignment residue) changes every block alike: F less
    the blocks' lower quartile stays flat. Without the baseline the same shift is an event."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    rng, moving = np.random.default_rng(7), range(90, 99)
    frames = []
    for i in range(150):
        shift = 0.5 * np.sin(np.pi * (i - moving.start + 1) / (len(moving) + 1)) if i in moving else 0.0
        img = 128 + 40 * np.sin(2 * np.pi * (x + shift + y) / 16) + rng.normal(0, 1.0, x.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    assert _run(frames, CFG)[0] == []
    assert len(_run(frames, CFG.updated(baseline_quantile=None))[0]) == 1
    with pytest.raises(ValueError, match="baseline_quantile"):
        StreamConfig(baseline_quantile=0.9)


def test_a_strong_event_is_emitted_once_its_contrast_falls_to_a_fraction_of_its_peak():
    frames = _frames(150, range(90, 99), MOUTH, np.random.default_rng(6), amplitude=40)

    def emitted_at(cfg):
        sp, lms = Spotter(cfg), _landmarks()
        for i, g in enumerate(frames):
            evs, _ = sp.update(i, g, lms, SIZE)
            if evs:
                return i, evs[0]

    early, ev = emitted_at(CFG)
    late, ev_late = emitted_at(CFG.updated(close_fraction=0.0))  # only below T: waits out the tail
    assert early < late and (ev.onset_frame, ev.apex_frame) == (ev_late.onset_frame, ev_late.apex_frame)
    assert early - ev.apex_frame <= 2 * CFG.k + CFG.frames(CFG.merge_s) + 2


def test_blinks_do_not_trigger():
    rng = np.random.default_rng(2)
    # movement inside the eyes: masked blocks
    assert _run(_frames(150, range(90, 96), EYE, rng, amplitude=40), CFG)[0] == []
    # a mouth movement during which the blendshapes report a blink: gated
    blinks = [0.9 if 88 <= i <= 100 else 0.05 for i in range(150)]
    events, sp = _run(_frames(150, range(90, 99), MOUTH, rng), CFG, blinks)
    assert events == [] and sp.suppressed["blink"] == 1


def test_long_movements_are_not_micro_expressions():
    rng = np.random.default_rng(3)
    events, sp = _run(_frames(200, range(60, 130), MOUTH, rng, amplitude=30), CFG.updated(max_event_s=0.5))
    assert all(e.offset_frame - e.onset_frame < 20 for e in events)


def test_lbp_feature_is_a_normalised_histogram_per_block():
    bf = BlockFeatures(128, 8, "lbp")
    h = bf(np.random.default_rng(0).integers(0, 255, (128, 128), dtype=np.uint8))
    assert h.shape == (64, 59) and np.allclose(h.sum(1), 1.0)
    assert np.allclose(bf.distance(h, h), 0.0)


def test_spots_injected_events_in_a_long_clip_made_from_the_real_face(face_long_clip):
    truth, _ = read_synthetic(face_long_clip.with_suffix(".json"))
    preds, frames, fps = spot_video(face_long_clip)
    s = score(truth, {face_long_clip.stem: preds})["overall"]
    assert frames > 200 and fps == pytest.approx(30, abs=0.1)
    assert s["recall"] >= 0.6 and s["precision"] >= 0.6, s


def test_event_free_real_face_gives_at_most_one_false_event_per_minute(face_video):
    preds, frames, fps = spot_video(face_video)
    minutes = frames / fps / 60
    assert len(preds) <= max(0, int(1 * minutes)), preds
