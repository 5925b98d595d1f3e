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
    assert "| **pooled** | 60 | 6/4/1 F1 0.706 |" in text
    assert results["learned"]["pooled"]["false"] == {"blink": 1, "event": 2, "speech": 1}
