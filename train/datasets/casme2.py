"""CASME II (Yan et al., 2014): coding sheet + one folder of frames per clip.

Sheet ``CASME2-coding-*.xlsx`` (or a .csv export): Subject, Filename, OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion. Frames ``sub01/EP02_01f/img46.jpg`` under the root
(or one folder down, e.g. ``CASME2_RAW_selected/``). The project's synthetic set uses this layout.
"""

from __future__ import annotations

from pathlib import Path

from train.datasets.base import (
    ReadResult,
    clip_folder,
    read_coded_rows,
    read_sheet,
    root_and_sheet,
)

NAME = "casme2"
CLASS_SET = "casme2-5"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
SHEET_PATTERNS = ("CASME2-coding*.xlsx", "CASME2-coding*.xls", "CASME2-coding*.csv", "*coding*.xlsx", "*coding*.csv")


def subject_dir_name(subject: str) -> str:
    s = subject.strip()
    if s.lower().startswith("sub"):
        s = s[3:]
    return f"sub{int(s):02d}" if s.isdigit() else f"sub{s}"


def read(root: str | Path, sheet: str | Path | None = None, class_set: str = CLASS_SET, strict: bool = False,
         dataset: str = NAME) -> ReadResult:
    root, sheet = root_and_sheet(root, sheet, SHEET_PATTERNS, "CASME II coding sheet")
    return read_coded_rows(
        sheet, read_sheet(sheet, COLUMNS), COLUMNS,
        subject_id=lambda cell: subject_dir_name(str(cell).strip().split(".")[0] or "?"),
        clip_frames=lambda subject, clip: clip_folder(root, subject, clip),
        dataset=dataset, class_set=class_set, strict=strict,
    )
