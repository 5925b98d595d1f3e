"""Each dataset reader on small fixture trees in the dataset's real format, with bad rows."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mecore.errors import MexError
from train import datasets
from train.datasets import DatasetWarning

IMG = np.full((8, 8, 3), 128, np.uint8)


def touch_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        cv2.imwrite(str(folder / n), IMG)


def read_quiet(*args, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = datasets.read(*args, **kw)
    return res, [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]


CASME2_ROWS = [  # Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion
    ("01", "EP02_01f", 46, 59, 86, "12", "happiness"),
    ("01", "EP03_02", 1, 5, 9, "R4+L10", "disgust"),
    ("02", "EP01_11f", 1, 4, 0, "1+2", "surprise"),  # offset 0: unknown, allowed
    ("02", "EP09_01", 1, 3, 6, "14", "fear"),  # known, outside the 5 classes
    ("02", "EP09_02", 1, 3, 6, "14", "happyness!"),  # bad: unknown emotion
    ("02", "EP09_03", 5, 3, 6, "14", "others"),  # bad: onset after apex
    ("02", "EP09_04", 1, 90, 99, "15", "repression"),  # bad: apex frame file missing
    ("02", "EP09_05", 1, 3, 6, "AU?x", "others"),  # bad: unparseable AUs
]


def casme2_tree(root: Path, fmt: str) -> Path:
    for sub, clip, on, ap, off, *_ in CASME2_ROWS:
        nums = {on, ap, off} - {0, 90}
        touch_frames(root / "CASME2_RAW_selected" / f"sub{sub}" / clip, [f"img{n}.jpg" for n in nums])
    df = pd.DataFrame(CASME2_ROWS, columns=["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                            "Action Units", "Estimated Emotion"])
    sheet = root / f"CASME2-coding-20140508.{fmt}"
    df.to_excel(sheet, index=False) if fmt == "xlsx" else df.to_csv(sheet, index=False)
    return sheet


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_casme2(tmp_path, fmt):
    casme2_tree(tmp_path, fmt)
    res, warns = read_quiet("casme2", tmp_path)
    assert [(s.subject, s.clip, s.label) for s in res.samples] == [
        ("sub01", "EP02_01f", "happiness"), ("sub01", "EP03_02", "disgust"), ("sub02", "EP01_11f", "surprise")]
    s = res.samples[0]
    assert (s.onset, s.apex, s.offset) == (46, 59, 86)
    assert s.apex_path.name == "img59.jpg" and s.apex_path.is_file()
    assert s.aus == frozenset({12}) and res.samples[1].aus == frozenset({4, 10})
    assert res.excluded == 1 and len(res.skipped) == 4 and len(warns) == 4
    rows = " ".join(res.skipped)
    for row, why in ((6, "unknown emotion"), (7, "onset 5 after apex 3"), (8, "missing"), (9, "AU?x")):
        assert f"CASME2-coding-20140508.{fmt} row {row}: " in rows and why in rows
    assert "kept" in res.summary("casme2")


def test_casme2_strict_stops_at_first_bad_row(tmp_path):
    casme2_tree(tmp_path, "xlsx")
    with pytest.raises(MexError, match=r"row 6: unknown emotion"):
        datasets.read("casme2", tmp_path, strict=True)


def test_samm_header_not_first_row(tmp_path):
    notes = [["SAMM micro-movement FACS codes", None], ["Notes: (x) uncertain AU", None], [None, None]]
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Type", "Action Units", "Notes", "Estimated Emotion", "Objective Classes"]
    rows = [
        [6, "006_1_2", 1, 5562, 5588, 5632, 71, "Micro - 1/2", "4+7", "", "Anger", 1],
        [6, "006_1_3", 1, 3912, 3948, 3988, 77, "Micro - 1/2", "R12", "", "Happiness", 1],
        [7, "007_3_1", 3, 100, 120, 150, 51, "Micro - 1/2", "(12)", "", "Other", 7],
        [7, "007_3_2", 3, 100, 120, 150, 51, "Micro - 1/2", "12", "", "Sadness", 7],  # excluded in samm-5
        [7, "007_3_3", 3, 200, 220, 250, 51, "Micro - 1/2", "12", "", "Joy??", 7],  # bad emotion
    ]
    for r in rows:
        sub, clip = f"{r[0]:03d}", r[1]
        touch_frames(tmp_path / "SAMM" / sub / clip, [f"{sub}_{n:05d}.jpg" for n in (r[3], r[4], r[5])])
    grid = [n + [None] * (len(header) - len(n)) for n in notes] + [header] + rows
    pd.DataFrame(grid).to_excel(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", index=False, header=False)
    res, warns = read_quiet("samm", tmp_path)
    assert [(s.subject, s.clip, s.label) for s in res.samples] == [
        ("006", "006_1_2", "anger"), ("006", "006_1_3", "happiness"), ("007", "007_3_1", "others")]
    assert res.samples[0].apex_path.name == "006_05588.jpg"
    assert res.samples[2].aus == frozenset({12})
    assert res.excluded == 1 and len(res.skipped) == 1
    assert "SAMM_Micro_FACS_Codes_v2.xlsx row 9: unknown emotion 'Joy??'" in res.skipped[0]


def test_casme3_part_a(tmp_path):
    cols = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    rows = [
        ["spNO.1", "a", 10, 20, 30, "4+7", 1, "disgust"],
        ["spNO.1", "a", 40, 50, 60, "12", 1, "happy"],  # second ME in the same clip
        ["spNO.2", "b", 5, 9, 12, "1+2", 2, "surprise"],
        ["spNO.2", "c", 5, 9, 12, "1+2", 2, "surprise"],  # bad: clip folder missing
    ]
    touch_frames(tmp_path / "part_A" / "spNO.1" / "a" / "color", [f"{n}.jpg" for n in (10, 20, 30, 40, 50, 60)])
    touch_frames(tmp_path / "part_A" / "spNo.2" / "b" / "color", [f"{n}.jpg" for n in (5, 9, 12)])  # case differs
    anno = tmp_path / "annotation"
    anno.mkdir()
    with pd.ExcelWriter(anno / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx") as xw:
        pd.DataFrame(rows, columns=cols).to_excel(xw, sheet_name="label", index=False)
    res, warns = read_quiet("casme3", tmp_path)
    assert [(s.subject, s.clip, s.onset, s.label) for s in res.samples] == [
        ("spNO.1", "a", 10, "disgust"), ("spNO.1", "a", 40, "happiness"), ("spNO.2", "b", 5, "surprise")]
    assert len({s.key for s in res.samples}) == 3
    assert len(res.skipped) == 1 and "row 5: no frames" in res.skipped[0]
    res4, _ = read_quiet("casme3", tmp_path, class_set="casme3-4")
    assert [s.label for s in res4.samples] == ["negative", "positive", "surprise"]


def smic_tree(root: Path) -> None:
    base = root / "HS"
    touch_frames(base / "s1" / "micro" / "negative" / "s1_ne_01", [f"reg_image{n:06d}.bmp" for n in range(10, 15)])
    touch_frames(base / "s1" / "micro" / "positive" / "s1_po_01", [f"reg_image{n:06d}.bmp" for n in range(3)])
    touch_frames(base / "s2" / "micro" / "surprise" / "s2_sur_01", [f"reg_image{n:06d}.bmp" for n in range(4)])
    touch_frames(base / "s2" / "micro" / "surprise" / "s2_sur_02", ["reg_image000001.bmp"])  # bad: 1 frame
    touch_frames(base / "s2" / "micro" / "neutral" / "s2_x_01", ["reg_image000001.bmp", "reg_image000002.bmp"])


def test_smic_hs_folders(tmp_path):
    smic_tree(tmp_path)
    res, warns = read_quiet("smic", tmp_path)
    assert [(s.subject, s.label, s.onset, s.apex, s.offset) for s in res.samples] == [
        ("s1", "negative", 10, 12, 14), ("s1", "positive", 0, 1, 2), ("s2", "surprise", 0, 2, 3)]
    assert res.samples[0].aus == frozenset()
    assert len(res.skipped) == 2 and any("neutral" in m for m in res.skipped)
    with pytest.raises(MexError, match=r"HS/s2/micro/.*--strict"):
        datasets.read("smic", tmp_path, strict=True)


@pytest.mark.filterwarnings("ignore::train.datasets.base.DatasetWarning")
def test_composite_maps_three_datasets(tmp_path):
    casme2_tree(tmp_path / "CASME2", "csv")
    smic_tree(tmp_path / "SMIC")
    with pytest.warns(DatasetWarning, match="no samm folder"):
        res = datasets.read("composite", tmp_path)
    labels = [(s.subject, s.label) for s in res.samples]
    assert ("casme2_sub01", "positive") in labels and ("casme2_sub01", "negative") in labels
    assert ("casme2_sub02", "surprise") in labels and ("smic_s1", "negative") in labels
    assert len({s.subject for s in res.samples}) == 4
    assert {s.label for s in res.samples} <= {"negative", "positive", "surprise"}


def test_unknown_dataset_and_missing_sheet(tmp_path):
    with pytest.raises(MexError, match="unknown dataset"):
        datasets.read("nope", tmp_path)
    with pytest.raises(MexError, match="no CASME II coding sheet"):
        datasets.read("casme2", tmp_path)
