"""The Gradio demo's handlers, called directly (gradio_client cannot drive a streaming event).

Real components: the real Analyzer (real MediaPipe) on real frames of face.mp4; real files for bad
uploads. The page itself is tested in a real browser in test_app_browser.py.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import av
import gradio as gr
import numpy as np
import pytest

from mecore.errors import MexError
from stream.app import App, main
from stream.app_session import PageSettings
from stream.config import StreamConfig
from stream.spotters import resolve

WARN = "⚠️"


def _frames(path, n):
    with av.open(str(path)) as c:
        out = []
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) == n:
                return out
    return out


@pytest.fixture(scope="module")
def frames(face_video):
    return _frames(face_video, 12)


@pytest.fixture()
def app(standin_engines):
    a = App(engines_dir=standin_engines, stream_every=0.1)  # tiny real ONNX engines, not a training run
    yield a
    a.sessions.close_all()


def _req(name):
    return gr.Request(session_hash=name)


def _live(app, image, session, amp=10.0, thr=0.4, backend="auto"):
    return app.live_frame(image, amp, thr, backend, _req(session))


def test_two_sessions_never_share_state_and_unload_frees_it(app, frames):
    for img in frames[:6]:
        out, _inset, _table, status = _live(app, img, "alice")
    assert isinstance(out, np.ndarray) and out.shape == frames[0].shape
    assert out.dtype == np.uint8 and not np.array_equal(out, frames[5])  # annotated, not the raw frame
    assert "1 face(s)" in status and WARN not in status.splitlines()[0]
    for img in frames[:2]:
        _live(app, img, "bob")
    alice = app.sessions.get("alice").run("live", 10.0, _controls())
    bob = app.sessions.get("bob").run("live", 10.0, _controls())
    assert alice.analyzer is not bob.analyzer
    assert alice.analyzer.tracker is not bob.analyzer.tracker
    assert (alice.analyzer.frames, bob.analyzer.frames) == (6, 2)

    app.end_session(_req("alice"))  # what demo.unload calls when the tab closes
    assert "alice" not in app.sessions and "bob" in app.sessions
    assert bob.analyzer.frames == 2  # the other session is untouched


def test_a_closed_session_refuses_work(app):
    session = app.sessions.get("gone")
    app.end_session(_req("gone"))
    assert session.closed
    with pytest.raises(MexError, match="session has ended"):
        session.run("live", 10.0, _controls())
    # a frame of the closed tab handled after its unload opens no new session
    with pytest.raises(MexError, match="session has ended"):
        app.sessions.get("gone")
    assert "gone" not in app.sessions


def _controls():
    return PageSettings(10.0, 0.4, "auto")


def test_controls_reach_the_analyzer_and_reset_starts_afresh(app, frames):
    # the sensitivity slider moves the spotter that runs: flow for the webcam's 10 fps, learned for a 30 fps file
    for img in frames[:3]:
        _live(app, img, "s")
    run = app.sessions.get("s").run("live", 10.0, _controls())
    assert resolve(run.analyzer.config) == "flow"
    factor = StreamConfig().flow_noise_factor
    assert run.analyzer.config.flow_noise_factor == pytest.approx(factor * 2 ** 0.2)  # sensitivity 0.4: stricter
    _live(app, frames[3], "s", thr=0.7)
    _live(app, frames[4], "s", thr=0.9)  # from the run's start, not from 0.7: moves never add up
    assert run.analyzer.config.flow_noise_factor == pytest.approx(factor * 2 ** -0.8)
    video, _ = app._analyzer(30.0, PageSettings(10.0, 0.75, "auto"))
    assert resolve(video.config) == "learned" and video.config.spot_threshold < 0.95
    video.close()
    app.live_reset(_req("s"))
    _live(app, frames[4], "s", thr=0.7)
    fresh = app.sessions.get("s").run("live", 10.0, _controls())
    assert fresh is not run and fresh.analyzer.frames <= 2


def test_no_face_says_so_in_the_status(app):
    blank = np.full((240, 320, 3), 90, np.uint8)
    status = ""
    for _ in range(6):
        out, _inset, _table, status = _live(app, blank, "empty")
    assert "no face" in status and "frame 5" in status
    assert out.shape == blank.shape


def test_video_upload_writes_annotated_mp4_jsonl_table_and_timeline(standin_engines, face_video, tmp_path):
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.pix_fmt = "yuv420p"
        imgs = _frames(face_video, 45)
        stream.width, stream.height = imgs[0].shape[1], imgs[0].shape[0]
        for i, img in enumerate(imgs):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    app = App(engines_dir=standin_engines)
    seen = []
    video, table, plot, jsonl, status = app.analyse_video(str(clip), 8.0, 0.4, "auto", _req("v"),
                                                          progress=lambda p, desc="": seen.append(p))
    assert status.startswith("clip.mp4: 45 frames at 30.0 fps, a face in 45"), status
    assert "spotting only" not in status and "backend onnxruntime" in status
    with av.open(video) as c:
        assert sum(1 for _ in c.decode(video=0)) == 45
    lines = [json.loads(x) for x in Path(jsonl).read_text().splitlines()]
    assert lines[-1]["type"] == "summary" and lines[-1]["frames"] == 45
    assert list(table.columns)[:4] == ["face", "onset s", "apex s", "offset s"]
    assert len(table) == sum(1 for x in lines if x["type"] == "event")
    assert hasattr(plot, "savefig") and seen and seen[-1][0] == 45
    workdir = app.sessions.get("v").workdir()
    app.end_session(_req("v"))
    assert not workdir.exists()  # the session's outputs go with it


def test_bad_uploads_and_urls_give_one_readable_line(app, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    *_, status = app.analyse_video(str(text), 10.0, 0.4, "auto", _req("u"), progress=lambda *a, **k: None)
    assert status.startswith(WARN) and "notes.txt" in status and "Traceback" not in status
    assert len(status.splitlines()) == 1

    *_, status = app.analyse_video(None, 10.0, 0.4, "auto", _req("u"), progress=lambda *a, **k: None)
    assert status.startswith(WARN) and "Upload" in status

    (_, _, _, status), = list(app.watch_url("ftp://example/cam", 10.0, 0.4, "auto", _req("u")))
    assert status.startswith(WARN) and "ftp://example/cam" in status

    with socket.socket() as s:  # a port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtsp://user:secret@127.0.0.1:{port}/stream"
    outs = list(app.watch_url(url, 10.0, 0.4, "auto", _req("u")))
    status = outs[-1][-1]
    assert status.startswith(WARN) and f"127.0.0.1:{port}" in status
    assert "secret" not in status and "Traceback" not in status


def test_main_rejects_bad_options(capsys):
    assert main(["--port", "70000"]) == 2
    assert capsys.readouterr().err.startswith("error: --port 70000")
    assert main(["--threshold", "1.5"]) == 2
    assert "threshold_p" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "127.0.0.1" in capsys.readouterr().out


def test_ctrl_c_exits_130_though_gradio_swallows_it(monkeypatch):
    """Gradio's blocking launch catches the KeyboardInterrupt of Ctrl-C and returns; main still exits 130."""
    import contextlib
    import signal

    import stream.app as app_mod

    def serve_until_ctrl_c(*args, **kwargs):
        with contextlib.suppress(KeyboardInterrupt):  # as gradio's block_thread does
            signal.raise_signal(signal.SIGINT)  # what the terminal sends

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(app_mod, "launch", serve_until_ctrl_c)
    try:
        assert main(["--port", "7999"]) == 130
        monkeypatch.setattr(app_mod, "launch", lambda *a, **k: None)  # served, stopped without a signal
        assert main(["--port", "7999"]) == 0
    finally:
        signal.signal(signal.SIGINT, before)
