"""FGRMER (Lei et al., CVPRW 2021): facial graph representation + AU graph fusion, official dimensions.

Input: (N, 30, C, 7, 7) patches of C maps of the magnifier's motion at the 30 graph nodes (10 brow,
20 mouth; order of mecore.face.roi.NODES); the paper has one map (C = 1, (N, 30, 7, 7) also taken).
Pipeline:

- node learning: depthwise 3x3 conv (30 x C groups) + BatchNorm + ReLU, each node's C patches
  flattened into one token of C x 49 (the transformers' d_model; 49 in the paper). The project's
  classifier takes C = 3 (``in_channels``: the magnifier's motion map and the optical flow's x and y,
  mecore.preprocess); mixing several maps in the node conv into a 49-wide token lost what they add
  (docs/training.md);
- edge learning: one 6-layer transformer encoder for the brow nodes and one for the mouth nodes
  (8 heads, d_k = d_v = 16, d_model 49 C, d_inner 128, dropout 0.5, post-norm), each followed by a
  head 490 C / 980 C -> 320 -> 160;
- AU graph: a learned (9, 40) embedding through a 2-layer GCN 40 -> 80 -> 160 over the normalised
  AU adjacency (a buffer; it is counted on the training subjects of each fold, see train/adjacency.py);
- fusion: brow features x the 3 brow-AU columns and mouth features x the 6 mouth-AU columns of the
  GCN output -> (N, 9) -> LayerNorm(9) -> Linear(9 -> classes).

Patches are first standardised per element with ``input_mean``/``input_std`` (30 x C x 7 x 7,
counted on the training patches). The raw maps sit on a large constant level with tiny variations, and the node
conv's zero padding turns that level into border edges that swamp the signal; without this the
network does not even fit its training set (docs/training.md).

Constructor arguments are plain Python values (adjacency and input statistics as nested lists), so a
checkpoint's ``kwargs`` rebuild the exact network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mecore.face.au import BROW_AUS, GRAPH_AUS
from mecore.face.roi import N_BROW, N_MOUTH, N_NODES, PATCH_SIZE


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with separate d_k/d_v (d_model = 49 is not divisible by 8 heads)."""

    def __init__(self, d_model: int, n_head: int, d_k: int, d_v: int, dropout: float):
        super().__init__()
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.w_q = nn.Linear(d_model, n_head * d_k, bias=False)
        self.w_k = nn.Linear(d_model, n_head * d_k, bias=False)
        self.w_v = nn.Linear(d_model, n_head * d_v, bias=False)
        self.fc = nn.Linear(n_head * d_v, d_model, bias=False)
        self.attn_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        q = self.w_q(x).view(n, t, self.n_head, self.d_k).transpose(1, 2)
        k = self.w_k(x).view(n, t, self.n_head, self.d_k).transpose(1, 2)
        v = self.w_v(x).view(n, t, self.n_head, self.d_v).transpose(1, 2)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d_k), dim=-1)
        out = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(n, t, self.n_head * self.d_v)
        return self.fc(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer layer (as in "Attention is all you need", which FGRMER builds on)."""

    def __init__(self, d_model: int, d_inner: int, n_head: int, d_k: int, d_v: int, dropout: float):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_head, d_k, d_v, dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-6)
        self.ff = nn.Sequential(nn.Linear(d_model, d_inner), nn.ReLU(), nn.Linear(d_inner, d_model))
        self.norm2 = nn.LayerNorm(d_model, eps=1e-6)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.ff(x)))


class NodeEncoder(nn.Module):
    """A stack of encoder layers over one facial region's nodes, then a head to a 160-d feature."""

    def __init__(self, n_nodes: int, d_model: int, n_layers: int, n_head: int, d_k: int, d_v: int,
                 d_inner: int, dropout: float, hidden: int, out: int):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout) for _ in range(n_layers)
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(n_nodes * d_model, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, out), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


