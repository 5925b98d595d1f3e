"""The released datasets' spotting sheets, built here in their real layouts, read into MEGC intervals."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mecore.errors import MexError
from mecore.spotscore import Interval
from stream import spot_sheets as sheets
from stream.spot_eval import main


def test_read_casme2_sheet(tmp_path):
    rows = [[1, "anger1_1", 557, 572, 608, "4+7", "negative", "macro-expression", "anger"],
            [1, "anger1_2", 1001, 1010, 0, "4", "negative", "micro-expression", "anger"],
            [15, "happy2_1", 10, 14, 20, "12", "positive", "micro-expression", "happy"]]
    path = tmp_path / "CAS(ME)^2code_final.xlsx"
    pd.DataFrame(rows).to_excel(path, header=False, index=False)
    truth = sheets.read_casme2(path)  # the code sheet alone: participant and video name as they are
    assert truth["1_anger1"] == [Interval("1_anger1", 556, 607, "macro", "negative"),
                                 Interval("1_anger1", 1000, 1009, "micro", "negative")]  # offset 0 -> apex
    assert truth["15_happy2"][0].kind == "micro"
    # the released workbook: naming-rule sheets map to the rawpic folder names (s15/15_0401girlcrashing)
    full = tmp_path / "CAS(ME)^2code_final(Updated).xlsx"
    with pd.ExcelWriter(full) as xl:
        pd.DataFrame(rows).to_excel(xl, sheet_name="code", header=False, index=False)
        pd.DataFrame([["15", "s15", 1], ["40", "s40", 15]]).to_excel(xl, sheet_name="naming rule1", header=False,
                                                                      index=False)
        pd.DataFrame([["0401", "anger1"], ["0502", "happy2"]]).to_excel(xl, sheet_name="naming rule2",
                                                                        header=False, index=False)
    truth = sheets.read_casme2(full)
    assert sorted(truth) == ["15_0401", "40_0502"] and len(truth["15_0401"]) == 2
    (tmp_path / "rawpic" / "s15" / "15_0401girlcrashing").mkdir(parents=True)
    (tmp_path / "rawpic" / "s15" / "15_04010").mkdir()
    assert sheets.find_video(tmp_path / "rawpic", "15_0401").name == "15_0401girlcrashing"
    pd.DataFrame([[1, "anger1_1", "x"]]).to_excel(tmp_path / "bad.xlsx", header=False, index=False)
    with pytest.raises(MexError, match=r"bad.xlsx: row 1: expected participant"):
        sheets.read_casme2(tmp_path / "bad.xlsx")


def test_read_samm_lv_sheet(tmp_path):
    notes = [["SAMM Long Videos"] + [None] * 9] + [[None] * 10] * 8
    header = [["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
               "Action Units", "Notes"]]
    rows = [[6, "006_1_1", 1, 5562, 5588, 5632, 71, "Macro", "R12", None],
            [6, "006_1_2", 1, 6000, 6040, 6080, 81, "Micro - 1/2", "4", None],
            [7, "007_3_1", 3, 100, -1, 150, 51, "Micro - 1/2", "1+2", None],
            [7, "007_3_2", 3, 300, 310, 0, 51, "Micro - 1/2", "12", None]]  # offset 0: not coded -> apex
    path = tmp_path / "SAMM_LongVideos_V3_Release.xlsx"
    pd.DataFrame(notes + header + rows).to_excel(path, header=False, index=False)
    truth = sheets.read_samm_lv(path)
    assert [i.kind for i in truth["006_1"]] == ["macro", "micro"]
    assert truth["007_3"] == [Interval("007_3", 99, 149, "micro"), Interval("007_3", 299, 309, "micro")]
    pd.DataFrame([["nothing here"]]).to_excel(tmp_path / "x.xlsx", header=False, index=False)
    with pytest.raises(MexError, match="no header row"):
        sheets.read_samm_lv(tmp_path / "x.xlsx")


def _casme3_release(tmp_path):
    """Part A's two sheets as the release names and lays them out, and two long videos' colour frames."""
    me = tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    pd.DataFrame([["spNO.1", "a", 120, 126, 131, "4", "disgust", "disgust"],
                  ["spNO.1", "a", 400, 404, 0, "12", "happy", "happy"],  # offset 0: not coded -> apex
                  ["spNO.2", "c", 2000, 2005, 2012, "1+2", "surprise", "surprise"]],
                 columns=["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"],
                 ).to_excel(me, sheet_name="label", index=False)
    mae = tmp_path / "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx"
    pd.DataFrame([["spNO.1", "a", 600, 640, 700, "6+12", "happiness"]],
                 columns=["sub", "seq", "onset", "apex", "offset", "au", "emotion"]).to_excel(mae, index=False)
    data = tmp_path / "part_A" / "data"
    for sub, seq, numbers in (("spNO.1", "a", range(0, 800)), ("spNo.2", "c", range(1990, 2020))):
        (data / sub / seq / "depth").mkdir(parents=True)
        (data / sub / seq / "color").mkdir()
        for n in numbers:
            if not 300 <= n < 310:  # frames missing from the release: every later one moves up
                (data / sub / seq / "color" / f"{n}.jpg").touch()
    return me, mae, data


def test_read_casme3_sheets(tmp_path):
    me, mae, data = _casme3_release(tmp_path)
    truth = sheets.read_casme3([me, mae])
    assert truth["spNO.1_a"] == [Interval("spNO.1_a", 120, 131, "micro", "disgust"),
                                 Interval("spNO.1_a", 400, 404, "micro", "happy"),
                                 Interval("spNO.1_a", 600, 700, "macro", "happiness")]
    # the subject folder is spNo.2 where the sheet says spNO.2: found all the same
    folders = sheets.casme3_folders(data)
    assert sorted(folders) == ["spno.1_a", "spno.2_c"] and folders["spno.2_c"].name == "color"
    # jpg numbers -> the positions the stream reads them at: 0.jpg is frame 0, and 300-309.jpg are missing
    got = sheets.casme3_positions(truth["spNO.1_a"], folders["spno.1_a"])
    assert [(i.onset, i.offset) for i in got] == [(120, 131), (390, 394), (590, 690)]
    assert sheets.casme3_positions(truth["spNO.2_c"], folders["spno.2_c"])[0] == Interval("spNO.2_c", 10, 22, "micro", "surprise")
    # a renamed sheet cannot say what it holds; a sheet without the columns is named
    renamed = tmp_path / "labels.xlsx"
    renamed.write_bytes(me.read_bytes())
    with pytest.raises(MexError, match=r"labels.xlsx: cannot tell whether its rows are micro- or macro"):
        sheets.read_casme3([renamed])
    bad = tmp_path / "cas(me)3_part_A_ME_label_bad.xlsx"
    pd.DataFrame([["x", 1]], columns=["Who", "When"]).to_excel(bad, index=False)
    with pytest.raises(MexError, match=r"label_bad.xlsx: no sheet with Subject \(sub\), Filename \(seq\)"):
        sheets.read_casme3([bad])
    pd.DataFrame([["spNO.1", "a", "n/a", 3, 9]], columns=["Subject", "Filename", "Onset", "Apex", "Offset"]).to_excel(bad, index=False)
    with pytest.raises(MexError, match=r"label_bad.xlsx: row 2 \(spNO.1_a\): onset/offset are not frame numbers"):
        sheets.read_casme3([bad])


def test_cli_scores_casme3_predictions_at_frame_positions(tmp_path, capsys):
    me, mae, data = _casme3_release(tmp_path)
    preds = tmp_path / "preds"
    preds.mkdir()
    # what run_stream.py --events writes for the folder: decoded-frame positions (the missing 300-309.jpg counted out)
    events = [{"type": "event", "onset_frame": 120, "apex_frame": 126, "offset_frame": 131, "kind": "micro"},
              {"type": "event", "onset_frame": 390, "apex_frame": 392, "offset_frame": 394, "kind": "micro"},
              {"type": "event", "onset_frame": 590, "apex_frame": 630, "offset_frame": 690, "kind": "macro"}]
    (preds / "spNO.1_a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["--casme3", str(me), "--casme3", str(mae), "--videos", str(data), "--predictions", str(preds)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["micro"]["tp"], out["micro"]["fp"], out["micro"]["fn"]) == (2, 0, 1)  # spNO.2_c: no predictions
    assert (out["macro"]["tp"], out["macro"]["fp"], out["macro"]["fn"]) == (1, 0, 0)
    # without the folders the jpg numbers are taken as positions: the event after the missing frame is lost, and said
    assert main(["--casme3", str(me), "--casme3", str(mae), "--predictions", str(preds)]) == 0
    captured = capsys.readouterr()
    unmapped = json.loads(captured.out)
    assert unmapped["micro"]["tp"] == 1 and unmapped["macro"]["tp"] == 1 and "without --videos" in captured.err
