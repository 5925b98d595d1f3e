"""What every dataset reader yields (one ``Sample`` per micro-expression), the reading of a sheet, and the
bookkeeping of bad rows: each is skipped with a warning naming the sheet and row, or stops the run
under ``strict``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mecore.errors import MexError
from mecore.face.au import read_aus
from train.datasets.apex import choose_apex
from train.datasets.classes import OBJECTIVE_COLUMNS, map_emotion


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip. Frame numbers are the sheet's; paths point at the image files."""

    dataset: str
    subject: str
    clip: str
    onset: int
    apex: int
    offset: int
    onset_path: Path
    apex_path: Path
    aus: frozenset[int]
    label: str
    emotion: str = ""  # the sheet's own word, before mapping to the class set
    where: str = ""  # "sheet row N", for messages
    apex_from: str = "sheet"  # "sheet", or how an uncoded apex was chosen: "middle" / "motion"

    @property
    def key(self) -> str:
        """A file-name-safe id, unique within a dataset root."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.dataset}-{self.subject}-{self.clip}-{self.onset}")


class DatasetWarning(UserWarning):
    """A row of a dataset sheet (or a clip folder) was skipped."""


@dataclass
class ReadResult:
    samples: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one message per bad row
    excluded: int = 0  # rows with a known emotion outside the class set (not errors)
    reasons: Counter = field(default_factory=Counter)  # why rows were skipped: short reason -> rows
    excluded_by: Counter = field(default_factory=Counter)  # emotion word -> rows outside the class set
    au_text: dict[str, list[str]] = field(default_factory=dict)  # AU-cell text that is no AU -> rows
    apex_filled: int = 0  # rows without a coded apex kept by --apex-missing middle/motion
    skipped_clips: dict[str, str] = field(default_factory=dict)  # "subject/clip" (lower case) -> why skipped

    def summary(self, name: str) -> str:
        why = f" ({', '.join(f'{n} {r}' for r, n in self.reasons.most_common())})" if self.reasons else ""
        filled = f", {self.apex_filled} without a coded apex kept (apex chosen)" if self.apex_filled else ""
        return (f"{name}: {len(self.samples)} samples kept, {len(self.skipped)} bad rows skipped{why}, "
                f"{self.excluded} outside the class set{filled}")

    def extend(self, other: ReadResult) -> None:
        self.samples += other.samples
        self.skipped += other.skipped
        self.excluded += other.excluded
        self.reasons.update(other.reasons)
        self.excluded_by.update(other.excluded_by)
        for token, rows in other.au_text.items():
            self.au_text.setdefault(token, []).extend(rows)
        self.apex_filled += other.apex_filled
        self.skipped_clips.update(other.skipped_clips)


class RowLog:
    """Collects bad rows: a warning each, or MexError at the first one under ``strict``."""

    def __init__(self, result: ReadResult, strict: bool):
        self.result, self.strict = result, strict
        self.clip: str | None = None  # "subject/clip" of the row being read, when known

    def bad(self, where: str, why: str, reason: str | None = None) -> None:
        """Skip a row; ``reason`` is the short form counted in the summary (default: ``why``)."""
        msg = f"{where}: {why}"
        if self.strict:
            raise MexError(f"{msg} (--strict stops at the first bad row)")
        self.result.skipped.append(msg)
        self.result.reasons[reason or why] += 1
        if self.clip:
            self.result.skipped_clips[self.clip.lower()] = msg
        warnings.warn(f"skipped {msg}", DatasetWarning, stacklevel=3)

    def au_text(self, where: str, token: str, cell: object) -> None:
        """Text in an AU cell that is no AU: ignored (the row is kept), one warning per distinct text."""
        rows = self.result.au_text.setdefault(token, [])
        if not rows:
            warnings.warn(f"{where}: {token!r} in action units {str(cell)!r} is not an AU; ignored "
                          f"(the row is kept; said once per text)", DatasetWarning, stacklevel=3)
        rows.append(where)


_FRAME_NUM = re.compile(r"(\d+)\.(?:jpe?g|png|bmp|tiff?)$", re.IGNORECASE)


def index_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> file, by the last number in each image's name (img46.jpg, 006_05562.jpg, 12.jpg)."""
    table: dict[int, Path] = {}
    if not folder.is_dir():
        return table
    for p in sorted(folder.iterdir()):
        m = _FRAME_NUM.search(p.name)
        if m:
            table.setdefault(int(m.group(1)), p)
    return table


