"""MagNet: learning-based motion magnification (Oh et al., ECCV 2018), TF-official layout in PyTorch.

Layout (the official TensorFlow ``ynet_3frames`` network; no biases anywhere, reflect padding except on
the two stride-2 convolutions, which pad the TF 'SAME' way: zeros, one pixel less before than after):

    encoder    7x7/16 + ReLU -> 3x3 s2/32 + ReLU -> 3 res blocks  (shared trunk, H/2)
               texture: 3x3 s2/32 + ReLU -> 2 res blocks          (H/4)
               shape:   2 res blocks                              (H/2)
    manipulator  shape_b + h(g(shape_b - shape_a) * (alpha - 1))
                 g = 7x7 conv + ReLU; h = 3x3 conv -> 1 res block
    decoder    nearest x2 texture -> 3x3 + ReLU; concat [texture, shape] (64 ch) -> 9 res blocks
               -> nearest x2 -> 3x3/32 + ReLU -> 7x7/3; clipped to [-1, 1] at inference

A symmetric pad on the stride-2 convolutions shifts the whole output by about a pixel, so the padding
is part of the architecture, not a detail. Inputs are RGB in [-1, 1], height and width multiples of 4.

Video modes (static, dynamic, temporal band-pass of the shape representation) are
``mecore.magnify.learned.LearnedMagnifier``'s, for this network too (``LearnedMagnifier.from_torch``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from mecore.errors import MexError


class Conv(nn.Module):
    """Bias-free convolution with reflect padding ('same' size, stride 1)."""

    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.pad = k // 2
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        nn.init.trunc_normal_(self.weight, std=0.02, a=-0.04, b=0.04)  # TF truncated_normal(stddev=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect"), self.weight)


class DownConv(Conv):
    """3x3 stride-2 convolution padded like TF 'SAME' on even sizes: zeros, 0 before and 1 after."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (0, 1, 0, 1)), self.weight, stride=2)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = Conv(ch, ch, 3)
        self.conv2 = Conv(ch, ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _blocks(n: int, ch: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(ch) for _ in range(n)))


