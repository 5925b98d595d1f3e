"""Alignment: exact maths on synthetic points, and real MediaPipe landmarks on the real face video."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.face import align
from mecore.face.align import STABLE_INDICES, Aligner
from mecore.face.tracker import FaceTracker

FRAMES = (0, 100, 200)
# A global head motion between two frames: 3 degrees roll, 3 % closer, a 12.5 x -7.25 px shift.
ANGLE, SCALE, SHIFT = 3.0, 1.03, (12.5, -7.25)


@pytest.fixture(scope="module")
def frames(face_video) -> list[np.ndarray]:
    out = []
    with av.open(str(face_video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in FRAMES:
                out.append(frame.to_ndarray(format="rgb24"))
            if i >= max(FRAMES):
                break
    return out


@pytest.fixture(scope="module")
def detector(face_model):
    with FaceTracker(face_model, mode="image", max_faces=1, blendshapes=False) as tracker:
        yield tracker


def _landmarks(detector, rgb) -> np.ndarray:
    faces = detector.detect(rgb)
    assert len(faces) == 1
    return faces[0].landmarks


def test_template_constants_come_from_the_models_canonical_mesh(face_model):
    mesh = align.canonical_mesh(face_model)
    assert mesh.shape == (468, 3)
    canon = np.array(list(align.STABLE_POINTS.values()))
    np.testing.assert_allclose(mesh[list(STABLE_INDICES), :2], canon, atol=1e-5)
    lo, hi = mesh[:, 1].min(), mesh[:, 1].max()
    assert hi - lo == pytest.approx(align.MESH_HEIGHT, abs=1e-4)
    assert (lo + hi) / 2 == pytest.approx(align.MESH_CENTRE[1], abs=1e-4)
    assert mesh[:, 0].mean() == pytest.approx(align.MESH_CENTRE[0], abs=1e-4)


def test_template_is_upright_symmetric_and_scales_with_size():
    t = align.template(256)
    by_index = dict(zip(STABLE_INDICES, t))
    assert by_index[33][0] < by_index[133][0] < 128 < by_index[362][0] < by_index[263][0]
    assert by_index[33][1] == pytest.approx(by_index[263][1])  # eyes level
    assert by_index[168][0] == pytest.approx(128.0)
    assert by_index[168][1] < by_index[6][1] < by_index[197][1]  # bridge runs downwards
    np.testing.assert_allclose(align.template(128), t / 2)


def test_similarity_recovers_a_known_transform_exactly():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 500, (7, 2))
    angle, scale, t = np.deg2rad(-17.0), 0.61, np.array([31.5, -12.25])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + t
    m = align.similarity(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-10)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-8)
    # a reflection cannot be represented: the fit of a mirrored set is not exact
    mirrored = dst * [-1, 1]
    assert np.abs(align.apply(align.similarity(src, mirrored), src) - mirrored).max() > 1.0


def test_whole_face_fits_in_the_crop(detector, frames):
    aligner = Aligner(256)
    for rgb in frames:
        face = aligner.align(rgb, _landmarks(detector, rgb))
        assert face.image.shape == (256, 256, 3) and face.image.dtype == np.uint8
        assert face.matrix.shape == (2, 3) and face.matrix.dtype == np.float64
        assert face.landmarks.shape == (478, 2)
        assert face.landmarks.min() > 4 and face.landmarks.max() < 252  # brows to chin, with margin
        # stable points land on the template (a least-squares fit, so only close)
        err = np.linalg.norm(face.landmarks[list(STABLE_INDICES)] - align.template(256), axis=1)
        assert err.max() < 6.0


def test_alignment_removes_a_global_shift_and_rotation(detector, frames):
    aligner = Aligner(256)
    idx = list(STABLE_INDICES)
    for rgb in frames:
        h, w = rgb.shape[:2]
        motion = cv2.getRotationMatrix2D((w / 2, h / 2), ANGLE, SCALE)
        motion[:, 2] += SHIFT
        moved = cv2.warpAffine(rgb, motion, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        lm0, lm1 = _landmarks(detector, rgb), _landmarks(detector, moved)
        raw = np.linalg.norm(lm1[idx, :2] - lm0[idx, :2], axis=1).mean()
        a0, a1 = aligner.align(rgb, lm0), aligner.align(moved, lm1)
        residual = np.sqrt((np.linalg.norm(a1.landmarks[idx] - a0.landmarks[idx], axis=1) ** 2).mean())
        assert raw > 8.0  # the injected motion is large in the frame...
        assert residual < 0.5, f"stable-point RMS residual {residual:.3f} px"  # ...and gone in the crop
        # the pixels agree too: far better than cropping the moved frame with the still frame's matrix
        still = aligner.warp(moved, a0.matrix).image.astype(np.float32)
        diff_aligned = np.abs(a1.image.astype(np.float32) - a0.image).mean()
        diff_unaligned = np.abs(still - a0.image).mean()
        assert diff_aligned < 0.5 * diff_unaligned


def test_inverse_maps_the_crop_back_to_the_frame(detector, frames):
    rgb = frames[0]
    lms = _landmarks(detector, rgb)
    face = Aligner(256).align(rgb, lms)
    np.testing.assert_allclose(face.to_source(face.landmarks), lms[:, :2], atol=1e-3)
    back = np.vstack([face.inverse, [0, 0, 1]]) @ np.vstack([face.matrix, [0, 0, 1]])
    np.testing.assert_allclose(back, np.eye(3), atol=1e-9)


def test_other_crop_sizes(detector, frames):
    lms = _landmarks(detector, frames[0])
    big, small = Aligner(256).align(frames[0], lms), Aligner(128).align(frames[0], lms)
    assert small.image.shape == (128, 128, 3)
    np.testing.assert_allclose(small.landmarks, big.landmarks / 2, atol=1e-3)


def test_bad_landmarks_raise():
    with pytest.raises(ValueError):
        Aligner().estimate(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        Aligner().estimate(np.zeros((478, 3)))


def test_in_frame_of_recuts_a_crop_with_the_reference_matrix(detector, frames):
    """The apex crop re-cut in the onset's frame is the crop the onset's matrix cuts from the apex frame
    (up to one more interpolation), and its landmarks follow."""
    aligner = Aligner(256)
    rgb = frames[0]
    lms = _landmarks(detector, rgb)
    ref = aligner.align(rgb, lms)
    jittered = lms.copy()
    jittered[:, :2] += np.array([1.5, -0.8])  # the landmarks' jitter: a crop moved by it
    other = aligner.align(rgb, jittered)
    inner = (slice(20, 236), slice(20, 236))
    moved = np.abs(other.image[inner].astype(np.float32) - ref.image[inner]).mean()
    held = align.in_frame_of(ref, other)
    np.testing.assert_allclose(held.matrix, ref.matrix)
    np.testing.assert_allclose(held.landmarks, aligner.warp(rgb, ref.matrix, jittered).landmarks, atol=1e-3)
    left = np.abs(held.image[inner].astype(np.float32) - ref.image[inner]).mean()
    assert left < 0.4 * moved, (left, moved)  # what is left is the second interpolation's blur
