"""The preprocessing cache: entries keyed by sample and place, invalidated when a frame file changes,
failures remembered, and a cached sample read back without running any model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from train import cache
from train.datasets.base import Sample


def _sample(tmp_path: Path, key: str = "c1", folder: str = "a") -> Sample:
    d = tmp_path / folder
    d.mkdir(parents=True, exist_ok=True)
    onset, apex = d / "1.jpg", d / "3.jpg"
    for p in (onset, apex):
        p.write_bytes(b"frame")
    return Sample("t", "s1", key, 1, 3, 5, onset, apex, frozenset({12}), "happiness")


def _arrays(factors=(1.6, 2.0)) -> dict:
    f = np.array(factors, np.float32)
    return {"factors": f, "patches": np.stack([np.full((30, 7, 7), x, np.float32) for x in f]),
            "shape_maps": np.zeros((len(f), 128, 128), np.float16), "landmarks": np.zeros((2, 478, 2), np.float32)}


def test_entry_at_a_factor():
    e = cache.Entry(np.array([1.6, 2.0], np.float32), np.stack([np.zeros((30, 7, 7)), np.ones((30, 7, 7))]))
    assert e.at(2.0).mean() == 1.0 and e.at(1.6000001).mean() == 0.0
    with pytest.raises(KeyError, match="factor 2.4 not cached"):
        e.at(2.4)


def test_entries_are_keyed_by_place_and_invalidated_by_a_changed_frame(tmp_path):
    a, b = _sample(tmp_path, folder="a"), _sample(tmp_path, folder="b")  # the same clip key in two datasets
    assert cache.entry_path(tmp_path, a) != cache.entry_path(tmp_path, b)
    assert cache.entry_path(tmp_path, a) == cache.entry_path(tmp_path, _sample(tmp_path, folder="a"))
    path = cache.entry_path(tmp_path / "c", a)
    assert cache.store(path, a, _arrays()) is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # atomic: no temp file left
    got = cache.read_entry(path, a, (2.0,))
    assert got is not None and got.at(2.0).mean() == pytest.approx(2.0)
    assert cache.read_entry(path, a, (2.0, 2.4)) is None  # a factor it does not hold
    a.apex_path.write_bytes(b"another frame")  # the frame changed: size (and time) differ
    assert cache.read_entry(path, a, (2.0,)) is None
    path.write_bytes(b"damaged")
    assert cache.read_entry(path, a, (2.0,)) is None  # recomputed, never an exception


def test_a_failure_is_remembered_for_the_same_frames_only(tmp_path):
    s = _sample(tmp_path)
    path = cache.entry_path(tmp_path / "c", s)
    assert cache.store(path, s, "no face found") == "no face found"
    assert cache._failed(path, s) == "no face found"
    st = s.onset_path.stat()
    os.utime(s.onset_path, (st.st_atime, st.st_mtime + 10))
    assert cache._failed(path, s) is None  # a new frame file is tried again


def test_build_reads_cached_samples_without_running_a_model(tmp_path, monkeypatch):
    from mecore.preprocess import FEATURES_VERSION

    samples = [_sample(tmp_path, key=f"c{i}", folder=f"f{i}") for i in range(3)]
    cdir = tmp_path / "cache" / f"{cache.feature_engine('magnifier')[2]}-f{FEATURES_VERSION}"
    for s in samples[:2]:
        cache.store(cache.entry_path(cdir, s), s, _arrays())
    cache.store(cache.entry_path(cdir, samples[2]), samples[2], "no face found")

    def no_models(*a, **k):
        raise AssertionError("a model was loaded for a cached sample")

    monkeypatch.setattr(cache, "CacheWorker", no_models)
    entries, failures = cache.build(samples, "magnifier", tmp_path / "cache", (1.6, 2.0), workers=1, progress=False)
    keys = [s.key for s in samples]
    assert sorted(entries) == keys[:2] and failures == {keys[2]: "no face found"}
    assert entries[keys[0]].at(1.6).mean() == pytest.approx(1.6)


def test_the_cache_runs_the_magnifiers_motion_artifact_when_it_holds_its_weights():
    """The shipped motion.onnx was made from magnifier.pt: the cache runs it (no decoder) and says so in its
    key; the fast magnifier has no motion artifact of its own, so it runs whole."""
    art, engine, features = cache.feature_engine("magnifier")
    assert art.meta["model"] == "magnifier" and engine.meta["model"] == "motion"
    assert features == f"{cache.magnifier_id(art.path)}+motion"
    art, engine, features = cache.feature_engine("fast_magnifier")
    assert engine.path == art.path and features == cache.magnifier_id(art.path)