class Encoder(nn.Module):
    def __init__(self, ch: int, n_trunk: int, n_texture: int, n_shape: int):
        super().__init__()
        self.conv1 = Conv(3, ch // 2, 7)
        self.conv2 = DownConv(ch // 2, ch, 3)
        self.blocks = _blocks(n_trunk, ch)
        self.texture_conv = DownConv(ch, ch, 3)
        self.texture_blocks = _blocks(n_texture, ch)
        self.shape_blocks = _blocks(n_shape, ch)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(F.relu(self.conv2(F.relu(self.conv1(x)))))

    def texture(self, trunk: torch.Tensor) -> torch.Tensor:
        return self.texture_blocks(F.relu(self.texture_conv(trunk)))

    def shape(self, trunk: torch.Tensor) -> torch.Tensor:
        return self.shape_blocks(trunk)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.trunk(x)
        return self.texture(t), self.shape(t)


class Manipulator(nn.Module):
    def __init__(self, ch: int, n_blocks: int):
        super().__init__()
        self.g = Conv(ch, ch, 7)
        self.h = Conv(ch, ch, 3)
        self.h_blocks = _blocks(n_blocks, ch)

    def delta(self, diff: torch.Tensor, amplification: torch.Tensor) -> torch.Tensor:
        """The change added to the reference shape: h(g(diff) * (alpha - 1))."""
        gain = (amplification - 1.0).reshape(-1, 1, 1, 1).to(diff.dtype)
        return self.h_blocks(self.h(F.relu(self.g(diff)) * gain))

    def forward(self, shape_a: torch.Tensor, shape_b: torch.Tensor, amplification: torch.Tensor) -> torch.Tensor:
        return shape_b + self.delta(shape_b - shape_a, amplification)


class Decoder(nn.Module):
    def __init__(self, ch: int, n_blocks: int):
        super().__init__()
        self.texture_up = Conv(ch, ch, 3)
        self.blocks = _blocks(n_blocks, 2 * ch)
        self.up_conv = Conv(2 * ch, ch, 3)
        self.out_conv = Conv(ch, 3, 7)

    def forward(self, texture: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        texture = F.relu(self.texture_up(F.interpolate(texture, scale_factor=2.0, mode="nearest")))
        x = self.blocks(torch.cat([texture, shape], dim=1))
        x = F.relu(self.up_conv(F.interpolate(x, scale_factor=2.0, mode="nearest")))
        return self.out_conv(x)


class MagNet(nn.Module):
    """``forward(onset, apex, amplification) -> (magnified, shape)``.

    onset/apex: (N, 3, H, W) in [-1, 1], H and W multiples of 4; amplification: (N,) or a number,
    applied as (alpha - 1) so alpha = 1 reproduces the apex frame. ``shape`` is the manipulated shape
    representation (N, ch, H/2, W/2). The output is clipped to [-1, 1] in eval mode only, as the
    original clips its inference graph and not its training loss.
    """

    def __init__(self, channels: int = 32, enc_blocks: int = 3, texture_blocks: int = 2,
                 shape_blocks: int = 2, man_blocks: int = 1, dec_blocks: int = 9):
        super().__init__()
        self.encoder = Encoder(channels, enc_blocks, texture_blocks, shape_blocks)
        self.manipulator = Manipulator(channels, man_blocks)
        self.decoder = Decoder(channels, dec_blocks)

    @staticmethod
    def _check(x: torch.Tensor) -> None:
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 4 or x.shape[3] % 4:
            raise MexError(f"MagNet input of shape {tuple(x.shape)}: expected (N, 3, H, W) with H, W multiples of 4")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(texture (N, ch, H/4, W/4), shape (N, ch, H/2, W/2))."""
        self._check(x)
        return self.encoder(x)

    def manipulate(self, shape_a: torch.Tensor, shape_b: torch.Tensor, amplification) -> torch.Tensor:
        return self.manipulator(shape_a, shape_b, _amp(amplification, shape_b))

    def decode(self, texture: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        out = self.decoder(texture, shape)
        return out if self.training else out.clamp(-1.0, 1.0)

    def forward(self, onset: torch.Tensor, apex: torch.Tensor, amplification) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(onset)
        self._check(apex)
        # The onset frame's texture is never used: skip its texture branch.
        shape_a = self.encoder.shape(self.encoder.trunk(onset))
        texture_b, shape_b = self.encoder(apex)
        shape = self.manipulate(shape_a, shape_b, amplification)
        return self.decode(texture_b, shape), shape


class MagNetMotion(nn.Module):
    """``forward(onset, apex, amplification) -> motion``: the motion part of MagNet's manipulated shape.

    motion = h(g(shape_apex - shape_onset) * (alpha - 1)) = shape(alpha) - shape(1), because h has no
    biases (h(0) = 0). It is what the classifier reads (mecore.preprocess.motion_features), and it needs
    only the encoder's trunk + shape branch and the manipulator: the decoder (nine 64-channel res blocks
    at H/2, most of MagNet's cost) and the texture branch are skipped. Same constructor arguments as
    ``MagNet``; its state dict is a subset of MagNet's (``from_magnet``).
    """

    def __init__(self, channels: int = 32, enc_blocks: int = 3, texture_blocks: int = 2,
                 shape_blocks: int = 2, man_blocks: int = 1, dec_blocks: int = 9):
        super().__init__()
        self.encoder = Encoder(channels, enc_blocks, texture_blocks, shape_blocks)
        self.manipulator = Manipulator(channels, man_blocks)

    @classmethod
    def from_magnet(cls, model: MagNet, kwargs: Mapping | None = None) -> MagNetMotion:
        motion = cls(**dict(kwargs or {}))
        motion.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("decoder.")})
        return motion.eval()

    def forward(self, onset: torch.Tensor, apex: torch.Tensor, amplification) -> torch.Tensor:
        MagNet._check(onset)
        MagNet._check(apex)
        shape_a = self.encoder.shape(self.encoder.trunk(onset))
        shape_b = self.encoder.shape(self.encoder.trunk(apex))
        return self.manipulator.delta(shape_b - shape_a, _amp(amplification, shape_b))


def _amp(amplification, like: torch.Tensor) -> torch.Tensor:
    """(N,) or (1,) float32 amplification; a plain number is broadcast over the batch."""
    if torch.is_tensor(amplification):
        return amplification.reshape(-1)
    return torch.full((like.shape[0],), float(amplification), dtype=torch.float32, device=like.device)


# ---------------------------------------------------------------------------------------------------
# Key mapping: the common public PyTorch layout (``encoder.cba_1.conv2d.weight`` ...) -> this module.
# Applied as ordered (old, new) substring replacements on each key, after dropping wrapper prefixes.
KEY_MAP: tuple[tuple[str, str], ...] = (
    (".conv2d.weight", ".weight"),
    ("encoder.cba_1.", "encoder.conv1."),
    ("encoder.cba_2.", "encoder.conv2."),
    ("encoder.resblks.", "encoder.blocks."),
    ("encoder.texture_cba.", "encoder.texture_conv."),
    ("encoder.texture_resblks.", "encoder.texture_blocks."),
    ("encoder.motion_resblks.", "encoder.shape_blocks."),
    ("manipulator.h_conv.", "manipulator.h."),
    ("manipulator.h_resblk.", "manipulator.h_blocks.0."),
    ("decoder.resblks.", "decoder.blocks."),
    ("decoder.cba_1.", "decoder.up_conv."),
    ("decoder.cba_2.", "decoder.out_conv."),
    (".cba_1.", ".conv1."),
    (".cba_2.", ".conv2."),
)
_WRAPPERS = ("module.", "model.", "magnet.", "net.")


def map_reference_key(key: str) -> str:
    """One public-layout key -> the project's key (project keys pass through unchanged)."""
    for prefix in _WRAPPERS:
        if key.startswith(prefix):
            key = key[len(prefix):]
    for old, new in KEY_MAP:
        key = key.replace(old, new)
    return key


def convert_reference_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a public-layout (or already converted) MagNet state dict to this module's keys."""
    for nested in ("state_dict", "model", "generator"):
        if nested in state and isinstance(state[nested], Mapping):
            state = state[nested]
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            continue
        new = map_reference_key(key)
        if new in out:
            raise MexError(f"weights key {key!r} maps onto {new!r} twice")
        out[new] = value.float()
    return out
