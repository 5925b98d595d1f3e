"""Load MagNet weights from any of the layouts users hold, and import public weights as a project checkpoint.

``python -m train.magnet import --weights PATH --out FILE`` turns the common public PyTorch layout
(``encoder.cba_1.conv2d.weight`` ...; see ``mecore.nets.magnet.KEY_MAP``) into the project's
checkpoint format ``{"arch", "kwargs", "state_dict", "meta"}`` that ``engines.load`` and
``mecore.nets.build`` read.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engines.artifacts import sha256_file
from engines.export import save_checkpoint
from mecore.atomic import refuse_overwrite
from mecore.errors import MexError
from mecore.nets import build
from mecore.nets.magnet import MagNet, convert_reference_state_dict

VERSION = "1.0"


def magnifier_meta(version: str, dataset: str, channels: int = 32, **extra) -> dict:
    """Metadata every magnifier artifact carries (ONNX metadata_props and .pt ``meta``)."""
    frame = ["N", 3, "H", "W"]
    return {
        "model": "magnifier",
        "version": version,
        "arch": "MagNet (Oh et al., ECCV 2018), TF-official layout",
        "inputs": [{"name": "onset", "shape": frame, "dtype": "float32"},
                   {"name": "apex", "shape": frame, "dtype": "float32"},
                   {"name": "amplification", "shape": ["N"], "dtype": "float32"}],
        "outputs": [{"name": "magnified", "shape": frame, "dtype": "float32"},
                    {"name": "shape", "shape": ["N", channels, "H/2", "W/2"], "dtype": "float32"}],
        "normalisation": "RGB, x / 127.5 - 1 (range [-1, 1]); H and W multiples of 4; output clipped to [-1, 1]",
        "amplification": {"min": 1.0, "max": 100.0, "applied_as": "alpha - 1 (alpha = 1 returns the apex frame)"},
        "dataset": dataset,
        **extra,
    }


def _torch_load(path: Path):
    if not path.is_file():
        raise MexError(f"{path}: weights file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # damaged zip/pickle raise many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MexError(f"{path}: not a readable PyTorch weights file: {first}") from None


def load_state(model: MagNet, state: dict, where: Path) -> MagNet:
    result = model.load_state_dict(state, strict=False)
    bad = list(result.missing_keys) + list(result.unexpected_keys)
    if bad:
        raise MexError(f"{where}: not MagNet weights in a known layout ({len(result.missing_keys)} missing, "
                       f"{len(result.unexpected_keys)} unexpected keys, e.g. {bad[0]!r})")
    return model


def load_magnet(path: str | Path) -> MagNet:
    """A MagNet in eval mode from a project checkpoint (engines/magnifier.pt, a run's last.pt) or public weights."""
    return load_magnet_and_checkpoint(path)[0]


def load_magnet_and_checkpoint(path: str | Path) -> tuple[MagNet, dict]:
    """``load_magnet`` plus the file's dict (kwargs, meta, training config, when it has them), read once."""
    path = Path(path)
    raw = _torch_load(path)
    return _magnet_from(raw, path), raw


def _magnet_from(raw, path: Path) -> MagNet:
    if not isinstance(raw, dict):
        raise MexError(f"{path}: expected a state dict or a checkpoint dict, got {type(raw).__name__}")
    try:
        if "arch" in raw and "state_dict" in raw:
            if raw["arch"] != "magnet":
                raise MexError(f"{path}: checkpoint holds a {raw['arch']!r} network, not a magnet")
            model = build("magnet", raw.get("kwargs") or {})
            return load_state(model, convert_reference_state_dict(raw["state_dict"]), path).eval()
        return load_state(MagNet(), convert_reference_state_dict(raw), path).eval()
    except RuntimeError as e:  # shape mismatches
        raise MexError(f"{path}: weights do not fit MagNet: {str(e).splitlines()[-1].strip()}") from None


def import_weights(weights: str | Path, out: str | Path) -> Path:
    """Public-layout MagNet weights -> project checkpoint ``out`` (never overwriting ``weights``)."""
    weights, out = Path(weights), Path(out)
    refuse_overwrite(out, weights)
    model = load_magnet(weights)
    n_params = sum(p.numel() for p in model.parameters())
    meta = magnifier_meta(VERSION, dataset="imported (trained elsewhere; see source)",
                          source={"file": weights.name, "sha256": sha256_file(weights)}, parameters=n_params)
    return save_checkpoint(out, "magnet", {}, model.state_dict(), meta)
