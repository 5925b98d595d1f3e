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
import time


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_stream.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="demo",
                   help="webcam index, rtsp/rtmp/http URL, video file, image folder, or 'demo' (default)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                   help="OpenCV window (default: on when a display is present); keys q quit, space pause, +/- amplification")
    p.add_argument("--out", help="annotated video (H.264 mp4), written atomically")
    p.add_argument("--events", help="events as JSON lines, written atomically")
    p.add_argument("--backend", default="auto", help="engines backend: auto, tensorrt, onnxruntime, torch, ... (default auto)")
    p.add_argument("--engines", default=None, help="engines folder (default: the project's engines/)")
    p.add_argument("--amplification", type=float, default=None, help="magnification factor (default: the magnifier's)")
    p.add_argument("--threshold", type=float, default=None, help="spotting threshold p in [0, 1) (default 0.4)")
    p.add_argument("--realtime", action="store_true", help="pace files at their frame rate (as a camera would)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (default 30)")
    p.add_argument("--landmark-scale", type=float, default=1.0, help="run landmarks on a frame downscaled by this")
    p.add_argument("--spot-only", action="store_true", help="spotting only: no magnifier/classifier needed")
    p.add_argument("--transport", choices=("tcp", "udp"), default="tcp", help="RTSP transport (default tcp)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait when opening / reading a stream")
    p.add_argument("--reconnects", type=int, default=8, help="reconnect attempts in a row before giving up")
    p.add_argument("--gradio", action="store_true", help="start the Gradio browser demo instead (see stream.app)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (URLs are always masked)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
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
    from mecore.atomic import refuse_overwrite
    from mecore.errors import MexError
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.sinks import Controls, EventsFile, Sinks, Summary, VideoFile, Window, format_summary
    from stream.sources import open_source

    show = _has_display() if args.show is None else args.show
    src_path = args.source if os.path.exists(str(args.source)) else None
    for out in (args.out, args.events):
        if out:
            refuse_overwrite(out, src_path)
    if args.max_frames is not None and args.max_frames < 1:
        raise MexError(f"--max-frames must be >= 1, got {args.max_frames}")
    source = open_source(args.source, realtime=args.realtime, fps=args.fps, transport=args.transport,
                         open_timeout_s=args.timeout, read_timeout_s=args.timeout, max_reconnects=args.reconnects)
    source.open()
    try:
        try:
            cfg = StreamConfig(fps=source.fps, classify=not args.spot_only, overlay=bool(show or args.out),
                               amplification=args.amplification, landmark_scale=args.landmark_scale,
                               **({"threshold_p": args.threshold} if args.threshold is not None else {}))
        except ValueError as e:
            raise MexError(str(e)) from None
        analyzer = Analyzer(cfg, engines_dir=args.engines, backend=args.backend)
    except BaseException:
        source.close()
        raise
    controls = Controls()
    summary = Summary()
    events = video = window = None
    failure: MexError | None = None
    interrupted = False
    try:
        events = EventsFile(args.events, wait_for_labels=cfg.classify) if args.events else None
        video = VideoFile(args.out, source.fps) if args.out else None
        if show:
            try:
                window = Window(analyzer, controls)
            except Exception as e:  # noqa: BLE001 - no usable display: carry on headless
                print(f"warning: no window ({e}); running headless", file=sys.stderr)
        sinks = Sinks([summary, events, video, window])
        frames = iter(source)
        while not controls.quit:
            t0 = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                break
            except MexError as e:
                failure = e
                break
            decode_ms = (time.perf_counter() - t0) * 1e3
            result = analyzer.process(frame)
            result.timings["decode"] = decode_ms
            if video is not None:
                result.timings["encode"] = video.encode_ms
            sinks(result)
            while controls.paused and not controls.quit and window is not None:
                window.poll(50)
            if args.max_frames and summary.frames >= args.max_frames:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        tail_events, preds = analyzer.finish(timeout=30.0)  # events still open at the end, last predictions
        summary.events += len(tail_events)
        summary.add_predictions(preds)
        if events is not None:
            events.add_events(tail_events)
            events.add_predictions(preds)
        report = summary.report(source.stats.dropped, source.stats.reconnects,
                                {"source": source.name, "backend": analyzer.backend})
        if failure is not None:
            report["error"] = str(failure)
        sinks_to_close = Sinks([video, window])
        if events is not None:
            report["events_file"] = str(events.path)
        if video is not None and video.frames:
            report["video_file"] = str(video.path)
        sinks_to_close.each("close")
        if events is not None:
            events.close(report)
        analyzer.close()
        source.close()
        print(format_summary(report))
    if failure is not None:
        raise failure
    return 130 if interrupted else 0


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
