"""Whole-video magnification building blocks with the shipped magnifier's encoder/decoder (ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from mecore.errors import MexError
from mecore.magnify.evm import EVMColour, EVMMotion
from mecore.magnify.filters import DifferenceOfIIR, check_band, ideal_bandpass
from mecore.magnify.learned import LearnedMagnifier
from mecore.magnify.tiles import Tiler
from mecore.magnify.video import LearnedFrames

FPS = 30.0


@pytest.fixture(scope="module")
def magnet_parts():
    import engines

    return engines.load("magnifier_encoder", "onnxruntime-cpu", threads=2), \
        engines.load("magnifier_decoder", "onnxruntime-cpu", threads=2)


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour texture, float64 in [0, 255] (band-limited so sub-pixel shifts are exact)."""
    import cv2

    rng = np.random.default_rng(seed)
    low = rng.random((h // 8 + 2, w // 8 + 2, 3))
    return cv2.resize(low, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)[8:8 + h, 8:8 + w] * 200 + 25


def shifted(img: np.ndarray, dx: float) -> np.ndarray:
    """``img`` moved right by ``dx`` pixels (Fourier shift: exact for sub-pixel motion), uint8."""
    from scipy.ndimage import fourier_shift

    out = np.stack([np.fft.ifft2(fourier_shift(np.fft.fft2(img[..., c]), (0, dx))).real for c in range(3)], -1)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def shift_of(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.registration import phase_cross_correlation

    crop = (slice(8, -8), slice(8, -8))
    s, _, _ = phase_cross_correlation(a.mean(-1)[crop], b.mean(-1)[crop], upsample_factor=100, normalization=None)
    return float(-s[1])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def test_band_checks():
    check_band(0.8, 1.0, FPS)
    for lo, hi, fps in ((1.0, 0.8, FPS), (0.0, 1.0, FPS), (1.0, 16.0, FPS), (1.0, 2.0, 0.0)):
        with pytest.raises(MexError, match="band"):
            check_band(lo, hi, fps)


def test_ideal_bandpass_keeps_only_the_band():
    t = np.arange(300) / FPS
    sig = np.sin(2 * np.pi * 0.9 * t) + np.sin(2 * np.pi * 5.0 * t) + 3.0
    out = ideal_bandpass(sig[:, None], 0.8, 1.0, FPS)[:, 0]
    assert np.abs(out - np.sin(2 * np.pi * 0.9 * t)).max() < 1e-3


def test_static_alpha_1_returns_the_input(magnet_parts):
    img = texture(64, 96)
    frames = LearnedFrames(LearnedMagnifier(*magnet_parts, alpha=1.0, mode="static"))
    for dx in (0.0, 0.3, 0.6):
        f = shifted(img, dx)
        assert psnr(frames.apply(f), f) >= 35.0


def oscillation_gain(parts, freq: float, band=(1.0, 2.0), alpha: float = 10.0, n: int = 50) -> float:
    """Peak-to-peak shift of the magnified output over that of the input (same estimator), for a 0.2 px
    sinusoidal motion."""
    img = texture(48, 64, seed=1)
    mag = LearnedFrames(LearnedMagnifier(*parts, alpha=alpha, mode="temporal", low_hz=band[0],
                                         high_hz=band[1], fps=FPS))
    ref = shifted(img, 0.0)
    ins, outs = [], []
    for i in range(n):
        frame = shifted(img, 0.2 * np.sin(2 * np.pi * freq * i / FPS))
        out = mag.apply(frame)
        if i >= 15:  # after the filter's start-up
            ins.append(shift_of(ref, frame))
            outs.append(shift_of(ref, out))
    return (max(outs) - min(outs)) / (max(ins) - min(ins))


def test_temporal_mode_amplifies_inside_the_band_only(magnet_parts):
    # The difference of IIRs is a broad band-pass: at 30 fps, band 1-2 Hz, its gain is 0.33 at 1.5 Hz
    # and 0.10 at 12 Hz, so alpha 10 should give about 1 + 9 * 0.33 = 4x inside and 1.9x outside.
    inside = oscillation_gain(magnet_parts, 1.5)
    outside = oscillation_gain(magnet_parts, 12.0)
    assert inside > 3.0, inside
    assert outside < 0.6 * inside, (inside, outside)


def test_tiles_leave_no_seam(magnet_parts):
    img = texture(128, 160, seed=2)
    a, b = shifted(img, 0.0), shifted(img, 0.5)
    whole = LearnedFrames(LearnedMagnifier(*magnet_parts, alpha=8.0), tile=512)
    tiled = LearnedFrames(LearnedMagnifier(*magnet_parts, alpha=8.0), tile=96, overlap=24)
    whole.apply(a)
    tiled.apply(a)
    w, t = whole.apply(b).astype(np.float32), tiled.apply(b).astype(np.float32)
    assert tiled.tiler.count == 4
    grad = np.abs(np.diff(t.mean(-1), axis=1))  # horizontal gradient, (128, 159)
    xs = sorted({x for _, x in tiled.tiler._layout["boxes"]})
    border_cols = sorted({x - 1 for x in xs if x} | {x + tiled.tiler._layout["tile"][1] - 1 for x in xs[:-1]})
    cols = grad.mean(0)  # mean gradient of each column
    interior = np.delete(cols, border_cols)
    assert cols[border_cols].max() <= np.percentile(interior, 95), (cols[border_cols], np.percentile(interior, 95))
    assert np.percentile(np.abs(t - w), 99) < 12  # tiles agree with the whole-frame pass


def test_tiler_round_trip_and_odd_sizes():
    tiler = Tiler(64, 16)
    img = np.random.default_rng(0).random((70, 150, 3)).astype(np.float32)
    tiles = tiler.split(img)
    assert tiles.shape[2] % 4 == 0 and tiles.shape[3] % 4 == 0
    assert np.abs(tiler.merge(tiles) - img).max() < 1e-5
    with pytest.raises(MexError):
        Tiler(30, 16)


def test_difference_of_iir_numpy():
    f = DifferenceOfIIR(0.5, 3.0, FPS)
    assert np.abs(f(np.full((3, 3), 5.0))).max() == 0.0


def test_evm_colour_amplifies_a_pulse_in_band():
    h, w = 64, 64
    base = texture(h, w, seed=3)

    def run(freq: float) -> float:
        evm = EVMColour(alpha=50.0, low_hz=0.8, high_hz=1.2, fps=FPS, levels=3)
        amps = []
        for i in range(120):
            pulse = 1.0 * np.sin(2 * np.pi * freq * i / FPS)  # one grey level of colour change
            frame = np.clip(base + pulse * np.array([1.0, 0.3, 0.2]) + 0.5, 0, 255).astype(np.uint8)
            amps.append((evm.apply(frame).astype(np.float32) - base)[..., 0].mean())
        return float(np.ptp(amps[60:]))

    assert run(1.0) > 10 * 2.0 * 0.5   # >= 10x the input's 2-level peak-to-peak (alpha 50 x filter gain)
    assert run(6.0) < 0.5 * run(1.0)


def test_evm_motion_magnifies_a_shift():
    img = texture(64, 64, seed=4)
    evm = EVMMotion(alpha=20.0, low_hz=1.0, high_hz=2.0, fps=FPS, lambda_c=16.0)
    ref = shifted(img, 0.0)
    outs = []
    for i in range(75):
        out = evm.apply(shifted(img, 0.2 * np.sin(2 * np.pi * 1.5 * i / FPS)))
        if i >= 25:
            outs.append(shift_of(ref, out))
    assert np.ptp(outs) > 2 * 0.4


def test_difference_of_iir_bandpass_torch(torch_one_thread):
    import torch

    filt = DifferenceOfIIR(0.5, 3.0, fps=30.0)
    const = torch.full((1, 4, 2, 2), 0.7)
    assert all(filt(const).abs().max().item() == 0.0 for _ in range(20))  # a constant passes nothing

    def amplitude(freq: float) -> float:
        f = DifferenceOfIIR(0.5, 3.0, fps=30.0)
        t = np.arange(300) / 30.0
        ys = [f(torch.tensor([np.sin(2 * np.pi * freq * ti)])).item() for ti in t]
        return float(np.abs(ys[150:]).max())

    assert amplitude(1.0) > 3 * amplitude(0.02)  # in band vs far below the low cut-off
    with pytest.raises(MexError):
        DifferenceOfIIR(3.0, 0.5, fps=30.0)


@pytest.mark.parametrize("arch", ["magnet", "fastmag"])
def test_learned_modes_on_a_torch_model(arch, torch_one_thread):
    """The frame loop over an in-memory network (``from_torch``) against the two-frame network."""
    import torch

    from mecore.nets import build

    torch.manual_seed(0)
    model = build(arch, {}).eval()
    frames = [torch.rand(1, 3, 32, 32) * 2 - 1 for _ in range(3)]

    def run(mag: LearnedMagnifier, seq) -> list[np.ndarray]:
        return [mag.step(f.numpy()) for f in seq]

    outs_s = run(LearnedMagnifier.from_torch(model, 5.0, "static"), frames)
    outs_d = run(LearnedMagnifier.from_torch(model, 5.0, "dynamic"), frames)
    # temporal on a still video: nothing to amplify, every frame is decoded unchanged
    still = run(LearnedMagnifier.from_torch(model, 20.0, "temporal", low_hz=0.5, high_hz=3.0, fps=30.0),
                [frames[0]] * 3)
    with torch.no_grad():
        pair_s = model(frames[0], frames[2], 5.0)[0].numpy()
        pair_d = model(frames[1], frames[2], 5.0)[0].numpy()
        same = model(frames[0], frames[0], 1.0)[0].numpy()
    assert np.allclose(outs_s[2], pair_s, atol=1e-6)
    assert np.allclose(outs_d[2], pair_d, atol=1e-6)
    assert all(np.allclose(o, same, atol=1e-6) for o in still)
    with pytest.raises(MexError, match="mode"):
        LearnedMagnifier.from_torch(model, 5.0, "sideways")
