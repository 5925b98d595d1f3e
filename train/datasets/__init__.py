"""Dataset readers: each turns a licensed dataset's own layout (or the synthetic set's) into Samples.

    result = train.datasets.read("casme2", "/data/CASME2", strict=False)
    result.samples, result.skipped, result.excluded
"""

from __future__ import annotations

from pathlib import Path

from mecore.errors import MexError
from train.datasets.apex import APEX_MISSING
from train.datasets.base import DatasetWarning, ReadResult, Sample
from train.datasets.classes import CLASS_SETS, classes

# dataset name -> (module, default class set); "synth" is CASME II's layout written by train.synth_me.
DATASETS: dict[str, tuple[str, str]] = {
    "synth": ("casme2", "casme2-5"),
    "casme2": ("casme2", "casme2-5"),
    "samm": ("samm", "samm-5"),
    "casme3": ("casme3", "casme3-7"),
    "smic": ("smic", "smic-3"),
    "composite": ("composite", "composite-3"),
}


def read(name: str, root: str | Path, class_set: str | None = None, strict: bool = False,
         apex_missing: str = "skip", **opts) -> ReadResult:
    """Read dataset ``name`` at ``root`` into Samples of ``class_set`` (default: the dataset's own).

    ``apex_missing`` (skip, middle, motion): a sheet row without a coded apex; SMIC, which codes no apex
    at all, takes ``apex="middle"`` or ``"motion"`` instead.
    """
    import importlib

    if name not in DATASETS:
        raise MexError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if apex_missing not in APEX_MISSING:
        raise MexError(f"unknown --apex-missing {apex_missing!r}; choose from {', '.join(APEX_MISSING)}")
    if DATASETS[name][0] != "smic":
        opts["apex_missing"] = apex_missing
    module, default_set = DATASETS[name]
    class_set = class_set or default_set
    classes(class_set)  # validates the name
    reader = importlib.import_module(f"train.datasets.{module}")
    if name == "synth":
        opts.setdefault("dataset", "synth")
    return reader.read(root, class_set=class_set, strict=strict, **opts)


__all__ = ["APEX_MISSING", "CLASS_SETS", "DATASETS", "DatasetWarning", "ReadResult", "Sample", "classes", "read"]
