"""The released long-video datasets' annotation sheets, read into MEGC intervals (``stream.spot_eval``).

Frame numbers become 0-based decoded-frame indices: the position of the frame in its video or image folder
(``stream.readers`` reads a folder's images in natural order).

- CAS(ME)^2's ``CAS(ME)^2code_final(Updated).xlsx`` (no header row; participant, video_expression, onset,
  apex, offset, AUs, emotion, type, self-report; naming-rule sheets map them to the rawpic folders
  "15_0401..."; images numbered from 1),
- SAMM-LV's ``SAMM_LongVideos_V*_Release.xlsx`` (a block of notes, then a header row with Filename,
  Onset, Apex, Offset, Type "Macro" / "Micro - 1/2"; images numbered from 1),
- CAS(ME)^3 part A's two sheets, as public code that uses the release reads them:
  ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet ``label``: Subject, Filename, Onset, Apex, Offset, AU,
  Objective class, emotion) for the micro-expressions and ``cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx``
  (sub, seq, onset, apex, offset, ..., emotion) for the macro ones; each long video is the image folder
  ``spNO.1/a/color/`` (depth frames beside it in ``depth/``), the sheets' numbers are its jpgs' numbers.
"""

from __future__ import annotations

import bisect
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from mecore.errors import MexError
from mecore.spotscore import Interval, kind_of

# Frame rates of the released long videos (image folders): CAS(ME)^2 and CAS(ME)^3 30 fps, SAMM 200 fps.
KNOWN_FPS = {"casme2": 30.0, "samm_lv": 200.0, "casme3": 30.0}


def read_casme2(path: str | Path) -> dict[str, list[Interval]]:
    """CAS(ME)^2 code_final workbook -> {video: intervals}; an offset of 0 (not coded) -> apex.

    Sheet 1 codes each expression by participant number and "<video name>_<n>" ("anger1_1"); sheets 2
    and 3 (naming rules) map the participant to the subject ("1" -> "15") and the video name to its
    code ("anger1" -> "0401"), so the video is "15_0401": the start of its folder name in rawpic
    (``s15/15_0401girlcrashing``). A workbook without those sheets gives "<participant>_<video name>".
    """
    import pandas as pd

    try:
        sheets = list(pd.read_excel(path, sheet_name=None, header=None, dtype=object).values())
    except Exception as exc:  # noqa: BLE001 - pandas/openpyxl raise many types for a bad file
        raise MexError(f"{path}: cannot read the CAS(ME)^2 sheet ({exc})") from None
    subjects, videos = _casme2_naming(sheets[1:])
    truth: dict[str, list[Interval]] = defaultdict(list)
    for row_no, row in enumerate(sheets[0].itertuples(index=False), start=1):
        try:
            participant, name = int(row[0]), str(row[1]).strip()
            onset, apex, offset, kind = int(row[2]), int(row[3]), int(row[4]), row[7]
        except (IndexError, ValueError, TypeError):
            raise MexError(f"{path}: row {row_no}: expected participant, video_expression, onset, apex, offset, "
                           f"AUs, emotion, type; got {list(row)[:8]}") from None
        if offset == 0:
            offset = apex
        name = name.rsplit("_", 1)[0]
        video = f"{subjects.get(participant, participant)}_{videos.get(name.lower(), name)}"
        truth[video].append(Interval(video, onset - 1, offset - 1, kind_of(kind), str(row[6]) if len(row) > 6 else None))
    return dict(truth)


def _casme2_naming(sheets) -> tuple[dict[int, str], dict[str, str]]:
    """({participant: subject digits}, {video name: 4-digit code}) from the naming-rule sheets, when there."""
    subjects: dict[int, str] = {}
    videos: dict[str, str] = {}
    if len(sheets) >= 2:
        for row in sheets[0].itertuples(index=False):
            digits = "".join(ch for ch in str(row[0]) if ch.isdigit()) if len(row) >= 3 else ""
            if digits and str(row[2]).strip().isdigit():
                subjects[int(str(row[2]).strip())] = digits
        for row in sheets[1].itertuples(index=False):
            code = str(row[0]).strip().split(".")[0] if len(row) >= 2 else ""
            if code.isdigit() and isinstance(row[1], str):
                videos[row[1].strip().lower()] = code.zfill(4)
    return subjects, videos


