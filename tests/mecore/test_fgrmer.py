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


def test_wide_node_token_of_several_maps_and_a_one_map_checkpoint():
    torch.manual_seed(2)
    m = FGRMER(num_classes=5, in_channels=8, n_layers=2, head_hidden=128, feat=64).eval()
    assert m.node[0].groups == 240 and m.brow.layers[0].norm1.normalized_shape == (392,)
    assert m.brow.head[1].in_features == 10 * 392 and m.mouth.head[1].in_features == 20 * 392
    x = torch.randn(3, 30, 8, 7, 7)
    with torch.no_grad():
        out = m(x)
        assert out.shape == (3, 5)
        x2 = x.clone()
        x2[:, :, 7] += 1.0  # every map reaches the output: the last one too
        assert not torch.allclose(m(x2), out)
    with pytest.raises(RuntimeError):
        m(torch.randn(3, 30, 7, 7))  # one map into an 8-map network
    # a classifier exported before in_channels existed: (30, 7, 7) statistics, the paper's one map
    old = FGRMER(num_classes=3, input_mean=np.full((30, 7, 7), 0.5).tolist(), input_std=0.1)
    assert old.in_channels == 1 and old.input_mean.shape == (30, 1, 7, 7)
    assert old(torch.randn(2, 30, 7, 7)).shape == (2, 3)
