"""The shared preprocessing: shapes, dtypes and ranges of each step training and serving both use."""

from __future__ import annotations

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


def test_magnified_to_grey():
    out = np.zeros((3, 256, 256), np.float32)
    grey = pp.magnified_to_grey(out)
    assert grey.shape == (128, 128) and grey.dtype == np.uint8
    assert int(grey[0, 0]) in (127, 128)


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
