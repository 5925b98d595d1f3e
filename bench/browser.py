"""Frames per second round-trip through the browser stream: real Chromium, fake webcam, the Gradio app.

``python -m bench.browser [--clip stream/assets/demo.mp4] [--seconds 15] [--stream-every 0.1]``

Chromium's fake capture device plays a y4m of the clip as the webcam; the Live tab streams it to
the server, the server runs the same Analyzer as ``run_stream.py`` and streams annotated frames
back. Printed: frames the server processed per second, annotated frames the page displayed per
second (counted in the page by watching the output image change) and the server's ms per frame.

The harness (y4m writer, server in a thread, Chromium with a fake webcam) is shared with the
browser tests in tests/stream/test_app_browser.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mecore import upright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
DEMO_CLIP = Path(__file__).resolve().parents[1] / "stream" / "assets" / "demo.mp4"


def write_y4m(src: str | Path, dst: str | Path, size: tuple[int, int] = (640, 480), max_frames: int | None = None,
              repeat: int = 1) -> Path:
    """Decode ``src`` with PyAV and write a yuv420p y4m for Chromium's fake webcam.

    Frames are scaled down to fit ``size`` (never up) and centred on black, as a webcam of that
    size would deliver them; the frame rate of the source is kept in the header so Chromium
    plays it in real time. ``repeat`` plays the clip that many times in one file.
    """
    import av
    import cv2

    width, height = size
    dst = Path(dst)
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or 30
        frames = []
        for i, frame in enumerate(container.decode(stream)):
            if max_frames is not None and i >= max_frames:
                break
            rgb = upright.rgb(frame)
            h, w = rgb.shape[:2]
            scale = min(width / w, height / h, 1.0)
            if scale < 1.0:
                rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
                h, w = rgb.shape[:2]
            canvas = np.zeros((height, width, 3), np.uint8)
            y0, x0 = (height - h) // 2, (width - w) // 2
            canvas[y0:y0 + h, x0:x0 + w] = rgb
            yuv = av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv420p")
            # planes can carry row padding (line_size > width): copy the visible part only
            planes = [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].tobytes()
                      for p in yuv.planes]
            frames.append(b"FRAME\n" + b"".join(planes))
    if not frames:
        raise ValueError(f"{src}: no video frames")
    header = f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n"
    with open(dst, "wb") as f:
        f.write(header.encode())
        for _ in range(repeat):
            for chunk in frames:
                f.write(chunk)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(demo, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Launch a Gradio Blocks in this process (its own server thread); yield its URL; close it."""
    port = port or free_port()
    demo.queue().launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                        share=False, show_error=False, footer_links=["gradio", "settings"])
    try:
        yield f"http://{host}:{port}/"
    finally:
        demo.close()


@contextlib.contextmanager
def chromium(y4m: str | Path | None = None, viewport: tuple[int, int] = (1280, 1000)) -> Iterator:
    """Yield a Playwright browser context with camera permission and ``y4m`` as the webcam."""
    from playwright.sync_api import sync_playwright

    args = list(CHROMIUM_ARGS)
    if y4m is not None:
        args.append(f"--use-file-for-fake-video-capture={y4m}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(permissions=["camera"],
                                          viewport={"width": viewport[0], "height": viewport[1]})
            yield context
        finally:
            browser.close()


def open_app(context, url: str, timeout_s: float = 60.0):
    """Open the app's page; ``load``, not ``networkidle`` (the heartbeat keeps the network busy)."""
    page = context.new_page()
    page.goto(url, wait_until="load", timeout=timeout_s * 1000)
    page.wait_for_selector("#live-cam", timeout=timeout_s * 1000)
    return page


def start_webcam(page, timeout_s: float = 30.0) -> None:
    """Grant the fake webcam to the Live tab's image and press its record button."""
    cam = page.locator("#live-cam")
    cam.get_by_text("Click to Access Webcam").click(timeout=timeout_s * 1000)
    cam.get_by_role("button", name="capture photo").click(timeout=timeout_s * 1000)


def watch_output(page, selector: str = "#live-out img") -> None:
    """Count, in the page, every time the annotated image changes (``window.__mexFrames``)."""
    page.evaluate(
        """(sel) => {
            window.__mexFrames = 0; window.__mexSrc = null;
            const tick = () => {
                const img = document.querySelector(sel);
                const src = img ? img.getAttribute('src') : null;
                if (src && src !== window.__mexSrc) { window.__mexSrc = src; window.__mexFrames += 1; }
                requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        }""",
        selector,
    )


def displayed_frames(page) -> int:
    return int(page.evaluate("() => window.__mexFrames || 0"))


# rows of a Gradio 6 Dataframe whose first cell holds a face id: real events, not the empty placeholder row
ROWS_JS = """(sel) => Array.from(document.querySelectorAll(sel + ' [role=gridcell][data-col="0"]'))
    .filter(td => /^\\s*\\d+\\s*$/.test(td.innerText || '')).length"""


def event_rows(page, selector: str) -> int:
    """Events shown in the events table ``selector`` (e.g. "#live-events")."""
    return int(page.evaluate(ROWS_JS, selector))