class GraphConv(nn.Module):
    """Kipf & Welling graph convolution: adj @ (x @ W)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_in, d_out))
        nn.init.uniform_(self.weight, -1.0 / math.sqrt(d_out), 1.0 / math.sqrt(d_out))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return adj @ (x @ self.weight)


class FGRMER(nn.Module):
    def __init__(
        self,
        num_classes: int = 5,
        adjacency: list[list[float]] | None = None,
        n_layers: int = 6,
        n_head: int = 8,
        d_k: int = 16,
        d_v: int = 16,
        d_inner: int = 128,
        dropout: float = 0.5,
        au_embed: int = 40,
        gcn_hidden: int = 80,
        feat: int = 160,
        head_hidden: int = 320,
        input_mean: list | float = 0.0,
        input_std: list | float = 1.0,
        in_channels: int = 1,
    ):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        n_aus = len(GRAPH_AUS)
        adj = torch.eye(n_aus) if adjacency is None else torch.as_tensor(adjacency, dtype=torch.float32)
        if adj.shape != (n_aus, n_aus):
            raise ValueError(f"adjacency must be {n_aus}x{n_aus} (GRAPH_AUS order), got {tuple(adj.shape)}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.num_classes, self.in_channels = num_classes, in_channels
        d_model = in_channels * PATCH_SIZE * PATCH_SIZE
        width = N_NODES * in_channels  # node-major: node i's maps are channels i*C ... i*C + C - 1
        self.node = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, groups=width),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        enc = dict(d_model=d_model, n_layers=n_layers, n_head=n_head, d_k=d_k, d_v=d_v, d_inner=d_inner,
                   dropout=dropout, hidden=head_hidden, out=feat)
        self.brow = NodeEncoder(N_BROW, **enc)
        self.mouth = NodeEncoder(N_MOUTH, **enc)
        self.au_embedding = nn.Parameter(torch.empty(n_aus, au_embed))
        nn.init.normal_(self.au_embedding, std=1.0)
        self.gc1 = GraphConv(au_embed, gcn_hidden)
        self.gc2 = GraphConv(gcn_hidden, feat)
        self.register_buffer("adjacency", adj.clone())
        # Input standardisation per patch element, from the training patches (a buffer, so the exported
        # graph carries it and serving feeds raw patches).
        mean, std = (self._per_element(v) for v in (input_mean, input_std))
        if not bool((std > 0).all()):
            raise ValueError("input_std must be > 0 everywhere")
        self.register_buffer("input_mean", mean.clone())
        self.register_buffer("input_std", std.clone())
        self.norm = nn.LayerNorm(n_aus)
        self.fc = nn.Linear(n_aus, num_classes)
        self._n_brow_aus = len(BROW_AUS)

    def _per_element(self, value: list | float) -> torch.Tensor:
        """(30, C, 7, 7) from a scalar or any nesting of that many values (a C = 1 checkpoint's 30x7x7)."""
        t = torch.as_tensor(value, dtype=torch.float32)
        shape = (N_NODES, self.in_channels, PATCH_SIZE, PATCH_SIZE)
        return t.reshape(shape) if t.numel() == math.prod(shape) else t.expand(shape)

    def au_features(self) -> torch.Tensor:
        """(feat, 9): one column per graph AU, in GRAPH_AUS order."""
        h = F.leaky_relu(self.gc1(self.au_embedding, self.adjacency), 0.2)
        return self.gc2(h, self.adjacency).transpose(0, 1)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        n, c = patches.shape[0], self.in_channels
        patches = patches.reshape(n, N_NODES, c, PATCH_SIZE, PATCH_SIZE)
        patches = (patches - self.input_mean) / self.input_std
        nodes = self.node(patches.reshape(n, N_NODES * c, PATCH_SIZE, PATCH_SIZE)).reshape(n, N_NODES, -1)  # (N, 30, 49 C)
        brow = self.brow(nodes[:, :N_BROW])  # (N, 160)
        mouth = self.mouth(nodes[:, N_BROW:])  # (N, 160)
        au = self.au_features()
        k = self._n_brow_aus
        fused = torch.cat([brow @ au[:, :k], mouth @ au[:, k:]], dim=1)  # (N, 9)
        return self.fc(self.norm(fused))


class FGRMEREnsemble(nn.Module):
    """Several FGRMERs trained alike from different seeds; the output is the log of their mean softmax,
    so a softmax of it gives the averaged probabilities. On 168 training samples one network's LOSO UF1
    moves by 0.04-0.13 with the seed alone; four averaged are steadier and better (docs/training.md).
    ``members`` are the networks' own constructor arguments (a checkpoint's kwargs rebuild it)."""

    def __init__(self, members: list[dict]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(FGRMER(**kw) for kw in members)
        self.num_classes = self.members[0].num_classes
        self.in_channels = self.members[0].in_channels

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(patches), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))
