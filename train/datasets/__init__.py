"""Dataset readers: each turns a licensed dataset's own layout (or the synthetic set's) into Samples.

    result = train.datasets.read("casme2", "/data/CASME2", strict=False)
    result.samples, result.skipped, result.excluded
"""

from __future__ import annotations

from pathlib import Path

from mecore.errors import MexError
from train.datasets.base import CLASS_SETS, DatasetWarning, ReadResult, Sample, classes

# dataset name -> (module, default class set); "synth" is CASME II's layout written by train.synth_me.
DATASETS: dict[str, tuple[str, str]] = {
    "synth": ("casme2", "casme2-5"),
    "casme2": ("casme2", "casme2-5"),
    "samm": ("samm", "samm-5"),
    "casme3": ("casme3", "casme3-7"),
    "smic": ("smic", "smic-3"),
    "composite": ("composite", "composite-3"),
}


def read(name: str, root: str | Path, class_set: str | None = None, strict: bool = False, **opts) -> ReadResult:
    """Read dataset ``name`` at ``root`` into Samples of ``class_set`` (default: the dataset's own)."""
    import importlib

    if name not in DATASETS:
        raise MexError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    module, default_set = DATASETS[name]
    class_set = class_set or default_set
    classes(class_set)  # validates the name
    reader = importlib.import_module(f"train.datasets.{module}")
    if name == "synth":
        opts.setdefault("dataset", "synth")
    return reader.read(root, class_set=class_set, strict=strict, **opts)


__all__ = ["CLASS_SETS", "DATASETS", "DatasetWarning", "ReadResult", "Sample", "classes", "read"]