def wait_event_rows(page, selector: str, timeout_s: float) -> int:
    page.wait_for_function(f"() => ({ROWS_JS})({selector!r}) > 0", timeout=timeout_s * 1000, polling=250)
    return event_rows(page, selector)


LABELLED_JS = """(sel) => Array.from(document.querySelectorAll(sel + ' [role=gridcell][data-col="4"]'))
    .some(td => /[a-z]/i.test(td.innerText || ''))"""


def wait_labelled(page, selector: str, timeout_s: float) -> bool:
    """Wait until an event in the table has its label (the classifier answered); False on timeout."""
    try:
        page.wait_for_function(f"() => ({LABELLED_JS})({selector!r})", timeout=timeout_s * 1000, polling=250)
        return True
    except Exception:  # spotting only (no engines): rows never get a label
        return False


def screenshots(folder: Path, clip: Path, engines_dir: str | None, rtsp_server: Path) -> list[Path]:
    """A screenshot of each tab with a detected event, for docs/demo.md (live.png, video.png, url.png)."""
    import subprocess
    import tempfile

    from stream.app import App

    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory(prefix="mex-shots-") as tmp:
        y4m = write_y4m(clip, Path(tmp) / "cam.y4m")
        app = App(engines_dir=engines_dir)
        with serve(app.build()) as url, chromium(y4m) as context:
            page = open_app(context, url)
            start_webcam(page)
            wait_event_rows(page, "#live-events", 90)
            wait_labelled(page, "#live-events", 20)
            shots.append(folder / "live.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.close()

            page = open_app(context, url)
            page.get_by_role("tab", name="Video").click()
            page.locator("#video-in input[type=file]").set_input_files(str(clip))
            page.wait_for_selector("#video-in video", timeout=30_000)
            page.locator("#video-run").click()
            wait_event_rows(page, "#video-events", 180)
            page.wait_for_selector("#video-out video", timeout=30_000)
            time.sleep(1.0)  # let the plot and the video poster render
            shots.append(folder / "video.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.close()

            port = free_port()
            server = subprocess.Popen(["/usr/bin/python3", str(rtsp_server), "--clip", str(clip), "--port",
                                       str(port)], stdout=subprocess.PIPE, text=True)
            try:
                ready = server.stdout.readline().strip()
                if not ready.startswith("READY "):
                    raise RuntimeError(f"RTSP server did not start: {ready}")
                page = open_app(context, url)
                page.get_by_role("tab", name="Camera URL").click()
                page.locator("#url-in textarea, #url-in input").first.fill(ready.split(" ", 1)[1])
                page.locator("#url-go").click()
                wait_event_rows(page, "#url-events", 60)
                wait_labelled(page, "#url-events", 20)
                time.sleep(0.5)
                shots.append(folder / "url.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
                page.locator("#url-stop").click()
                page.close()
            finally:
                server.terminate()
                server.wait(timeout=10)
        app.sessions.close_all()
    return shots


def main(argv: list[str] | None = None) -> int:
    from mecore.errors import run_cli

    return run_cli(lambda: _main(argv))  # Ctrl-C: exit 130, no traceback


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(DEMO_CLIP), help="video played by the fake webcam")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured streaming time")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds streamed before measuring")
    parser.add_argument("--stream-every", type=float, default=0.1, help="browser capture interval (s)")
    parser.add_argument("--engines", default=None, help="engines folder (default: engines/)")
    parser.add_argument("--screenshots", metavar="DIR", default=None,
                        help="instead of measuring, save a screenshot of each tab with an event (docs/img)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} not found (install Debian's chromium)", file=sys.stderr)
        return 2
    if not Path(args.clip).is_file():
        print(f"error: {args.clip}: clip not found", file=sys.stderr)
        return 2

    if args.screenshots:
        rtsp = Path(__file__).resolve().parent / "rtsp_server.py"
        for shot in screenshots(Path(args.screenshots), Path(args.clip), args.engines, rtsp):
            print(f"wrote {shot}")
        return 0

    import tempfile

    from stream.app import App

    with tempfile.TemporaryDirectory(prefix="mex-bench-browser-") as tmp:
        y4m = write_y4m(args.clip, Path(tmp) / "cam.y4m", repeat=3)
        app = App(engines_dir=args.engines, stream_every=args.stream_every)
        with serve(app.build()) as url, chromium(y4m) as context:
            page = open_app(context, url)
            start_webcam(page)
            page.wait_for_selector("#live-out img", timeout=60_000)
            watch_output(page)
            time.sleep(args.warmup)
            shown0, stats0, t0 = displayed_frames(page), app.stats(), time.perf_counter()
            time.sleep(args.seconds)
            shown1, stats1, t1 = displayed_frames(page), app.stats(), time.perf_counter()
    dt = t1 - t0
    processed = stats1["frames"] - stats0["frames"]
    busy_ms = (stats1["busy_s"] - stats0["busy_s"]) * 1000
    print(f"browser round trip over {dt:.1f} s (stream_every={args.stream_every} s, 640x480 fake webcam):")
    print(f"  frames processed by the server: {processed / dt:6.2f} fps")
    print(f"  annotated frames shown in page: {(shown1 - shown0) / dt:6.2f} fps")
    if processed:
        print(f"  server time per frame:          {busy_ms / processed:6.1f} ms")
    print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
