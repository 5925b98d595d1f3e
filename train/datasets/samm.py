"""SAMM (Davison et al., 2018): ``SAMM_Micro_FACS_Codes_v2.xlsx``, whose header row comes after several
lines of notes, and frames ``006/006_1_2/006_05562.jpg``.

Columns used: Subject, Filename, Onset Frame, Apex Frame, Offset Frame, Action Units, Estimated
Emotion. Subjects are three-digit ids ("006"); a sheet that stored them as numbers is padded back.
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

NAME = "samm"
CLASS_SET = "samm-5"
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
           "Estimated Emotion")
SHEET_PATTERNS = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM*.xlsx", "SAMM*.csv")


def subject_id(cell: object) -> str:
    subject = str(cell).strip().split(".")[0]
    return subject.zfill(3) if subject.isdigit() else subject


def read(root: str | Path, sheet: str | Path | None = None, class_set: str = CLASS_SET, strict: bool = False,
         dataset: str = NAME, apex_missing: str = "skip") -> ReadResult:
    root, sheet = root_and_sheet(root, sheet, SHEET_PATTERNS, "SAMM FACS coding sheet")
    return read_coded_rows(
        sheet, read_sheet(sheet, COLUMNS), COLUMNS,
        subject_id=subject_id,
        clip_frames=lambda subject, clip: clip_folder(root, subject, clip),
        dataset=dataset, class_set=class_set, strict=strict, apex_missing=apex_missing,
    )
