"""run_stream.py against bad input and a real RTSP server: one clear line and an exit code, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import av

from stream.config import StreamConfig
from stream.pipeline import Analyzer
from stream.sources import State, open_source
from tests.stream.rtsp import REPO, RtspServer, free_port, require_gst


def run_cli(*args, timeout=240):
    res = subprocess.run([sys.executable, str(REPO / "run_stream.py"), "--no-show", *map(str, args)],
                         cwd=REPO, capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stdout, res.stderr


def assert_one_line_error(rc, out, err, *needles):
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err + out
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_demo_end_to_end_headless(tmp_path):
    """The issue's 'done when': python run_stream.py --source demo --events ev.jsonl --out demo.mp4."""
    rc, out, err = run_cli("--source", "demo", "--events", tmp_path / "ev.jsonl", "--out", tmp_path / "demo.mp4")
    assert rc == 0, err
    assert "frames 300" in out and "events" in out and "wrote" in out
    records = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    events = [r for r in records if r["type"] == "event"]
    truth = json.loads((REPO / "stream" / "assets" / "demo.json").read_text())["events"]
    # every injected event found once, with its apex inside it; nothing else spotted
    labels = []
    for t in truth:
        hits = [e for e in events if t["onset"] <= e["apex_frame"] <= t["offset"]]
        assert len(hits) == 1, (t, hits)
        labels.append(hits[0]["label"])
    assert len(events) == len(truth)
    # The demo's person is held out of training and the shipped classifier scores 0.75 accuracy on the
    # held-out people (docs/training.md): the shipped engines get 5 of 5 here, earlier ones 4 of 5.
    # Assert better than chance (1 of 5), not a perfect demo, so a retrained model is not held to luck.
    assert set(labels) <= {t["label"] for t in truth}  # the five classes
    assert sum(a == t["label"] for a, t in zip(labels, truth)) >= 2, (labels, [t["label"] for t in truth])
    assert records[-1]["type"] == "summary" and records[-1]["frames"] == 300
    with av.open(str(tmp_path / "demo.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == 300


def test_missing_source(tmp_path):
    assert_one_line_error(*run_cli("--source", tmp_path / "nope.mp4"), "nope.mp4", "no such file")


def test_corrupt_and_truncated_videos(tmp_path, face_video):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 1000)
    assert_one_line_error(*run_cli("--source", junk, "--spot-only"), "junk.mp4")
    cut = tmp_path / "cut.mp4"  # face.mp4 keeps its index (moov) at the end: cut it off
    cut.write_bytes(face_video.read_bytes()[:400_000])
    rc, out, err = run_cli("--source", cut, "--spot-only", "--events", tmp_path / "ev.jsonl")
    assert_one_line_error(rc, out, err, "cut.mp4")


def test_truncated_video_keeps_what_was_analysed(tmp_path, face_video):
    fast = tmp_path / "fast.mp4"  # index at the front: a cut file still decodes up to the cut
    with av.open(str(face_video)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        for pkt in src.demux(s_in):
            if pkt.dts is not None:
                pkt.stream = s_out
                dst.mux(pkt)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size // 2])
    rc, out, err = run_cli("--source", cut, "--spot-only", "--events", tmp_path / "ev.jsonl")
    assert_one_line_error(rc, out, err, "cut.mp4", "truncated")
    summary = json.loads((tmp_path / "ev.jsonl").read_text().splitlines()[-1])
    assert summary["type"] == "summary" and 50 < summary["frames"] < 301 and "truncated" in summary["error"]


def test_missing_and_corrupt_engines(tmp_path, standin_engines):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(*run_cli("--engines", empty, "--max-frames", "5"), "magnifier")
    broken = tmp_path / "broken"
    shutil.copytree(standin_engines, broken)
    data = (broken / "classifier.onnx").read_bytes()
    (broken / "classifier.onnx").write_bytes(data[: len(data) // 2])
    assert_one_line_error(*run_cli("--engines", broken, "--max-frames", "5"), "classifier.onnx")
    assert not (tmp_path / "ev.jsonl").exists()


def test_unreachable_camera_masks_the_password():
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/live"
    rc, out, err = run_cli("--source", url, "--timeout", "3", "--spot-only")
    assert_one_line_error(rc, out, err, "admin:***@127.0.0.1")
    assert "hunter2" not in out + err


def test_rtsp_stream_dropped_and_restarted_keeps_producing(demo_clip):
    """A real RTSP server is stopped mid-stream and started again: the same source and analyser carry on."""
    require_gst()
    server = RtspServer(demo_clip).start()
    url = server.url.replace("rtsp://", "rtsp://viewer:pw123@")
    src = open_source(url, open_timeout_s=5, read_timeout_s=3, backoff_s=(0.3, 2.0), max_reconnects=10)
    restarted = threading.Event()

    def restart():
        server.stop()
        time.sleep(1.0)
        server.start()
        restarted.set()

    events, before, after = [], 0, 0
    try:
        with src, Analyzer(StreamConfig(classify=False, overlay=False).with_fps(30)) as an:
            src.open()
            assert src.live and src.state == State.RUNNING
            for frame in src:
                r = an.process(frame)
                events += r.events
                if not restarted.is_set():
                    before += 1
                    if before == 60:
                        threading.Thread(target=restart, daemon=True).start()
                else:
                    after += 1
                    if after >= 240:
                        break
            stats = src.stats
    finally:
        server.stop()
    assert stats.reconnects >= 1 and after >= 240, stats
    assert any(e.onset_frame > before for e in events), events  # events after the reconnect, too
    assert "pw123" not in src.name


def test_rtsp_cli_reads_a_live_stream(demo_clip, tmp_path):
    require_gst()
    with RtspServer(demo_clip) as server:
        url = server.url.replace("rtsp://", "rtsp://viewer:pw123@")
        rc, out, err = run_cli("--source", url, "--spot-only", "--max-frames", "45", "-v",
                               "--events", tmp_path / "ev.jsonl")
    assert rc == 0, err
    assert "frames 45" in out and "pw123" not in out + err and "viewer:***@" in out + err
