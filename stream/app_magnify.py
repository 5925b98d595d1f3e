"""The demo's "Magnify" tab: a video (upload or camera URL) in, the magnified video out (``stream.magnify``)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import gradio as gr

from mecore.errors import MexError
from stream.magnify import METHODS, MODES, MagnifyConfig, magnify

log = logging.getLogger("stream")
URL_FPS_GUESS = 30  # a camera URL is cut after seconds x this many frames


def run_magnify(video, url, seconds, method, mode, alpha, low, high, face, side_by_side, work_size,
                backend="auto", engines_dir=None) -> tuple[str | None, str]:
    """(output video path or None, status line); errors become the status line, never a traceback."""
    spec = (url or "").strip() or video
    if not spec:
        return None, "Upload a video or enter a camera URL first."
    try:
        cfg = MagnifyConfig(method=method, mode=None if method.startswith("evm") else mode, alpha=float(alpha),
                            band=(float(low), float(high)), face=bool(face), side_by_side=bool(side_by_side),
                            work_size=int(work_size) if work_size else None, backend=backend,
                            engines_dir=engines_dir, filter="iir" if url else "auto",
                            max_frames=int(seconds * URL_FPS_GUESS) if url else None)
        out = Path(tempfile.mkdtemp(prefix="mex-magnify-")) / "magnified.mp4"
        s = magnify(spec, out, cfg, progress=False)
    except MexError as e:
        return None, f"⚠️ {e}"
    return str(out), f"{s['frames']} frames at {s['fps']:g} fps, {s['method']} {s['mode']}" + \
        (", audio kept" if s["audio"] else "")


def magnify_tab(backend: gr.components.Component | None = None, engines_dir=None) -> None:
    """Build the tab's components inside the current ``gr.Tab`` and wire its button."""
    with gr.Row():
        vin = gr.Video(sources=["upload"], label="Video file", elem_id="magnify-in", height=300)
        vout = gr.Video(label="Magnified", elem_id="magnify-out", height=300, interactive=False)
    with gr.Row():
        url = gr.Textbox(label="…or a camera URL", placeholder="rtsp://user:password@camera:554/stream",
                         elem_id="magnify-url", scale=3)
        seconds = gr.Slider(1, 60, value=10, step=1, label="Seconds to record from a URL", scale=1)
    with gr.Row():
        method = gr.Dropdown(list(METHODS), value="magnet", label="Method", elem_id="magnify-method")
        mode = gr.Dropdown(list(MODES), value="temporal", label="Mode (learned methods)", elem_id="magnify-mode")
        alpha = gr.Slider(1, 100, value=10, step=1, label="Alpha", elem_id="magnify-alpha")
        low = gr.Number(0.5, label="Band low (Hz)", elem_id="magnify-low")
        high = gr.Number(3.0, label="Band high (Hz)", elem_id="magnify-high")
    with gr.Row():
        face = gr.Checkbox(False, label="Face only (aligned, pasted back)")
        sbs = gr.Checkbox(True, label="Side by side")
        work = gr.Slider(128, 1280, value=512, step=64, label="Working resolution (long side)")
    go = gr.Button("Magnify", variant="primary", elem_id="magnify-run")
    status = gr.Markdown("Upload a video or enter a camera URL, then *Magnify*.", elem_id="magnify-status")
    inputs = [vin, url, seconds, method, mode, alpha, low, high, face, sbs, work]

    def handler(*values):
        *args, chosen = values if backend is not None else (*values, "auto")
        return run_magnify(*args, backend=chosen, engines_dir=engines_dir)

    go.click(handler, inputs + ([backend] if backend is not None else []), [vout, status],
             concurrency_limit=1, api_visibility="private")