def read_samm_lv(path: str | Path) -> dict[str, list[Interval]]:
    """SAMM-LV release sheet -> {"006_1": intervals}; the header row is found by its column names."""
    import pandas as pd

    try:
        raw = pd.read_excel(path, sheet_name=0, header=None)
    except Exception as exc:  # noqa: BLE001
        raise MexError(f"{path}: cannot read the SAMM-LV sheet ({exc})") from None
    header = None
    for i in range(min(len(raw), 40)):
        cells = [str(c).strip().lower() for c in raw.iloc[i].tolist()]
        if "filename" in cells and "onset" in cells and "offset" in cells:
            header = i
            break
    if header is None:
        raise MexError(f"{path}: no header row with Filename, Onset, Offset in the first 40 rows")
    cols = [str(c).strip().lower() for c in raw.iloc[header].tolist()]
    col = {name: cols.index(name) for name in ("filename", "onset", "apex", "offset", "type") if name in cols}
    if "type" not in col:
        raise MexError(f"{path}: header row {header + 1} has no Type column")
    truth: dict[str, list[Interval]] = defaultdict(list)
    for r in range(header + 1, len(raw)):
        cells = raw.iloc[r].tolist()
        fname = cells[col["filename"]]
        if not isinstance(fname, str) or fname.count("_") < 2:
            continue  # blank or note rows
        try:
            onset, offset = int(cells[col["onset"]]), int(cells[col["offset"]])
            if offset == 0 and "apex" in col:  # an offset of 0 is not coded: the apex ends it, as for CAS(ME)^2
                offset = int(cells[col["apex"]])
        except (ValueError, TypeError):
            raise MexError(f"{path}: row {r + 1} ({fname}): onset/offset are not frame numbers") from None
        video = "_".join(fname.split("_")[:2])
        truth[video].append(Interval(video, onset - 1, offset - 1, kind_of(cells[col["type"]])))
    if not truth:
        raise MexError(f"{path}: no annotated rows below the header")
    return dict(truth)


def find_video(folder: Path, key: str) -> Path | None:
    """The video file or frame folder for ``key``: same name or stem, or a name that starts with it
    and goes on with a non-digit (CAS(ME)^2's "15_0401" -> "15_0401girlcrashing")."""
    for p in sorted(folder.rglob("*")):
        rest = p.name[len(key):] if p.name.startswith(key) else None
        if p.stem == key or p.name.endswith("_" + key) or (rest and not rest[0].isdigit()):
            return p
    return None


# the columns of CAS(ME)^3's ME sheet and, second, its MaE sheet's names for them
CASME3_COLUMNS = {"subject": ("subject", "sub"), "video": ("filename", "seq"), "onset": ("onset",),
                  "apex": ("apex",), "offset": ("offset",), "emotion": ("emotion",)}


def casme3_kind(path: Path) -> str:
    """micro for the ME sheet, macro for the MaE one, told by the release's file names."""
    name = path.name.lower()
    if "mae" in name:
        return "macro"
    if re.search(r"(^|[^a-z])me([^a-z]|$)", name):
        return "micro"
    raise MexError(f"{path}: cannot tell whether its rows are micro- or macro-expressions; keep the release's "
                   "name (cas(me)3_part_A_ME_label... or cas(me)3_part_A_MaE_label...)")


