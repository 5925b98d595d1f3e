"""The Gradio demo in a real browser: Debian's Chromium driven by Playwright, a fake webcam playing a
y4m of the bundled demo clip (a real face with injected micro-expressions), the real Analyzer behind.

Screenshots are kept in tests/artifacts/ (app_live.png, app_video.png, app_url.png, ...).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.browser import (
    CHROMIUM,
    DEMO_CLIP,
    chromium,
    displayed_frames,
    free_port,
    open_app,
    serve,
    start_webcam,
    wait_event_rows,
    watch_output,
    write_y4m,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (setup --dev installs Debian's chromium)"),
]

def _wait(cond, timeout_s: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


@pytest.fixture(scope="module")
def clip() -> Path:
    path = Path(os.environ.get("MEX_APP_CLIP", DEMO_CLIP))
    if not path.is_file():
        pytest.skip(f"{path} missing (the bundled demo clip)")
    return path


@pytest.fixture(scope="module")
def y4m(clip, tmp_path_factory) -> Path:
    return write_y4m(clip, tmp_path_factory.mktemp("cam") / "cam.y4m", repeat=1)


@pytest.fixture(scope="module")
def served(standin_engines):
    from stream.app import App

    app = App(engines_dir=standin_engines, stream_every=0.1)  # tiny real ONNX engines: labels in the table
    with serve(app.build()) as url:
        yield app, url
    app.sessions.close_all()


@pytest.fixture(scope="module")
def browser(y4m):
    with chromium(y4m) as context:
        yield context


def test_live_webcam_streams_annotated_frames_and_finds_an_event(served, browser, artifacts_dir):
    app, url = served
    page = open_app(browser, url)
    start_webcam(page)
    page.wait_for_selector("#live-out img", timeout=60_000)
    watch_output(page)
    assert _wait(lambda: displayed_frames(page) >= 10, 30), "annotated frames did not come back"

    # a second tab streams too: its own session, its own analyser
    other = open_app(browser, url)
    start_webcam(other)
    other.wait_for_selector("#live-out img", timeout=60_000)
    assert _wait(lambda: len(app.sessions) == 2, 10)
    a, b = (app.sessions.get(key).current("live").analyzer for key in app.sessions)
    assert a is not b and a.tracker is not b.tracker
    other.close()
    assert _wait(lambda: len(app.sessions) == 1, 15), "a closed tab's session was not freed"

    rows = wait_event_rows(page, "#live-events", timeout_s=60)
    assert rows >= 1
    status = page.inner_text("#live-status")
    assert "face(s)" in status and "Traceback" not in page.content()
    page.screenshot(path=str(artifacts_dir / "app_live.png"), full_page=True)
    page.close()
    assert _wait(lambda: len(app.sessions) == 0, 15)


def test_video_upload_shows_events_timeline_and_jsonl(served, browser, clip, artifacts_dir, tmp_path):
    app, url = served
    page = open_app(browser, url)
    page.get_by_role("tab", name="Video").click()

    # not a video by its type: Gradio's upload refuses it with a message naming the file
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    page.locator("#video-in input[type=file]").set_input_files(str(text))
    page.get_by_text("Invalid file type: notes.txt").first.wait_for(timeout=15_000)
    # a video by its name but not by its bytes: the server says so in the status line
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(range(256)) * 20)
    page.locator("#video-in input[type=file]").set_input_files(str(broken))
    page.locator("#video-run").click()
    page.wait_for_function("() => document.querySelector('#video-status').innerText.includes('broken.mp4')",
                           timeout=30_000)
    status = page.inner_text("#video-status")
    assert status.startswith("⚠️") and "cannot open" in status and "Traceback" not in page.content()
    page.screenshot(path=str(artifacts_dir / "app_video_bad_upload.png"), full_page=True)

    page.reload(wait_until="load")
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-in input[type=file]").set_input_files(str(clip))
    page.wait_for_selector("#video-in video", timeout=30_000)
    page.locator("#video-run").click()
    rows = wait_event_rows(page, "#video-events", timeout_s=120)
    assert rows >= 1
    page.wait_for_selector("#video-out video", timeout=30_000)
    page.wait_for_selector("#video-plot img, #video-plot svg, #video-plot canvas", timeout=30_000)
    assert page.locator("#video-jsonl a").count() >= 1
    assert "frames at" in page.inner_text("#video-status")
    page.screenshot(path=str(artifacts_dir / "app_video.png"), full_page=True)
    page.close()


def test_camera_url_unreachable_is_a_readable_message(served, browser, artifacts_dir):
    import socket

    _, url = served
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = open_app(browser, url)
    page.get_by_role("tab", name="Camera URL").click()
    page.locator("#url-in textarea, #url-in input").first.fill(f"rtsp://admin:hunter2@127.0.0.1:{port}/cam")
    page.locator("#url-go").click()
    page.wait_for_function("() => document.querySelector('#url-status').innerText.includes('⚠️')",
                           timeout=30_000)
    status = page.inner_text("#url-status")
    assert f"127.0.0.1:{port}" in status and "hunter2" not in status
    assert "Traceback" not in page.content()
    page.screenshot(path=str(artifacts_dir / "app_url_unreachable.png"), full_page=True)
    page.close()


RTSP_SERVER = Path(__file__).resolve().parents[2] / "bench" / "rtsp_server.py"


@pytest.fixture()
def rtsp_url(clip):
    """A real RTSP server (GStreamer, system python3) streaming the demo clip on 127.0.0.1."""
    import subprocess

    if not RTSP_SERVER.is_file():
        pytest.skip(f"{RTSP_SERVER} missing")
    port = free_port()
    proc = subprocess.Popen(["/usr/bin/python3", str(RTSP_SERVER), "--clip", str(clip), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("READY "):
            pytest.skip(f"RTSP server did not start: {line or proc.poll()}")
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_camera_url_streams_annotated_frames_and_finds_an_event(served, browser, rtsp_url, artifacts_dir):
    _, url = served
    page = open_app(browser, url)
    page.get_by_role("tab", name="Camera URL").click()
    page.locator("#url-in textarea, #url-in input").first.fill(rtsp_url)
    page.locator("#url-go").click()
    page.wait_for_selector("#url-out img", timeout=30_000)
    # the face count while it streams (on a busy machine the 10-s clip can end before its events are in)
    page.wait_for_function("() => document.querySelector('#url-status').innerText.includes('face(s)')",
                           timeout=30_000)
    assert wait_event_rows(page, "#url-events", timeout_s=30) >= 1
    page.screenshot(path=str(artifacts_dir / "app_url.png"), full_page=True)
    page.locator("#url-stop").click()
    # Stop itself takes about 0.03 s (timed around Session.drop); a failure here once was more likely a
    # frame's status written over "Stopped." than a slow stop, so say what the status showed instead
    try:
        page.wait_for_function("() => document.querySelector('#url-status').innerText.includes('Stopped')",
                               timeout=45_000)
    except Exception:
        pytest.fail(f"after Stop the status shows {page.inner_text('#url-status')!r}")
    page.close()

