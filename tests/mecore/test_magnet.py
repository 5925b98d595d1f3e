"""MagNet: the published network (strict load + the checked shift test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mecore.errors import MexError
from mecore.nets import build
from mecore.nets.magnet import (
    DownConv,
    MagNet,
    convert_reference_state_dict,
    map_reference_key,
)

# Checked behaviour of the reference weights (shared/README.md): horizontal shift of the output vs A.
CHECKED_SHIFT = {1: 0.49, 10: 5.03}
TOL_PX = 0.05


# Small tensors: one thread is faster and immune to OpenMP barrier stalls on a busy machine.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def reference(magnet_reference) -> MagNet:
    state = torch.load(magnet_reference, map_location="cpu", weights_only=True)
    model = MagNet()
    model.load_state_dict(convert_reference_state_dict(state), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def shifted_astronaut():
    from skimage import data, transform

    a = transform.resize(data.astronaut(), (256, 256), anti_aliasing=False)
    b = transform.warp(a, transform.AffineTransform(translation=(0.5, 0)).inverse, order=3, mode="reflect")
    return a, b


def _to_t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None].astype(np.float32) * 2 - 1)


def _shift_and_psnr(model, a, b, alpha) -> tuple[float, float]:
    from skimage.registration import phase_cross_correlation

    with torch.no_grad():
        out, shape = model(_to_t(a), _to_t(b), torch.tensor([float(alpha)]))
    assert shape.shape == (1, 32, 128, 128)
    o = (out[0].numpy().transpose(1, 2, 0) + 1) / 2
    shift = phase_cross_correlation(a.mean(2), o.mean(2), upsample_factor=100)[0]
    return -float(shift[1]), float(10 * np.log10(1.0 / np.mean((o - b) ** 2)))


def test_reference_weights_load_strict(magnet_reference):
    state = torch.load(magnet_reference, map_location="cpu", weights_only=True)
    assert len(state) == 42 and all(k.endswith(".conv2d.weight") for k in state)
    model = MagNet()
    result = model.load_state_dict(convert_reference_state_dict(state), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(p.numel() for p in model.parameters()) == 918_928
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())


def test_key_mapping_examples():
    assert map_reference_key("encoder.cba_1.conv2d.weight") == "encoder.conv1.weight"
    assert map_reference_key("module.encoder.motion_resblks.1.cba_2.conv2d.weight") == \
        "encoder.shape_blocks.1.conv2.weight"
    assert map_reference_key("manipulator.h_resblk.cba_1.conv2d.weight") == "manipulator.h_blocks.0.conv1.weight"
    assert map_reference_key("decoder.cba_2.conv2d.weight") == "decoder.out_conv.weight"
    assert map_reference_key("decoder.blocks.3.conv1.weight") == "decoder.blocks.3.conv1.weight"  # project keys pass


def test_shift_test_reproduces_checked_figures(reference, shifted_astronaut):
    a, b = shifted_astronaut
    for alpha, expected in CHECKED_SHIFT.items():
        shift, psnr = _shift_and_psnr(reference, a, b, alpha)
        assert abs(shift - expected) <= TOL_PX + 1e-6, f"alpha={alpha}: shift {shift:.3f} px, checked {expected}"
        if alpha == 1:
            assert psnr > 32.0, f"alpha=1 reproduces B at only {psnr:.2f} dB"


def test_symmetric_padding_is_detected(reference, shifted_astronaut, monkeypatch):
    """The shift test can fail: a port with symmetric stride-2 padding moves the output by ~1 px."""
    monkeypatch.setattr(DownConv, "forward", lambda self, x: F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight, stride=2))
    shift, psnr = _shift_and_psnr(reference, *shifted_astronaut, 1)
    assert abs(shift - CHECKED_SHIFT[1]) > 0.5 and psnr < 25


def test_build_and_input_checks():
    model = build("magnet", {})
    assert isinstance(model, MagNet)
    with pytest.raises(MexError, match="multiples of 4"):
        model(torch.zeros(1, 3, 30, 32), torch.zeros(1, 3, 30, 32), 2.0)


def test_alpha_one_and_scalar_amplification():
    torch.manual_seed(0)
    model = MagNet().eval()
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out1, shape1 = model(a, b, torch.tensor([1.0, 1.0]))
        texture, shape_b = model.encode(b)
        assert torch.allclose(shape1, shape_b + model.manipulator.delta(torch.zeros_like(shape_b), torch.ones(2)))
        out_num, _ = model(a, b, 3.0)
        out_t, _ = model(a, b, torch.tensor([3.0, 3.0]))
    assert torch.allclose(out_num, out_t)
    assert out1.abs().max() <= 1.0  # clipped at inference
