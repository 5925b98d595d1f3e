"""LOSO: subject-disjoint splits, no test-subject information in training, selection or the adjacency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mecore.errors import MexError
from train import loso
from train.data import Data
from train.datasets.base import Sample

SUBJECTS = ["s1"] * 4 + ["s2"] * 3 + ["s3"] * 5 + ["s4"] * 2 + ["s5"] * 3


@pytest.mark.parametrize("val_subjects", [0, 1, 2])
def test_every_split_is_subject_disjoint(val_subjects):
    subs = np.array(SUBJECTS)
    sps = loso.splits(SUBJECTS, val_subjects=val_subjects, seed=3)
    assert [s.test_subject for s in sps] == ["s1", "s2", "s3", "s4", "s5"]
    for sp in sps:
        tr, va, te = set(subs[sp.train]), set(subs[sp.val]), set(subs[sp.test])
        assert te == {sp.test_subject}
        assert not tr & te and not va & te and not tr & va
        assert len(va) == val_subjects
        assert sorted([*sp.train, *sp.val, *sp.test]) == list(range(len(SUBJECTS)))
    # every sample is tested exactly once over the folds
    assert sorted(i for sp in sps for i in sp.test) == list(range(len(SUBJECTS)))


def test_folds_option_and_unknown_subject():
    assert [s.test_subject for s in loso.splits(SUBJECTS, only=["s3"])] == ["s3"]
    with pytest.raises(MexError, match="unknown subject"):
        loso.splits(SUBJECTS, only=["s9"])


def _samples(subjects, labels, aus) -> list[Sample]:
    p = Path("x.jpg")
    return [Sample("t", s, f"c{i}", 1, 2, 3, p, p, frozenset(a), lab) for i, (s, lab, a) in
            enumerate(zip(subjects, labels, aus))]


@pytest.mark.parametrize("val_subjects", [0, 1])
def test_test_subject_reaches_neither_training_nor_selection(tmp_path, monkeypatch, val_subjects):
    """Run every fold with the real fold runner; record exactly what training and the adjacency saw."""
    from train import adjacency as adj_mod
    from train import fit as fit_mod

    rng = np.random.default_rng(0)
    n = len(SUBJECTS)
    labels = ["a", "b"]
    # AU 1 only in s1: a leak of s1 into its own fold's adjacency would show as a non-identity row.
    aus = [{1, 2} if s == "s1" else {12} for s in SUBJECTS]
    samples = _samples(SUBJECTS, [labels[i % 2] for i in range(n)], aus)
    X = rng.random((n, 2, 30, 7, 7)).astype(np.float32)
    y = np.array([i % 2 for i in range(n)])
    seen: dict = {}
    real_fit, real_adj = fit_mod.fit, adj_mod.adjacency

    def spy_fit(X_, y_, train_idx, num_classes, adjacency, opts, val_idx=(), **kw):
        seen.setdefault("fit", []).append((set(map(int, train_idx)), set(map(int, val_idx)), np.array(adjacency)))
        return real_fit(X_, y_, train_idx, num_classes, adjacency, opts, val_idx=val_idx, **kw)

    def spy_adj(au_sets):
        au_sets = list(au_sets)
        seen.setdefault("adj", []).append(au_sets)
        return real_adj(au_sets)

    monkeypatch.setattr(fit_mod, "fit", spy_fit)
    monkeypatch.setattr(adj_mod, "adjacency", spy_adj)
    cfg = loso.Config(root=tmp_path, out=tmp_path / "run", epochs=2, batch_size=4, factors=(1.6, 2.0),
                      val_subjects=val_subjects)
    data = Data(samples, X, y, labels, "t", {"id": "x"})
    for k, sp in enumerate(loso.splits(SUBJECTS, val_subjects, cfg.seed)):
        out = loso.run_fold(cfg, k, sp, data, {"t": 1})
        assert out["config"] == cfg.to_dict()  # the whole config is stored with each fold
        train_idx, val_idx, adj = seen["fit"][-1]
        test_idx = {i for i, s in enumerate(SUBJECTS) if s == sp.test_subject}
        assert not train_idx & test_idx and not val_idx & test_idx
        assert {SUBJECTS[i] for i in train_idx | val_idx} == set(SUBJECTS) - {sp.test_subject}
        assert set(out["test_idx"]) == test_idx and out["train_idx"] == sorted(train_idx)
        # the adjacency was counted on exactly the training samples
        assert seen["adj"][-1] == [samples[i].aus for i in sorted(train_idx)]
        if sp.test_subject == "s1" or ("s1" in out["val_subjects"]):
            assert np.allclose(adj[:2, :2], np.eye(2))  # AU1/AU2 never co-occurred in training
        stored = np.load(tmp_path / "run" / "folds" / f"{sp.test_subject}.adjacency.npz")
        assert sp.test_subject not in set(stored["subjects"].tolist())
    # a second run with the same fingerprint reuses the stored folds (resume) without training
    count = len(seen["fit"])
    loso.run_fold(cfg, 0, loso.splits(SUBJECTS, val_subjects, cfg.seed)[0], data, {"t": 1})
    assert len(seen["fit"]) == count


def test_folds_in_local_processes_equal_one_process(tmp_path):
    """--workers 2 trains folds in two spawn processes: every fold's predictions and probabilities are
    those of the one-process run (each fold is seeded and single-threaded)."""
    rng = np.random.default_rng(1)
    n = len(SUBJECTS)
    y = np.array([i % 2 for i in range(n)])
    X = rng.normal(0.5, 0.02, (n, 2, 30, 3, 7, 7)).astype(np.float32)
    X[:, :, 0, :, 3, 3] += 0.05 * y[:, None, None]
    data = Data(_samples(SUBJECTS, ["a", "b"] * n, [{12}] * n), X, y, ["a", "b"], "t", {"id": "x"})
    runs = {}
    for workers in (1, 2):
        cfg = loso.Config(root=tmp_path, out=tmp_path / f"w{workers}", epochs=2, batch_size=4, factors=(1.6, 2.0),
                          workers=workers, ensemble=2, layers=1, head_hidden=16, feat=8)
        runs[workers] = loso.fold_results(cfg, loso.splits(SUBJECTS, 0, cfg.seed), data, {"t": 1})
    assert [f["test_subject"] for f in runs[2]] == ["s1", "s2", "s3", "s4", "s5"]
    for a, b in zip(runs[1], runs[2]):
        assert a["pred"] == b["pred"] and a["probs"] == b["probs"] and a["history"] == b["history"]


def test_config_validation(tmp_path):
    with pytest.raises(MexError, match="needs --root"):
        loso.Config(dataset="casme2")
    with pytest.raises(MexError, match="unknown dataset"):
        loso.Config(dataset="nope", root=tmp_path)
    with pytest.raises(MexError, match="test factor"):
        loso.Config(root=tmp_path, factors=(1.2, 1.4))
    with pytest.raises(MexError, match="--epochs"):
        loso.Config(root=tmp_path, epochs=0)
    assert loso.main(["--dataset", "samm"]) == 2


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the model is tiny; more threads only spin on a shared 2-core machine
    yield
    torch.set_num_threads(n)


def _magnifier(tmp_path: Path) -> tuple[str, Path]:
    """The project's magnifier when engines/ lists one, else an untrained MagNet exported for the test."""
    import engines

    try:
        art = engines.resolve("magnifier", "onnx")
        return str(art.path), art.path.parent
    except MexError:
        pass
    import torch

    from engines.export import export_onnx, publish
    from mecore.nets.magnet import MagNet

    torch.manual_seed(0)
    x = torch.zeros(1, 3, 256, 256)
    d = tmp_path / "engines"
    p = export_onnx(MagNet().eval(), (x, x, torch.ones(1)), tmp_path / "m.onnx", ["onset", "apex", "amplification"],
                    ["magnified", "shape"], {k: {0: "N"} for k in ("onset", "apex", "amplification", "magnified",
                                                                   "shape")},
                    {"model": "magnifier", "version": "test-untrained", "normalisation": "rgb/127.5-1",
                     "amplification": {"min": 1.0, "max": 30.0, "default": 2.0}})
    publish({"magnifier": p}, d)
    return str(d / "magnifier.onnx"), d


