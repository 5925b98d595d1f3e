"""CASME II (Yan et al., 2014): coding sheet + one folder of frames per clip.

Sheet ``CASME2-coding-*.xlsx`` (or a .csv export): Subject, Filename, OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion. Frames ``sub01/EP02_01f/img46.jpg`` under the root
(or one folder down, e.g. ``CASME2_RAW_selected/``). The project's synthetic set uses this layout.
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
    root = Path(root)
    if not root.is_dir():
        raise MexError(f"{root}: dataset root is not a folder")
    sheet = Path(sheet) if sheet else find_sheet(root, SHEET_PATTERNS, "CASME II coding sheet")
    df = read_sheet(sheet, COLUMNS)
    c = {name: col(df, name) for name in COLUMNS}
    result = ReadResult()
    log = RowLog(result, strict)
    frame_cache: dict[Path, dict] = {}
    for _, row in df.iterrows():
        where = f"{sheet.name} row {row['_row']}"
        subject = subject_dir_name(str(row[c["Subject"]]).strip().split(".")[0] or "?")
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
            onset=row[c["OnsetFrame"]], apex=row[c["ApexFrame"]], offset=row[c["OffsetFrame"]],
            aus=row[c["Action Units"]], emotion=row[c["Estimated Emotion"]], class_set=class_set,
        )
        if sample is not None:
            result.samples.append(sample)
    return result
