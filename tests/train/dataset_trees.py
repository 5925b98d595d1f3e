"""Fixture trees in the licensed datasets' real layouts: coding sheets (header rows below notes where the
release has them) and tiny frame files named as each release names them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()


def touch_frames(folder: Path, names: list[str], images: dict[str, np.ndarray] | None = None) -> None:
    """Frame files (one shared 8x8 grey JPEG's bytes, or ``images[name]``) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        if images and n in images:
            cv2.imwrite(str(folder / n), images[n])
        else:
            (folder / n).write_bytes(_JPG)


# CASME2-coding-20140508.xlsx; the 2019 sheet adds two blank-headed columns (after Filename, after OffsetFrame).
CASME2_2014 = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]
CASME2_2019 = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
               "Estimated Emotion"]


def casme2_sheet(path: Path, rows: list[tuple], layout: str = "2014") -> None:
    """rows: (subject, filename, onset, apex, offset, AUs, emotion) as the sheet writes them."""
    if layout == "2014":
        grid = [CASME2_2014] + [list(r) for r in rows]
    else:
        grid = [CASME2_2019] + [[s, f, None, on, ap, off, None, au, em] for s, f, on, ap, off, au, em in rows]
    frame = pd.DataFrame(grid[1:], columns=[c if c else "" for c in grid[0]])
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)


# SAMM_Micro_FACS_Codes_v2.xlsx: 13 rows of notes (title, the FACS key, blanks), the header in row 14.
SAMM_NOTES = [
    ["SAMM - Spontaneous Micro-Facial Movement Dataset: FACS codes"], [None],
    ["Key:"], ["L - Left, R - Right (unilateral)"], ["A - Asymmetric"], ["A-E after an AU: intensity"],
    ["/ or 'or': the coder could not decide between the AUs"], ["ref(x): reference AU"],
    ["T - Top, B - Bottom"], ["( ): uncertain, ?: unclear"], [None], ["Version 2"], [None],
]
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Type", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
SAMM_HEADER_ROW = len(SAMM_NOTES) + 1  # as a spreadsheet shows it


def samm_sheet(path: Path, rows: list[list]) -> None:
    """rows: the header's columns; written below the notes, as the release does."""
    width = len(SAMM_HEADER)
    grid = [n + [None] * (width - len(n)) for n in SAMM_NOTES] + [SAMM_HEADER] + rows
    pd.DataFrame(grid).to_excel(path, index=False, header=False)


def samm_frames(root: Path, subject: int, clip: str, numbers) -> None:
    sub = f"{subject:03d}"
    touch_frames(root / sub / clip, [f"{sub}_{n:05d}.jpg" for n in numbers])


def smic_clip(root: Path, subject: str, cls: str, clip: str, n: int = 3, start: int = 0) -> None:
    touch_frames(root / "HS" / subject / "micro" / cls / clip,
                 [f"reg_image{k:06d}.bmp" for k in range(start, start + n)])