def read_sheet(path: Path, header_names: tuple[str, ...], sheet_name: str | int | None = 0) -> pd.DataFrame:
    """A coding sheet (xlsx/xls/csv) as strings, with the header found by its column names.

    SAMM's sheet has several lines of notes above the header row, so the header is located as the
    first row holding all ``header_names`` rather than assumed to be the first. The frame keeps a
    ``_row`` column: the 1-based row number as a spreadsheet program shows it.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            raw = pd.read_excel(path, header=None, dtype=str, keep_default_na=False, sheet_name=sheet_name)
        else:
            raise MexError(f"{path}: not a coding sheet (expected .xlsx, .xls or .csv)")
    except MexError:
        raise
    except Exception as exc:  # corrupt workbook, wrong sheet name, ...
        raise MexError(f"{path}: cannot read the sheet: {exc}") from exc
    want = {h.lower() for h in header_names}
    for i in range(min(len(raw), 50)):
        cells = {str(c).strip().lower() for c in raw.iloc[i].tolist()}
        if want <= cells:
            df = raw.iloc[i + 1:].copy()
            df.columns = [str(c).strip() for c in raw.iloc[i].tolist()]
            df["_row"] = [i + 2 + k for k in range(len(df))]
            return df[df.drop(columns="_row").apply(lambda r: any(str(v).strip() for v in r), axis=1)]
    raise MexError(f"{path}: no header row with the columns {', '.join(header_names)}")


def col(df: pd.DataFrame, name: str) -> str:
    """The real column name matching ``name`` case-insensitively."""
    for c in df.columns:
        if c.lower() == name.lower():
            return c
    raise KeyError(name)


def label_columns(df: pd.DataFrame, columns: tuple[str, ...], class_set: str, sheet: Path) -> tuple[str, ...]:
    """``columns`` with the label column chosen for ``class_set``: the estimated emotion, or for an
    objective class set the sheet's objective-class column."""
    if not class_set.startswith("objective"):
        return columns
    for name in OBJECTIVE_COLUMNS:
        try:
            return columns[:-1] + (col(df, name),)
        except KeyError:
            continue
    raise MexError(f"{sheet}: class set {class_set} needs an objective-class column "
                   f"({' or '.join(OBJECTIVE_COLUMNS[:2])})")


def frame_number(value: object) -> int:
    """A sheet cell as a frame number ("46", "46.0"); ValueError for "/", "", "-"."""
    s = str(value).strip()
    if s.endswith(".0"):
        s = s[:-2]
    if not s.isdigit():
        raise ValueError(s)
    return int(s)


def make_sample(log: RowLog, where: str, *, dataset: str, subject: str, clip: str, frames: dict[int, Path],
                onset: object, apex: object, offset: object, aus: object, emotion: object,
                class_set: str, apex_missing: str = "skip") -> Sample | None:
    """Validate one sheet row into a Sample, or log it as bad / count it as excluded and return None.

    Only the frames and the label can lose a row: text in the AU cell that is not an AU is reported
    once and ignored.
    """
    try:
        on = frame_number(onset)
    except ValueError as exc:
        log.bad(where, f"onset frame {str(exc)!r} is not a number", "no onset frame")
        return None
    try:
        off = frame_number(offset)
    except ValueError:
        off = 0  # CASME II writes "/" or 0 for an unknown offset; onset and apex are what we use
    try:
        ap: int | None = frame_number(apex)
    except ValueError:
        ap = None
    if ap is None and apex_missing == "skip":
        log.bad(where, f"apex {str(apex).strip()!r} not coded (--apex-missing skip, as MEGC 2019)",
                "apex not coded")
        return None
    if ap is None:
        span = sorted(n for n in frames if on <= n <= off) if off > on else []
        if len(span) < 2:
            log.bad(where, f"apex {str(apex).strip()!r} not coded and no onset..offset frames to choose from",
                    "apex not coded, no offset")
            return None
        ap = choose_apex(span, frames, apex_missing)
        apex_from = apex_missing
    else:
        apex_from = "sheet"
    if on > ap:
        log.bad(where, f"onset {on} after apex {ap}", "onset after apex")
        return None
    if off and off < ap:
        log.bad(where, f"offset {off} before apex {ap}", "offset before apex")
        return None
    try:
        label = map_emotion(emotion, class_set)
    except KeyError:
        log.bad(where, f"unknown emotion {str(emotion)!r} for class set {class_set}", "unknown emotion")
        return None
    if label is None:
        log.result.excluded += 1
        log.result.excluded_by[str(emotion).strip().lower()] += 1
        return None
    missing = [n for n in (on, ap) if n not in frames]
    if missing:
        log.bad(where, f"frame file(s) {', '.join(map(str, missing))} missing for {subject}/{clip}",
                "frame files missing")
        return None
    reading = read_aus(aus)
    for token in reading.unknown:
        log.au_text(where, token, aus)
    if apex_from != "sheet":
        log.result.apex_filled += 1
    return Sample(dataset=dataset, subject=subject, clip=clip, onset=on, apex=ap, offset=off,
                  onset_path=frames[on], apex_path=frames[ap], aus=frozenset(c.au for c in reading.codes),
                  label=label, emotion=str(emotion).strip(), where=where, apex_from=apex_from)


