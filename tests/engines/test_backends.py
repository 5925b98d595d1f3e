"""Every backend available here agrees with PyTorch eager on fixed inputs (fp32 <= 1e-4 abs, fp16 <= 1e-2 rel)."""

from __future__ import annotations

import numpy as np
import pytest

import engines
from engines.backends import unavailable
from tests.engines.conftest import classifier_inputs, magnifier_inputs, reference

CPU = ["onnxruntime-cpu", "torch-cpu"]
CASES = {"magnifier": (magnifier_inputs, ["magnified", "shape"]), "classifier": (classifier_inputs, ["logits"])}


def _inputs(model: str, n: int, size: int = 16):
    make, _ = CASES[model]
    return make(n, size) if model == "magnifier" else make(n)


def _need(backend: str):
    why = unavailable(backend)
    if why:
        pytest.skip(f"{backend}: {why}")


@pytest.mark.parametrize("backend", CPU)
@pytest.mark.parametrize("model", ["magnifier", "classifier"])
def test_fp32_backends_match_pytorch(backend, model, models, published):
    _need(backend)
    _, modules = models
    engine = engines.load(model, backend, engines_dir=published)
    assert engine.name == backend
    assert engine.input_names == list(_inputs(model, 1))
    for n, size in ((1, 16), (3, 24)):  # dynamic batch and image size
        arrays = _inputs(model, n, size)
        got, want = engine(**arrays), reference(modules[model], arrays, CASES[model][1])
        assert list(got) == CASES[model][1]
        for name in want:
            assert got[name].shape == want[name].shape
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-4, err_msg=f"{backend} {name}")


def test_metadata_reaches_the_engine(published):
    engine = engines.load("classifier", "onnxruntime-cpu", engines_dir=published)
    assert engine.meta["labels"] == ["negative", "positive", "surprise"]
    assert engine.meta["model"] == "classifier" and engine.meta["normalisation"]
    assert engine.output_names == ["logits"]
    assert "classifier" in repr(engine)


def test_loads_a_loose_path_and_a_manifest_file_name(models, published):
    folder, _ = models
    loose = engines.load(folder / "magnifier.onnx", "onnxruntime-cpu")
    listed = engines.load("magnifier.pt", "torch-cpu", engines_dir=published)
    arrays = magnifier_inputs(2)
    np.testing.assert_allclose(loose(**arrays)["magnified"], listed(**arrays)["magnified"], atol=1e-4)


def test_onnxruntime_threads_option(published):
    engine = engines.load("magnifier", "onnxruntime-cpu", engines_dir=published, threads=1)
    assert engine.session.get_session_options().intra_op_num_threads == 1


def _fp16_check(backend, model, models, published):
    _need(backend)
    _, modules = models
    engine = engines.load(model, backend, engines_dir=published)
    for n in (1, 4, 4):  # the repeat replays a captured CUDA graph on the PyTorch backend
        arrays = _inputs(model, n, 32)
        got, want = engine(**arrays), reference(modules[model], arrays, CASES[model][1])
        for name in want:
            scale = np.abs(want[name]).max()
            assert np.abs(got[name] - want[name]).max() <= 1e-2 * scale, f"{engine.name} {name}"
    return engine


@pytest.mark.cuda
@pytest.mark.parametrize("model", ["magnifier", "classifier"])
def test_torch_cuda_fp16_graphs(model, models, published):
    engine = _fp16_check("torch-cuda", model, models, published)
    assert engine.name.startswith("torch-cuda-fp16")


@pytest.mark.cuda
@pytest.mark.parametrize("model", ["magnifier", "classifier"])
def test_onnxruntime_cuda_iobinding(model, models, published):
    _fp16_check("onnxruntime-cuda", model, models, published)


@pytest.mark.tensorrt
@pytest.mark.parametrize("model", ["magnifier", "classifier"])
def test_tensorrt_matches_and_caches(model, models, published):
    engine = _fp16_check("tensorrt", model, models, published)
    plans = list((published / "trt").glob(f"{model}-*.plan"))
    assert len(plans) == 1 and engine.plan_path == plans[0]
    again = engines.load(model, "tensorrt", engines_dir=published)  # second load reuses the cached plan
    assert again.plan_path == plans[0] and len(list((published / "trt").glob(f"{model}-*.plan"))) == 1


def test_cuda_is_ruled_out_by_the_driver_before_torch_is_imported(tmp_path, monkeypatch):
    import subprocess
    import sys

    from engines.backends import gpu

    monkeypatch.setattr(gpu, "DRIVER_PATHS", (str(tmp_path / "no-such-node"),))
    assert gpu.no_cuda().startswith("no NVIDIA driver")
    (tmp_path / "nvidia0").touch()  # a driver node: now torch is asked
    monkeypatch.setattr(gpu, "DRIVER_PATHS", (str(tmp_path / "nvidia0"),))
    import torch

    assert (gpu.no_cuda() is None) == torch.cuda.is_available()
    # a CPU process choosing the auto backend never pays for importing torch
    code = ("import sys; from engines.backends import gpu; gpu.DRIVER_PATHS = ('/no/such/node',); "
            "from engines.backends import unavailable; print(unavailable('torch-cuda')); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0].startswith("no NVIDIA driver") and out[1] == "False"
