"""Several faces and small faces through the analyser (real MediaPipe, frames of the real face video)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.types import Frame
from stream.config import StreamConfig
from stream.pipeline import Analyzer
from stream.sinks import Summary
from tests.conftest import SHARED


@pytest.fixture(scope="module")
def face_images(face_video):
    with av.open(str(face_video)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(60), c.decode(video=0))]


def _canvas(w: int, h: int) -> np.ndarray:
    return np.full((h, w, 3), 90, np.uint8)


def _paste(canvas: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    h, w = img.shape[:2]
    canvas[y:y + h, x:x + w] = img


def test_a_small_face_is_tracked_and_marked_not_spotted(face_images, face_model):
    """face.mp4 at 0.28 of its size: the face about 100 px wide (under min_face_px 120)."""
    summary = Summary()
    with Analyzer(StreamConfig(classify=False, face_model=str(face_model))) as an:
        for i, img in enumerate(face_images[:20]):
            small = cv2.resize(img, None, fx=0.28, fy=0.28, interpolation=cv2.INTER_AREA)
            frame = _canvas(640, 480)
            _paste(frame, small, 250, 150)
            r = an.process(Frame(frame, i, i / 30))
            summary(r)
            assert {f.track_id for f in r.faces} <= r.small
        assert an._faces == {}  # no spotter was made for it
    faces = summary.report()["faces"]
    assert len(faces) == 1
    (v,) = faces.values()
    assert v["frames"] >= 18 and v["spotted_frames"] == 0


def _ids_top_and_bottom(frames, face_model) -> tuple[set[int], set[int], int]:
    """Through the analyser with max_faces 2: the ids of the upper and the lower face, frames with both."""
    ids_top, ids_bottom, both = set(), set(), 0
    with Analyzer(StreamConfig(classify=False, overlay=False, max_faces=2, face_model=str(face_model))) as an:
        for i, frame in enumerate(frames):
            faces = an.process(Frame(frame, i, i / 30)).faces
            if len(faces) == 2:
                both += 1
                top, bottom = sorted(faces, key=lambda f: f.bbox[1])
                ids_top.add(top.track_id)
                ids_bottom.add(bottom.track_id)
    return ids_top, ids_bottom, both


def test_two_faces_keep_their_ids_through_a_crossing(face_images, face_model):
    """Two faces (face.mp4 at half size) pass each other, one higher than the other, 14 px a frame."""
    def frames():
        for i in range(40):
            frame = _canvas(1280, 720)
            a = cv2.resize(face_images[i], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            b = cv2.resize(face_images[59 - i], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            _paste(frame, a, 20 + 14 * i, 40)
            _paste(frame, b, 1280 - 20 - b.shape[1] - 14 * i, 400)
            yield frame

    ids_top, ids_bottom, both = _ids_top_and_bottom(frames(), face_model)
    assert both >= 36
    assert len(ids_top) == 1 and len(ids_bottom) == 1 and ids_top != ids_bottom


def _real_frames(name: str, n: int) -> list[np.ndarray]:
    path = SHARED / "media" / "real" / name
    if not path.is_file():
        pytest.skip(f"{path}: real clip not present")
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), c.decode(video=0))]


def test_two_real_people_keep_their_ids_as_they_cross(face_model):
    """A talking man and a still woman (two real clips, faces about 135 and 145 px) slide past each other,
    one above the other: each keeps one id, and max_faces 2 tracks both on nearly every frame."""
    man = [cv2.resize(f, None, fx=0.65, fy=0.65, interpolation=cv2.INTER_AREA)
           for f in _real_frames("a_man_suit_talking.mp4", 40)]
    woman = _real_frames("b_woman_window_still.mp4", 40)

    def frames():
        for i in range(40):
            frame = _canvas(1280, 840)
            _paste(frame, man[i], round(i * (1280 - man[i].shape[1]) / 39), 0)
            _paste(frame, woman[i], round((39 - i) * (1280 - woman[i].shape[1]) / 39), 470)
            yield frame

    ids_man, ids_woman, both = _ids_top_and_bottom(frames(), face_model)
    assert both >= 36
    assert len(ids_man) == 1 and len(ids_woman) == 1 and ids_man != ids_woman
