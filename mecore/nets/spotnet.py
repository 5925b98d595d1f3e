"""The learned spotter's temporal network: a window of per-frame region-flow features in, one frame's class out.

Input (N, F, W): ``W = past + 1 + lookahead`` consecutive feature vectors (``mecore.spotflow.SpotFeatures``);
output (N, 3) logits (none, micro, macro) for the frame ``past`` into the window, so the stream decides a
frame ``lookahead`` frames after it has seen it. A stack of dilated 1-D convolutions (receptive field
1 + 2 x (1 + 2 + 4 + 8) = 31 frames, about a second at 30 fps: a micro-expression's whole rise and fall
and its context) reads the window; the target frame's column and the window's mean go to the classifier.
Features are compressed with a signed log inside the network, so the exported graph takes them raw.
"""

from __future__ import annotations

import torch
from torch import nn

from mecore.spotlearn import CLASSES


class SpotNet(nn.Module):
    def __init__(self, features: int, past: int = 33, lookahead: int = 6, width: int = 48, dropout: float = 0.1):
        super().__init__()
        self.features, self.past, self.lookahead = features, past, lookahead
        layers: list[nn.Module] = [nn.Conv1d(features, width, 1)]
        for d in (1, 2, 4, 8):
            layers += [nn.Conv1d(width, width, 3, padding=d, dilation=d), nn.GELU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * width, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sign(x) * torch.log1p(torch.abs(x))
        h = self.body(x)
        return self.head(torch.cat([h[:, :, self.past], h.mean(dim=2)], dim=1))


class SpotNetMean(nn.Module):
    """Several SpotNets trained alike from different seeds, their probabilities averaged: the output is the log of
    their mean softmax, so the stream's softmax of it gives the mean (as ``FGRMEREnsemble`` for the classifier).
    One network's validation micro F1 moves by 0.11 with its seed alone; ``members`` are each network's
    constructor arguments, so a checkpoint's kwargs rebuild it."""

    def __init__(self, members: list[dict]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(SpotNet(**kw) for kw in members)
        self.features, self.past, self.lookahead = (getattr(self.members[0], k) for k in ("features", "past", "lookahead"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))
