"""``auto`` picks the best backend that works here and says why; TensorRT's absence is a fallback, not an error."""

from __future__ import annotations

import importlib.util
import logging

import pytest

import engines
from engines import backends
from mecore.errors import MexError


def test_auto_reports_its_choice(published, caplog):
    with caplog.at_level(logging.INFO, logger="engines"):
        engine = engines.load("magnifier", engines_dir=published)
    expected = next(n for n in backends.ALIASES["auto"] if backends.unavailable(n) is None)
    assert engine.name.startswith(expected)
    assert engine.why.endswith(f"picked {expected}")
    assert engine.why in caplog.text
    if importlib.util.find_spec("tensorrt") is None:
        assert "tensorrt: tensorrt not installed" in engine.why


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_forcing_tensorrt_without_it_is_one_clear_error(published):
    with pytest.raises(MexError, match="backend tensorrt unavailable: tensorrt not installed") as info:
        engines.load("magnifier", "tensorrt", engines_dir=published)
    assert "magnifier.onnx" in str(info.value)


def test_auto_falls_back_when_a_backend_fails_to_load(published, monkeypatch):
    """A TensorRT that is present but cannot build (a mock: no TensorRT can run here) must not stop auto."""
    from engines.backends import tensorrt

    def broken(artifact, device, **opts):
        raise MexError(f"{artifact.path}: TensorRT build failed")

    monkeypatch.setattr(tensorrt, "unavailable", lambda device: None)
    monkeypatch.setattr(tensorrt, "load", broken)
    engine = engines.load("classifier", engines_dir=published)
    assert engine.why.startswith("tensorrt: failed to load:") and "TensorRT build failed" in engine.why
    assert engine.name != "tensorrt"


def test_auto_uses_a_checkpoint_only_model(models, tmp_path):
    from engines.export import publish

    folder, _ = models
    publish({"classifier.pt": folder / "classifier.pt"}, tmp_path)
    engine = engines.load("classifier", engines_dir=tmp_path)
    assert engine.name.startswith("torch-")
    assert "onnxruntime-cpu: failed to load" in engine.why or engine.name == "torch-cuda-fp16"


def test_available_lists_every_backend():
    table = backends.available()
    assert set(table) == set(backends.BACKENDS)
    assert table["onnxruntime-cpu"] is None and table["torch-cpu"] is None
