"""MEGC scoring and the annotation readers (sheets built here in the datasets' real layouts)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mecore.errors import MexError
from stream.spot_eval import (
    Interval,
    main,
    match,
    read_predictions,
    read_synthetic,
    score,
)


def test_iou_and_greedy_match():
    g = [Interval("v", 10, 19), Interval("v", 50, 59)]
    assert g[0].iou(Interval("v", 10, 19)) == 1.0
    assert g[0].iou(Interval("v", 15, 24)) == pytest.approx(5 / 15)
    assert g[0].iou(Interval("v", 30, 40)) == 0.0
    # one prediction overlapping 2/3 (hit), one at IoU 1/3 (miss), one far away (FP)
    preds = [Interval("v", 12, 21), Interval("v", 55, 64), Interval("v", 100, 105)]
    assert match(g, preds) == (1, 2, 1)
    # a ground truth interval is matched once even when two predictions hit it
    assert match([g[0]], [Interval("v", 10, 19), Interval("v", 11, 19)]) == (1, 1, 0)


def test_score_pools_videos_and_types():
    truth = {"a": [Interval("a", 0, 9), Interval("a", 100, 160, "macro")], "b": [Interval("b", 20, 29)]}
    preds = {"a": [Interval("a", 0, 9), Interval("a", 100, 150, "macro")], "b": [Interval("b", 60, 69)]}
    s = score(truth, preds)
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 1, 1)
    assert s["macro"]["f1"] == 1.0
    assert (s["overall"]["tp"], s["overall"]["fp"], s["overall"]["fn"]) == (2, 1, 1)
    assert s["overall"]["f1"] == pytest.approx(2 / 3, abs=1e-3)
    # each F1 with a 95 % interval over the people (a, b): a lone video's share moves it, not the point figure
    assert s["people"] == 2 and s["micro"]["f1_ci95"] == [0.0, 1.0] and s["macro"]["f1_ci95"] == [1.0, 1.0]  # b has no macro


def test_f1_interval_resamples_people_not_clips():
    from mecore.spotscore import f1, f1_interval, person_of

    assert [person_of(v) for v in ("sub15_02", "15_0401", "006_1")] == ["sub15", "15", "006"]
    clips = [(5, 0, 0), (5, 0, 0), (0, 3, 5), (0, 3, 5)]
    # four clips of four people: some draws hold only good clips or only bad ones
    lo, hi = f1_interval(clips)
    assert lo < f1(10, 6, 10) < hi and hi == 1.0 and lo == 0.0
    # the same clips as two people (a good one, a bad one): the same figure, drawn from three pools only
    assert f1_interval(clips, ["p", "p", "q", "q"]) == (0.0, 1.0)
    # many people alike: a narrow interval around the pooled F1
    lo, hi = f1_interval([(4, 1, 1)] * 30)
    assert lo == hi == pytest.approx(f1(4, 1, 1), abs=1e-3)
    assert f1_interval([]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="group"):
        f1_interval(clips, ["p"])


def test_read_synthetic_and_predictions(tmp_path):
    (tmp_path / "clip0.json").write_text(json.dumps({
        "video": "clip0.mp4", "fps": 30.0, "frame_index_base": 0,
        "events": [{"onset": 30, "apex": 35, "offset": 41, "label": "surprise"}]}))
    truth, videos = read_synthetic(tmp_path)
    assert truth == {"clip0": [Interval("clip0", 30, 41, "micro", "surprise")]}
    assert videos["clip0"] == tmp_path / "clip0.mp4"
    ev = tmp_path / "ev.jsonl"
    ev.write_text(json.dumps({"type": "event", "onset_frame": 31, "apex_frame": 35, "offset_frame": 40,
                              "onset_s": 31 / 30, "label": "surprise"}) + "\n" + json.dumps({"type": "summary"}) + "\n")
    assert read_predictions(ev, "clip0") == [Interval("clip0", 31, 40, "micro", "surprise")]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(MexError, match="bad.json"):
        read_synthetic(tmp_path / "bad.json")


def test_cli_scores_prediction_files(tmp_path, capsys):
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "preds"
    truth_dir.mkdir()
    pred_dir.mkdir()
    (truth_dir / "c.json").write_text(json.dumps({"video": "c.mp4", "events": [
        {"onset": 30, "apex": 35, "offset": 41}, {"onset": 100, "apex": 104, "offset": 110}]}))
    (pred_dir / "c.jsonl").write_text(json.dumps({"type": "event", "onset_frame": 30, "apex_frame": 35,
                                                  "offset_frame": 40, "onset_s": 1.0}) + "\n")
    assert main(["--truth", str(truth_dir), "--predictions", str(pred_dir), "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["overall"]["tp"], report["overall"]["fn"]) == (1, 1)
    assert main(["--truth", str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err


def _frame_folder(face_video, folder, n=12):
    """The first ``n`` frames of the real face video as numbered JPEGs: an image-folder long video."""
    import av
    import cv2

    folder.mkdir(parents=True)
    with av.open(str(face_video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n:
                break
            cv2.imwrite(str(folder / f"{folder.name}_{i + 1:05d}.jpg"), frame.to_ndarray(format="bgr24"))
    return folder


def test_spotter_reads_folders_at_the_datasets_rate(tmp_path, face_video, face_model, monkeypatch):
    """SAMM's long videos are 200 fps image folders: spot_eval hands that rate to the spotter (and the
    false-events-per-minute figure is over 12 frames / 200 fps), --fps overrides it."""
    from stream.spot_eval import spot_video

    monkeypatch.setenv("MEX_FACE_MODEL", str(face_model))
    folder = _frame_folder(face_video, tmp_path / "videos" / "006_1")
    assert spot_video(folder, fps=200.0)[1:] == (12, 200.0)
    assert spot_video(folder)[2] == 30.0  # a folder without a rate: the default
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
              "Action Units", "Notes"]
    sheet = tmp_path / "SAMM_LongVideos_V3_Release.xlsx"
    pd.DataFrame([["SAMM Long Videos"] + [None] * 9] + [[None] * 10] * 8 + [header] +
                 [[6, "006_1_1", 1, 3, 5, 8, 6, "Micro - 1/2", "12", None]]).to_excel(sheet, header=False, index=False)
    out = tmp_path / "r.json"
    assert main(["--samm-lv", str(sheet), "--videos", str(tmp_path / "videos"), "--minutes", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["minutes"] == round(12 / 200 / 60, 3)
    # the report says how the spotting was made: the spotter's config, the face model's SHA-256, code, machine
    assert report["config"]["classify"] is False and report["artifacts"][0]["model"] == "face_landmarker"
    assert len(report["artifacts"][0]["sha256"]) == 64 and report["code_version"] and report["machine"]
    assert main(["--samm-lv", str(sheet), "--videos", str(tmp_path / "videos"), "--fps", "25", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["minutes"] == round(12 / 25 / 60, 3)
    assert main(["--samm-lv", str(sheet), "--fps", "0"]) == 2


def test_class_accuracy_and_false_events_by_cause():
    from stream.spot_eval import Interval, class_accuracy, false_by_cause

    truth = {"v": [Interval("v", 10, 20, "micro", "happiness"), Interval("v", 50, 60, "micro", "surprise")]}
    preds = {"v": [Interval("v", 11, 20, "micro", "happiness"), Interval("v", 50, 59, "micro", "disgust"),
                   Interval("v", 100, 110, "micro"), Interval("v", 200, 205, "micro")]}
    assert class_accuracy(truth, preds) == {"matched": 2, "correct": 1, "accuracy": 0.5}
    distractors = {"v": [Interval("v", 98, 112, "blink"), Interval("v", 300, 340, "speech")]}
    assert false_by_cause(truth, preds, distractors) == {"blink": 1, "none": 1}


def test_missed_micro_expressions_are_told_apart_by_what_the_spotter_gave_there():
    from stream.spot_eval import Interval, missed_by_cause

    truth = [Interval("v", 10, 20, "micro"), Interval("v", 50, 60, "micro"), Interval("v", 100, 110, "micro"),
             Interval("v", 200, 210, "micro"), Interval("v", 300, 340, "macro")]
    preds = [Interval("v", 10, 19, "micro"),  # found
             Interval("v", 30, 90, "macro"),  # the face's own motion around the second, called macro
             Interval("v", 108, 125, "micro"),  # the third, off in time (IoU 3/26)
             Interval("v", 300, 340, "macro")]  # a macro truth: not a micro-expression, never counted here
    assert missed_by_cause(truth, preds) == {"macro": 1, "micro": 1, "none": 1}
    assert missed_by_cause(truth, [Interval("v", b.onset, b.offset, "micro") for b in truth[:4]]) == {}


def test_micro_and_macro_are_scored_separately_against_hand_built_truth(tmp_path):
    """Truth with a micro and a macro event (and a distractor); predictions typed by their kind: a macro
    prediction on the micro event is no micro hit, and each type has its own TP / FP / FN."""
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "preds"
    truth_dir.mkdir()
    pred_dir.mkdir()
    (truth_dir / "c.json").write_text(json.dumps({"video": "c.mp4", "events": [
        {"onset": 30, "apex": 35, "offset": 41, "kind": "micro"},
        {"onset": 100, "apex": 110, "offset": 145, "kind": "macro"},
        {"onset": 200, "apex": 205, "offset": 210, "kind": "micro"}],
        "distractors": [{"kind": "blink", "start": 60, "end": 66}]}))
    rows = [(30, 35, 40, "micro"), (101, 112, 146, "macro"), (200, 205, 210, "macro"), (61, 63, 66, "micro")]
    (pred_dir / "c.jsonl").write_text("".join(json.dumps(
        {"type": "event", "onset_frame": a, "apex_frame": b, "offset_frame": c, "onset_s": a / 30, "kind": k}) + "\n"
        for a, b, c, k in rows))
    assert main(["--truth", str(truth_dir), "--predictions", str(pred_dir), "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert [report["micro"][k] for k in ("tp", "fp", "fn")] == [1, 1, 1]
    assert [report["macro"][k] for k in ("tp", "fp", "fn")] == [1, 1, 0]
    assert [report["overall"][k] for k in ("tp", "fp", "fn")] == [2, 2, 1]
    assert report["clips"]["c"] == {"micro": [1, 1, 1], "macro": [1, 1, 0]}


def test_a_videos_playback_turns_are_a_cause_of_false_events(tmp_path):
    from stream.spot_eval import false_by_cause, read_distractors

    # what train.synth_me writes for a short video played forward and back: where it turns, and how far either
    # side the mirrored motion reaches
    (tmp_path / "clip0.json").write_text(json.dumps({
        "video": "clip0.mp4", "fps": 25.0, "frame_index_base": 0, "events": [],
        "distractors": [{"kind": "blink", "start": 80, "end": 88, "size_px": 7.1}], "turns": [30, 200], "turn_s": 0.2}))
    around = read_distractors(tmp_path)
    assert around == {"clip0": [Interval("clip0", 80, 88, "blink"), Interval("clip0", 25, 35, "turn"),
                                Interval("clip0", 195, 205, "turn")]}
    preds = {"clip0": [Interval("clip0", 31, 38, "micro"), Interval("clip0", 82, 86, "micro")]}
    assert false_by_cause({"clip0": []}, preds, around) == {"turn": 1, "blink": 1}