def read_casme3(paths: list[str | Path]) -> dict[str, list[Interval]]:
    """CAS(ME)^3 part A sheets (the ME one, the MaE one or both) -> {"spNO.1_a": intervals} in the sheets' jpg
    numbers; ``casme3_positions`` turns them into frame positions once the image folders are known. An offset of 0
    (not coded) -> apex, as for CAS(ME)^2."""
    import pandas as pd

    truth: dict[str, list[Interval]] = defaultdict(list)
    for path in map(Path, paths):
        kind = casme3_kind(path)
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=object)
        except Exception as exc:  # noqa: BLE001 - pandas/openpyxl raise many types for a bad file
            raise MexError(f"{path}: cannot read the CAS(ME)^3 sheet ({exc})") from None
        table, col = None, {}
        for frame in sheets.values():  # the ME workbook's sheet is "label"; the MaE one's "Sheet1"
            names = [str(c).strip().lower() for c in frame.columns]
            col = {k: next((names.index(a) for a in alias if a in names), None) for k, alias in CASME3_COLUMNS.items()}
            if all(col[k] is not None for k in ("subject", "video", "onset", "offset")):
                table = frame
                break
        if table is None:
            raise MexError(f"{path}: no sheet with Subject (sub), Filename (seq), Onset and Offset columns")
        for row_no, row in enumerate(table.itertuples(index=False), start=2):  # row 1 is the header
            if pd.isna(row[col["subject"]]):
                continue
            video = f"{str(row[col['subject']]).strip()}_{str(row[col['video']]).strip()}"
            try:
                onset, offset = int(row[col["onset"]]), int(row[col["offset"]])
                if offset == 0 and col["apex"] is not None:
                    offset = int(row[col["apex"]])
            except (ValueError, TypeError):
                raise MexError(f"{path}: row {row_no} ({video}): onset/offset are not frame numbers") from None
            label = row[col["emotion"]] if col["emotion"] is not None else None
            truth[video].append(Interval(video, onset, offset, kind, None if pd.isna(label) else str(label).strip()))
    if not truth:
        raise MexError(f"{', '.join(map(str, paths))}: no annotated rows")
    return dict(truth)


def casme3_folders(root: str | Path) -> dict[str, Path]:
    """{"spNO.1_a": .../spNO.1/a/color} under ``root``: the colour image folder of each long video. Subject
    folders are written both spNO.1 and spNo.1: the keys are lower case, to be matched so."""
    found: dict[str, Path] = {}
    for here, dirs, _ in os.walk(root):
        if "color" in dirs:
            found[f"{Path(here).parent.name}_{Path(here).name}".lower()] = Path(here) / "color"
        dirs[:] = sorted(d for d in dirs if d not in ("color", "depth"))  # never list the frames themselves
    return found


def casme3_positions(intervals: list[Interval], folder: Path) -> list[Interval]:
    """``intervals`` in jpg numbers -> positions in ``folder``'s frames as the stream reads them (numbers can
    skip: a frame missing from the folder shifts every later position); a number between two frames goes to
    the next one."""
    from stream.readers import FolderReader

    reader = FolderReader(folder, KNOWN_FPS["casme3"])
    reader.open()  # the folder's images in the order the stream reads them
    position = {int(m.group(1)): i for i, p in enumerate(reader.files) if (m := re.search(r"(\d+)\.\w+$", p.name))}
    numbers = sorted(position)
    if not numbers:
        raise MexError(f"{folder}: no numbered frames")

    def at(n: int) -> int:
        return position[numbers[min(bisect.bisect_left(numbers, n), len(numbers) - 1)]]

    return [Interval(i.video, at(i.onset), at(i.offset), i.kind, i.label) for i in intervals]


def casme3_truth(sheets: list[str | Path], videos: str | Path | None) -> tuple[dict[str, list[Interval]], dict[str, Path]]:
    """``read_casme3``'s intervals in frame positions and the image folder of each video found under ``videos``
    (without it, or for a video not found there, the jpg numbers stay as they are, with a warning)."""
    truth = read_casme3(sheets)
    if not videos:
        print("warning: --casme3 without --videos: the sheets' jpg numbers are taken as frame positions", file=sys.stderr)
        return truth, {}
    folders, found = casme3_folders(videos), {}
    for key in truth:
        if key.lower() in folders:  # the sheets number jpgs; the stream counts frames
            found[key] = folders[key.lower()]
            truth[key] = casme3_positions(truth[key], found[key])
        else:
            print(f"warning: {key}: no {key.replace('_', '/', 1)}/color folder under {videos}", file=sys.stderr)
    return truth, found
