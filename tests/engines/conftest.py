"""Tiny real networks exported, checkpointed and published into a temporary engines folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.export import export_onnx, publish, save_checkpoint
from mecore.nets import ARCHS

TEST_ARCHS = {"test-tinymagnifier": "tests.engines.nets:TinyMagnifier",
              "test-tinyclassifier": "tests.engines.nets:TinyClassifier"}

LABELS = ["negative", "positive", "surprise"]
MAG_META = {"model": "magnifier", "version": "0.0.1", "normalisation": "rgb/127.5-1",
            "amplification": {"min": 1.0, "max": 20.0, "default": 10.0}, "dataset": "test", "metrics": {}}
CLS_META = {"model": "classifier", "version": "0.0.1", "normalisation": "shape-map patches scaled to 128",
            "labels": LABELS, "dataset": "test", "metrics": {"uf1": 0.0}}


def magnifier_inputs(n: int = 2, size: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"onset": rng.uniform(-1, 1, (n, 3, size, size)).astype(np.float32),
            "apex": rng.uniform(-1, 1, (n, 3, size, size)).astype(np.float32),
            "amplification": rng.uniform(1, 20, (n,)).astype(np.float32)}


def classifier_inputs(n: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    return {"patches": np.random.default_rng(seed).normal(size=(n, 30, 7, 7)).astype(np.float32)}


def reference(module, arrays: dict, names: list[str]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(a) for a in arrays.values()])
    out = out if isinstance(out, tuple) else (out,)
    return {n: o.numpy() for n, o in zip(names, out)}


def export_pair(module, arch, kwargs, inputs, in_names, out_names, axes, meta, folder: Path, stem: str):
    onnx_path = export_onnx(module, tuple(torch.from_numpy(a) for a in inputs.values()), folder / f"{stem}.onnx",
                            in_names, out_names, axes, meta)
    from engines.artifacts import onnx_meta

    full = onnx_meta(onnx_path.read_bytes(), onnx_path)
    pt_path = save_checkpoint(folder / f"{stem}.pt", arch, kwargs, module.state_dict(), full)
    return onnx_path, pt_path


@pytest.fixture(scope="module", autouse=True)
def tiny_archs():
    """The PyTorch backend rebuilds modules through mecore.nets.build: register the test nets there
    for the duration of each test module only, so other packages' tests see the real registry."""
    added = {k: v for k, v in TEST_ARCHS.items() if k not in ARCHS}
    ARCHS.update(added)
    yield
    for k in added:
        ARCHS.pop(k, None)


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """(folder with loose exported files, {"magnifier": module, "classifier": module})."""
    from tests.engines.nets import TinyClassifier, TinyMagnifier

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("exported")
    mag, cls = TinyMagnifier(8).eval(), TinyClassifier(len(LABELS)).eval()
    img = {0: "N", 2: "H", 3: "W"}
    export_pair(mag, "test-tinymagnifier", {"channels": 8}, magnifier_inputs(), ["onset", "apex", "amplification"],
                ["magnified", "shape"], {"onset": img, "apex": img, "amplification": {0: "N"}, "magnified": img,
                                         "shape": {0: "N", 2: "h", 3: "w"}}, MAG_META, folder, "magnifier")
    export_pair(cls, "test-tinyclassifier", {"classes": len(LABELS)}, classifier_inputs(), ["patches"], ["logits"],
                {"patches": {0: "N"}, "logits": {0: "N"}}, CLS_META, folder, "classifier")
    return folder, {"magnifier": mag, "classifier": cls}


@pytest.fixture(scope="session")
def published(models, tmp_path_factory) -> Path:
    folder, _ = models
    engines_dir = tmp_path_factory.mktemp("engines")
    publish({"magnifier": folder / "magnifier.onnx", "magnifier.pt": folder / "magnifier.pt",
             "classifier": folder / "classifier.onnx", "classifier.pt": folder / "classifier.pt"}, engines_dir)
    return engines_dir


@pytest.fixture
def engines_copy(published, tmp_path) -> Path:
    """A private copy of the published folder, for tests that damage it."""
    dst = tmp_path / "engines"
    shutil.copytree(published, dst)
    return dst
