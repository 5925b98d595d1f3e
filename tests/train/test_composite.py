"""The MEGC 2019 composite by its published list, on a fixture tree laid out from that list (CASME II and
SAMM sheets in their real layouts, SMIC-HS folders, two tiny frames a clip)."""

from __future__ import annotations

import csv
import warnings
from collections import Counter

import pytest

from mecore.errors import MexError
from tests.train.dataset_trees import casme2_sheet, samm_frames, samm_sheet, smic_clip, touch_frames
from train import datasets
from train.datasets import DatasetWarning, composite

CLASSES = ("negative", "positive", "surprise")


def official():
    with open(composite.MEGC2019_LIST, newline="") as f:
        return [tuple(r) for r in csv.reader(f)]


def test_shipped_list_is_the_published_one():
    rows = official()
    assert len(rows) == 442 and len(set(rows)) == 442
    assert Counter(r[0] for r in rows) == {"casme2": 145, "samm": 133, "smic": 164}
    assert len({(r[0], r[1]) for r in rows}) == 68
    by = Counter((r[0], CLASSES[int(r[3])]) for r in rows)
    assert [by[("casme2", c)] for c in CLASSES] == [88, 32, 25]
    assert [by[("samm", c)] for c in CLASSES] == [92, 26, 15]
    assert [by[("smic", c)] for c in CLASSES] == [70, 51, 43]


def composite_tree(root, rows):
    """Each listed clip with onset/apex frames, in its dataset's layout; plus sheet rows the list leaves out."""
    casme, samm = [], []
    for ds, subject, clip, cls in rows:
        label = CLASSES[int(cls)]
        if ds == "casme2":
            touch_frames(root / "CASME2" / "CASME2_RAW_selected" / subject / clip, ["img1.jpg", "img2.jpg"])
            emotion = {"negative": "disgust", "positive": "happiness", "surprise": "surprise"}[label]
            casme.append((int(subject[3:]), clip, 1, 2, 3, "4+7", emotion))
        elif ds == "samm":
            samm_frames(root / "SAMM", int(subject), clip, (10, 20))
            emotion = {"negative": "Anger", "positive": "Happiness", "surprise": "Surprise"}[label]
            samm.append([int(subject), clip, 1, 10, 20, 30, 21, "Micro - 1/2", "(R6 or R12)+R15", emotion, 1, ""])
        else:
            smic_clip(root / "SMIC", subject, label, clip, 2)
    if casme:
        casme.append((1, "EP99_01", 1, 2, 3, "12", "others"))  # in the sheet, not in the list
        touch_frames(root / "CASME2" / "CASME2_RAW_selected" / "sub01" / "EP99_01", ["img1.jpg", "img2.jpg"])
        casme2_sheet(root / "CASME2" / "CASME2-coding-20190701.xlsx", casme, "2019")
    if samm:
        samm_sheet(root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx", samm)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("megc2019")
    composite_tree(root, official())
    return root


def test_composite_is_the_published_sample_list(tree):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = datasets.read("composite", tree)
    assert len(res.samples) == 442 and not res.skipped and not caught
    subjects = {s.subject for s in res.samples}
    assert len(subjects) == 68
    assert Counter(s.dataset for s in res.samples) == {"casme2": 145, "samm": 133, "smic": 164}
    assert {"casme2_sub01", "samm_006", "smic_s1"} <= subjects  # prefixed: no two datasets' "1" merge
    assert Counter(s.label for s in res.samples) == {"negative": 250, "positive": 109, "surprise": 83}
    samm = next(s for s in res.samples if s.dataset == "samm")
    assert samm.aus == frozenset({6, 12, 15})  # the AU cell's alternatives count, the row is kept
    assert all(s.clip != "EP99_01" for s in res.samples)


def test_user_list_with_header_words_and_missing_samples(tree, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("Dataset,Subject,Filename,Class\n"
                    "casme2,sub01,EP02_01f,positive\n"
                    "samm,006,006_1_2,negative\n"
                    "smic,s01,s1_ne_01,0\n"  # zero-padded SMIC subject, as some public copies write it
                    "casme2,sub01,EP99_99,surprise\n")  # not in the copy
    with pytest.warns(DatasetWarning, match=r"mine.csv row 5: casme2 sub01/EP99_99: not found"):
        res = datasets.read("composite", tree, sample_list=path)
    assert [(s.subject, s.clip, s.label) for s in res.samples] == [
        ("casme2_sub01", "EP02_01f", "positive"), ("samm_006", "006_1_2", "negative"),
        ("smic_s1", "s1_ne_01", "negative")]
    assert res.reasons == {"listed casme2 sample not usable": 1}
    path.write_text("casme2,sub01,EP02_01f,joy\n")
    with pytest.raises(MexError, match=r"mine.csv row 1: class 'joy' is not one of negative, positive, surprise"):
        datasets.read("composite", tree, sample_list=path)
    with pytest.raises(MexError, match="class set casme2-5 does not apply"):
        datasets.read("composite", tree, class_set="casme2-5")


def test_missing_dataset_folder_is_reported(tmp_path):
    rows = [r for r in official() if r[0] == "smic"][:3]
    composite_tree(tmp_path, rows)
    (tmp_path / "list.csv").write_text("\n".join(",".join(r) for r in rows + [("samm", "6", "006_1_2", "0")]))
    with pytest.warns(DatasetWarning, match="no samm folder"):
        res = datasets.read("composite", tmp_path, sample_list=tmp_path / "list.csv")
    assert len(res.samples) == 3 and res.reasons == {"samm folder missing": 1}
