"""The fast magnifier: shapes, a few seconds of ``distill``, ``export-fast`` and the encoder/decoder split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mecore.errors import MexError
from mecore.nets.fastmag import FastMagNet
from train.magnet.distill import DistillConfig, distill
from train.magnet.export_split import export_fast, load_fastmag


def test_shapes_and_cost():
    from mecore.nets.magnet import MagNet

    net = FastMagNet().eval()
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    tex, shape = net.encode(x)
    assert tex.shape == shape.shape == (2, 32, 16, 24)
    out, manipulated = net(x, x, torch.tensor([1.0, 10.0]))
    assert out.shape == x.shape and manipulated.shape == shape.shape
    # alpha 1 on identical frames: the motion is zero, so the output is decode(texture, shape) for both rows
    assert torch.allclose(out[0], net(x[:1], x[:1], 7.0)[0][0], atol=1e-5)
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in MagNet().parameters())
    with pytest.raises(MexError):
        net.encode(torch.zeros(1, 3, 30, 32))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fastmag")
    cfg = DistillConfig(out=out, minutes=0.05, pool=32, size=32, batch=4, eval_every=2, warmup=2,
                        val_n=4, val_size=32)
    return distill(cfg, progress_bar=False)


def test_distill_writes_a_loadable_checkpoint(run):
    model, raw = load_fastmag(run)
    assert raw["arch"] == "fastmag" and raw["step"] >= 1 and raw["history"]
    assert isinstance(model, FastMagNet)
    with pytest.raises(MexError, match="not a fast magnifier"):
        load_fastmag(run.parent / "pool.pt")


def test_export_fast_split_matches_whole(run, tmp_path):
    import engines
    from mecore.magnify.learned import LearnedMagnifier

    summary = export_fast(run, tmp_path)
    assert summary["parity_max_abs_diff"] < 1e-4
    whole = engines.load("fast_magnifier", "onnxruntime-cpu", engines_dir=tmp_path)
    enc = engines.load("fast_magnifier_encoder", "onnxruntime-cpu", engines_dir=tmp_path)
    dec = engines.load("fast_magnifier_decoder", "torch-cpu", engines_dir=tmp_path)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (1, 3, 32, 48)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape).astype(np.float32), -1, 1)
    ref = whole(onset=a, apex=b, amplification=np.array([8.0], np.float32))["magnified"]
    mag = LearnedMagnifier(enc, dec, 8.0, "static")
    mag.step(a)
    assert np.abs(mag.step(b) - ref).max() < 1e-4
    assert whole.meta["model"] == "fast_magnifier" and enc.meta["derived_from"]["model"] == "fast_magnifier"


def test_distill_continues_from_a_published_checkpoint(run, tmp_path):
    """``--init`` takes an ``export-fast`` fast_magnifier.pt as well as a run's last.pt; psnr loss; best.pt kept."""
    export_fast(run, tmp_path / "engines")
    published = tmp_path / "engines" / "fast_magnifier.pt"
    cfg = DistillConfig(out=tmp_path / "run", minutes=0.03, pool=32, size=32, batch=4, eval_every=2, warmup=2,
                        val_n=4, val_size=32, init=published, loss="psnr", grad_clip=20.0)
    last = distill(cfg, progress_bar=False)
    _, raw = load_fastmag(last)
    assert raw["history"][0]["phase"] == "init" and raw["history"][0]["from"] == str(published)
    assert raw["history"][0]["step"] == load_fastmag(run)[1]["step"]  # the first phase's length, from the metadata
    best = max(h["val_psnr"] for h in raw["history"] if "val_psnr" in h)
    assert load_fastmag(last.parent / "best.pt")[1]["history"][-1]["val_psnr"] == best


def test_psnr_loss_is_minus_the_mean_per_sample_log():
    from train.magnet.distill import per_sample_log_mse

    y = torch.zeros(2, 3, 4, 4)
    y_hat = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.01)])
    # a pooled MSE is 99 % the first sample's; the per-sample log weighs both alike
    expected = (np.log(0.01 + 1e-5) + np.log(1e-4 + 1e-5)) / 2
    assert abs(per_sample_log_mse(y_hat, y, y, 0.0).item() - expected) < 1e-5
    with pytest.raises(MexError, match="loss"):
        DistillConfig(loss="ssim")
