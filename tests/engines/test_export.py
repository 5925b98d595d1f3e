"""export_onnx embeds the metadata; save_checkpoint rebuilds; publish replaces atomically and lists SHA-256s."""

from __future__ import annotations

import json

import onnx
import pytest
import torch

from engines.artifacts import MANIFEST, load_checkpoint, read_manifest, sha256_file
from engines.export import export_onnx, publish, save_checkpoint
from mecore.errors import MexError
from mecore.nets import build
from tests.engines.conftest import CLS_META, LABELS


def test_onnx_metadata_is_json_and_complete(models):
    folder, _ = models
    model = onnx.load(str(folder / "magnifier.onnx"))
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert props["model"] == "magnifier" and props["version"] == "0.0.1"
    assert props["amplification"] == {"min": 1.0, "max": 20.0, "default": 10.0}
    assert props["inputs"][0] == {"name": "onset", "shape": ["N", 3, "H", "W"], "dtype": "float32"}
    assert props["inputs"][2] == {"name": "amplification", "shape": ["N"], "dtype": "float32"}
    assert [o["name"] for o in props["outputs"]] == ["magnified", "shape"]
    assert props["code_version"] and props["created"].endswith("+00:00")
    onnx.checker.check_model(model)


def test_checkpoint_rebuilds_the_module(models):
    folder, modules = models
    ckpt = load_checkpoint((folder / "classifier.pt").read_bytes(), folder / "classifier.pt")
    assert ckpt["arch"] == "test-tinyclassifier" and ckpt["meta"]["labels"] == LABELS
    net = build(ckpt["arch"], ckpt["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    x = torch.randn(2, 30, 7, 7)
    torch.testing.assert_close(net(x), modules["classifier"](x))


def test_export_refuses_incomplete_metadata(models, tmp_path):
    _, modules = models
    meta = {k: v for k, v in CLS_META.items() if k != "labels"}
    with pytest.raises(MexError, match="missing labels"):
        export_onnx(modules["classifier"], (torch.randn(1, 30, 7, 7),), tmp_path / "c.onnx", ["patches"], ["logits"],
                    {"patches": {0: "N"}}, meta)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind
    with pytest.raises(MexError, match="metadata is missing"):
        save_checkpoint(tmp_path / "c.pt", "test-tinyclassifier", {}, modules["classifier"].state_dict(), {})


def test_publish_lists_and_replaces(models, tmp_path):
    folder, _ = models
    publish({"classifier": folder / "classifier.onnx"}, tmp_path)
    publish({"magnifier": folder / "magnifier.onnx", "magnifier.pt": folder / "magnifier.pt"}, tmp_path)
    manifest = read_manifest(tmp_path)
    assert sorted(manifest["artifacts"]) == ["classifier.onnx", "magnifier.onnx", "magnifier.pt"]
    for fname, entry in manifest["artifacts"].items():
        assert entry["sha256"] == sha256_file(tmp_path / fname)
        assert entry["size"] == (tmp_path / fname).stat().st_size
    assert manifest["artifacts"]["magnifier.pt"]["kind"] == "torch"
    assert manifest["artifacts"]["classifier.onnx"]["meta"]["labels"] == LABELS
    publish({"classifier": folder / "classifier.onnx"}, tmp_path)  # republish in place: same entry, no temp files
    assert read_manifest(tmp_path)["artifacts"]["classifier.onnx"] == manifest["artifacts"]["classifier.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["classifier.onnx", MANIFEST, "magnifier.onnx",
                                                              "magnifier.pt"])


def test_publish_checks_everything_before_replacing_anything(models, tmp_path):
    folder, _ = models
    publish({"magnifier": folder / "magnifier.onnx"}, tmp_path)
    before = (tmp_path / MANIFEST).read_bytes(), (tmp_path / "magnifier.onnx").read_bytes()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(MexError, match="bad.onnx: not a valid ONNX model"):
        publish({"magnifier": folder / "magnifier.onnx", "classifier": bad}, tmp_path)
    assert ((tmp_path / MANIFEST).read_bytes(), (tmp_path / "magnifier.onnx").read_bytes()) == before
    assert not list(tmp_path.glob(".*staged"))
    with pytest.raises(MexError, match="cannot publish a onnx file as x.pt"):
        publish({"x.pt": folder / "magnifier.onnx"}, tmp_path)