def test_end_to_end_tiny_loso_learns_and_exports(tmp_path):
    """synth_me -> MediaPipe + alignment -> magnifier (ONNX Runtime) -> cache -> LOSO -> classifier in engines."""
    import engines

    mag, mag_dir = _magnifier(tmp_path)
    out_engines = tmp_path / "out_engines"
    out_engines.mkdir()
    # Two classes that move different regions (brows up / lip corners up): four still photos of four
    # people, with motions not the smallest the generator makes, suffice to learn.
    from train import synth_me
    from train.synth.sources import registry_files

    photos = [str(p) for f, p in registry_files()[0] if len(f.persons) == 1 and p.suffix in (".jpg", ".png")][:4]
    if len(photos) < 4:
        pytest.skip("registry face photos not fetched (python -m train.synth.sources fetch)")
    synth_me.generate(tmp_path / "synth", subjects=4, clips_per_subject=16, amplitude=(2.5, 3.0), progress=False,
                      faces=photos, default_faces=False)
    cfg = loso.Config(root=tmp_path / "synth", synth_subjects=4, synth_clips=16, synth_holdout=0, out=tmp_path / "run",
                      cache=tmp_path / "cache", magnifier=mag, engines_dir=mag_dir, publish_dir=out_engines,
                      classes=["happiness", "surprise"], factors=(2.0,), epochs=40, workers=1)
    outcome = loso.run(cfg)
    assert outcome.engines_dir == out_engines
    m = outcome.metrics
    assert m["n"] >= 8 and len(outcome.folds) == 4
    # chance is 0.5; four different people and 26 samples (measured: UF1 0.730, UAR 0.731)
    assert m["uf1"] >= 0.65 and m["uar"] >= 0.65, m
    eng = engines.load(outcome.engines_dir / "classifier.onnx", backend="onnxruntime")
    for name in ("results.json", "results.csv", "predictions.csv", "confusion.png", "curves.png"):
        assert (cfg.out / name).is_file()
    results = json.loads((cfg.out / "results.json").read_text())
    assert results["config"] == cfg.to_dict() and results["code_version"] and results["machine"]["cores"]
    assert results["artifacts"][0]["sha256"] == engines.resolve(mag).sha256  # the manifest's, not re-hashed
    assert eng.meta["train_config"] == cfg.to_dict()
    assert eng.meta["labels"] == ["happiness", "surprise"]
    assert eng.meta["feature_amplification"] == 2.0 and eng.meta["loso"]["uf1"] == pytest.approx(m["uf1"])
    from mecore import preprocess

    assert eng.meta["features_version"] == preprocess.FEATURES_VERSION
    logits = eng(patches=np.zeros((2, 30, preprocess.IN_CHANNELS, 7, 7), np.float32))["logits"]
    assert logits.shape == (2, 2)
