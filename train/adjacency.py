"""FGRMER's AU adjacency, counted on the training subjects of a fold only.

A[i, j] = P(AU_i | AU_j) = #(samples coding both i and j) / #(samples coding j), over the 9 graph AUs
(GRAPH_AUS order). Identity is added (every AU keeps its own feature, and an AU never seen in the
fold still has a row), then A is symmetrically normalised, D^-1/2 (A + I) D^-1/2 with D the row sums,
as in Kipf & Welling's GCN. The test subject's samples must never be passed in: their AU codes
would leak the label (the emotion classes are defined by their AUs).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mecore.atomic import atomic_path
from mecore.face.au import GRAPH_AUS


def cooccurrence(au_sets: Iterable[Iterable[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(counts of each graph AU (9,), joint counts (9, 9)) over the given samples' AU sets."""
    idx = {au: i for i, au in enumerate(GRAPH_AUS)}
    n = len(GRAPH_AUS)
    counts = np.zeros(n, dtype=np.int64)
    joint = np.zeros((n, n), dtype=np.int64)
    for aus in au_sets:
        present = sorted({idx[a] for a in aus if a in idx})
        for i in present:
            counts[i] += 1
            for j in present:
                joint[i, j] += 1
    return counts, joint


def conditional(counts: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """P(AU_i | AU_j) with columns of never-seen AUs left at zero (no evidence, no edge)."""
    denom = counts[None, :].astype(np.float64)
    cond = np.divide(joint, denom, out=np.zeros(joint.shape, dtype=np.float64), where=denom > 0)
    np.fill_diagonal(cond, 0.0)  # the identity below is the self-loop
    return cond


def normalise(a: np.ndarray) -> np.ndarray:
    """D^-1/2 (A + I) D^-1/2, D = row sums of A + I."""
    a = np.asarray(a, dtype=np.float64) + np.eye(a.shape[0])
    d = 1.0 / np.sqrt(a.sum(axis=1))
    return (d[:, None] * a * d[None, :]).astype(np.float32)


def adjacency(au_sets: Iterable[Iterable[int]]) -> np.ndarray:
    """The normalised (9, 9) adjacency FGRMER's GCN uses, from the training samples' AU sets."""
    counts, joint = cooccurrence(au_sets)
    return normalise(conditional(counts, joint))


def save(path: str | Path, adj: np.ndarray, subjects: Iterable[str], counts: np.ndarray | None = None) -> None:
    """Keep the fold's adjacency with the subjects it was counted on (audit trail for leakage)."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, adjacency=adj, aus=np.array(GRAPH_AUS), subjects=np.array(sorted(subjects)),
                 counts=np.zeros(len(GRAPH_AUS)) if counts is None else counts)
