"""LOSO on Ray (train.cluster) gives what the serial run gives; failed folds are retried and reported by fold;
without --ray nothing imports Ray; the cache workers close their trackers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from train import loso
from train.data import Data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    """3 subjects x 2 clips, from a still of each of three people in the shared real clips."""
    import av
    import cv2

    from tests.conftest import SHARED
    from train import synth_me

    root = tmp_path_factory.mktemp("synth")
    photos = []
    for name in ("b_man_webcam_neutral", "b_woman_window_still", "a_man_suit_talking"):
        clip = SHARED / "media" / "real" / f"{name}.mp4"
        if not clip.is_file():
            pytest.skip(f"{clip}: shared real clip not present")
        with av.open(str(clip)) as c:
            rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
        photos.append(str(root.parent / f"{name}.png"))
        cv2.imwrite(photos[-1], cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    synth_me.generate(root, subjects=3, clips_per_subject=2, seed=0, progress=False, faces=photos,
                      default_faces=False)
    return root


def _cfg(tmp: Path, root: Path, name: str, **kw) -> loso.Config:
    return loso.Config(root=root, out=tmp / name, cache=tmp / f"cache-{name}", publish_dir=tmp / f"eng-{name}",
                       factors=(2.0,), epochs=4, batch_size=2, val_subjects=1, synth_holdout=0, **kw)


def _weights(engines_dir: Path) -> list[bytes]:
    import onnx

    return [t.raw_data for t in onnx.load(engines_dir / "classifier.onnx").graph.initializer]


def test_ray_loso_equals_serial(tmp_path, tiny_set, ray_local):
    """Cache (own folders), folds and the final export on Ray give the serial run's numbers exactly."""
    for name in ("serial", "ray"):
        (tmp_path / f"eng-{name}").mkdir()
    serial = loso.run(_cfg(tmp_path, tiny_set, "serial", workers=1))
    on_ray = loso.run(_cfg(tmp_path, tiny_set, "ray", ray="auto"))
    assert len(serial.folds) == 3
    assert on_ray.metrics == serial.metrics
    for a, b in zip(serial.folds, on_ray.folds):
        assert a["test_subject"] == b["test_subject"]
        assert a["pred"] == b["pred"] and a["probs"] == b["probs"] and a["history"] == b["history"]
    for name in ("predictions.csv", "results.csv"):
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "serial" / name).read_text()
    for sub in ("sub01", "sub02", "sub03"):
        a, b = (np.load(tmp_path / run / "folds" / f"{sub}.adjacency.npz") for run in ("serial", "ray"))
        assert np.array_equal(a["adjacency"], b["adjacency"])
    assert _weights(tmp_path / "eng-ray") == _weights(tmp_path / "eng-serial")
    # the driver stored the entries the Ray workers returned: the same arrays as the serial cache
    for a in sorted((tmp_path / "cache-serial").rglob("*.npz")):
        b = tmp_path / "cache-ray" / a.relative_to(tmp_path / "cache-serial")
        with np.load(a) as za, np.load(b) as zb:
            assert np.array_equal(za["patches"], zb["patches"])


def _random_folds(tmp_path):
    subjects = ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4
    rng = np.random.default_rng(1)
    X = rng.random((len(subjects), 2, 30, 7, 7)).astype(np.float32)
    y = np.array([i % 2 for i in range(len(subjects))])
    from train.datasets.base import Sample

    p = Path("x.jpg")
    samples = [Sample("t", s, f"c{i}", 1, 2, 3, p, p, frozenset({12}), "ab"[i % 2]) for i, s in enumerate(subjects)]
    return subjects, Data(samples, X, y, ["a", "b"], "t", {"id": "x"})


def test_a_fold_whose_worker_dies_is_retried_and_reported(tmp_path, ray_local, capsys):
    subjects, data = _random_folds(tmp_path)
    flag = tmp_path / "died-once"

    def dies_once_on_s2(cfg, k, sp, *args, **kw):
        import os

        if sp.test_subject == "s2" and not flag.exists():
            flag.touch()
            os._exit(1)  # the worker process dies mid-fold
        return loso.train_fold(cfg, k, sp, *args, **kw)

    def always_fails_on_s3(cfg, k, sp, *args, **kw):
        if sp.test_subject == "s3":
            raise RuntimeError("bad fold")
        return loso.train_fold(cfg, k, sp, *args, **kw)

    sps = loso.splits(subjects)
    serial_cfg = loso.Config(root=tmp_path, out=tmp_path / "serial", epochs=2, batch_size=4, factors=(1.6, 2.0))
    serial = loso.fold_results(serial_cfg, sps, data, {"t": 1})
    cfg = loso.Config(root=tmp_path, out=tmp_path / "ray", epochs=2, batch_size=4, factors=(1.6, 2.0), ray="auto",
                      ray_retries=1)
    folds = loso.fold_results(cfg, sps, data, {"t": 1}, fold_fn=dies_once_on_s2)
    assert "fold s2: attempt 1 failed" in capsys.readouterr().out
    assert [f["pred"] for f in folds] == [f["pred"] for f in serial]
    # a fold that keeps failing is named; the others are stored and reused by the next run
    for f in (tmp_path / "ray" / "folds").glob("*.json"):
        f.unlink()
    with pytest.raises(loso.MexError, match=r"fold\(s\) s3 failed after 2 attempt\(s\).*bad fold"):
        loso.fold_results(cfg, sps, data, {"t": 1}, fold_fn=always_fails_on_s3)
    assert sorted(p.stem for p in (tmp_path / "ray" / "folds").glob("*.json")) == ["s1", "s2"]


def test_without_ray_nothing_imports_ray(tmp_path):
    code = f"""
import sys
import numpy as np
from train import cache, cluster, config, data, export, fit, loso
from train.data import Data
cfg = loso.parse_args(["--root", {str(tmp_path)!r}, "--out", {str(tmp_path / 'run')!r}, "--epochs", "1",
                       "--batch-size", "4", "--factors", "2.0"])
assert cfg.ray is None and cfg.ray_options() is None
subjects = ["a", "a", "b", "b"]
from train.datasets.base import Sample
s = [Sample("t", x, f"c{{i}}", 1, 2, 3, "x", "x", frozenset(), "l") for i, x in enumerate(subjects)]
data = Data(s, np.zeros((4, 1, 30, 7, 7), np.float32), np.array([0, 1, 0, 1]), ["l", "m"], "t", {{"id": "x"}})
loso.fold_results(cfg, loso.splits(subjects), data, {{}})
assert "ray" not in sys.modules, "ray was imported"
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert loso.parse_args(["--ray", "--root", str(tmp_path)]).ray == "auto"
    assert loso.parse_args(["--ray", "10.0.0.1:6379", "--root", str(tmp_path)]).ray == "10.0.0.1:6379"


def test_cache_worker_closes_its_tracker(face_model):
    import engines
    from train.cache import CacheWorker

    art = engines.resolve("magnifier", "onnx")
    with CacheWorker(str(art.path), str(art.path.parent), 1, str(face_model)) as w:
        tracker = w.tracker
        assert tracker._landmarkers and w.engine is not None
    assert w.tracker is None and w.engine is None
    assert tracker._landmarkers == {}  # MediaPipe landmarker closed
