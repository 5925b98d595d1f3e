"""Choosing an apex a dataset does not code: SMIC codes none, CASME II writes "/" for one clip.

``APEX_MISSING`` are the choices for a sheet row without an apex: skip the row (what MEGC 2019 does),
the middle frame of onset..offset, or the frame that differs most from the onset (``motion_apex``).
"""

from __future__ import annotations

from pathlib import Path

APEX_MISSING = ("skip", "middle", "motion")


def _grey(path: Path):
    import cv2
    import numpy as np

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return None if img is None else cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)


def motion_apex(numbers: list[int], frames: dict[int, Path]) -> int:
    """The frame number whose image differs most from the first frame's (mean absolute grey difference
    at 64x64)."""
    import numpy as np

    ref = _grey(frames[numbers[0]])
    best, best_d = numbers[len(numbers) // 2], -1.0
    if ref is None:
        return best
    for n in numbers[1:]:
        img = _grey(frames[n])
        if img is not None and (d := float(np.abs(img - ref).mean())) > best_d:
            best, best_d = n, d
    return best


def choose_apex(numbers: list[int], frames: dict[int, Path], how: str) -> int:
    """The apex of a clip whose frames are ``numbers``: the middle one, or by ``motion_apex``."""
    return numbers[len(numbers) // 2] if how == "middle" else motion_apex(numbers, frames)
