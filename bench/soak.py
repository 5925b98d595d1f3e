"""Soak: the analyser on a live RTSP stream for minutes; memory growth and dropped frames, printed.

``python -m bench.soak [--minutes 10] [--clip stream/assets/demo.mp4] [--spot-only]``

A real RTSP server (bench/rtsp_server.py, GStreamer under the system python3) serves the clip looped
(its packets re-muxed back to back into one long mp4, so the stream never ends during the run); the
analyser reads it through ``stream.sources`` (capture thread, drop-oldest buffer) and classifies
every event, as ``run_stream.py --source rtsp://...`` does. Every ``--every`` seconds the process's
resident memory (VmRSS) is sampled; growth is measured from the end of the first minute (warm-up:
allocator pools, model sessions) to the end. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "bench" / "rtsp_server.py"
DEMO = REPO / "stream" / "assets" / "demo.mp4"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def looped(clip: Path, seconds: float, out: Path) -> Path:
    """``clip`` repeated (packet copy, timestamps shifted) until it lasts at least ``seconds``."""
    import av

    with av.open(str(clip)) as src:
        st = src.streams.video[0]
        duration = float(st.duration * st.time_base) if st.duration else float(src.duration or 0) / 1e6
        packets = [p for p in src.demux(st) if p.dts is not None]
        tb = st.time_base
        span = max(p.pts + (p.duration or 0) for p in packets if p.pts is not None) - \
            min(p.pts for p in packets if p.pts is not None)
        repeats = max(1, math.ceil(seconds / max(duration, 1e-3)))
        with av.open(str(out), "w") as dst:
            o = dst.add_stream_from_template(st)
            for r in range(repeats):
                for p in packets:
                    q = av.Packet(bytes(p))
                    q.pts, q.dts, q.duration, q.time_base = p.pts + r * span, p.dts + r * span, p.duration, tb
                    q.is_keyframe = p.is_keyframe
                    q.stream = o
                    dst.mux(q)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clip", type=Path, default=DEMO, help="H.264 mp4 to loop (default: the demo clip)")
    ap.add_argument("--every", type=float, default=15.0, help="memory sample interval, seconds")
    ap.add_argument("--spot-only", action="store_true", help="no magnifier/classifier")
    ap.add_argument("--engines", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    from mecore.errors import MexError, run_cli
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.runner import Runner
    from stream.sources import open_source

    def body() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            long_clip = looped(args.clip, args.minutes * 60 + 30, Path(tmp) / "loop.mp4")
            port = free_port()
            server = subprocess.Popen(["/usr/bin/python3", str(SERVER), "--clip", str(long_clip), "--port", str(port)],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                line = server.stdout.readline()
                if not line.startswith("READY"):
                    raise MexError(f"RTSP server did not start: {line.strip()!r}")
                url = line.split()[1]
                print(f"# bench.soak  {args.minutes:g} min on {url} ({args.clip.name} looped), "
                      f"load average {os.getloadavg()[0]:.2f}", flush=True)
                cfg = StreamConfig(classify=not args.spot_only, overlay=False)
                samples: list[tuple[float, float]] = []
                count = {"frames": 0, "events": 0}
                with open_source(url) as src, Analyzer(cfg.with_fps(src.fps), engines_dir=args.engines) as an:
                    t0 = time.monotonic()
                    clock = {"next": t0, "end": t0 + args.minutes * 60, "elapsed": 0.0}

                    def sample(r) -> None:  # a sink: memory every --every s; quits at --minutes
                        count["events"] += len(r.events)
                        if r.final:
                            return
                        count["frames"] += 1
                        now = time.monotonic()
                        clock["elapsed"] = now - t0
                        if now >= clock["next"]:
                            samples.append((now - t0, rss_mb()))
                            print(f"{(now - t0) / 60:6.2f} min  rss {samples[-1][1]:7.1f} MB  frames {count['frames']}  "
                                  f"dropped {src.stats.dropped}  reconnects {src.stats.reconnects}  "
                                  f"events {count['events']}", flush=True)
                            clock["next"] += args.every
                        if now >= clock["end"]:
                            runner.controls.quit = True

                    runner = Runner(an, [sample])
                    report = runner.run(src)
                    frames, events, elapsed = count["frames"], count["events"], clock["elapsed"]
                    stats = src.stats
                    preds = sum(report["events_by_label"].values())
            finally:
                server.terminate()
                server.wait(timeout=10)
        base = [m for t, m in samples if t >= min(60.0, elapsed / 2)] or [samples[0][1]]
        growth = samples[-1][1] - base[0]
        span_min = max((samples[-1][0] - next(t for t, _ in samples if t >= min(60.0, elapsed / 2))) / 60, 1e-9) \
            if len(samples) > 1 else 0.0
        print(f"frames {frames} in {elapsed:.0f} s ({frames / elapsed:.1f} fps), captured {stats.captured}, "
              f"dropped {stats.dropped} ({100 * stats.dropped / max(stats.captured, 1):.1f}%), "
              f"reconnects {stats.reconnects}, events {events}, predictions {preds}")
        print(f"rss: start {samples[0][1]:.1f} MB, after warm-up {base[0]:.1f} MB, end {samples[-1][1]:.1f} MB, "
              f"growth {growth:+.1f} MB" + (f" ({growth / span_min:+.2f} MB/min)" if span_min else ""))
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
