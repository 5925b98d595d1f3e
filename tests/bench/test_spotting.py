"""bench.spotting's table: pooled MEGC counts per spotter, and the false micro events by what they fell on,
with those on no expression at all (a false alarm, not a mislocated event) counted apart."""

from __future__ import annotations

from bench import spotting


def _row(clip, micro, false):
    return {"clip": clip, "seconds": 30.0, "micro": micro, "macro": [0, 0, 1], "bands": [[0, 0]] * len(spotting.BANDS),
            "false": false}


def test_the_table_pools_false_micro_events_by_cause():
    results = {"learned": {"synthetic": [_row("a", [4, 3, 1], {"blink": 1, "event": 2}),
                                         _row("b", [2, 1, 0], {"speech": 1})]}}
    text = spotting.table(results)
    assert "| learned | 4 | 4.00/min | 2 (2.00/min) | blink 1, event 2, speech 1 |" in text
    assert "| **pooled** | 60 | 6/4/1 F1 0.706 [0.67, 0.80] |" in text  # the two clips are two people: a, b
    assert results["learned"]["pooled"]["false"] == {"blink": 1, "event": 2, "speech": 1}
    # event-free clips (train.synth_me --holdout-free): false events and no F1, not an F1 of 0
    free = {"learned": {"synthetic": [_row("a", [0, 2, 0], {"blink": 2})]}}
    free["learned"]["synthetic"][0]["macro"] = [0, 0, 0]
    text = spotting.table(free)
    assert "| **pooled** | 30 | 0/2/0 (none in the truth: no F1) | 0/0/0 (none in the truth: no F1) |" in text
    assert "| learned | 2 | 4.00/min | 2 (4.00/min) | blink 2 |" in text and "[lo, hi]" not in text


def test_the_table_counts_each_persons_missed_micro_expressions_by_what_was_there():
    a1, a2, b1 = (_row(c, m, {}) for c, m in (("sub01_01", [3, 0, 2]), ("sub01_02", [1, 1, 3]), ("sub02_01", [5, 0, 0])))
    a1["missed"], a2["missed"], b1["missed"] = {"macro": 2}, {"macro": 1, "none": 1, "micro": 1}, {}
    results = {"learned": {"synthetic": [a1, a2, b1]}}
    text = spotting.table(results)
    assert "| learned: sub01 | 4/9 | 3 | 1 | 1 |" in text and "| learned: sub02 | 5/5 | 0 | 0 | 0 |" in text
    assert "| learned: all | 9/14 | 3 | 1 | 1 |" in text
    assert results["learned"]["pooled"]["missed"]["sub01"] == {"found": 4, "of": 9, "macro": 3, "micro": 1, "none": 1}
    del a1["missed"]  # a report from before the column: no table rather than a wrong one
    assert "missed: under a macro event" not in spotting.table(results)


def test_real_clips_the_learned_engine_never_saw_are_pooled_apart():
    # its false alarms on footage that chose its decoder are a figure of that choice: the unseen ones stand apart
    real = [{"clip": f"{n}.mp4", "kind": "still", "seconds": s, "micro": m, "macro": 0}
            for n, s, m in (("seen", 30.0, 0), ("mixed", 30.0, 0), ("new", 15.0, 1))]
    results = {"learned": {"real": real, "synthetic": []}}
    text = spotting.table(results, {"seen": "chose it", "mixed": "trained on"})
    assert "| seen.mp4 | still | 30.0 | chose it | 0 | 0 |" in text and "| new.mp4 | still | 15.0 | never saw it | 1 | 0 |" in text
    assert "| **pooled** | still | 75 |  | 0.80/min | 0.00/min |" in text
    assert "| **pooled** | all | 15 | never saw it | 4.00/min | 0.00/min |" in text
    assert "| seen.mp4 | still | 30.0 | ? |" in spotting.table(results)  # an engine that does not say


def test_the_shipped_engine_names_the_footage_that_steered_it():
    from stream.config import StreamConfig

    seen = spotting.steered(StreamConfig())
    assert seen and set(seen.values()) == {"chose it", "trained on"}
    assert "bc_man_webcam_sad" not in seen  # a held-out person's clip never steers a choice
    assert spotting.steered(StreamConfig(spotter_model="/nonexistent/spotter.onnx")) == {}


def test_micro_expressions_are_counted_by_face_half_and_by_what_the_source_is():
    assert [spotting.face_half(a) for a in ("1+2", "L1+L2", "6+R12", "4+9+10", "14+17", "R4", "")] == \
        ["upper", "upper", "both", "both", "lower", "upper", "lower"]
    assert spotting.source_kind({"source": "a_man_suit_talking.mp4", "turns": []}) == "talking"
    assert spotting.source_kind({"source": "einstein"}) == "photo"
    events = [{"onset": 10, "offset": 20, "kind": "micro", "aus": "1+2", "displacement_px": {"1": 2.5}},
              {"onset": 40, "offset": 50, "kind": "micro", "aus": "12", "displacement_px": {"12": 0.7}},
              {"onset": 70, "offset": 120, "kind": "macro", "aus": "6+12", "displacement_px": {"6": 9.0}},
              {"onset": 140, "offset": 150, "kind": "micro", "aus": "L12", "displacement_px": {"12": 1.5}}]
    truth = [spotting.Interval("c", e["onset"], e["offset"], e["kind"]) for e in events]
    preds = [spotting.Interval("c", 11, 21, "micro"), spotting.Interval("c", 139, 149, "micro"),
             spotting.Interval("c", 40, 50, "macro")]  # the mouth's 0.7 px one given as macro: missed
    bands, halves = spotting.recall_by({"events": events}, truth, preds)
    assert bands == [[0, 1], [1, 1], [1, 1]]
    assert halves == {"upper": [1, 1], "lower": [1, 2], "both": [0, 0]}
    a, b = _row("sub01_01", [2, 0, 1], {}), _row("sub02_01", [0, 0, 2], {})
    a.update(source_kind="talking", halves=halves)
    b.update(source_kind="photo", halves={"upper": [0, 1], "lower": [0, 0], "both": [0, 1]})
    results = {"learned": {"synthetic": [a, b]}}
    text = spotting.table(results)
    assert "| learned: talking | 1/1 | 1/2 | 0/0 | 2/3 |" in text and "| learned: photo | 0/1 | 0/0 | 0/1 | 0/2 |" in text
    assert results["learned"]["pooled"]["halves"]["talking"]["lower"] == [1, 2]
    del b["halves"]  # a report from before the column: no table rather than a wrong one
    assert "by source and face half" not in spotting.table(results)
