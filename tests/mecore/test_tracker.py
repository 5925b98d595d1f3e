"""FaceTracker with the real MediaPipe model on the real face video (and frames built from it)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from mecore.errors import MexError
from mecore.face.tracker import FaceTracker

FRAME_MS = 33


@pytest.fixture(scope="module")
def clip(face_video) -> list[np.ndarray]:
    with av.open(str(face_video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def tracked(face_model, clip):
    with FaceTracker(face_model) as tracker:
        return [tracker.track(frame, i * FRAME_MS) for i, frame in enumerate(clip)]


def test_landmarks_and_blendshapes_on_every_frame(clip, tracked):
    h, w = clip[0].shape[:2]
    assert [len(faces) for faces in tracked] == [1] * len(clip)
    for faces in tracked[::30]:
        face = faces[0]
        assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
        assert face.points.shape == (478, 2)
        x, y = face.points[:, 0], face.points[:, 1]
        assert (x > 0).all() and (x < w).all() and (y > 0).all() and (y < h).all()
        assert face.bbox == pytest.approx((x.min(), y.min(), x.max(), y.max()), abs=1e-3)
        assert face.bbox[2] - face.bbox[0] > 0.3 * w  # pixels, not normalised coordinates
        assert len(face.blendshapes) == 52
        assert all(0.0 <= v <= 1.0 for v in face.blendshapes.values())
        assert "mouthSmileLeft" in face.blendshapes and "browInnerUp" in face.blendshapes


def test_track_id_stable_over_the_clip(tracked):
    ids = {faces[0].track_id for faces in tracked}
    assert len(ids) == 1


def _pair(frame: np.ndarray) -> np.ndarray:
    return np.concatenate([frame, frame], axis=1)


def test_two_faces_get_two_stable_ids(face_model, clip):
    width = clip[0].shape[1]
    by_side: dict[str, set[int]] = {"left": set(), "right": set()}
    counts = []
    with FaceTracker(face_model, max_faces=2) as tracker:
        for i, frame in enumerate(clip[:24]):
            faces = tracker.track(_pair(frame), i * FRAME_MS)
            counts.append(len(faces))
            for face in faces:
                centre = (face.bbox[0] + face.bbox[2]) / 2
                by_side["left" if centre < width else "right"].add(face.track_id)
    assert counts[-10:] == [2] * 10, counts  # MediaPipe may pick the second face up a few frames late
    assert len(by_side["left"]) == 1 and len(by_side["right"]) == 1, by_side
    assert by_side["left"] != by_side["right"]


def test_face_that_leaves_and_comes_back(face_model, clip):
    blank = np.full_like(clip[0], 40)
    with FaceTracker(face_model, max_lost=15) as tracker:
        ts = iter(range(0, 10**7, FRAME_MS))

        def run(frames):
            return [tracker.track(f, next(ts)) for f in frames]

        first = run(clip[:5])
        gone = run([blank] * 6)  # shorter than max_lost: the id is kept
        back = run(clip[5:12])
        gone_long = run([blank] * 20)  # longer than max_lost: a new id
        new = run(clip[12:19])
    first_id = first[-1][0].track_id
    assert all(len(f) == 0 for f in gone + gone_long)
    back_ids = {f[0].track_id for f in back if f}
    new_ids = {f[0].track_id for f in new if f}
    assert len([f for f in back if f]) >= 5 and len([f for f in new if f]) >= 5
    assert back_ids == {first_id}
    assert len(new_ids) == 1 and first_id not in new_ids


def test_non_increasing_timestamps_are_bumped(face_model, clip):
    with FaceTracker(face_model) as tracker:
        assert len(tracker.track(clip[0], 1000)) == 1
        assert len(tracker.track(clip[1], 1000)) == 1  # same timestamp
        assert len(tracker.track(clip[2], 500)) == 1  # going back (e.g. a reconnect)


def test_image_mode_ids_left_to_right(face_model, clip):
    frame = _pair(clip[0])
    with FaceTracker(face_model, mode="image") as tracker:
        faces = tracker.detect(frame)
        again = tracker.detect(clip[0])
    assert [f.track_id for f in faces] == [0, 1]
    assert faces[0].bbox[2] < faces[1].bbox[0]
    assert faces[0].landmarks.shape == (478, 3) and len(faces[0].blendshapes) == 52
    # the same face, half a frame apart: landmarks identical up to the offset (same pixels)
    assert np.abs(faces[1].points - faces[0].points - [clip[0].shape[1], 0]).max() < 2.0
    assert len(again) == 1


def test_blendshapes_off(face_model, clip):
    with FaceTracker(face_model, mode="image", blendshapes=False, max_faces=1) as tracker:
        faces = tracker.detect(clip[0])
    assert len(faces) == 1 and faces[0].blendshapes == {}


def test_missing_model_is_one_line_error_naming_path(tmp_path):
    path = tmp_path / "nowhere" / "face_landmarker.task"
    with pytest.raises(MexError) as err:
        FaceTracker(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_corrupt_model_is_one_line_error_naming_path(tmp_path):
    path = tmp_path / "face_landmarker.task"
    path.write_bytes(b"not a model\n" * 100)
    with pytest.raises(MexError) as err:
        FaceTracker(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_bad_arguments(face_model):
    with pytest.raises(ValueError):
        FaceTracker(face_model, mode="stream")
    with FaceTracker(face_model) as tracker, pytest.raises(ValueError, match="RGB uint8"):
        tracker.track(np.zeros((10, 10), np.uint8), 0)
