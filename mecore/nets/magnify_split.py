"""A magnifier cut between encoder and decoder, so a video loop can filter the shape representation.

MagNet's temporal mode band-passes the encoder's shape representation in time and amplifies the
filtered part (Oh et al. 2018, section 3.3); that needs the encoder's output outside the network. These
modules hold the same weights as a ``MagNet`` / ``FastMagNet`` (their state dicts are subsets of its,
under the same keys) and are exported as artifacts of their own:

    encoder  frame -> texture, shape
    decoder  [frame,] texture, shape, motion, amplification -> decode(texture, shape + h(g(motion)(alpha - 1)))

``motion`` is what gets amplified: shape - shape_ref (static/dynamic) or bandpass(shape) (temporal).
With motion = shape_b - shape_a the pair computes exactly ``base(a, b, alpha)``. The fast decoder
also takes the frame (its output is a correction added to it).
"""

from __future__ import annotations

import torch
from torch import nn

from mecore.nets.magnet import MagNet, _amp

BASES = ("magnet", "fastmag")


def _base(base: str, kwargs: dict) -> nn.Module:
    from mecore.nets import build

    if base not in BASES:
        raise KeyError(f"unknown magnifier base {base!r}; known: {', '.join(BASES)}")
    return build(base, kwargs)


class MagnifierEncoder(nn.Module):
    """``forward(frame) -> (texture, shape)``."""

    def __init__(self, base: str = "magnet", **kwargs):
        super().__init__()
        self.encoder = _base(base, kwargs).encoder

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        MagNet._check(frame)
        return self.encoder(frame)


class MagnifierDecoder(nn.Module):
    """``forward(texture, shape, motion, amplification) -> magnified`` (MagNet's decoder)."""

    def __init__(self, base: str = "magnet", **kwargs):
        super().__init__()
        net = _base(base, kwargs)
        self.manipulator, self.decoder = net.manipulator, net.decoder

    def manipulated(self, shape: torch.Tensor, motion: torch.Tensor, amplification) -> torch.Tensor:
        return shape + self.manipulator.delta(motion, _amp(amplification, shape))

    def forward(self, texture, shape, motion, amplification) -> torch.Tensor:
        return self.decoder(texture, self.manipulated(shape, motion, amplification)).clamp(-1.0, 1.0)


class FastMagnifierDecoder(MagnifierDecoder):
    """``forward(frame, texture, shape, motion, amplification) -> magnified`` (FastMagNet's decoder)."""

    def __init__(self, base: str = "fastmag", **kwargs):
        super().__init__(base, **kwargs)

    def forward(self, frame, texture, shape, motion, amplification) -> torch.Tensor:
        return self.decoder(frame, texture, self.manipulated(shape, motion, amplification)).clamp(-1.0, 1.0)


def split(model: nn.Module, base: str, kwargs: dict) -> tuple[MagnifierEncoder, MagnifierDecoder]:
    """Encoder and decoder modules holding ``model``'s weights (eval mode)."""
    enc = MagnifierEncoder(base, **kwargs)
    dec = (FastMagnifierDecoder if base == "fastmag" else MagnifierDecoder)(base, **kwargs)
    state = model.state_dict()
    for part in (enc, dec):
        part.load_state_dict({k: v for k, v in state.items() if k in part.state_dict()})
    return enc.eval(), dec.eval()
