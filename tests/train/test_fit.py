"""train.fit's options: architecture overrides reach the checkpoint's kwargs; noise and mixup train and repeat."""

from __future__ import annotations

import numpy as np
import pytest

from mecore.nets.fgrmer import FGRMER
from train import config as config_mod
from train import fit as fit_mod


def _data(n=24, factors=2, classes=3, seed=0, maps=None):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.normal(0.5, 0.02, (n, factors, 30, maps or 1, 7, 7)).astype(np.float32)
    X[:, :, 0, :, 3, 3] += 0.05 * y[:, None, None]  # one element (of every map) carries the class
    X = X if maps else X[:, :, :, 0]  # the paper's one map: (n, factors, 30, 7, 7)
    return X, y


def test_the_number_of_maps_reaches_the_checkpoint():
    X, y = _data(maps=8)
    opts = fit_mod.FitOptions(epochs=1, batch_size=8, model={"n_layers": 1, "head_hidden": 16, "feat": 8})
    res = fit_mod.fit(X, y, np.arange(len(y)), 3, np.eye(9), opts)
    assert res.kwargs["in_channels"] == 8 and np.asarray(res.kwargs["input_mean"]).shape == (30, 8, 7, 7)
    rebuilt = FGRMER(**res.kwargs)
    rebuilt.load_state_dict(res.model.state_dict())
    assert fit_mod.predict(rebuilt, X[:, 0]).shape == (24, 3)


@pytest.mark.parametrize("extra", [{}, {"noise": 0.5}, {"mixup": 0.4}])
def test_model_kwargs_reach_the_checkpoint_and_runs_repeat(extra):
    X, y = _data()
    opts = fit_mod.FitOptions(epochs=2, batch_size=8, model={"n_layers": 1, "head_hidden": 16, "feat": 8}, **extra)
    res = fit_mod.fit(X, y, np.arange(len(y)), 3, np.eye(9), opts)
    assert res.kwargs["n_layers"] == 1 and res.kwargs["head_hidden"] == 16 and res.kwargs["feat"] == 8
    assert len(res.model.brow.layers) == 1
    rebuilt = FGRMER(**res.kwargs)  # what export and the stream do with a checkpoint
    rebuilt.load_state_dict(res.model.state_dict())
    again = fit_mod.fit(X, y, np.arange(len(y)), 3, np.eye(9), opts)
    np.testing.assert_allclose(fit_mod.predict(again.model, X[:, 0]), fit_mod.predict(res.model, X[:, 0]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit_mod.predict(rebuilt, X[:, 0]), fit_mod.predict(res.model, X[:, 0]),
                               rtol=1e-5, atol=1e-6)


def test_config_passes_the_architecture_through(tmp_path):
    cfg = config_mod.Config(root=tmp_path, layers=2, head_hidden=32, feat=16, dropout=0.3, input_noise=0.2,
                            mixup=0.1)
    opts = cfg.fit_options(7)
    assert opts.model == {"n_layers": 2, "head_hidden": 32, "feat": 16, "dropout": 0.3}
    assert opts.noise == 0.2 and opts.mixup == 0.1 and opts.seed == 7
    with pytest.raises(Exception, match="--dropout"):
        config_mod.Config(root=tmp_path, dropout=1.0)
    with pytest.raises(Exception, match="--layers"):
        config_mod.Config(root=tmp_path, layers=0)
