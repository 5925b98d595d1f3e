"""Truncated, corrupt and mismatched artifacts fail with one line that names the file and the problem."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import engines
from engines.artifacts import MANIFEST, encode_meta, sha256_file
from mecore.errors import MexError
from tests.engines.conftest import magnifier_inputs


def _fails(match: str, *args, **kwargs) -> str:
    with pytest.raises(MexError, match=match) as info:
        engines.load(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def _relist(folder, fname):
    """Make the manifest agree with the file again, so only the file's own checks can fail."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["artifacts"][fname].update(sha256=sha256_file(folder / fname), size=(folder / fname).stat().st_size)
    (folder / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("backend", ["onnxruntime-cpu", "torch-cpu", "auto"])
def test_corrupt_file_fails_the_manifest_check(engines_copy, backend):
    fname = "magnifier.pt" if backend == "torch-cpu" else "magnifier.onnx"
    path = engines_copy / fname
    path.write_bytes(np.random.default_rng(1).bytes(path.stat().st_size))  # same size: only the hash can tell
    msg = _fails("SHA-256", "magnifier", backend, engines_dir=engines_copy)
    assert str(path) in msg and "manifest" in msg


def test_truncated_file_fails_the_size_check(engines_copy):
    path = engines_copy / "classifier.onnx"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    msg = _fails("truncated", "classifier", engines_dir=engines_copy)
    assert str(path) in msg and "size" in msg


@pytest.mark.parametrize("damage", ["random", "half"])
@pytest.mark.parametrize(("fname", "backend", "match"), [
    ("magnifier.onnx", "onnxruntime-cpu", "not a valid ONNX model"),
    ("classifier.pt", "torch-cpu", "not a valid PyTorch checkpoint"),
])
def test_damaged_file_listed_as_it_is(engines_copy, fname, backend, match, damage):
    path = engines_copy / fname
    data = path.read_bytes()
    path.write_bytes(np.random.default_rng(2).bytes(len(data)) if damage == "random" else data[: len(data) // 2])
    _relist(engines_copy, fname)
    msg = _fails(match, path.stem, backend, engines_dir=engines_copy)
    assert str(path) in msg


def test_sha_in_manifest_differs(engines_copy):
    manifest = json.loads((engines_copy / MANIFEST).read_text())
    manifest["artifacts"]["classifier.onnx"]["sha256"] = "0" * 64
    (engines_copy / MANIFEST).write_text(json.dumps(manifest))
    msg = _fails("does not match the manifest", "classifier", "onnxruntime-cpu", engines_dir=engines_copy)
    assert str(engines_copy / "classifier.onnx") in msg


def _rewrite_meta(path, change):
    model = onnx.load(str(path))
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    change(meta)
    del model.metadata_props[:]
    for k, v in encode_meta(meta).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))


def test_metadata_inputs_differ_from_the_graph(engines_copy):
    path = engines_copy / "magnifier.onnx"
    _rewrite_meta(path, lambda m: m["inputs"][0].update(name="first"))
    _relist(engines_copy, "magnifier.onnx")
    msg = _fails("metadata inputs", "magnifier", "onnxruntime-cpu", engines_dir=engines_copy)
    assert str(path) in msg and "first" in msg and "onset" in msg


@pytest.mark.parametrize("key", ["version", "normalisation", "labels"])
def test_missing_required_metadata(engines_copy, key):
    path = engines_copy / "classifier.onnx"
    _rewrite_meta(path, lambda m: m.pop(key))
    _relist(engines_copy, "classifier.onnx")
    msg = _fails(f"missing {key}", "classifier", "onnxruntime-cpu", engines_dir=engines_copy)
    assert str(path) in msg


def test_model_name_disagrees_with_manifest(engines_copy):
    manifest = json.loads((engines_copy / MANIFEST).read_text())
    manifest["artifacts"]["magnifier.onnx"]["model"] = "classifier"
    (engines_copy / MANIFEST).write_text(json.dumps(manifest))
    _fails("metadata says model 'magnifier'", "magnifier.onnx", "onnxruntime-cpu", engines_dir=engines_copy)


def test_unknown_names_and_bad_calls(published, tmp_path):
    _fails("no onnx/torch artifact named 'spotter'", "spotter", engines_dir=published)
    _fails("unknown backend", "magnifier", "openvino", engines_dir=published)
    _fails("not found", tmp_path / "nothing.onnx")
    _fails("unknown artifact type", published / MANIFEST)
    engine = engines.load("magnifier", "onnxruntime-cpu", engines_dir=published)
    arrays = magnifier_inputs(1)
    with pytest.raises(MexError, match="inputs missing \\['amplification'\\]"):
        engine(onset=arrays["onset"], apex=arrays["apex"])
    with pytest.raises(MexError, match="'onset' has shape \\[1, 4, 16, 16\\]"):
        engine(**{**arrays, "onset": np.zeros((1, 4, 16, 16), np.float32)})
    (tmp_path / MANIFEST).write_text("{not json")
    _fails("unreadable manifest", "magnifier", engines_dir=tmp_path)
