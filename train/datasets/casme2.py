"""CASME II (Yan et al., 2014): coding sheet + one folder of frames per clip.

Sheet ``CASME2-coding-20140508.xlsx``: Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action
Units, Estimated Emotion; ``CASME2-coding-20190701.xlsx`` the same with two blank-headed columns (after
Filename and after OffsetFrame); a .csv export of either. One clip's apex is "/" (``apex_missing``).
The objective classes (class sets ``objective-*``) come from an "Objective Class" column when the sheet
has one, else from ``CASME2-ObjectiveClasses.xlsx`` (Subject, Filename, Objective Class) beside it.
Frames ``sub01/EP02_01f/img46.jpg`` under the root (or one folder down, e.g. ``CASME2_RAW_selected/``).
The project's synthetic set uses this layout.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from train.datasets.base import (
    ReadResult,
    clip_folder,
    col,
    find_sheet,
    label_columns,
    read_coded_rows,
    read_sheet,
    root_and_sheet,
)
from train.datasets.classes import OBJECTIVE_COLUMNS

NAME = "casme2"
CLASS_SET = "casme2-5"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
SHEET_PATTERNS = ("CASME2-coding*.xlsx", "CASME2-coding*.xls", "CASME2-coding*.csv", "*coding*.xlsx", "*coding*.csv")
OBJECTIVE_PATTERNS = ("CASME2-ObjectiveClasses*.xlsx", "CASME2-ObjectiveClasses*.csv", "*ObjectiveClass*.xlsx")


def subject_dir_name(subject: str) -> str:
    s = str(subject).strip().split(".")[0]
    if s.lower().startswith("sub"):
        s = s[3:]
    return f"sub{int(s):02d}" if s.isdigit() else f"sub{s}"


def _with_objective_file(df: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The coding rows with the objective class of CASME2-ObjectiveClasses.xlsx joined on subject and clip."""
    path = find_sheet(root, OBJECTIVE_PATTERNS, "CASME II objective-class sheet (CASME2-ObjectiveClasses.xlsx)")
    obj = read_sheet(path, ("Subject", "Filename"))
    cls = label_columns(obj, ("Subject", "Filename", "x"), "objective-7", path)[-1]
    table = {(subject_dir_name(r[col(obj, "Subject")]), str(r[col(obj, "Filename")]).strip()): r[cls]
             for _, r in obj.iterrows()}
    df = df.copy()
    df[OBJECTIVE_COLUMNS[0]] = [table.get((subject_dir_name(s), str(f).strip()), "")
                                for s, f in zip(df[col(df, "Subject")], df[col(df, "Filename")])]
    return df


def read(root: str | Path, sheet: str | Path | None = None, class_set: str = CLASS_SET, strict: bool = False,
         dataset: str = NAME, apex_missing: str = "skip") -> ReadResult:
    root, sheet = root_and_sheet(root, sheet, SHEET_PATTERNS, "CASME II coding sheet")
    df = read_sheet(sheet, COLUMNS)
    if class_set.startswith("objective") and not {c.lower() for c in OBJECTIVE_COLUMNS} & {
            str(c).lower() for c in df.columns}:
        df = _with_objective_file(df, root)
    return read_coded_rows(
        sheet, df, COLUMNS,
        subject_id=lambda cell: subject_dir_name(str(cell).strip().split(".")[0] or "?"),
        clip_frames=lambda subject, clip: clip_folder(root, subject, clip),
        dataset=dataset, class_set=class_set, strict=strict, apex_missing=apex_missing,
    )
