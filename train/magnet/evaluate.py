"""Evaluation: ``python -m train.magnet eval`` — PSNR/SSIM on the held-out synthetic test set, one table.

Rows: the input apex frame (no magnification), the linear Eulerian magnifier (Laplacian pyramid,
Wu et al. 2012, the EVM baseline) with its cut-off chosen on a separate validation seed, the
reference weights when given, and the project's trained weights. Plus a picture strip on a real
face video: onset, apex and the magnified apex at alpha = 5, 10, 20.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mecore.errors import MexError
from train.magnet.data import Synth, SynthConfig, held_out_set

_G5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # Burt & Adelson binomial kernel
VAL_SEED = 4242            # EVM's cut-off is picked on this seed, never on the test seed
EVM_CHOICES = (None, 4.0, 8.0, 16.0, 32.0, 64.0)  # lambda_c (None: every band at alpha - 1)


def _blur(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = _G5.to(x)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="reflect"), k.view(1, 1, 1, 5).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="reflect"), k.view(1, 1, 5, 1).repeat(c, 1, 1, 1), groups=c)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels, finest first, then the low-pass residual."""
    bands = []
    for _ in range(levels):
        low = _blur(x)[..., ::2, ::2]
        up = _blur(F.interpolate(low, size=x.shape[-2:], mode="nearest") * _mask_even(x))
        bands.append(x - up * 4)
        x = low
    return bands + [x]


def _mask_even(x: torch.Tensor) -> torch.Tensor:
    m = torch.zeros(x.shape[-2:], dtype=x.dtype, device=x.device)
    m[::2, ::2] = 1
    return m


def collapse(bands: list[torch.Tensor]) -> torch.Tensor:
    x = bands[-1]
    for band in reversed(bands[:-1]):
        up = torch.zeros(*x.shape[:-2], band.shape[-2], band.shape[-1], dtype=x.dtype, device=x.device)
        up[..., ::2, ::2] = x
        x = band + _blur(up) * 4
    return x


def evm_magnify(a: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor, lambda_c: float | None,
                levels: int | None = None) -> torch.Tensor:
    """Linear Eulerian magnification of two frames: each pyramid band of B gets (alpha-1)(B - A) added,
    attenuated per band by Wu et al.'s bound (1 + alpha) delta < lambda / 8 for spatial wavelength
    cut-off ``lambda_c`` (pixels), exaggeration factor 2, finest band and residual left unamplified."""
    h, w = b.shape[-2:]
    levels = levels or max(1, int(math.log2(min(h, w) / 8)))
    pa, pb = laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)
    gain = (alpha - 1).view(-1, 1, 1, 1).to(b)
    out = []
    lam = math.sqrt(h * h + w * w) / 3 / 2 ** levels  # wavelength at the finest band, as in EVM's code
    for i, (la, lb) in enumerate(zip(pa, pb)):
        if lambda_c is None:
            g = gain
        elif i == 0 or i == levels:
            g = torch.zeros_like(gain)
        else:
            delta = lambda_c / 8 / (1 + gain)
            g = torch.minimum(gain, (lam * 2 ** i / delta / 8 - 1) * 2)
        out.append(lb + g * (lb - la))
    return collapse(out).clamp(-1, 1)


