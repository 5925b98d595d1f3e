"""train.loso's command line is its Config: the same defaults, every field an option, the config kept whole."""

from __future__ import annotations

import dataclasses

import pytest

from mecore.errors import MexError
from train import config as config_mod
from train import loso


def test_cli_defaults_are_the_dataclass_defaults():
    assert loso.parse_args([]).to_dict() == loso.Config().to_dict()
    text = " ".join(config_mod.parser().format_help().split())  # unwrapped
    for f in dataclasses.fields(loso.Config):
        assert f"--{f.name.replace('_', '-')}" in text, f.name
    assert "(default: 40)" in text and "(default: 1.2,1.4,1.6" in text  # epochs, factors: from the fields


def test_options_parse_to_typed_fields(tmp_path):
    cfg = loso.parse_args(["--factors", "2.0,1.6", "--no-export", "--classes", "happiness,surprise",
                           "--root", str(tmp_path), "--epochs", "3"])
    assert cfg.factors == (1.6, 2.0) and cfg.export is False and cfg.classes == ["happiness", "surprise"]
    assert cfg.root == tmp_path and cfg.epochs == 3
    with pytest.raises(SystemExit):
        loso.parse_args(["--factors", "a,b"])


def test_fingerprint_is_the_fold_fields(tmp_path):
    cfg = loso.Config(root=tmp_path)
    fp = cfg.fingerprint("m", ["a", "b"])
    fold = {f.name for f in dataclasses.fields(cfg) if f.metadata.get("fold")}
    assert set(fp) == fold | {"magnifier", "samples", "keys_hash"}
    assert fp["factors"] == list(cfg.factors)
    # a field that changes results changes the fingerprint; one that does not, does not
    assert dataclasses.replace(cfg, lr=2e-3).fingerprint("m", ["a", "b"]) != fp
    assert dataclasses.replace(cfg, workers=1).fingerprint("m", ["a", "b"]) == fp


def test_run_restores_torch_threads(tmp_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    seen = []

    def no_data(cfg):
        seen.append(torch.get_num_threads())
        raise MexError("no data")

    monkeypatch.setattr(loso, "load_data", no_data)
    with pytest.raises(MexError):
        loso.run(loso.Config(root=tmp_path, threads=max(1, before % 4 + 1)))
    assert seen == [max(1, before % 4 + 1)] and torch.get_num_threads() == before
