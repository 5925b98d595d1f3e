"""Tiny real networks with the artifacts' interfaces (two images + amplification; patches -> logits)."""

from __future__ import annotations

import torch
from torch import nn


class TinyMagnifier(nn.Module):
    """onset, apex (N, 3, H, W) + amplification (N,) -> magnified (N, 3, H, W), shape (N, C, H/2, W/2)."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.encode = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(channels, channels, 3, stride=2, padding=1))
        self.decode = nn.Sequential(nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),
                                    nn.Conv2d(channels, 3, 3, padding=1))

    def forward(self, onset, apex, amplification):
        a, b = self.encode(onset), self.encode(apex)
        shape = b + (b - a) * (amplification.view(-1, 1, 1, 1) - 1.0)
        return torch.tanh(apex + self.decode(shape)), shape


class TinyClassifier(nn.Module):
    """patches (N, 30, 7, 7), or (N, 30, C, 7, 7) with ``in_channels`` C, -> logits (N, classes)."""

    def __init__(self, classes: int = 3, hidden: int = 32, in_channels: int = 1):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(30 * in_channels * 7 * 7, hidden), nn.GELU(),
                                 nn.Linear(hidden, classes))

    def forward(self, patches):
        return self.mlp(patches)
