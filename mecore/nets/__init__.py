"""Network definitions shared by training (train/) and the PyTorch backend (engines/).

Checkpoints name an architecture and its constructor kwargs; ``build`` turns that back into a module.
"""

from __future__ import annotations

import importlib

# arch name -> "module:Class"; imported lazily so a light import of mecore never pulls torch.
ARCHS: dict[str, str] = {
    "magnet": "mecore.nets.magnet:MagNet",
    "magnet_motion": "mecore.nets.magnet:MagNetMotion",
    "fastmag": "mecore.nets.fastmag:FastMagNet",
    "magnifier_encoder": "mecore.nets.magnify_split:MagnifierEncoder",
    "magnifier_decoder": "mecore.nets.magnify_split:MagnifierDecoder",
    "fast_magnifier_decoder": "mecore.nets.magnify_split:FastMagnifierDecoder",
    "fgrmer": "mecore.nets.fgrmer:FGRMER",
    "fgrmer_ensemble": "mecore.nets.fgrmer:FGRMEREnsemble",
    "spotnet": "mecore.nets.spotnet:SpotNet",
    "spotnet_mean": "mecore.nets.spotnet:SpotNetMean",
}


def build(arch: str, kwargs: dict | None = None):
    """Construct the module for ``arch`` with its stored constructor arguments."""
    if arch not in ARCHS:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHS))}")
    module_name, cls_name = ARCHS[arch].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(**(kwargs or {}))
