"""Synthetic motion-magnification training data after Oh et al. (ECCV 2018), generated with torch ops.

One sample: a textured foreground blob pasted on a textured background; between frames A and B the
foreground (and, in a share of samples, the background) moves by a sub-pixel displacement delta; the
ground truth Y shows the same scene with the motion multiplied by alpha. Frames are rendered at
``supersample`` times the output size and box-downsampled, so sub-pixel motion changes pixel values
the way a camera's integration does; inputs are then given shot + read noise and 8-bit quantisation.

Textures come from the sample images that scikit-image and scikit-learn ship (no COCO/VOC here) and
from procedural patterns (smooth colour noise, gratings, flat gradients). Foreground masks are
random star-shaped blobs given by a signed distance, anti-aliased, so they move continuously.

``C`` is frame B before colour perturbation: training feeds (A, B) with B and Y sharing one random
colour change, and the regulariser asks texture(C) == texture(A) and shape(C) == shape(B).
Everything is drawn from one ``torch.Generator``: a batch is a pure function of (seed, device, call
count), on the CPU or on a GPU, so tests and training use the same code.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mecore.errors import MexError

# Sample images shipped inside the scikit-image / scikit-learn packages (no download). ``astronaut``
# is kept out: it is the image of the architecture's shift test.
SKIMAGE_IMAGES = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "colorwheel",
                  "camera", "brick", "grass", "gravel", "coins", "moon", "page", "text", "clock", "cell")


@dataclass(frozen=True)
class SynthConfig:
    size: int = 128                 # output frames are size x size
    supersample: int = 2            # render at size * supersample, then box-downsample
    alpha_min: float = 1.0
    alpha_max: float = 100.0        # alpha is log-uniform in [alpha_min, alpha_max]
    motion_min: float = 0.05        # |delta| in output pixels
    motion_max: float = 1.0         # sub-pixel input motion
    magnified_max: float = 30.0     # |alpha * delta| is capped here
    bg_motion_p: float = 0.5        # share of samples where the background moves too
    image_texture_p: float = 0.6    # textures from sample images, else procedural
    blur_p: float = 0.3
    blur_sigma_max: float = 2.0     # output pixels
    read_noise_max: float = 0.01    # Gaussian std, intensities in [0, 1]
    shot_noise_max: float = 0.02    # Poisson-like std at intensity 1 (variance grows with intensity)
    color_perturb_p: float = 1.0    # training only; the test set uses 0 (B == C)

    def __post_init__(self):
        if self.size % 4 or self.size < 16:
            raise MexError(f"synthetic size {self.size}: must be a multiple of 4, at least 16")
        if self.supersample < 1:
            raise MexError(f"supersample {self.supersample}: must be >= 1")
        if not (1.0 <= self.alpha_min <= self.alpha_max):
            raise MexError(f"alpha range {self.alpha_min}-{self.alpha_max}: need 1 <= min <= max")
        if not (0 < self.motion_min <= self.motion_max):
            raise MexError(f"motion range {self.motion_min}-{self.motion_max}: need 0 < min <= max")
        for name in ("bg_motion_p", "image_texture_p", "blur_p", "color_perturb_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise MexError(f"{name}={getattr(self, name)}: must be a probability in [0, 1]")


def _square(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


@functools.lru_cache(maxsize=1)
def sample_images() -> tuple[np.ndarray, ...]:
    """Centre squares (uint8 RGB) of the sample images packaged with scikit-image and scikit-learn."""
    from skimage import data as skdata
    from sklearn.datasets import load_sample_images

    images = []
    for name in SKIMAGE_IMAGES:
        try:
            images.append(getattr(skdata, name)())
        except Exception as e:  # a partial scikit-image install lacks some files
            raise MexError(f"scikit-image sample image {name!r} is not available: {e}") from None
    images += list(load_sample_images().images)
    return tuple(np.ascontiguousarray(_square(np.asarray(img, dtype=np.uint8))) for img in images)


def load_texture_bank(res: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(K, 3, res, res) float32 in [0, 1]: the sample images resized to the render resolution."""
    out = []
    for img in sample_images():
        t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
        out.append(F.interpolate(t, size=(res, res), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(out).clamp(0, 1).to(device)


class Synth:
    """``batch(n) -> {"A", "B", "C", "Y"}`` (n, 3, size, size) in [-1, 1] and ``"amp"`` (n,)."""

    def __init__(self, cfg: SynthConfig = SynthConfig(), seed: int = 0, device: torch.device | str = "cpu",
                 bank: torch.Tensor | None = None):
        self.cfg = cfg
        self.device = torch.device(device)
        self.hr = cfg.size * cfg.supersample
        self.bank = load_texture_bank(self.hr, self.device) if bank is None else bank.to(self.device)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(int(seed))
        ys, xs = torch.meshgrid(torch.linspace(-1 + 1 / self.hr, 1 - 1 / self.hr, self.hr, device=self.device),
                                torch.linspace(-1 + 1 / self.hr, 1 - 1 / self.hr, self.hr, device=self.device),
                                indexing="ij")
        self.grid = torch.stack([xs, ys], dim=-1)  # (hr, hr, 2) pixel centres, align_corners=False

    # --- random draws -----------------------------------------------------------------------------
    def _u(self, *shape, lo=0.0, hi=1.0) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=self.gen, device=self.device)

    def _n(self, *shape) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, device=self.device)

    def state(self) -> torch.Tensor:
        return self.gen.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.gen.set_state(state)

    # --- textures ---------------------------------------------------------------------------------
    def _procedural(self, n: int) -> torch.Tensor:
        """(n, 3, hr, hr) in [0, 1]: smooth colour noise, gratings or flat gradients (a third each)."""
        hr, dev = self.hr, self.device
        kind = torch.randint(0, 3, (n,), generator=self.gen, device=dev)
        out = torch.empty(n, 3, hr, hr, device=dev)
        x, y = self.grid[..., 0], self.grid[..., 1]
        for k, make in enumerate((self._noise, self._grating, self._flat)):
            idx = (kind == k).nonzero().flatten()
            if len(idx):
                out[idx] = make(len(idx), x, y)
        return out

    def _noise(self, n: int, x, y) -> torch.Tensor:
        """Smooth colour noise, one random feature size per sample."""
        cells = torch.tensor([2, 4, 8, 16, 32], device=self.device)
        which = cells[torch.randint(0, len(cells), (n,), generator=self.gen, device=self.device)]
        out = torch.empty(n, 3, self.hr, self.hr, device=self.device)
        for c in cells.tolist():
            idx = (which == c).nonzero().flatten()
            if len(idx):
                low = self._n(len(idx), 3, c, c)
                out[idx] = F.interpolate(low, size=(self.hr, self.hr), mode="bicubic", align_corners=False)
        return torch.sigmoid(out * self._u(n, 1, 1, 1, lo=1.0, hi=3.0))

    def _grating(self, n: int, x, y) -> torch.Tensor:
        """Sums of three oriented sinusoids with random colours."""
        out = torch.zeros(n, 3, self.hr, self.hr, device=self.device)
        for _ in range(3):
            theta = self._u(n, 1, 1, hi=math.pi)
            freq = torch.exp(self._u(n, 1, 1, lo=0.0, hi=math.log(40.0)))
            phase = self._u(n, 1, 1, hi=2 * math.pi)
            wave = torch.sin(math.pi * freq * (x * torch.cos(theta) + y * torch.sin(theta)) + phase)
            out = out + wave[:, None] * self._u(n, 3, 1, 1, lo=-1.0, hi=1.0)
        return torch.sigmoid(out * self._u(n, 1, 1, 1, lo=0.7, hi=2.5))

    def _flat(self, n: int, x, y) -> torch.Tensor:
        """Flat colour with a gentle linear gradient: low-texture objects."""
        c0, c1 = self._u(n, 3, 1, 1), self._u(n, 3, 1, 1)
        theta = self._u(n, 1, 1, hi=2 * math.pi)
        ramp = (0.5 + 0.5 * (x * torch.cos(theta) + y * torch.sin(theta)) / math.sqrt(2))[:, None]
        return c0 + (c1 - c0) * ramp * 0.5

    def _textures(self, n: int) -> torch.Tensor:
        use_image = self._u(n) < self.cfg.image_texture_p
        idx = torch.randint(0, self.bank.shape[0], (n,), generator=self.gen, device=self.device)
        # a random per-channel gain keeps grey images from being only grey
        out = (self.bank[idx] * self._u(n, 3, 1, 1, lo=0.7, hi=1.3)).clamp(0, 1)
        proc = (~use_image).nonzero().flatten()
        if len(proc):
            out[proc] = self._procedural(len(proc))
        return out

    def _placement(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Random zoom/rotation (n, 2, 2) and offset (n, 2) from canvas to texture coordinates."""
        scale = self._u(n, lo=0.35, hi=1.0)
        rot = self._u(n, hi=2 * math.pi)
        mat = torch.stack([torch.stack([torch.cos(rot), -torch.sin(rot)], -1),
                           torch.stack([torch.sin(rot), torch.cos(rot)], -1)], -2) * scale.view(n, 1, 1)
        offset = self._u(n, 2, lo=-1.0, hi=1.0) * (1 - scale).view(n, 1)
        return mat, offset

    # --- rendering --------------------------------------------------------------------------------
    def _sample(self, tex, mat, offset, shift) -> torch.Tensor:
        """Texture seen through the placement, translated by ``shift`` (n, 2) in normalised canvas units."""
        pts = self.grid[None] - shift[:, None, None, :]
        uv = torch.einsum("nij,nhwj->nhwi", mat, pts) + offset[:, None, None, :]
        return F.grid_sample(tex, uv, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _mask(self, blob, shift) -> torch.Tensor:
        """Anti-aliased star-shaped blob (n, 1, hr, hr); ``blob`` = (centre, radius, amps, phases)."""
        centre, radius, amps, phases = blob
        rel = self.grid[None] - centre[:, None, None, :] - shift[:, None, None, :]
        rho = rel.norm(dim=-1)
        ang = torch.atan2(rel[..., 1], rel[..., 0])
        k = torch.arange(2, 2 + amps.shape[1], device=self.device, dtype=rel.dtype)
        wobble = (amps[:, None, None, :] * torch.cos(ang[..., None] * k + phases[:, None, None, :])).sum(-1)
        r = radius.view(-1, 1, 1) * (1 + wobble)
        sdf_px = (rho - r) * (self.hr / 2)  # approximately signed distance, in render pixels
        return (0.5 - sdf_px).clamp(0, 1)[:, None]

    def _blur(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Per-sample separable Gaussian blur (sigma in render pixels; 0 = none)."""
        n, c, h, w = x.shape
        radius = int(math.ceil(3 * self.cfg.blur_sigma_max * self.cfg.supersample))
        t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        s = sigma.clamp_min(1e-3).view(n, 1)
        k = torch.exp(-0.5 * (t[None] / s) ** 2)
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n*c, taps)
        y = x.reshape(1, n * c, h, w)
        y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c)
        y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None], groups=n * c)
        return y.reshape(n, c, h, w)

    @torch.no_grad()
    def batch(self, n: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        # motion: alpha log-uniform; |delta| uniform up to min(motion_max, magnified_max / alpha)
        alpha = torch.exp(self._u(n, lo=math.log(cfg.alpha_min), hi=math.log(cfg.alpha_max)))

        def displacement() -> torch.Tensor:
            top = torch.clamp(cfg.magnified_max / alpha, max=cfg.motion_max).clamp_min(cfg.motion_min)
            mag = cfg.motion_min + (top - cfg.motion_min) * self._u(n)
            ang = self._u(n, hi=2 * math.pi)
            return torch.stack([mag * torch.cos(ang), mag * torch.sin(ang)], -1) * (2.0 / cfg.size)

        d_fg = displacement()
        d_bg = displacement() * (self._u(n, 1) < cfg.bg_motion_p)
        bg_tex, fg_tex = self._textures(n), self._textures(n)
        bg_place, fg_place = self._placement(n), self._placement(n)
        blob = (self._u(n, 2, lo=-0.4, hi=0.4), self._u(n, lo=0.2, hi=0.5),
                self._u(n, 4, hi=0.12), self._u(n, 4, hi=2 * math.pi))
        sigma = self._u(n, lo=0.3, hi=cfg.blur_sigma_max) * cfg.supersample
        blurred = (self._u(n) < cfg.blur_p).nonzero().flatten()

        def render(t: float | torch.Tensor) -> torch.Tensor:
            t = torch.as_tensor(t, device=self.device).view(-1, 1)
            fg = self._sample(fg_tex, *fg_place, d_fg * t)
            bg = self._sample(bg_tex, *bg_place, d_bg * t)
            m = self._mask(blob, d_fg * t)
            img = m * fg + (1 - m) * bg
            if len(blurred):
                img[blurred] = self._blur(img[blurred], sigma[blurred])
            return F.avg_pool2d(img, cfg.supersample) if cfg.supersample > 1 else img

        a, c, y = render(0.0), render(1.0), render(alpha)
        b = c
        if cfg.color_perturb_p > 0:
            on = (self._u(n, 1, 1, 1) < cfg.color_perturb_p).float()
            gain = 1 + on * self._u(n, 3, 1, 1, lo=-0.3, hi=0.3)
            bias = on * self._u(n, 3, 1, 1, lo=-0.1, hi=0.1)
            b, y = (c * gain + bias).clamp(0, 1), (y * gain + bias).clamp(0, 1)
        read = self._u(n, 1, 1, 1, hi=cfg.read_noise_max)
        shot = self._u(n, 1, 1, 1, hi=cfg.shot_noise_max)

        def camera(x: torch.Tensor) -> torch.Tensor:  # noise on the inputs only; the target stays clean
            std = torch.sqrt(read ** 2 + shot ** 2 * x)
            return quantise(x + std * self._n(*x.shape))

        a, b, c = camera(a), camera(b), camera(c)
        y = quantise(y)
        return {"A": a * 2 - 1, "B": b * 2 - 1, "C": c * 2 - 1, "Y": y * 2 - 1, "amp": alpha}


def quantise(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.clamp(0, 1) * 255) / 255


def held_out_set(n: int = 256, size: int = 128, seed: int = 20180908, batch: int = 64) -> dict[str, torch.Tensor]:
    """The fixed held-out evaluation set: CPU-generated (reproducible across machines), no colour perturbation."""
    synth = Synth(SynthConfig(size=size, color_perturb_p=0.0), seed=seed, device="cpu")
    parts = [synth.batch(min(batch, n - i)) for i in range(0, n, batch)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
