"""Faces far from the camera and several faces: the tile finder, the crop tracks, the One-Euro filter
(real MediaPipe on frames of real video)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.errors import MexError
from mecore.face.crops import crop_matrix
from mecore.face.finder import Detection, FaceFinder, suppress, tile_origins
from mecore.face.smooth import OneEuro
from mecore.face.tracker import FaceTracker
from tests.conftest import SHARED

FRAME_MS = 33


@pytest.fixture(scope="module")
def clip(face_video) -> list[np.ndarray]:
    with av.open(str(face_video)) as container:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(40), container.decode(video=0))]


def _far(frame: np.ndarray, width: int, x: int, y: int) -> np.ndarray:
    """The frame shrunk to ``width`` px, pasted at (x, y) into a 1280x720 grey frame."""
    small = cv2.resize(frame, (width, round(width * frame.shape[0] / frame.shape[1])), interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 110, np.uint8)
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def test_tiles_cover_the_frame_and_overlap():
    assert tile_origins(100, 240, 0.25) == [0]
    starts = tile_origins(1280, 240, 0.25)
    assert starts[0] == 0 and starts[-1] == 1280 - 240
    assert all(b - a <= 180 for a, b in zip(starts, starts[1:]))  # neighbours overlap by >= a quarter


def test_suppress_keeps_the_best_of_one_face_and_both_of_two():
    a = Detection((0, 0, 40, 40), 0.9)
    a2 = Detection((2, 1, 42, 41), 0.7)
    b = Detection((100, 0, 140, 40), 0.8)
    assert suppress([a2, b, a]) == [a, b]


def test_crop_matrix_maps_the_box_centre_to_the_crop_centre():
    m, x0, y0, side = crop_matrix((100, 200, 140, 250), 3.0, 256)
    assert side == pytest.approx(150) and (x0, y0) == pytest.approx((45, 150))
    assert m @ np.array([120, 225, 1.0]) == pytest.approx([128, 128])


def test_one_euro_steadies_noise_and_follows_a_move():
    rng = np.random.default_rng(0)
    f = OneEuro(min_cutoff=1.0, beta=5.0)
    still = [f.filter(np.array([100.0 + rng.normal(0, 0.5)]), i / 30, scale=100.0)[0] for i in range(60)]
    assert np.std(still[30:]) < 0.5 * 0.5
    moved = [f.filter(np.array([100.0 + 3.0 * i]), 2 + i / 30, scale=100.0)[0] for i in range(1, 31)]
    assert moved[-1] > 100.0 + 3.0 * 30 - 10  # a fast head move: lags by a few px, not by its whole path
    with pytest.raises(ValueError):
        OneEuro(min_cutoff=0)


def test_a_far_face_is_found_and_its_landmarks_land_on_it(face_model, clip):
    """face.mp4 at 66 px wide in a 1280x720 frame: its face about 45 px, too small for the landmarker."""
    frames = [_far(f, 66, 900, 420) for f in clip[:20]]
    with FaceTracker(face_model, max_faces=1) as plain:
        assert sum(bool(plain.track(f, i * FRAME_MS)) for i, f in enumerate(frames)) == 0
    with FaceTracker(face_model, max_faces=1, far_faces=True) as tracker:
        got = [tracker.track(f, i * FRAME_MS) for i, f in enumerate(frames)]
    assert sum(len(g) == 1 for g in got) >= 19
    assert len({g[0].track_id for g in got if g}) == 1
    for g in got:
        if g:
            x, y = g[0].points[:, 0], g[0].points[:, 1]
            assert x.min() >= 900 and x.max() <= 966 and y.min() >= 420 and y.max() <= 420 + 74
            assert 35 < g[0].bbox[2] - g[0].bbox[0] < 55


def test_a_crowd_gives_a_face_in_every_frame(face_model):
    """The real crowd clip (faces 30-60 px in 1280x720): none found without far faces."""
    path = SHARED / "media" / "real" / "d_times_square_crowd.mp4"
    if not path.is_file():
        pytest.skip(f"{path}: real crowd clip not present")
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(30), container.decode(video=0))]
    with FaceTracker(face_model, max_faces=3, far_faces=True, scan_every=10) as tracker:
        counts = [len(tracker.track(f, i * FRAME_MS)) for i, f in enumerate(frames)]
    assert min(counts) >= 1 and np.mean(counts) >= 2.0, counts


def test_more_places_than_faces_no_longer_jitters(face_model, clip):
    """max_faces 2 with one face in view: MediaPipe alone re-detects every frame (landmarks 20x as jumpy as
    with 1); with far faces its landmarks are as steady as with max_faces 1."""

    def motion(**kw) -> float:
        with FaceTracker(face_model, **kw) as tracker:
            pts = [tracker.track(f, i * FRAME_MS)[0].points for i, f in enumerate(clip)]
        return float(np.median([np.median(np.linalg.norm(b - a, axis=1)) for a, b in zip(pts, pts[1:])]))

    one = motion(max_faces=1)
    assert motion(max_faces=2, far_faces=False) > 5 * one  # the jitter this removes
    assert motion(max_faces=2, far_faces=True) < 1.5 * one


def test_bundle_without_a_detector_is_one_line_error(tmp_path):
    import zipfile

    path = tmp_path / "face_landmarker.task"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("other.tflite", b"x")
    with pytest.raises(MexError) as err:
        FaceFinder(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
