"""Each dataset reader on small fixture trees in the dataset's real layout, row by row: what is kept, with
which class and AU set, and why each other row is not (its sheet row named)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mecore.errors import MexError
from tests.train.dataset_trees import (
    SAMM_HEADER_ROW,
    casme2_sheet,
    samm_frames,
    samm_sheet,
    smic_clip,
    touch_frames,
)
from train import datasets
from train.datasets import DatasetWarning


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
    ("02", "EP09_05", 1, 3, 6, "AU?x", "others"),  # kept: "AU?x" is no AU, ignored with a warning
    ("04", "EP12_01f", 2, "/", 8, "4+7", "repression"),  # apex not coded: --apex-missing decides
]
CASME2_KEPT = [("sub01", "EP02_01f", "happiness", {12}), ("sub01", "EP03_02", "disgust", {4, 10}),
               ("sub02", "EP01_11f", "surprise", {1, 2}), ("sub02", "EP09_05", "others", set())]


def casme2_tree(root, name="CASME2-coding-20140508.xlsx", layout="2014"):
    for sub, clip, on, ap, off, *_ in CASME2_ROWS:
        nums = {n for n in (on, ap, off) if isinstance(n, int)} - {0, 90}
        if ap == "/":
            nums = set(range(on, off + 1))
        # frame 6 of the "/" clip differs most from its onset: what --apex-missing motion finds
        images = {"img6.jpg": np.full((8, 8, 3), 250, np.uint8)} if ap == "/" else None
        touch_frames(root / "CASME2_RAW_selected" / f"sub{sub}" / clip, [f"img{n}.jpg" for n in sorted(nums)], images)
    casme2_sheet(root / name, CASME2_ROWS, layout)


@pytest.mark.parametrize(("name", "layout"), [("CASME2-coding-20140508.xlsx", "2014"),
                                              ("CASME2-coding-20190701.xlsx", "2019"),
                                              ("CASME2-coding-20140508.csv", "2014")])
def test_casme2(tmp_path, name, layout):
    casme2_tree(tmp_path, name, layout)
    res, warns = read_quiet("casme2", tmp_path)
    assert [(s.subject, s.clip, s.label, set(s.aus)) for s in res.samples] == CASME2_KEPT
    s = res.samples[0]
    assert (s.onset, s.apex, s.offset) == (46, 59, 86)
    assert s.apex_path.name == "img59.jpg" and s.apex_path.is_file()
    assert res.excluded == 1 and res.excluded_by == {"fear": 1}
    assert len(res.skipped) == 4
    rows = " | ".join(res.skipped)
    for row, why in ((6, "unknown emotion"), (7, "onset 5 after apex 3"), (8, "missing"), (10, "apex '/' not coded")):
        assert f"{name} row {row}: " in rows and why in rows
    assert res.reasons == {"unknown emotion": 1, "onset after apex": 1, "frame files missing": 1,
                           "apex not coded": 1}
    assert res.au_text == {"AU?x": [f"{name} row 9"]}
    assert len(warns) == 5 and any("'AU?x' in action units 'AU?x' is not an AU; ignored" in w for w in warns)
    assert "4 samples kept, 4 bad rows skipped (" in res.summary("casme2") and "1 apex not coded" in \
        res.summary("casme2")


@pytest.mark.parametrize(("how", "apex"), [("middle", 5), ("motion", 6)])
def test_casme2_apex_missing(tmp_path, how, apex):
    casme2_tree(tmp_path)
    res, _ = read_quiet("casme2", tmp_path, apex_missing=how)
    assert len(res.samples) == 5 and res.apex_filled == 1 and "apex not coded" not in res.reasons
    s = res.samples[-1]
    assert (s.subject, s.clip, s.onset, s.apex, s.offset, s.apex_from) == ("sub04", "EP12_01f", 2, apex, 8, how)
    assert "1 without a coded apex kept" in res.summary("casme2")
    with pytest.raises(MexError, match="--apex-missing"):
        datasets.read("casme2", tmp_path, apex_missing="guess")


def test_casme2_strict_stops_at_first_bad_row(tmp_path):
    casme2_tree(tmp_path)
    with pytest.raises(MexError, match=r"row 6: unknown emotion"):
        datasets.read("casme2", tmp_path, strict=True)


def test_casme2_objective_classes_from_their_sheet(tmp_path):
    casme2_tree(tmp_path)
    objective = [("sub01", "EP02_01f", 1), ("sub01", "EP03_02", 4), ("sub02", "EP01_11f", 2),
                 ("sub02", "EP09_05", 7), ("sub02", "EP09_01", 6)]
    pd.DataFrame(objective, columns=["Subject", "Filename", "Objective Class"]).to_excel(
        tmp_path / "CASME2-ObjectiveClasses.xlsx", index=False)
    res, _ = read_quiet("casme2", tmp_path, class_set="objective-7")
    assert [(s.clip, s.label) for s in res.samples] == [("EP02_01f", "I"), ("EP03_02", "IV"), ("EP01_11f", "II"),
                                                       ("EP09_01", "VI"), ("EP09_05", "VII")]
    res5, _ = read_quiet("casme2", tmp_path, class_set="objective-5")  # MEGC 2018: classes VI, VII out
    assert [s.label for s in res5.samples] == ["I", "IV", "II"] and res5.excluded == 2


# SAMM v2 as released: header in row 14 below the notes; each notation of its FACS key, one per row.
SAMM_ROWS = [  # subject, clip, AU cell, estimated emotion, objective class -> AU set kept (None: row not kept)
    (6, "006_1_2", "4+7", "Anger", 3, {4, 7}),
    (6, "006_1_3", "R12", "Happiness", 1, {12}),
    (6, "006_1_4", "A12", "Contempt", 7, {12}),  # asymmetric
    (6, "006_1_5", "A1B+A2C", "Surprise", 2, {1, 2}),  # asymmetric with intensities
    (7, "007_3_1", "(R6 or R12)+R15", "Other", 7, {6, 12, 15}),  # an alternative counts as all its AUs
    (7, "007_3_2", "10A/B", "Anger", 7, {10}),  # intensity A or B
    (7, "007_3_3", "L12 or L14", "Contempt", 7, {12, 14}),
    (7, "007_3_4", "12+ref(6)", "Happiness", 1, {6, 12}),  # a reference AU
    (9, "009_2_1", "T18", "Other", 7, {18}),  # top lip
    (9, "009_2_2", "B23 + 4", "Anger", 3, {4, 23}),  # bottom lip, stray spaces
    (9, "009_2_3", " 1 + 2 ", "Surprise", 2, {1, 2}),
    (9, "009_2_4", "4+7 + soft focus", "Anger", 3, {4, 7}),  # free text: ignored, warned once
    (10, "010_1_1", "12?", "Happiness", 1, {12}),  # unclear
    (10, "010_1_2", "?", "Other", 7, set()),
    (10, "010_1_3", "4 + soft focus", "Anger", 3, {4}),  # the same free text: no second warning
    (10, "010_1_4", "(12)", "Sadness", 5, None),  # outside samm-5
    (10, "010_1_5", "12", "Joy??", 1, None),  # bad: unknown emotion
    (10, "010_1_6", "12", "Happiness", 1, None),  # bad: onset not a number
]


def samm_tree(root):
    rows = []
    for k, (sub, clip, aus, emotion, objective, _) in enumerate(SAMM_ROWS):
        on, ap, off = 100 * k + 10, 100 * k + 30, 100 * k + 60
        samm_frames(root / "SAMM", sub, clip, (on, ap, off))
        onset = "-" if clip == "010_1_6" else on
        rows.append([sub, clip, 1, onset, ap, off, off - on + 1, "Micro - 1/2", aus, emotion, objective, ""])
    samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows)


def test_samm_every_notation_keeps_its_row(tmp_path):
    samm_tree(tmp_path)
    res, warns = read_quiet("samm", tmp_path)
    kept = [(f"{sub:03d}", clip, aus) for sub, clip, _, _, _, aus in SAMM_ROWS if aus is not None]
    assert [(s.subject, s.clip, set(s.aus)) for s in res.samples] == kept
    assert len(res.samples) == 15
    assert [s.label for s in res.samples][:5] == ["anger", "happiness", "contempt", "surprise", "others"]
    assert res.samples[0].apex_path.name == "006_00030.jpg"
    assert res.excluded == 1 and res.excluded_by == {"sadness": 1}
    first = SAMM_HEADER_ROW + 1
    assert res.skipped == [
        f"SAMM_Micro_FACS_Codes_v2.xlsx row {first + 16}: unknown emotion 'Joy??' for class set samm-5",
        f"SAMM_Micro_FACS_Codes_v2.xlsx row {first + 17}: onset frame '-' is not a number"]
    assert res.au_text == {"soft focus": [f"SAMM_Micro_FACS_Codes_v2.xlsx row {first + 11}",
                                          f"SAMM_Micro_FACS_Codes_v2.xlsx row {first + 14}"]}
    assert sum("soft focus" in w for w in warns) == 1
    res7, _ = read_quiet("samm", tmp_path, class_set="objective-7")  # the sheet's Objective Classes column
    assert [s.label for s in res7.samples][:4] == ["III", "I", "VII", "II"] and len(res7.samples) == 17


def test_casme3_part_a(tmp_path):
    cols = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    rows = [
        ["spNO.1", "a", 10, 20, 30, "4+7", 1, "disgust"],
        ["spNO.1", "a", 40, 50, 60, "12", 1, "happy"],  # second ME in the same clip
        ["spNO.2", "b", 5, 9, 12, "L1+R2", 2, "surprise"],
        ["spNO.2", "c", 5, 9, 12, "1+2", 2, "surprise"],  # bad: clip folder missing
    ]
    touch_frames(tmp_path / "part_A" / "spNO.1" / "a" / "color", [f"{n}.jpg" for n in (10, 20, 30, 40, 50, 60)])
    touch_frames(tmp_path / "part_A" / "spNo.2" / "b" / "color", [f"{n}.jpg" for n in (5, 9, 12)])  # case differs
    anno = tmp_path / "annotation"
    anno.mkdir()
    with pd.ExcelWriter(anno / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx") as xw:
        pd.DataFrame(rows, columns=cols).to_excel(xw, sheet_name="label", index=False)
    res, warns = read_quiet("casme3", tmp_path)
    assert [(s.subject, s.clip, s.onset, s.label, set(s.aus)) for s in res.samples] == [
        ("spNO.1", "a", 10, "disgust", {4, 7}), ("spNO.1", "a", 40, "happiness", {12}),
        ("spNO.2", "b", 5, "surprise", {1, 2})]
    assert len({s.key for s in res.samples}) == 3
    assert len(res.skipped) == 1 and "row 5: no frames" in res.skipped[0]
    res4, _ = read_quiet("casme3", tmp_path, class_set="casme3-4")
    assert [s.label for s in res4.samples] == ["negative", "positive", "surprise"]


def smic_tree(root):
    smic_clip(root, "s1", "negative", "s1_ne_01", 5, start=10)
    smic_clip(root, "s1", "positive", "s1_po_01", 3)
    smic_clip(root, "s2", "surprise", "s2_sur_01", 4)
    smic_clip(root, "s2", "surprise", "s2_sur_02", 1)  # bad: 1 frame
    smic_clip(root, "s2", "neutral", "s2_x_01", 2)  # bad: not a class


def test_smic_hs_folders(tmp_path):
    smic_tree(tmp_path)
    res, warns = read_quiet("smic", tmp_path)
    assert [(s.subject, s.label, s.onset, s.apex, s.offset) for s in res.samples] == [
        ("s1", "negative", 10, 12, 14), ("s1", "positive", 0, 1, 2), ("s2", "surprise", 0, 2, 3)]
    assert res.samples[0].aus == frozenset()
    assert len(res.skipped) == 2 and any("neutral" in m for m in res.skipped)
    with pytest.raises(MexError, match=r"HS/s2/micro/.*--strict"):
        datasets.read("smic", tmp_path, strict=True)


def test_unknown_dataset_and_missing_sheet(tmp_path):
    with pytest.raises(MexError, match="unknown dataset"):
        datasets.read("nope", tmp_path)
    with pytest.raises(MexError, match="no CASME II coding sheet"):
        datasets.read("casme2", tmp_path)
    (tmp_path / "CASME2-coding-1.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(MexError, match="CASME2-coding-1.xlsx: cannot read the sheet"):
        datasets.read("casme2", tmp_path)


def test_report_cli(tmp_path, capsys):
    from train.datasets.__main__ import main

    samm_tree(tmp_path)
    assert main(["report", "--dataset", "samm", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    first = SAMM_HEADER_ROW + 1
    assert out[1:5] == ["  rows read: 18", "  kept: 15", "  skipped: 2 (no onset frame 1, unknown emotion 1)",
                        f"    SAMM_Micro_FACS_Codes_v2.xlsx row {first + 16}: unknown emotion 'Joy??' for class set samm-5"]
    assert "  outside the class set: 1 (sadness 1)" in out
    assert "  classes: anger 5, happiness 3, others 3, contempt 2, surprise 2" in out
    assert "  subjects: 4 (006 4, 007 4, 009 4, 010 3)" in out
    assert "  AUs coded (samples): 1 2, 2 2, 4 4, 6 2, 7 2, 10 1, 12 6, 14 1, 15 1, 18 1, 23 1" in out
    assert any("'soft focus' x2" in line for line in out)
    assert main(["report", "--dataset", "samm", "--root", str(tmp_path / "nope")]) == 2
    assert "dataset root is not a folder" in capsys.readouterr().err
