"""MEGC metrics on hand-counted examples: accuracy, UF1, UAR over the classes present, per subject."""

from __future__ import annotations

import pytest

from train import metrics


def test_pooled_by_hand():
    # confusion (rows true): [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    m = metrics.pooled([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]] and m["n"] == 5
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["uar"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert m["uf1"] == pytest.approx((2 / 4 + 4 / 5 + 0.0) / 3)  # F1 = 2 TP / (support + predicted)
    assert m["per_class"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                   "support": 2}


def test_a_class_absent_from_the_truth_does_not_count():
    m = metrics.pooled([0, 1], [0, 1], ["a", "b", "never"])
    assert m["uf1"] == 1.0 and m["uar"] == 1.0  # "never" has no support: left out of the means
    assert metrics.pooled([], [], ["a"]) | {"per_class": None} == \
        {"n": 0, "accuracy": 0.0, "uf1": 0.0, "uar": 0.0, "per_class": None, "confusion": [[0]], "labels": ["a"]}


def test_per_subject_and_report(tmp_path):
    per = metrics.per_subject(["s2", "s1", "s2"], [0, 1, 1], [0, 0, 1])
    assert per == {"s1": {"n": 1, "correct": 0, "accuracy": 0.0}, "s2": {"n": 2, "correct": 2, "accuracy": 1.0}}
    m = metrics.pooled([0, 1, 1], [0, 0, 1], ["a", "b"])
    text = metrics.report_text(m)
    assert "pooled over 3 samples: accuracy 0.667  UF1 0.667  UAR 0.750" in text
    metrics.plot_confusion(m["confusion"], m["labels"], tmp_path / "cm.png", "t")
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG" and len(list(tmp_path.iterdir())) == 1
