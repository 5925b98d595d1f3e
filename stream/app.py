"""The Gradio demo: the browser's webcam, an uploaded video or a camera URL, through the same Analyzer as run_stream.py.

    python -m stream.app [--host 127.0.0.1] [--port 7860] [--share] [--engines DIR]
    python run_stream.py --gradio ...           (delegates to ``main``)

Every browser session gets its own analysers (``stream.app_session``): tracking and spotting state
is never shared, and a session's analysers are closed the moment its tab closes (``unload``).
Problems a user can fix are shown in the page as one line (a warning toast and the status line).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from mecore.errors import MexError
from mecore.types import Frame
from stream.app_magnify import magnify_tab
from stream.app_session import (
    BACKEND_CHOICES,
    EventLog,
    PageSettings,
    SessionStore,
    amplification_range,
    explain,
)
from stream.config import StreamConfig
from stream.spotters import retune

log = logging.getLogger("stream.app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
INTRO = ("**Micro-expression analyser.** Faces are tracked, short movements are spotted in the optical flow "
         "of the face's regions, and each micro-expression is magnified and classified. Nothing leaves "
         "this machine.")


class App:
    """The demo's handlers and layout. ``build()`` gives the ``gr.Blocks``; handlers are plain methods."""

    def __init__(self, engines_dir: str | Path | None = None, config: StreamConfig | None = None,
                 stream_every: float = 0.1, time_limit: float | None = 600.0, max_sessions: int = 8,
                 backend: str = "auto", sensitivity: float = 0.5):
        self.engines_dir = engines_dir
        self.backend = backend  # the Backend control's initial value
        self.sensitivity = sensitivity  # the Spotting sensitivity control's (stream.spotters.retune)
        self.config = config or StreamConfig()
        self.stream_every = stream_every
        self.time_limit = time_limit
        self.sessions = SessionStore(self._analyzer, max_sessions=max_sessions)
        self._frames = 0
        self._busy_s = 0.0

    def _analyzer(self, fps: float, controls: PageSettings):
        from stream.pipeline import Analyzer

        config = self.config.updated(fps=fps)
        config = config.updated(**retune(config, 0.5, controls.sensitivity))  # 0.5: the config's own setting
        try:
            return Analyzer(config, self.engines_dir, controls.backend), ""
        except MexError as e:
            if not config.classify:
                raise
            # no (usable) engines yet: keep spotting, say why nothing is classified
            return Analyzer(config.updated(classify=False), self.engines_dir, controls.backend), f"spotting only: {e}"

    def stats(self) -> dict[str, float]:
        """Frames processed by every session together and the seconds spent on them (for bench.browser)."""
        return {"frames": self._frames, "busy_s": self._busy_s, "sessions": len(self.sessions)}

    # -- Live: one webcam frame in, one annotated frame out ------------------------------------------
    def live_frame(self, image, amplification, sensitivity, backend, request: gr.Request):
        if image is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        t0 = time.perf_counter()
        session = None
        try:
            session = self.sessions.get(_key(request))
            with session.lock:
                run = session.run("live", 1.0 / self.stream_every, PageSettings(amplification, sensitivity, backend))
                frame = Frame(np.ascontiguousarray(image[..., :3]), run.next_index(), run.clock(), "webcam")
                result = run.step(frame)
        except MexError as e:
            return gr.skip(), gr.skip(), gr.skip(), _warn(session, str(e))
        except Exception as e:  # never a stack trace in the page; the log keeps it
            log.exception("live frame failed")
            return gr.skip(), gr.skip(), gr.skip(), _warn(session, explain(e))
        self._frames += 1
        self._busy_s += time.perf_counter() - t0
        return (result.image, run.inset_update(), run.table_update(), run.status(result))

    def live_reset(self, request: gr.Request):
        if _key(request) in self.sessions:
            self.sessions.get(_key(request)).drop("live")
        return None, None, EventLog.empty(), "Reset: tracking and spotting start afresh."

    # -- Video: a whole file, every frame ------------------------------------------------------------
    def analyse_video(self, path, amplification, sensitivity, backend, request: gr.Request,
                      progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        from stream.app_video import analyse_file

        empty = (None, EventLog.empty(), None, None)
        if not path:
            return (*empty, _warn(None, "Upload a video file first."))
        try:
            session = self.sessions.get(_key(request))
            controls = PageSettings(amplification, sensitivity, backend)
            out = analyse_file(Path(path), session.workdir(), lambda fps: self._analyzer(fps, controls), controls,
                               progress=lambda done, total, msg: progress((done, total), desc=msg))
        except MexError as e:
            return (*empty, _warn(None, str(e)))
        except Exception as e:
            log.exception("video analysis failed")
            return (*empty, _warn(None, explain(e)))
        if out.warning:
            gr.Warning(out.warning)
        return out.video, out.table, out.plot, out.jsonl, out.status

    # -- Camera URL: a live source pulled on the server ----------------------------------------------
    def watch_url(self, url, amplification, sensitivity, backend, request: gr.Request):
        from stream.app_video import open_live

        url = (url or "").strip()
        if not url.startswith(URL_SCHEMES):
            yield None, gr.skip(), gr.skip(), _warn(
                None, f"{url or '(empty)'}: not a camera URL; use rtsp://, rtmp://, http:// or https://")
            return
        session = generation = None
        try:
            session = self.sessions.get(_key(request))
            session.drop("url")  # one camera per tab: a new Connect replaces the old stream
            generation = session.generation.get("url", 0)
            source, name, fps = open_live(url)
            session.attach("url", source)
            yield None, None, EventLog.empty(), f"Connected to {name} ({fps:.0f} fps)…"
            with session.lock:
                run = session.run("url", fps, PageSettings(amplification, sensitivity, backend))
            last_yield = 0.0
            for result in run.runner.results(source):  # the runner's loop; Stop / a new Connect cancel it
                if session.generation.get("url", 0) != generation or session.closed:
                    return  # stopped, replaced by a newer connection, or the tab closed
                run.shown(result)
                if result.final:  # the stream ended by itself: open events closed, their labels waited for
                    yield gr.skip(), run.inset_update(), run.table_update(), \
                        f"{name}: stream ended · {len(run.log)} event(s)."
                    break
                now = time.perf_counter()
                if now - last_yield >= self.stream_every or result.events or result.predictions:
                    last_yield = now
                    yield result.image, run.inset_update(), run.table_update(), run.status(result)
        except MexError as e:
            yield gr.skip(), gr.skip(), gr.skip(), _warn(None, str(e))
        except Exception as e:
            log.exception("camera URL failed")
            yield gr.skip(), gr.skip(), gr.skip(), _warn(None, explain(e))
        finally:
            if session is not None and session.generation.get("url", 0) == generation:
                session.drop("url")  # closes the source and the analyser

    def stop_url(self, request: gr.Request):
        if _key(request) in self.sessions:
            self.sessions.get(_key(request)).drop("url")
        return "Stopped."

    def end_session(self, request: gr.Request):
        self.sessions.close(_key(request))

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        cfg = self.config
        amp_lo, amp_hi, amp_default = amplification_range(self.engines_dir)
        amp_value = min(max(cfg.amplification, amp_lo), amp_hi) if cfg.amplification else amp_default
        # delete_cache: uploads and served outputs that Gradio copied to its cache go after an hour
        with gr.Blocks(title="Micro-expression analyser", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
            gr.Markdown(INTRO)
            with gr.Row():
                amp = gr.Slider(amp_lo, amp_hi, value=amp_value, step=0.5, label="Amplification",
                                info="MagNet magnification factor (clamped to the engine's range)",
                                elem_id="amplification")
                sens = gr.Slider(0.0, 1.0, value=self.sensitivity, step=0.05, label="Spotting sensitivity",
                                info="0.5: the spotter's own setting; higher finds more (false ones too), lower fewer",
                                elem_id="sensitivity")
                backend = gr.Dropdown(BACKEND_CHOICES, value=self.backend, label="Backend", elem_id="backend",
                                      info="engines backend for magnify + classify")
            controls = [amp, sens, backend]
            with gr.Tabs():
                with gr.Tab("Live", id="live"):
                    cam, shown = _stream_panel(
                        "live", "Click *Click to Access Webcam*, then the record button.",
                        lambda: gr.Image(sources=["webcam"], streaming=True, label="Webcam", elem_id="live-cam",
                                         height=360, webcam_options=gr.WebcamOptions(mirror=False)))
                    reset = gr.Button("Reset session", size="sm")
                    cam.stream(self.live_frame, [cam, *controls], shown,
                               stream_every=self.stream_every, time_limit=self.time_limit,
                               concurrency_limit=None, show_progress="hidden", api_visibility="private")
                    reset.click(self.live_reset, None, shown, api_visibility="private")
                with gr.Tab("Video", id="video"):
                    with gr.Row():
                        vin = gr.Video(sources=["upload"], label="Video file", elem_id="video-in", height=320)
                        vout = gr.Video(label="Annotated video", elem_id="video-out", height=320,
                                        interactive=False)
                    run_btn = gr.Button("Analyse", variant="primary", elem_id="video-run")
                    vstatus = gr.Markdown("Upload a video, then *Analyse*.", elem_id="video-status")
                    vtable = gr.Dataframe(EventLog.empty(), label="Events", elem_id="video-events",
                                          interactive=False, max_height=300)
                    plot = gr.Plot(label="Timeline", elem_id="video-plot")
                    jsonl = gr.File(label="events.jsonl", elem_id="video-jsonl", interactive=False)
                    run_btn.click(self.analyse_video, [vin, *controls], [vout, vtable, plot, jsonl, vstatus],
                                  concurrency_limit=2, api_visibility="private")
                with gr.Tab("Camera URL", id="url"):
                    with gr.Row():
                        url = gr.Textbox(label="Camera URL", placeholder="rtsp://user:password@camera:554/stream",
                                         elem_id="url-in", scale=4)
                        go = gr.Button("Connect", variant="primary", elem_id="url-go", scale=1)
                        stop = gr.Button("Stop", elem_id="url-stop", scale=1)
                    _, ushown = _stream_panel("url", "Enter an RTSP/RTMP/HTTP camera URL, then *Connect*.")
                    watching = go.click(self.watch_url, [url, *controls], ushown,
                                        concurrency_limit=None, show_progress="hidden", api_visibility="private")
                    url.submit(self.watch_url, [url, *controls], ushown,
                               concurrency_limit=None, show_progress="hidden", api_visibility="private")
                    stop.click(self.stop_url, None, [ushown[-1]], cancels=[watching], api_visibility="private")
                with gr.Tab("Magnify", id="magnify"):
                    magnify_tab(backend, self.engines_dir)  # a whole video magnified (stream.magnify)
            demo.unload(self.end_session)
        return demo


def _stream_panel(tab: str, hint: str, lead: Callable[[], gr.components.Component] | None = None):
    """A streaming tab's outputs: a row of [``lead()``,] the annotated frame and the magnified-face inset,
    then the status line and the events table. Returns (the lead component, [frame, inset, table, status]),
    the order the handlers yield in."""
    with gr.Row():
        first = lead() if lead is not None else None
        out = gr.Image(label="Annotated", elem_id=f"{tab}-out", height=360, format="jpeg", interactive=False)
        inset = gr.Image(label="Magnified face (last event)", elem_id=f"{tab}-inset", height=200,
                         interactive=False, scale=0, min_width=200)
    status = gr.Markdown(hint, elem_id=f"{tab}-status")
    table = gr.Dataframe(EventLog.empty(), label="Events", elem_id=f"{tab}-events", interactive=False,
                         max_height=260)
    return first, [out, inset, table, status]


def _warn(session, message: str) -> str:
    """Show ``message`` as a toast (once per session while it repeats, not at every frame); status text."""
    if session is None or getattr(session, "last_warning", None) != message:
        gr.Warning(message)
        if session is not None:
            session.last_warning = message
    return f"⚠️ {message}"


def _key(request: gr.Request | None) -> str:
    return (getattr(request, "session_hash", None) or "local") if request is not None else "local"


def launch(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, share: bool = False,
           engines_dir: str | Path | None = None, stream_every: float = 0.1, block: bool = True, **app_kw):
    """Build and launch the demo; returns the ``App``. With ``block`` (default) it serves until Ctrl-C,
    then closes every session's analysers; otherwise the server runs in a thread (``app.demo.close()``)."""
    app = App(engines_dir=engines_dir, stream_every=stream_every, **app_kw)
    app.demo = app.build()
    app.demo.queue(default_concurrency_limit=2)
    try:
        app.demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block,
                        show_error=False, quiet=False, footer_links=["gradio", "settings"])
    finally:
        if block:
            app.sessions.close_all()
    return app


def parser() -> argparse.ArgumentParser:
    from mecore.cli import add_options

    p = argparse.ArgumentParser(prog="python -m stream.app", description="Gradio live demo in the browser.")
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument("--engines", default=None, help="engines folder (default: the project's engines/)")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="initial backend (default auto)")
    p.add_argument("--stream-every", type=float, default=0.1, help="webcam capture interval in seconds")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds one webcam stream may run")
    p.add_argument("--sensitivity", type=float, default=0.5,
                   help="initial spotting sensitivity, 0..1 (0.5: the spotter's own setting)")
    p.add_argument("-v", "--verbose", action="store_true", help="log sessions and events")
    # amplification is the control's initial value too
    add_options(p, StreamConfig, group="analyser (stream.config.StreamConfig; defaults are the dataclass's)")
    return p


def main(argv: list[str] | None = None) -> int:
    from mecore.cli import from_options

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port}: not a port number", file=sys.stderr)
        return 2
    if not 0.0 <= args.sensitivity <= 1.0:
        print(f"error: --sensitivity {args.sensitivity}: must be in [0, 1]", file=sys.stderr)
        return 2
    if not 0.02 <= args.stream_every <= 2.0:
        print(f"error: --stream-every {args.stream_every}: must be in [0.02, 2] s", file=sys.stderr)
        return 2
    try:
        config = from_options(StreamConfig, args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stopped = _note_ctrl_c()
    try:
        launch(args.host, args.port, args.share, args.engines, args.stream_every, config=config,
               backend=args.backend, time_limit=args.time_limit, sensitivity=args.sensitivity)
    except OSError as e:
        print(f"error: cannot serve on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 130 if stopped else 0


def _note_ctrl_c() -> list[int]:
    """Gradio's blocking launch catches Ctrl-C and returns normally; note the signal so main exits 130
    (interrupted) like every other CLI, instead of 0."""
    import signal

    seen: list[int] = []

    def on_sigint(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    return seen


if __name__ == "__main__":
    raise SystemExit(main())
