"""FGRMER's 30 graph nodes on the mesh (checked on a real face) and patch extraction, borders included."""

from __future__ import annotations

import re

import av
import numpy as np
import pytest

from mecore.face import roi
from mecore.face.align import Aligner
from mecore.face.tracker import FaceTracker

# dlib mirror pairs (image-left node, image-right node): brows 17<->26 ..., mouth 48<->54, 59<->55, ...
MIRROR = [(i, 9 - i) for i in range(5)] + [(10, 16), (11, 15), (12, 14), (21, 17), (20, 18), (22, 26), (23, 25), (29, 27)]


@pytest.fixture(scope="module")
def frame(face_video) -> np.ndarray:
    with av.open(str(face_video)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def detector(face_model):
    with FaceTracker(face_model, mode="image", max_faces=1, blendshapes=False) as tracker:
        yield tracker


@pytest.fixture(scope="module")
def aligned_nodes(detector, frame) -> np.ndarray:
    face = Aligner(256).align(frame, detector.detect(frame)[0].landmarks)
    return roi.node_points(face.landmarks)


def test_table_has_30_unique_mesh_vertices():
    assert len(roi.NODES) == roi.N_NODES == 30 and len(set(roi.NODES)) == 30
    assert (roi.N_BROW, roi.N_MOUTH) == (10, 20)
    assert roi.NODES[:10] == roi.BROW_NODES and roi.NODES[10:] == roi.MOUTH_NODES
    assert all(0 <= i < 468 for i in roi.NODES)  # face mesh, not iris points


def test_documented_table_matches_the_code():
    rows = re.findall(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", roi.__doc__)
    table = {int(node): (int(dlib), int(mesh)) for node, dlib, mesh in rows}
    assert sorted(table) == list(range(30))
    for node, (dlib, mesh) in table.items():
        assert dlib == (17 + node if node < 10 else 48 + node - 10)
        assert mesh == roi.NODES[node]


def test_brow_nodes_lie_above_mouth_nodes(aligned_nodes):
    brow, mouth = aligned_nodes[:10], aligned_nodes[10:]
    assert brow[:, 1].max() + 60 < mouth[:, 1].min()


def test_nodes_run_in_dlib_order(aligned_nodes):
    x, y = aligned_nodes[:, 0], aligned_nodes[:, 1]
    assert np.all(np.diff(x[:10]) > 0)  # brows 17..26: image left to right
    outer = slice(10, 22)
    assert x[10] == x[outer].min() and x[16] == x[outer].max()  # 48, 54: mouth corners
    assert np.all(np.diff(x[10:17]) > 0)  # upper lip 48..54 left to right
    assert np.all(np.diff(x[16:22]) < 0)  # lower lip 54..59 right to left
    assert np.all(np.diff(x[22:27]) > 0) and np.all(np.diff(x[26:30]) < 0)  # inner lip 60..67
    assert x[22] > x[10] and x[26] < x[16]  # inner corners inside the outer ones
    assert y[13] < y[24] <= y[28] < y[19]  # 51 upper lip, 62/66 inner lips, 57 lower lip (top to bottom)
    assert y[2] < y[12] and y[7] < y[14]


def test_nodes_are_mirror_symmetric_on_an_aligned_face(aligned_nodes):
    mid = 128.0  # the aligned crop's vertical axis of symmetry
    for a, b in MIRROR:
        pa, pb = aligned_nodes[a], aligned_nodes[b]
        assert pa[0] < mid < pb[0], (a, b)
        assert abs((pa[0] + pb[0]) / 2 - mid) < 6, (a, b, pa, pb)
        assert abs(pa[1] - pb[1]) < 6, (a, b, pa, pb)


def test_node_points_scale():
    lms = np.random.default_rng(0).uniform(0, 256, (478, 3)).astype(np.float32)
    pts = roi.node_points(lms, 0.5)
    assert pts.shape == (30, 2) and pts.dtype == np.float32
    np.testing.assert_allclose(pts, lms[list(roi.NODES), :2] * 0.5)


def _coord_map(size: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy * 1000 + xx).astype(np.float32)  # value encodes (row, column)


def test_patches_rows_are_y_columns_are_x():
    fmap = _coord_map()
    patches = roi.extract_patches(fmap, np.array([[40.0, 90.0], [10.4, 20.6]]))
    assert patches.shape == (2, 7, 7)
    assert patches[0, 3, 3] == 90 * 1000 + 40  # centre row y=90, column x=40
    assert patches[1, 3, 3] == 21 * 1000 + 10  # rounded to the nearest pixel
    assert patches[0, 0, 0] == 87 * 1000 + 37 and patches[0, 6, 6] == 93 * 1000 + 43


def test_patches_clamp_at_the_borders():
    fmap = _coord_map()
    pts = np.array([[-5.0, -9.0], [200.0, 300.0], [0.0, 127.0], [127.0, 2.0]])
    patches = roi.extract_patches(fmap, pts)
    assert patches.shape == (4, 7, 7)
    np.testing.assert_array_equal(patches[0], fmap[0:7, 0:7])
    np.testing.assert_array_equal(patches[1], fmap[121:128, 121:128])
    np.testing.assert_array_equal(patches[2], fmap[121:128, 0:7])
    np.testing.assert_array_equal(patches[3], fmap[0:7, 121:128])


def test_patch_errors():
    with pytest.raises(ValueError):
        roi.extract_patches(np.zeros((4, 4)), np.zeros((1, 2)))
    with pytest.raises(ValueError):
        roi.extract_patches(np.zeros((3, 16, 16)), np.zeros((1, 2)))


@pytest.mark.parametrize("side", ["left", "top"])
def test_face_at_the_frame_border(detector, frame, side):
    cut = np.ascontiguousarray(frame[:, 160:] if side == "left" else frame[230:, :])
    faces = detector.detect(cut)
    assert len(faces) == 1
    nodes = roi.node_points(faces[0].landmarks)
    axis = 0 if side == "left" else 1
    assert nodes[:, axis].min() < 0  # some graph nodes are outside the frame
    grey = cut.mean(axis=2).astype(np.float32)
    patches = roi.extract_patches(grey, nodes)
    assert patches.shape == (30, 7, 7) and np.isfinite(patches).all()
    outside = int(np.argmin(nodes[:, axis]))
    y0 = int(np.clip(np.rint(nodes[outside, 1]) - 3, 0, grey.shape[0] - 7))
    x0 = int(np.clip(np.rint(nodes[outside, 0]) - 3, 0, grey.shape[1] - 7))
    assert (x0 == 0) if side == "left" else (y0 == 0)
    np.testing.assert_array_equal(patches[outside], grey[y0 : y0 + 7, x0 : x0 + 7])
    # the aligned crop of a cut face still gives the classifier its full input
    from mecore.preprocess import classifier_input

    face = Aligner(256).align(cut, faces[0].landmarks)
    assert classifier_input(grey[:128, :128] / 255.0, face.landmarks).shape == (30, 7, 7)
