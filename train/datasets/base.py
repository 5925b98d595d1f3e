"""What every dataset reader yields (one ``Sample`` per micro-expression), class sets by name, and the
bookkeeping of bad rows: each is skipped with a warning naming the sheet and row, or stops the run
under ``strict``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mecore.errors import MexError
from mecore.face.au import au_numbers

# Class sets by name. A dataset's own emotion words map onto a set's classes; words mapped to None
# are known but left out of that protocol (e.g. CASME II's fear and sadness in the 5-class set).
CLASS_SETS: dict[str, tuple[str, ...]] = {
    "casme2-5": ("happiness", "surprise", "disgust", "repression", "others"),
    "samm-5": ("happiness", "surprise", "anger", "contempt", "others"),
    "casme3-7": ("happiness", "surprise", "disgust", "fear", "anger", "sadness", "others"),
    "casme3-4": ("positive", "negative", "surprise", "others"),
    "composite-3": ("negative", "positive", "surprise"),
    "smic-3": ("negative", "positive", "surprise"),
}

# Spelling variants seen in the sheets -> canonical emotion word.
_ALIASES = {
    "happy": "happiness", "happiness": "happiness", "surprise": "surprise", "surprised": "surprise",
    "disgust": "disgust", "repression": "repression", "others": "others", "other": "others",
    "fear": "fear", "sad": "sadness", "sadness": "sadness", "anger": "anger", "angry": "anger",
    "contempt": "contempt", "positive": "positive", "negative": "negative",
}

# canonical emotion -> class in each set (None: known but excluded from the set).
_MAPS: dict[str, dict[str, str | None]] = {
    "casme2-5": {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust",
                 "repression": "repression", "others": "others", "fear": None, "sadness": None},
    "samm-5": {"happiness": "happiness", "surprise": "surprise", "anger": "anger", "contempt": "contempt",
               "others": "others", "disgust": None, "fear": None, "sadness": None},
    "casme3-7": {e: e for e in CLASS_SETS["casme3-7"]},
    "casme3-4": {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "fear": "negative",
                 "anger": "negative", "sadness": "negative", "others": "others"},
    # MEGC 2019 composite (See et al. 2019): negative = repression, anger, contempt, disgust, fear, sadness; "others" out.
    "composite-3": {"happiness": "positive", "positive": "positive", "surprise": "surprise",
                    "disgust": "negative", "repression": "negative", "anger": "negative", "contempt": "negative",
                    "fear": "negative", "sadness": "negative", "negative": "negative", "others": None},
    "smic-3": {"positive": "positive", "negative": "negative", "surprise": "surprise"},
}


def classes(name: str) -> tuple[str, ...]:
    if name not in CLASS_SETS:
        raise MexError(f"unknown class set {name!r}; known: {', '.join(CLASS_SETS)}")
    return CLASS_SETS[name]


def map_emotion(text: object, class_set: str) -> str | None:
    """The class of ``text`` in ``class_set``; None when the emotion is known but excluded.

    Raises KeyError for an emotion word the set does not know (a bad row).
    """
    word = _ALIASES.get(str(text).strip().lower())
    if word is None or word not in _MAPS[class_set]:
        raise KeyError(str(text))
    return _MAPS[class_set][word]


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

    def summary(self, name: str) -> str:
        return (f"{name}: {len(self.samples)} samples kept, {len(self.skipped)} bad rows skipped, "
                f"{self.excluded} outside the class set")

    def extend(self, other: ReadResult) -> None:
        self.samples += other.samples
        self.skipped += other.skipped
        self.excluded += other.excluded


class RowLog:
    """Collects bad rows: a warning each, or MexError at the first one under ``strict``."""

    def __init__(self, result: ReadResult, strict: bool):
        self.result, self.strict = result, strict

    def bad(self, where: str, why: str) -> None:
        msg = f"{where}: {why}"
        if self.strict:
            raise MexError(f"{msg} (--strict stops at the first bad row)")
        self.result.skipped.append(msg)
        warnings.warn(f"skipped {msg}", DatasetWarning, stacklevel=3)


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
                class_set: str) -> Sample | None:
    """Validate one sheet row into a Sample, or log it as bad / count it as excluded and return None."""
    try:
        on, ap = frame_number(onset), frame_number(apex)
    except ValueError as exc:
        log.bad(where, f"onset/apex frame {exc} is not a number")
        return None
    try:
        off = frame_number(offset)
    except ValueError:
        off = 0  # CASME II writes "/" or 0 for an unknown offset; onset and apex are what we use
    if on > ap:
        log.bad(where, f"onset {on} after apex {ap}")
        return None
    if off and off < ap:
        log.bad(where, f"offset {off} before apex {ap}")
        return None
    try:
        au_set = au_numbers(aus, where)
    except MexError as exc:
        log.bad(where, str(exc).split(": ", 1)[-1])
        return None
    try:
        label = map_emotion(emotion, class_set)
    except KeyError:
        log.bad(where, f"unknown emotion {str(emotion)!r} for class set {class_set}")
        return None
    if label is None:
        log.result.excluded += 1
        return None
    missing = [n for n in (on, ap) if n not in frames]
    if missing:
        log.bad(where, f"frame file(s) {', '.join(map(str, missing))} missing for {subject}/{clip}")
        return None
    return Sample(dataset=dataset, subject=subject, clip=clip, onset=on, apex=ap, offset=off,
                  onset_path=frames[on], apex_path=frames[ap], aus=au_set, label=label,
                  emotion=str(emotion).strip(), where=where)


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
                    dataset: str, class_set: str, strict: bool) -> ReadResult:
    """One Sample per row of a sheet whose ``columns`` play the ROLES (subject, clip, onset, ...).

    ``subject_id`` normalises the subject cell; ``clip_frames(subject, clip)`` finds the clip's folder
    and its frames (looked up once per clip).
    """
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
        if not frames:
            log.bad(where, f"no frames in {folder}")
            continue
        sample = make_sample(
            log, where, dataset=dataset, subject=subject, clip=clip, frames=frames,
            onset=row[c["onset"]], apex=row[c["apex"]], offset=row[c["offset"]],
            aus=row[c["aus"]], emotion=row[c["emotion"]], class_set=class_set,
        )
        if sample is not None:
            result.samples.append(sample)
    return result


def clip_folder(root: Path, subject: str, clip: str) -> tuple[Path, dict[int, Path]]:
    """``<subject>/<clip>/`` under ``root`` (the subject folder possibly a level or two down)."""
    sub_dir = find_dir(root, subject)
    folder = (sub_dir or root / subject) / clip
    return folder, index_frames(folder)
