"""Sinks: atomic outputs, one JSON object per event, real H.264, and errors that never stop the others."""

from __future__ import annotations

import json

import av
import numpy as np

from mecore.types import Frame, Prediction, SpotEvent
from stream.pipeline import FrameResult
from stream.sinks import EventsFile, Summary, VideoFile, format_summary

EV = SpotEvent(face_id=0, onset_frame=30, apex_frame=34, offset_frame=39, score=3.0, fps=30.0)


def _result(i, events=(), preds=()):
    img = np.full((120, 161, 3), i % 255, np.uint8)  # odd width: the encoder needs even sizes
    return FrameResult(Frame(img, i, i / 30), [], img, list(events), list(preds), {}, {"landmarks": 5.0})


def test_events_file_is_atomic_and_complete(tmp_path):
    path = tmp_path / "ev.jsonl"
    sink = EventsFile(path)
    sink(_result(0, events=[EV]))
    assert not path.exists()  # written under a temp name until close
    sink(_result(1, preds=[Prediction(EV, "surprise", {"surprise": 0.7, "others": 0.3}, "onnxruntime-cpu", 412.3)]))
    ev2 = SpotEvent(1, 60, 63, 68, 2.0, 30.0)
    sink(_result(2, events=[ev2]))  # never classified: written at close with label null
    sink.close({"frames": 3})
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["event", "event", "summary"]
    first = lines[0]
    for key in ("face_id", "onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s", "offset_s", "label",
                "probs", "backend", "latency_ms"):
        assert key in first
    assert first["label"] == "surprise" and first["apex_s"] == round(34 / 30, 4) and first["latency_ms"] == 412.3
    assert lines[1]["label"] is None and lines[1]["face_id"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ev.jsonl"]


def test_aborted_outputs_leave_nothing(tmp_path):
    ev = EventsFile(tmp_path / "ev.jsonl")
    vid = VideoFile(tmp_path / "out.mp4", 30)
    vid(_result(0))
    ev.abort()
    vid.abort()
    assert list(tmp_path.iterdir()) == []


def test_video_file_is_real_h264(tmp_path):
    vid = VideoFile(tmp_path / "out.mp4", 30)
    for i in range(15):
        vid(_result(i))
    vid.close()
    with av.open(str(tmp_path / "out.mp4")) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264" and (st.width, st.height) == (160, 120)
        assert sum(1 for _ in c.decode(video=0)) == 15


def test_summary_counts_frames_not_the_final_result():
    summary = Summary()
    for i in range(3):
        summary(_result(i, events=[EV] if i == 1 else []))
    summary(FrameResult(None, [], None, [EV], [], {}, {}, final=True))  # the end of stream: an event, no frame
    assert summary.frames == 3 and summary.events == 2 and summary.stage_n["landmarks"] == 3
    text = format_summary(summary.report(dropped=2))
    assert "frames 3" in text and "dropped 2" in text and "events 2" in text and "damaged" not in text
    assert "damaged packets skipped 3" in format_summary(summary.report(extra={"damaged_packets": 3}))


def test_the_video_names_how_it_was_made(tmp_path):
    info = {"config": {"threshold_p": 0.1}, "artifacts": [{"model": "classifier", "sha256": "ab" * 32}],
            "code_version": "v1", "machine": {"cores": 2}}
    vid = VideoFile(tmp_path / "out.mp4", 30)
    vid.start(info)  # the runner's provenance, before the first frame (the header carries it)
    for i in range(3):
        vid(_result(i))
    vid(FrameResult(None, [], None, [], [], {}, {}, final=True))  # the final result: no frame to encode
    vid.close({"frames": 3})
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert json.loads(c.metadata["comment"]) == info
        assert sum(1 for _ in c.decode(video=0)) == 3
