"""SAMM (Davison et al., 2018): ``SAMM_Micro_FACS_Codes_v2.xlsx``, whose header row comes after several
lines of notes, and frames ``006/006_1_2/006_05562.jpg``.

Columns used: Subject, Filename, Onset Frame, Apex Frame, Offset Frame, Action Units, Estimated
Emotion. Subjects are three-digit ids ("006"); a sheet that stored them as numbers is padded back.
"""

from __future__ import annotations

from pathlib import Path

from mecore.errors import MexError
from train.datasets.base import (
    ReadResult,
    RowLog,
    col,
    find_dir,
    find_sheet,
    index_frames,
    make_sample,
    read_sheet,
)

NAME = "samm"
CLASS_SET = "samm-5"
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
           "Estimated Emotion")
SHEET_PATTERNS = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM*.xlsx", "SAMM*.csv")


def read(root: str | Path, sheet: str | Path | None = None, class_set: str = CLASS_SET, strict: bool = False,
         dataset: str = NAME) -> ReadResult:
    root = Path(root)
    if not root.is_dir():
        raise MexError(f"{root}: dataset root is not a folder")
    sheet = Path(sheet) if sheet else find_sheet(root, SHEET_PATTERNS, "SAMM FACS coding sheet")
    df = read_sheet(sheet, COLUMNS)
    c = {name: col(df, name) for name in COLUMNS}
    result = ReadResult()
    log = RowLog(result, strict)
    frame_cache: dict[Path, dict] = {}
    for _, row in df.iterrows():
        where = f"{sheet.name} row {row['_row']}"
        subject = str(row[c["Subject"]]).strip().split(".")[0]
        subject = subject.zfill(3) if subject.isdigit() else subject
        clip = str(row[c["Filename"]]).strip()
        sub_dir = find_dir(root, subject)
        clip_dir = sub_dir / clip if sub_dir else root / subject / clip
        if clip_dir not in frame_cache:
            frame_cache[clip_dir] = index_frames(clip_dir)
        if not frame_cache[clip_dir]:
            log.bad(where, f"no frames in {clip_dir}")
            continue
        sample = make_sample(
            log, where, dataset=dataset, subject=subject, clip=clip, frames=frame_cache[clip_dir],
            onset=row[c["Onset Frame"]], apex=row[c["Apex Frame"]], offset=row[c["Offset Frame"]],
            aus=row[c["Action Units"]], emotion=row[c["Estimated Emotion"]], class_set=class_set,
        )
        if sample is not None:
            result.samples.append(sample)
    return result
