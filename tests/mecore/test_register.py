"""Registration of the apex on its onset: a known face-wide motion is found and removed on a real face
(MediaPipe landmarks on the real face video), and a local movement survives it."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.face.align import Aligner, apply
from mecore.face.register import EYE_POINTS, GRID, MOUTH_POINTS, Registration, face_blocks
from mecore.face.tracker import FaceTracker

# the head's motion between onset and apex: 0.8 degrees of roll about the crop's centre, a 1.3 x -0.7 px shift
HEAD = cv2.getRotationMatrix2D((128.0, 128.0), 0.8, 1.0) + np.array([[0, 0, 1.3], [0, 0, -0.7]])
PULL = 2.0  # px: the lip corner's own movement (AU 12), outwards and up


@pytest.fixture(scope="module")
def onset(face_video, face_model):
    with av.open(str(face_video)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    with FaceTracker(face_model, mode="image", max_faces=1, blendshapes=False) as tracker:
        faces = tracker.detect(rgb)
    assert len(faces) == 1
    return Aligner(256).align(rgb, faces[0].landmarks)


def _pull(face, vertex: int, shift=(-PULL * 0.8, -PULL * 0.6), sigma: float = 6.0):
    """The crop with the skin around one landmark moved by ``shift`` px (a Gaussian bump)."""
    c = face.landmarks[vertex]
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    w = np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * sigma**2))
    image = cv2.remap(face.image, xx - shift[0] * w, yy - shift[1] * w, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return type(face)(image, face.matrix, face.landmarks)


def _moved(face, m):
    """The same face with content moved by the crop -> crop affine ``m`` (as a head motion would)."""
    image = cv2.warpAffine(face.image, m, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return type(face)(image, face.matrix, apply(m, face.landmarks))


def test_a_still_face_registers_to_the_identity(onset):
    m = Registration().matrix(onset, onset)
    pts = onset.landmarks
    assert np.abs(apply(m, pts) - pts).max() < 0.05


def test_the_heads_motion_is_found_despite_a_lip_corner_pull(onset):
    apex = _moved(_pull(onset, 61), HEAD)
    m = Registration().matrix(onset, apex)
    face = [i for i in range(468) if i not in MOUTH_POINTS]
    err = np.linalg.norm(apply(m, onset.landmarks[face]) - apply(HEAD, onset.landmarks[face]), axis=1)
    assert np.median(err) < 0.1 and err.max() < 0.3, (np.median(err), err.max())


def test_registration_removes_the_heads_motion_and_keeps_the_expression(onset):
    pulled = _pull(onset, 61)  # the apex as it would be had the head kept still
    apex = _moved(pulled, HEAD)
    out = Registration().register(onset, apex)
    inner = (slice(40, 216), slice(40, 216))

    def diff(a, b):
        return float(np.abs(a.image[inner].astype(np.float32) - b.image[inner]).mean())

    ideal = _moved(apex, cv2.invertAffineTransform(HEAD))  # warped back by the true motion: two interpolations
    assert diff(out, pulled) < 1.2 * diff(ideal, pulled) + 0.05, (diff(out, pulled), diff(ideal, pulled))
    assert diff(out, pulled) < 0.3 * diff(apex, pulled), (diff(out, pulled), diff(apex, pulled))
    c = np.rint(onset.landmarks[61]).astype(int)
    corner = (slice(c[1] - 8, c[1] + 9), slice(c[0] - 8, c[0] + 9))
    kept = np.abs(out.image[corner].astype(np.float32) - onset.image[corner]).mean()
    made = np.abs(pulled.image[corner].astype(np.float32) - onset.image[corner]).mean()
    assert kept > 0.7 * made, (kept, made)  # the lip corner's own movement survives
    # landmarks follow the content: the apex's nose bridge lands back on the onset's
    np.testing.assert_allclose(out.landmarks[168], onset.landmarks[168], atol=0.1)


def test_the_fit_leaves_out_the_eyes_and_the_mouth(onset):
    blocks = face_blocks(onset.landmarks, 256).reshape(GRID, GRID)
    cell = 256 / GRID
    for vertex in (EYE_POINTS[4], EYE_POINTS[20], 13, 14):  # lower lids and the lips' middle
        x, y = (onset.landmarks[vertex] // cell).astype(int)
        assert not blocks[y, x], vertex
    for vertex in (50, 280, 4, 151):  # cheeks, nose tip, forehead
        x, y = (onset.landmarks[vertex] // cell).astype(int)
        assert blocks[y, x], vertex
    assert 60 < blocks.sum() < GRID * GRID
