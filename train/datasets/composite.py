"""The MEGC 2019 composite set: CASME II, SAMM and SMIC-HS merged into 3 classes (negative, positive,
surprise). CASME II / SAMM emotions are grouped as in MEGC 2019 (base.py's "composite-3" map:
happiness -> positive; repression, anger, contempt, disgust, fear, sadness -> negative; "others"
left out); SMIC's classes are already the three.

``root`` holds the three datasets as folders named like ``CASME2``, ``SAMM``, ``SMIC`` (any case;
each in its own layout). A missing one is reported and left out. Subject ids are prefixed with the
dataset name so that LOSO never merges two people who share a number in different datasets.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from mecore.errors import MexError
from train.datasets import casme2, samm, smic
from train.datasets.base import DatasetWarning, ReadResult, dataset_root, find_dir

NAME = "composite"
CLASS_SET = "composite-3"
PARTS = (
    ("casme2", ("CASME2", "CASME_II", "CASMEII", "CASME2_RAW_selected"), casme2.read),
    ("samm", ("SAMM",), samm.read),
    ("smic", ("SMIC", "SMIC-HS", "SMIC_HS"), smic.read),
)


def read(root: str | Path, class_set: str = CLASS_SET, strict: bool = False) -> ReadResult:
    root = dataset_root(root)
    result = ReadResult()
    for name, folder_names, reader in PARTS:
        folder = next((d for n in folder_names if (d := find_dir(root, n, depth=1))), None)
        if folder is None:
            msg = f"{root}: no {name} folder (looked for {', '.join(folder_names)}); composite without it"
            if strict:
                raise MexError(msg)
            warnings.warn(msg, DatasetWarning, stacklevel=2)
            continue
        part = reader(folder, class_set=class_set, strict=strict)
        part.samples = [dataclasses.replace(s, subject=f"{name}_{s.subject}") for s in part.samples]
        result.extend(part)
    return result
