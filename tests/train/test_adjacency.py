"""The AU adjacency on a known toy co-occurrence."""

from __future__ import annotations

import numpy as np

from mecore.face.au import GRAPH_AUS
from train import adjacency

IDX = {au: i for i, au in enumerate(GRAPH_AUS)}


def test_conditional_probabilities_on_toy_counts():
    # AU1 in 4 samples, AU2 in 2 (always with AU1), AU12 in 2 (once with AU1), AU25 never.
    sets = [{1, 2}, {1, 2}, {1}, {1, 12}, {12}, {6, 9}]  # 6 and 9 are not graph AUs: ignored
    counts, joint = adjacency.cooccurrence(sets)
    assert counts[IDX[1]] == 4 and counts[IDX[2]] == 2 and counts[IDX[12]] == 2 and counts[IDX[25]] == 0
    cond = adjacency.conditional(counts, joint)
    assert cond[IDX[1], IDX[2]] == 1.0  # P(AU1 | AU2): every AU2 sample has AU1
    assert cond[IDX[2], IDX[1]] == 0.5  # P(AU2 | AU1)
    assert cond[IDX[12], IDX[1]] == 0.25 and cond[IDX[1], IDX[12]] == 0.5
    assert np.all(cond[:, IDX[25]] == 0) and np.all(np.diag(cond) == 0)


def test_normalised_adjacency():
    adj = adjacency.adjacency([{1, 2}, {1, 2}, {1}, {1, 12}, {12}])
    assert adj.shape == (9, 9) and adj.dtype == np.float32
    a = adjacency.conditional(*adjacency.cooccurrence([{1, 2}, {1, 2}, {1}, {1, 12}, {12}])) + np.eye(9)
    d = a.sum(axis=1)
    assert np.isclose(adj[IDX[1], IDX[2]], a[IDX[1], IDX[2]] / np.sqrt(d[IDX[1]] * d[IDX[2]]))
    # An AU never seen keeps only its self-loop, normalised to 1.
    assert adj[IDX[25], IDX[25]] == 1.0 and np.count_nonzero(adj[IDX[25]]) == 1
    # No data at all: the identity.
    assert np.allclose(adjacency.adjacency([]), np.eye(9))


def test_save_keeps_subjects(tmp_path):
    adj = adjacency.adjacency([{1, 2}])
    adjacency.save(tmp_path / "fold.npz", adj, ["sub02", "sub01"])
    with np.load(tmp_path / "fold.npz") as z:
        assert np.allclose(z["adjacency"], adj) and list(z["subjects"]) == ["sub01", "sub02"]
