"""CAS(ME)^3 part A (Li et al., 2022): ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``, sheet ``label``,
columns Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion; frames
``spNO.1/a/color/123.jpg`` (the RGB stream; depth frames sit beside it) under the part A data folder.

One Filename can hold several micro-expressions, so a sample's clip id includes its onset. The
labels write ``spNO.1`` and some folders ``spNo.1``: subject folders are matched case-insensitively.
"""

from __future__ import annotations

from pathlib import Path

from mecore.errors import MexError
from train.datasets.base import (
    ReadResult,
    find_dir,
    index_frames,
    read_coded_rows,
    read_sheet,
    root_and_sheet,
)

NAME = "casme3"
CLASS_SET = "casme3-7"
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "emotion")
SHEET_PATTERNS = ("cas(me)3_part_A_ME_label*.xlsx", "*part_A_ME_label*.xlsx", "*part_A*.csv")


def _clip_frames(root: Path, subject: str, clip: str) -> tuple[Path, dict]:
    sub_dir = find_dir(root, subject, depth=3)
    base = (sub_dir or root / subject) / clip
    for folder in (base / "color", base):
        frames = index_frames(folder)
        if frames:
            return folder, frames
    return base, {}


def read(root: str | Path, sheet: str | Path | None = None, class_set: str = CLASS_SET, strict: bool = False,
         dataset: str = NAME, apex_missing: str = "skip") -> ReadResult:
    root, sheet = root_and_sheet(root, sheet, SHEET_PATTERNS, "CAS(ME)^3 part A label sheet")
    sheet_name = "label" if sheet.suffix.lower() != ".csv" else None
    try:
        df = read_sheet(sheet, COLUMNS, sheet_name=sheet_name)
    except MexError:
        df = read_sheet(sheet, COLUMNS, sheet_name=0)  # a re-saved copy may have lost the sheet name
    return read_coded_rows(
        sheet, df, COLUMNS,
        subject_id=lambda cell: str(cell).strip(),
        clip_frames=lambda subject, clip: _clip_frames(root, subject, clip),
        dataset=dataset, class_set=class_set, strict=strict, apex_missing=apex_missing,
    )
