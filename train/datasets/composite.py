"""The MEGC 2019 composite set by its published sample list: 442 samples of CASME II (145), SAMM (133)
and SMIC-HS (164), 68 subjects, 3 classes (negative, positive, surprise).

The list, not a re-mapping of the emotions, decides which clips are in and their class: grouping the
sheets' emotions gives 422 samples and 69 subjects, not the benchmark. ``lists/megc2019_composite_3class.csv``
is the challenge's ``combined_3class_gt.csv`` (no header; dataset, subject, filename, class 0 negative /
1 positive / 2 surprise), as public MER repositories carry it (e.g. davidnvq/me_recognition
``datasets/combined_3class_gt.csv``; that copy writes SMIC subjects "s01", this one "s1" as SMIC-HS's
folders do: both are read). ``sample_list=`` takes another list of the same form, classes as numbers or
words, an optional header row.

``root`` holds the three datasets as folders named like ``CASME2``, ``SAMM``, ``SMIC`` (any case; each in
its own layout). Each listed sample is looked up in its dataset as that dataset's reader finds it
(onset/apex from the sheet; SMIC's apex by ``apex_missing`` "motion", else the middle frame); a listed
sample the copy lacks is skipped with the list's row. Subject ids are prefixed with the dataset name,
so LOSO never merges two people who share a number in different datasets.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from mecore.errors import MexError
from train.datasets import casme2, samm, smic
from train.datasets.base import DatasetWarning, ReadResult, RowLog, dataset_root, find_dir
from train.datasets.classes import CLASS_SETS

NAME = "composite"
CLASS_SET = "composite-3"
MEGC2019_LIST = Path(__file__).parent / "lists" / "megc2019_composite_3class.csv"
PARTS = {
    "casme2": (("CASME2", "CASME_II", "CASMEII", "CASME2_RAW_selected"), casme2.read),
    "samm": (("SAMM",), samm.read),
    "smic": (("SMIC", "SMIC-HS", "SMIC_HS"), smic.read),
}


@dataclasses.dataclass(frozen=True)
class Listed:
    dataset: str
    subject: str  # as the dataset's reader names it: sub01, 006, s1
    clip: str
    label: str
    row: int


def _subject(dataset: str, cell: str) -> str:
    cell = cell.strip()
    if dataset == "casme2":
        return casme2.subject_dir_name(cell)
    if dataset == "samm":
        return samm.subject_id(cell)
    digits = cell.lower().lstrip("s")
    return f"s{int(digits)}" if digits.isdigit() else cell.lower()


def read_list(path: str | Path, class_set: str = CLASS_SET) -> list[Listed]:
    """A sample list (dataset, subject, filename, class) -> Listed rows; MexError naming the row."""
    import csv

    path = Path(path)
    labels = CLASS_SETS[class_set]
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise MexError(f"{path}: cannot read the sample list ({exc})") from None
    out = []
    for n, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if n == 1 and cells[0].lower() == "dataset":
            continue  # a header row
        if len(cells) < 4 or cells[0].lower() not in PARTS:
            raise MexError(f"{path} row {n}: expected dataset ({'/'.join(PARTS)}), subject, filename, class; "
                           f"got {row}")
        cls = cells[3].lower()
        if cls.isdigit() and int(cls) < len(labels):
            label = labels[int(cls)]
        elif cls in labels:
            label = cls
        else:
            raise MexError(f"{path} row {n}: class {cells[3]!r} is not one of {', '.join(labels)} (or 0-{len(labels) - 1})")
        dataset = cells[0].lower()
        out.append(Listed(dataset, _subject(dataset, cells[1]), cells[2], label, n))
    if not out:
        raise MexError(f"{path}: no samples listed")
    return out


def read(root: str | Path, class_set: str = CLASS_SET, strict: bool = False, apex_missing: str = "skip",
         sample_list: str | Path | None = None) -> ReadResult:
    if class_set != CLASS_SET:
        raise MexError(f"the composite's classes are its sample list's ({', '.join(CLASS_SETS[CLASS_SET])}); "
                       f"class set {class_set} does not apply")
    root = dataset_root(root)
    list_path = Path(sample_list) if sample_list else MEGC2019_LIST
    listed = read_list(list_path, class_set)
    result = ReadResult()
    log = RowLog(result, strict)
    for name, (folder_names, reader) in PARTS.items():
        wanted = [x for x in listed if x.dataset == name]
        if not wanted:
            continue
        folder = next((d for n in folder_names if (d := find_dir(root, n, depth=1))), None)
        if folder is None:
            msg = f"{root}: no {name} folder (looked for {', '.join(folder_names)}); its {len(wanted)} listed " \
                  f"samples are left out"
            if strict:
                raise MexError(msg)
            warnings.warn(msg, DatasetWarning, stacklevel=2)
            result.reasons[f"{name} folder missing"] += len(wanted)
            continue
        opts = {"apex": "motion" if apex_missing == "motion" else "middle"} if name == "smic" \
            else {"apex_missing": apex_missing}
        with warnings.catch_warnings():  # the part's own rows outside the list are not the composite's
            warnings.simplefilter("ignore", DatasetWarning)
            part = reader(folder, class_set="_all", strict=False, **opts)
        found = {(s.subject.lower(), s.clip.lower()): s for s in part.samples}
        for x in wanted:
            where = f"{list_path.name} row {x.row}"
            s = found.get((x.subject.lower(), x.clip.lower()))
            if s is None:
                why = part.skipped_clips.get(f"{x.subject}/{x.clip}".lower(), "not found in your copy")
                log.bad(where, f"{name} {x.subject}/{x.clip}: {why}", f"listed {name} sample not usable")
                continue
            if name != "smic" and s.apex_from != "sheet":
                result.apex_filled += 1
            result.samples.append(dataclasses.replace(s, subject=f"{name}_{s.subject}", label=x.label,
                                                      where=f"{s.where}; {where}"))
        kept_rows = {s.where for s in part.samples if (s.subject.lower(), s.clip.lower()) in
                     {(x.subject.lower(), x.clip.lower()) for x in wanted}}
        for token, rows in part.au_text.items():
            if listed_rows := [w for w in rows if w in kept_rows]:
                result.au_text.setdefault(token, []).extend(listed_rows)
    return result
