"""``python -m train.magnet quantize``: the shipped fast decoder through ONNX Runtime's real static INT8."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

import engines
from engines import ENGINES_DIR
from mecore.errors import MexError
from train.magnet import quantize as q

PARTS = ("fast_magnifier_encoder.onnx", "fast_magnifier_decoder.onnx")


@pytest.fixture
def engines_copy(tmp_path):
    manifest = json.loads((ENGINES_DIR / "manifest.json").read_text())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if k in PARTS}
    for name in PARTS:
        shutil.copy(ENGINES_DIR / name, tmp_path / name)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def _feeds(enc, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = (rng.random((1, 3, 64, 64), dtype=np.float32) * 2 - 1)
    b = np.clip(a + 0.02 * rng.standard_normal(a.shape, dtype=np.float32), -1, 1)
    return q._decoder_feeds(enc, a, b, np.array([10.0], np.float32))


def test_quantize_publishes_a_scored_int8_decoder(engines_copy):
    summary = q.quantize(engines_copy, calib=4, calib_size=64, test_n=8, log=lambda *_: None)
    dec8 = engines.load("fast_magnifier_int8_decoder", "onnxruntime-cpu", engines_dir=engines_copy)
    dec32 = engines.load("fast_magnifier_decoder", "onnxruntime-cpu", engines_dir=engines_copy)
    manifest = json.loads((engines_copy / "manifest.json").read_text())["artifacts"]
    assert dec8.meta["derived_from"]["sha256"] == manifest["fast_magnifier_decoder.onnx"]["sha256"]
    assert dec8.meta["metrics"]["test_set_psnr_onnxruntime"] == summary["psnr"]
    assert summary["psnr"]["fp32"]["psnr"] - summary["psnr"]["int8"]["psnr"] <= q.MAX_LOSS_DB
    # int8 where it was asked for, fp32 where it was not: the manipulator reads the raw motion input
    graph = onnx.load(str(engines_copy / "fast_magnifier_int8_decoder.onnx")).graph
    producer = {o: n for n in graph.node for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    quantised = {name for name, n in convs.items() if producer.get(n.input[0]) is not None
                 and producer[n.input[0]].op_type == "DequantizeLinear"}
    assert any(name.startswith("/decoder/blocks/") for name in quantised)
    assert not any(name.startswith(q.KEEP_FP32) for name in quantised)
    # and it computes what the fp32 decoder does, within quantisation noise
    enc = q._session((engines_copy / "fast_magnifier_encoder.onnx").read_bytes())
    feeds = _feeds(enc)
    a, b = dec8(**feeds)["magnified"], dec32(**feeds)["magnified"]
    assert 10 * np.log10(4 / np.mean((a - b) ** 2)) >= 35.0
    assert np.abs(a - b).max() > 0  # it is not the fp32 graph under another name


def test_quantize_refuses_a_lossy_result_and_publishes_nothing(engines_copy, monkeypatch):
    monkeypatch.setattr(q, "MAX_LOSS_DB", -100.0)  # any INT8 result now counts as too lossy
    before = (engines_copy / "manifest.json").read_text()
    with pytest.raises(MexError, match="not published"):
        q.quantize(engines_copy, calib=2, calib_size=64, test_n=4, log=lambda *_: None)
    assert not (engines_copy / "fast_magnifier_int8_decoder.onnx").exists()
    assert (engines_copy / "manifest.json").read_text() == before