def dataset_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise MexError(f"{root}: dataset root is not a folder")
    return root


def root_and_sheet(root: str | Path, sheet: str | Path | None, patterns: tuple[str, ...], what: str,
                   ) -> tuple[Path, Path]:
    """The dataset folder and its coding sheet (given, or the first found matching ``patterns``)."""
    root = dataset_root(root)
    return root, Path(sheet) if sheet else find_sheet(root, patterns, what)


def find_sheet(root: Path, patterns: tuple[str, ...], what: str) -> Path:
    """The first file under ``root`` (depth <= 2) matching one of ``patterns``."""
    for pattern in patterns:
        for depth in ("", "*/", "*/*/"):
            hits = sorted(root.glob(depth + pattern))
            if hits:
                return hits[0]
    raise MexError(f"{root}: no {what} found (looked for {', '.join(patterns)}); pass --sheet")


def find_dir(root: Path, name: str, depth: int = 2) -> Path | None:
    """``root/name`` or a folder of that name (case-insensitive) up to ``depth`` levels down."""
    direct = root / name
    if direct.is_dir():
        return direct
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                children = [c for c in d.iterdir() if c.is_dir()]
            except OSError:
                continue
            for c in children:
                if c.name.lower() == name.lower():
                    return c
            nxt += children
        level = nxt
    return None


# The roles a coding sheet's columns play, in the order readers list them.
ROLES = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion")


def read_coded_rows(sheet: Path, df: pd.DataFrame, columns: tuple[str, ...], *,
                    subject_id: Callable[[object], str],
                    clip_frames: Callable[[str, str], tuple[Path, dict[int, Path]]],
                    dataset: str, class_set: str, strict: bool, apex_missing: str = "skip") -> ReadResult:
    """One Sample per row of a sheet whose ``columns`` play the ROLES (subject, clip, onset, ...).

    ``subject_id`` normalises the subject cell; ``clip_frames(subject, clip)`` finds the clip's folder
    and its frames (looked up once per clip).
    """
    columns = label_columns(df, columns, class_set, sheet)
    c = {role: col(df, name) for role, name in zip(ROLES, columns)}
    result = ReadResult()
    log = RowLog(result, strict)
    cache: dict[tuple[str, str], tuple[Path, dict[int, Path]]] = {}
    for _, row in df.iterrows():
        where = f"{sheet.name} row {row['_row']}"
        subject = subject_id(row[c["subject"]])
        clip = str(row[c["clip"]]).strip()
        if (subject, clip) not in cache:
            cache[(subject, clip)] = clip_frames(subject, clip)
        folder, frames = cache[(subject, clip)]
        log.clip = f"{subject}/{clip}"
        if not frames:
            log.bad(where, f"no frames in {folder}", "clip folder missing or empty")
            continue
        sample = make_sample(
            log, where, dataset=dataset, subject=subject, clip=clip, frames=frames,
            onset=row[c["onset"]], apex=row[c["apex"]], offset=row[c["offset"]],
            aus=row[c["aus"]], emotion=row[c["emotion"]], class_set=class_set, apex_missing=apex_missing,
        )
        if sample is not None:
            result.samples.append(sample)
    return result


def clip_folder(root: Path, subject: str, clip: str) -> tuple[Path, dict[int, Path]]:
    """``<subject>/<clip>/`` under ``root`` (the subject folder possibly a level or two down)."""
    sub_dir = find_dir(root, subject)
    folder = (sub_dir or root / subject) / clip
    return folder, index_frames(folder)
