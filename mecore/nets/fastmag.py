"""FastMagNet: a lighter learned magnifier with a reduced encoder and a quarter-resolution motion representation.

After Ha et al., *Revisiting Learning-based Video Motion Magnification for Real-time Processing* (2024),
who report that MagNet's shape (motion) representation can live at a lower resolution and its encoder
can be cut down at little cost in quality. MagNet spends about 80 % of its multiply-adds in nine
64-channel residual blocks at H/2; here texture and shape both live at H/4, so the decoder's blocks
cost a quarter per block, and the decoder predicts a correction added to the input frame (a global
skip), so fine texture that a quarter-resolution code cannot hold passes through unchanged:

    encoder    space-to-depth x2 (12 ch) -> 3x3/32 + ReLU -> 1 res block (H/2) -> 3x3 s2/32 + ReLU
               -> ``enc_blocks`` res blocks (H/4); texture: 1 res block; shape: 1 res block   (both H/4)
    manipulator  as MagNet's (g 7x7 + ReLU, h 3x3 + res block), at H/4
    decoder    concat [texture, shape] (64 ch, H/4) -> ``dec_blocks`` res blocks
               -> nearest x2 -> 3x3/32 -> 3x3/12 (H/2) -> depth-to-space x2 (3 ch, H)
               output = frame + that, clipped to [-1, 1] at inference

No convolution runs at full resolution (on a CPU those are memory-bound and cost far more than their
multiply-adds): the frame enters and leaves through space-to-depth / depth-to-space.

Same API as ``MagNet`` (``forward(onset, apex, amplification) -> (magnified, shape)``, ``encode``,
``manipulate``, ``manipulator.delta``), except that ``decode`` also takes the frame the texture came
from. The first layers have MagNet's shapes, so training can start them from a MagNet (``init_from``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mecore.nets.magnet import Conv, DownConv, MagNet, Manipulator, _amp, _blocks


class FastEncoder(nn.Module):
    def __init__(self, ch: int, enc_blocks: int, texture_blocks: int, shape_blocks: int):
        super().__init__()
        self.conv1 = Conv(12, ch, 3)
        self.half_blocks = _blocks(1, ch)
        self.conv3 = DownConv(ch, ch, 3)
        self.blocks = _blocks(enc_blocks, ch)
        self.texture_blocks = _blocks(texture_blocks, ch)
        self.shape_blocks = _blocks(shape_blocks, ch)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        # space-to-depth instead of a full-resolution convolution: nothing runs at H x W but one add
        x = self.half_blocks(F.relu(self.conv1(F.pixel_unshuffle(x, 2))))
        return self.blocks(F.relu(self.conv3(x)))

    def shape(self, trunk: torch.Tensor) -> torch.Tensor:
        return self.shape_blocks(trunk)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.trunk(x)
        return self.texture_blocks(t), self.shape_blocks(t)


class FastDecoder(nn.Module):
    def __init__(self, ch: int, dec_blocks: int):
        super().__init__()
        self.blocks = _blocks(dec_blocks, 2 * ch)
        self.up1 = Conv(2 * ch, ch, 3)
        self.out_conv = Conv(ch, 12, 3)

    def forward(self, frame: torch.Tensor, texture: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        x = self.blocks(torch.cat([texture, shape], dim=1))
        # no ReLU here: every gradient passes this one bottleneck, and a dead ReLU on it ends training
        # (a first run lost all of them within 100 steps and stayed the identity)
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return frame + F.pixel_shuffle(self.out_conv(x), 2)


class FastMagNet(nn.Module):
    """``forward(onset, apex, amplification) -> (magnified, shape)``; shape is (N, ch, H/4, W/4)."""

    def __init__(self, channels: int = 32, enc_blocks: int = 2, texture_blocks: int = 1,
                 shape_blocks: int = 1, man_blocks: int = 1, dec_blocks: int = 6):
        super().__init__()
        self.encoder = FastEncoder(channels, enc_blocks, texture_blocks, shape_blocks)
        self.manipulator = Manipulator(channels, man_blocks)
        self.decoder = FastDecoder(channels, dec_blocks)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(texture (N, ch, H/4, W/4), shape (N, ch, H/4, W/4))."""
        MagNet._check(x)
        return self.encoder(x)

    def manipulate(self, shape_a: torch.Tensor, shape_b: torch.Tensor, amplification) -> torch.Tensor:
        return self.manipulator(shape_a, shape_b, _amp(amplification, shape_b))

    def decode(self, frame: torch.Tensor, texture: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        out = self.decoder(frame, texture, shape)
        return out if self.training else out.clamp(-1.0, 1.0)

    def forward(self, onset: torch.Tensor, apex: torch.Tensor, amplification) -> tuple[torch.Tensor, torch.Tensor]:
        MagNet._check(onset)
        MagNet._check(apex)
        shape_a = self.encoder.shape(self.encoder.trunk(onset))
        texture_b, shape_b = self.encoder(apex)
        shape = self.manipulate(shape_a, shape_b, amplification)
        return self.decode(apex, texture_b, shape), shape

    @torch.no_grad()
    def init_from(self, magnet: MagNet) -> FastMagNet:
        """Start the manipulator (MagNet's shapes) from a trained MagNet's; the rest keeps its initialisation."""
        self.manipulator.load_state_dict(magnet.manipulator.state_dict())
        return self
