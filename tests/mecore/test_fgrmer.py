"""FGRMER: shapes, parameter count, the adjacency buffer, rebuild from checkpoint kwargs, ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mecore.nets import build
from mecore.nets.fgrmer import FGRMER


def test_shapes_and_parameter_count():
    torch.manual_seed(0)
    m = FGRMER(num_classes=5)
    out = m(torch.randn(3, 30, 7, 7))
    assert out.shape == (3, 5)
    n = sum(p.numel() for p in m.parameters())
    # 2 x 6 encoder layers (~38k each) + heads 490/980 -> 320 -> 160 (~573k) + GCN + fusion.
    assert 1_000_000 < n < 1_100_000, n
    assert m.brow.head[1].in_features == 490 and m.mouth.head[1].in_features == 980
    assert m.au_features().shape == (160, 9)
    assert m.node[0].groups == 30 and m.node[0].kernel_size == (3, 3)


def test_adjacency_is_a_buffer_and_rebuilds():
    adj = (np.eye(9) * 0.5 + 0.05).tolist()
    m = build("fgrmer", {"num_classes": 3, "adjacency": adj})
    assert "adjacency" in dict(m.named_buffers()) and "adjacency" in m.state_dict()
    assert not any(name == "adjacency" for name, _ in m.named_parameters())
    m2 = build("fgrmer", {"num_classes": 3, "adjacency": adj})
    m2.load_state_dict(m.state_dict())
    assert torch.allclose(m2.adjacency, torch.tensor(adj, dtype=torch.float32))
    with pytest.raises(ValueError, match="9x9"):
        FGRMER(num_classes=3, adjacency=[[1.0]])


def test_onnx_export_matches(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(1)
    m = FGRMER(num_classes=4).eval()
    x = torch.randn(2, 30, 7, 7)
    path = tmp_path / "c.onnx"
    torch.onnx.export(m, (x,), str(path), input_names=["patches"], output_names=["logits"],
                      dynamic_axes={"patches": {0: "N"}, "logits": {0: "N"}}, opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x5 = torch.randn(5, 30, 7, 7)
    got = sess.run(["logits"], {"patches": x5.numpy()})[0]
    with torch.no_grad():
        want = m(x5).numpy()
    assert got.shape == (5, 4) and np.abs(got - want).max() < 1e-4
