"""Analyse micro-expressions live: a webcam, an RTSP/HTTP camera, a video file, an image folder or the demo clip.

    python run_stream.py                                   # the bundled demo clip; a window when there is a display
    python run_stream.py --source 0                        # webcam 0
    python run_stream.py --source rtsp://user:pw@cam/stream --events ev.jsonl
    python run_stream.py --source clip.mp4 --out annotated.mp4 --events ev.jsonl --no-show
    python run_stream.py --gradio                          # the browser demo (stream.app)

Exit codes: 0 done, 2 a problem with the input (one line on stderr: ``error: ...``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def _parser() -> argparse.ArgumentParser:
    from engines.backends import ALIASES, BACKENDS
    from mecore.cli import add_options
    from stream.config import StreamConfig

    p = argparse.ArgumentParser(prog="run_stream.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="demo",
                   help="webcam index, rtsp/rtmp/http URL, video file, image folder, or 'demo' (default)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                   help="OpenCV window (default: on when a display is present); keys q quit, space pause, +/- amplification")
    p.add_argument("--out", help="annotated video (H.264 mp4), written atomically")
    p.add_argument("--events", help="events as JSON lines, written atomically")
    p.add_argument("--backend", default="auto", choices=[*ALIASES, *BACKENDS], help="engines backend (default auto)")
    p.add_argument("--engines", default=None, help="engines folder (default: the project's engines/)")
    p.add_argument("--realtime", action="store_true", help="pace files at their frame rate (as a camera would)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (default 30)")
    p.add_argument("--spot-only", dest="classify", action="store_false", default=argparse.SUPPRESS,
                   help="spotting only: no magnifier/classifier needed (= --no-classify)")
    p.add_argument("--transport", choices=("tcp", "udp"), default="tcp", help="RTSP transport (default tcp)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait when opening / reading a stream")
    p.add_argument("--reconnects", type=int, default=8, help="reconnect attempts in a row before giving up")
    p.add_argument("--gradio", action="store_true", help="start the Gradio browser demo instead (see stream.app)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (URLs are always masked)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    add_options(p, StreamConfig, group="analyser (stream.config.StreamConfig; defaults are the dataclass's)",
                defaults={"overlay": "on when there is a window or --out to draw on"})
    return p


class _MaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from stream.sources import mask_url

        record.msg, record.args = mask_url(record.getMessage()), ()
        return True


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_MaskFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ chatter


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def run(args) -> int:
    from mecore.atomic import check_outputs
    from mecore.cli import from_options
    from mecore.errors import MexError
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.runner import Controls, Runner
    from stream.sinks import EventsFile, VideoFile, Window, format_summary
    from stream.sources import open_source

    show = _has_display() if args.show is None else args.show
    src_path = args.source if os.path.exists(str(args.source)) else None
    check_outputs(args.out or None, args.events or None, inputs=(src_path,))
    if args.max_frames is not None and args.max_frames < 1:
        raise MexError(f"--max-frames must be >= 1, got {args.max_frames}")
    source = open_source(args.source, fps=args.fps, transport=args.transport,
                         open_timeout_s=args.timeout, read_timeout_s=args.timeout, max_reconnects=args.reconnects)
    source.open()
    analyzer = None
    try:
        try:
            cfg = from_options(StreamConfig, args, fps=source.fps, overlay=bool(show or args.out))
        except ValueError as e:
            raise MexError(str(e)) from None
        analyzer = Analyzer(cfg, engines_dir=args.engines, backend=args.backend)
        controls = Controls()
        window = None
        if show:
            try:
                window = Window(controls)
            except Exception as e:  # noqa: BLE001 - no usable display: carry on headless
                print(f"warning: no window ({e}); running headless", file=sys.stderr)
        sinks = [VideoFile(args.out, source.fps) if args.out else None,
                 EventsFile(args.events, wait_for_labels=cfg.classify) if args.events else None, window]
        runner = Runner(analyzer, sinks, controls=controls, max_frames=args.max_frames, pace=args.realtime)
        report = runner.run(source)
    finally:
        if analyzer is not None:
            analyzer.close()
        source.close()
    print(format_summary(report))
    if runner.error is not None:
        raise runner.error
    return 130 if runner.interrupted else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--gradio" in argv:  # the browser demo has its own options (--host, --port, --share, ...)
        from stream.app import main as app_main

        return app_main([a for a in argv if a != "--gradio"])
    args, rest = _parser().parse_known_args(argv)
    if rest:
        _parser().error(f"unrecognized arguments: {' '.join(rest)}")
    _setup_logging(args.verbose)
    from mecore.errors import run_cli

    try:
        return run_cli(lambda: run(args))
    except Exception as e:  # noqa: BLE001 - a CLI user gets one line; --debug shows the traceback
        if args.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
