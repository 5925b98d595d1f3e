"""The shared preprocessing: shapes, dtypes and ranges of each step training and serving both use."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mecore import preprocess as pp
from mecore.face import roi


def test_magnet_input_range_layout_and_round_trip():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    rgb[0, 0], rgb[0, 1] = 0, 255
    x = pp.to_magnet_input(rgb)
    assert x.shape == (3, 256, 256) and x.dtype == np.float32 and x.flags.c_contiguous
    assert x.min() == -1.0 and x.max() == 1.0
    assert x[0, 5, 7] == pytest.approx(rgb[5, 7, 0] / 127.5 - 1.0)  # channel-first, R first
    np.testing.assert_array_equal(pp.from_magnet_output(x), rgb)  # exact for uint8


def test_magnet_input_resizes_other_sizes():
    x = pp.to_magnet_input(np.full((300, 200, 3), 127, np.uint8))
    assert x.shape == (3, 256, 256)
    assert pp.to_magnet_input(np.zeros((64, 64, 3), np.uint8), size=64).shape == (3, 64, 64)


def test_magnet_output_is_clipped():
    out = np.full((3, 4, 4), 3.0, np.float32)
    out[1] = -7.0
    img = pp.from_magnet_output(out)
    assert img.shape == (4, 4, 3) and img.dtype == np.uint8
    assert (img[..., 0] == 255).all() and (img[..., 1] == 0).all()


def test_shape_to_map_normalises_each_channel():
    rng = np.random.default_rng(1)
    shape = rng.normal(size=(32, 128, 128)).astype(np.float32)
    shape[0] *= 1000.0  # one loud channel must not dominate: min-max per channel
    shape[1] = 5.0  # a constant channel must not give NaN
    fmap = pp.shape_to_map(shape)
    assert fmap.shape == (128, 128) and fmap.dtype == np.float32
    assert np.isfinite(fmap).all() and fmap.min() >= 0.0 and fmap.max() <= 1.0
    ch0 = (shape[0] - shape[0].min()) / (shape[0].max() - shape[0].min())
    assert abs(np.corrcoef(fmap.ravel(), ch0.ravel())[0, 1]) < 0.5
    assert pp.shape_to_map(shape[:, :64, :64]).shape == (128, 128)  # resized to the map size


class _Named:
    """A torch module behind the engines call contract (named numpy arrays in and out)."""

    def __init__(self, module, output_names):
        self.module, self.output_names = module.eval(), output_names

    def __call__(self, **arrays):
        import torch

        with torch.no_grad():
            out = self.module(*(torch.from_numpy(arrays[k]) for k in ("onset", "apex", "amplification")))
        out = out if isinstance(out, tuple) else (out,)
        return {n: o.numpy() for n, o in zip(self.output_names, out)}


def test_motion_path_gives_the_magnifiers_features_and_magnify_the_face():
    torch = pytest.importorskip("torch")
    from mecore.nets.magnet import MagNet, MagNetMotion

    torch.manual_seed(0)
    magnet = MagNet().eval()
    for p in magnet.parameters():  # untrained weights are tiny; scale them so the motion is not ~0
        p.data *= 3.0
    motion = MagNetMotion.from_magnet(magnet)
    assert sum(p.numel() for p in motion.parameters()) < 0.3 * sum(p.numel() for p in magnet.parameters())
    rng = np.random.default_rng(3)
    onset = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    apex = np.roll(onset, 1, axis=1)
    lms = np.tile(rng.uniform(20, 236, (478, 1)), (1, 3)).astype(np.float32)
    full = pp.motion_features(_Named(magnet, ["magnified", "shape"]), onset, apex, lms, [2.0, 5.0])
    fast = pp.motion_features(_Named(motion, ["motion"]), onset, apex, lms, [2.0, 5.0])
    assert [f.amplification for f in fast] == [2.0, 5.0]
    for a, b in zip(full, fast):
        assert a.patches.shape == (30, pp.IN_CHANNELS, 7, 7) and a.shape_map.std() > 0.01
        np.testing.assert_allclose(a.shape_map, b.shape_map, atol=1e-4)
        np.testing.assert_allclose(a.patches, b.patches, rtol=1e-3, atol=1e-5)
    # the flow channels, after the maps: the onset -> apex flow at the nodes, the same at every amplification
    flow = pp.classifier_input(pp.node_flow(onset, apex), lms)
    for f in fast:
        np.testing.assert_array_equal(f.patches[:, pp.MAP_GROUPS:], flow)
    face = pp.magnify(_Named(magnet, ["magnified", "shape"]), onset, apex, 1.0)
    assert face.shape == (256, 256, 3) and face.dtype == np.uint8


def test_classifier_input_takes_patches_at_the_nodes_in_map_coordinates():
    yy, xx = np.mgrid[:128, :128]
    fmap = (yy * 1000 + xx).astype(np.float32)
    lms = np.zeros((478, 3), np.float32)
    rng = np.random.default_rng(2)
    nodes = rng.integers(10, 118, (roi.N_NODES, 2))
    lms[list(roi.NODES), :2] = nodes * 2  # crop pixels (256) -> map pixels (128)
    patches = pp.classifier_input(fmap, lms)
    assert patches.shape == (30, 7, 7) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches[:, 3, 3], nodes[:, 1] * 1000 + nodes[:, 0])


def test_motion_maps_keep_amplitude_and_the_channel_groups():
    rng = np.random.default_rng(4)
    motion = rng.normal(size=(32, 128, 128)).astype(np.float32)
    one = pp.motion_maps(motion)  # the classifier's: one map of the mean |motion|
    assert one.shape == (pp.MAP_GROUPS, 128, 128) == (1, 128, 128)
    np.testing.assert_allclose(one[0], np.abs(motion).mean(axis=0), rtol=1e-5)
    maps = pp.motion_maps(motion, groups=8)
    assert maps.shape == (8, 128, 128) and maps.dtype == np.float32 and (maps >= 0).all()
    np.testing.assert_allclose(maps[3], np.abs(motion[[3, 11, 19, 27]]).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(pp.motion_maps(2 * motion, 8), 2 * maps, rtol=1e-6)  # no per-sample normalisation
    quiet = motion.copy()
    quiet[5::8] *= 0.01  # one group still; min-max would stretch it back to [0, 1]
    assert pp.motion_maps(quiet, 8)[5].mean() < 0.02 * maps[5].mean()
    assert pp.motion_maps(motion[:, :64, :64], 8).shape == (8, 128, 128)
    with pytest.raises(ValueError, match="C >= 8"):
        pp.motion_maps(motion[:4], 8)


def test_node_flow_measures_a_subpixel_shift_in_map_pixels():
    from skimage import data

    face = cv2.resize(data.astronaut()[:300, 100:400], (256, 256), interpolation=cv2.INTER_AREA)
    moved = cv2.warpAffine(face, np.float32([[1, 0, 0.8], [0, 1, -0.5]]), (256, 256), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    flow = pp.node_flow(face, moved)
    assert flow.shape == (2, 128, 128) and flow.dtype == np.float32
    inner = flow[:, 20:108, 20:108].reshape(2, -1)
    # 0.8 px right and 0.5 px up on the 256 crop: 0.4 and -0.25 px on the 128 map
    np.testing.assert_allclose(np.median(inner, axis=1), [0.4, -0.25], atol=0.05)
    assert np.abs(pp.node_flow(face, face)).max() < 1e-3


def test_classifier_input_of_several_maps_is_node_major():
    yy, xx = np.mgrid[:128, :128]
    maps = np.stack([(yy * 1000 + xx + g * 1e6).astype(np.float32) for g in range(3)])
    lms = np.zeros((478, 3), np.float32)
    nodes = np.random.default_rng(5).integers(10, 118, (roi.N_NODES, 2))
    lms[list(roi.NODES), :2] = nodes * 2
    patches = pp.classifier_input(maps, lms)
    assert patches.shape == (30, 3, 7, 7) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches[:, 2, 3, 3], nodes[:, 1] * 1000 + nodes[:, 0] + 2e6)
    np.testing.assert_array_equal(patches[:, 0], pp.classifier_input(maps[0], lms))