def pick_evm_cutoff(n: int = 64, size: int = 128) -> float | None:
    """lambda_c with the best mean PSNR on the validation seed (a fair, tuned baseline)."""
    val = Synth(SynthConfig(size=size, color_perturb_p=0.0), seed=VAL_SEED).batch(n)
    best, best_psnr = None, -1.0
    for lc in EVM_CHOICES:
        p = psnr(evm_magnify(val["A"], val["B"], val["amp"], lc), val["Y"]).mean().item()
        if p > best_psnr:
            best, best_psnr = lc, p
    return best


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR (dB) of images in [-1, 1] (peak-to-peak 2), computed in float64."""
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return (10 * torch.log10(4.0 / mse)).float()


def ssim(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    from skimage.metrics import structural_similarity

    xs = ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    ys = ((y.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    return np.array([structural_similarity(p, q, channel_axis=2, data_range=1.0) for p, q in zip(xs, ys)])


@torch.no_grad()
def run_model(model, data: dict, batch: int = 16) -> torch.Tensor:
    model.eval()
    outs = []
    for i in range(0, data["A"].shape[0], batch):
        out, _ = model(data["A"][i:i + batch], data["B"][i:i + batch], data["amp"][i:i + batch])
        outs.append(out)
    return torch.cat(outs)


def score(name: str, out: torch.Tensor, data: dict) -> dict:
    p = psnr(out, data["Y"])
    amp = data["amp"]
    row = {"method": name, "psnr": round(p.mean().item(), 2), "ssim": round(float(ssim(out, data["Y"]).mean()), 4)}
    for label, sel in (("psnr_alpha<10", amp < 10), ("psnr_alpha10-30", (amp >= 10) & (amp < 30)),
                       ("psnr_alpha>=30", amp >= 30)):
        row[label] = round(p[sel].mean().item(), 2) if sel.any() else None
    return row


def evaluate(models: dict[str, torch.nn.Module], n: int = 256, size: int = 128, seed: int = 20180908) -> dict:
    """{"rows": [...], "test_set": {...}} for the apex frame, EVM, and each model (name -> MagNet)."""
    data = held_out_set(n=n, size=size, seed=seed)
    lam = pick_evm_cutoff(size=size)
    rows = [score("no magnification (apex frame)", data["B"], data)]
    rows.append(score(f"linear EVM, Laplacian pyramid (lambda_c={lam})", evm_magnify(data["A"], data["B"], data["amp"], lam), data))
    for name, model in models.items():
        rows.append(score(name, run_model(model, data), data))
    return {"rows": rows, "test_set": {"n": n, "size": size, "seed": seed, "evm_lambda_c": lam,
                                       "alpha": "log-uniform 1-100", "generator": "train.magnet.data.held_out_set"}}


def format_table(result: dict) -> str:
    cols = ["method", "psnr", "ssim", "psnr_alpha<10", "psnr_alpha10-30", "psnr_alpha>=30"]
    head = ["method", "PSNR dB", "SSIM", "PSNR a<10", "PSNR 10<=a<30", "PSNR a>=30"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        lines.append("| " + " | ".join("-" if r[c] is None else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


# --- picture strip on a real video ----------------------------------------------------------------

def read_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    import av

    want, got = set(indices), {}
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in want:
                    got[i] = frame.to_ndarray(format="rgb24")
                if len(got) == len(want):
                    break
    except (av.error.FFmpegError, OSError) as e:
        raise MexError(f"{path}: cannot decode video: {e}") from None
    missing = sorted(want - set(got))
    if missing:
        raise MexError(f"{path}: video has no frame {missing[0]}")
    return got


def _square_256(rgb: np.ndarray) -> torch.Tensor:
    from mecore.preprocess import to_magnet_input

    h, w = rgb.shape[:2]
    s = min(h, w)
    crop = rgb[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return torch.from_numpy(to_magnet_input(np.ascontiguousarray(crop)))[None]


@torch.no_grad()
def picture_strip(models: dict[str, torch.nn.Module], video: Path, out: Path, onset: int = 0, apex: int = 45,
                  alphas=(5, 10, 20)) -> Path:
    """PNG: per model one row of onset | apex | magnified x alpha..., labelled; written atomically."""
    import cv2

    from mecore.atomic import atomic_path
    from mecore.preprocess import from_magnet_output

    frames = read_frames(video, [onset, apex])
    a, b = _square_256(frames[onset]), _square_256(frames[apex])
    rows = []
    for name, model in models.items():
        model.eval()
        tiles = [(f"onset #{onset}", a), (f"apex #{apex}", b)]
        tiles += [(f"x{al}", model(a, b, torch.tensor([float(al)]))[0]) for al in alphas]
        imgs = []
        for label, t in tiles:
            img = np.ascontiguousarray(from_magnet_output(t[0].numpy()))
            cv2.putText(img, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
            imgs.append(img)
        row = np.concatenate(imgs, axis=1)
        bar = np.zeros((24, row.shape[1], 3), np.uint8)
        cv2.putText(bar, name, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(np.concatenate([bar, row], axis=0))
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    if not ok:
        raise MexError(f"{out}: PNG encoding failed")
    with atomic_path(out) as tmp:
        tmp.write_bytes(png.tobytes())
    return out
