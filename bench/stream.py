"""End-to-end speed of the streaming analyser, per stage, on CPU: ``python -m bench.stream``.

Clips: ``face.mp4`` (528x592, no events) and the bundled demo (640x480, a real face with injected
micro-expressions, so magnify + classify and the apex -> prediction latency are measured too).
Each clip runs in these configurations, one after the other, on the same process:

- ``frame path``: decode -> landmarks -> align -> spot, headless, no overlay or encoding (the goal:
  >= 60 fps, twice real time at 30 fps),
- ``frame path, landmarks at 0.5``: the same with the landmarker fed a half-size frame,
- ``full``: + the worker (motion + classify, then the magnified face for display), overlay and H.264
  encoding (what ``--out`` does),
- ``full, paced 30 fps``: the demo read at its frame rate (as a camera delivers it): the latency from
  reading an apex frame to its prediction under live conditions (goal <= 0.6 s).

The frame rate counts from the first frame's result on; the run's start (the spotter's engine loaded and
checked, the landmarker's first frame) is printed beside it, with the rate counted from the start.
Stage times are the mean ms per frame of each stage; motion, classify and magnify are per event (worker).
In the paced run the runner waits for each frame's due time between decode and landmarks (in no stage).
The machine's load average is printed: other processes on these 2 cores change every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from stream.config import SPOTTERS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = Path(os.environ.get("MEX_FACE_VIDEO", REPO.parent / "shared" / "media" / "face.mp4"))
DEMO = REPO / "stream" / "assets" / "demo.mp4"
STAGES = ("decode", "landmarks", "align", "spot", "overlay", "encode")


def run_once(video: Path, name: str, *, classify: bool, overlay: bool, encode: bool, realtime: bool = False,
             landmark_scale: float = 1.0, engines: str | None = None, backend: str = "auto",
             max_frames: int | None = None, spotter: str | None = None) -> dict:
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.runner import Runner
    from stream.sinks import VideoFile
    from stream.sources import open_source

    stage = defaultdict(list)
    worker = defaultdict(list)
    preds = []

    def measure(r) -> None:  # a sink after the video file: this frame's stages, encode included
        preds.extend(r.predictions)
        if r.final:
            return
        for k in STAGES:
            if k in r.timings:
                stage[k].append(r.timings[k])
        for k in ("motion", "classify", "magnify"):  # the worker's figures of each event, taken when they change
            if k in r.timings and (not worker[k] or worker[k][-1] != r.timings[k]):
                worker[k].append(r.timings[k])

    with tempfile.TemporaryDirectory() as tmp, open_source(str(video)) as src:
        cfg = StreamConfig(fps=src.fps, classify=classify, overlay=overlay, landmark_scale=landmark_scale)
        if spotter:
            cfg = cfg.updated(spotter=spotter)
        with Analyzer(cfg, engines_dir=engines, backend=backend) as an:
            out = VideoFile(Path(tmp) / "out.mp4", src.fps) if encode else None
            runner = Runner(an, [out, measure], max_frames=max_frames, pace=realtime, finish_timeout=60)
            t_start = time.perf_counter()
            n, t_first, t_last = 0, None, 0.0
            for r in runner.results(src):
                if not r.final:  # the frames, not the wait for the last predictions
                    n, t_last = n + 1, time.perf_counter()
                    t_first = t_first or t_last
            runner.close()
            backend_name = an.backend
    # the frame rate from the first frame's result on: the run's start (the spotter's engine loaded and checked,
    # the landmarker's first frame) is paid once per stream and printed on its own
    start = (t_first or t_last) - t_start
    res = {"clip": video.name, "config": name, "frames": n, "start_s": start,
           "fps": (n - 1) / (t_last - t_first) if n > 1 and t_last > t_first else 0.0,
           "fps_with_start": n / (t_last - t_start) if t_last > t_start else 0.0,
           "stages": {k: statistics.fmean(v) for k, v in stage.items() if v},
           "events": len(preds), "backend": backend_name}
    if preds:
        lat = [p.latency_ms for p in preds]
        res["latency_ms"] = (statistics.median(lat), max(lat))
        res["worker"] = {k: statistics.fmean(v) for k, v in worker.items() if v}
    return res


def fmt(res: dict) -> str:
    st = "  ".join(f"{k} {res['stages'][k]:.2f}" for k in STAGES if k in res["stages"])
    line = (f"{res['clip']:<10} {res['config']:<30} {res['frames']:>4} fr {res['fps']:7.1f} fps (start "
            f"{res['start_s']:.2f} s; {res['fps_with_start']:.1f} fps with it) | {st}")
    if "latency_ms" in res:
        med, mx = res["latency_ms"]
        w = res.get("worker", {})
        line += (f" | {res['events']} events, motion {w.get('motion', float('nan')):.0f} + classify "
                 f"{w.get('classify', float('nan')):.1f} ms (then magnify for display "
                 f"{w.get('magnify', float('nan')):.0f} ms), apex->prediction median {med:.0f} max {mx:.0f} ms")
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="real face video (default ../shared/media/face.mp4)")
    ap.add_argument("--engines", default=None, help="engines folder (default: the project's engines/)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--frames", type=int, default=None, help="at most this many frames per run")
    ap.add_argument("--no-paced", action="store_true", help="skip the paced (real-time) run")
    ap.add_argument("--spotter", default=None, choices=SPOTTERS, help="spotter (default: StreamConfig's)")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    from mecore.errors import MexError, run_cli

    def body() -> int:
        import onnxruntime as ort

        print(f"# bench.stream  {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}, onnxruntime {ort.__version__}")
        clips = [c for c in (args.video, DEMO) if c.is_file()]
        if not clips:
            raise MexError(f"{args.video}: no clip to measure")
        common = {"engines": args.engines, "backend": args.backend, "max_frames": args.frames, "spotter": args.spotter}
        for clip in clips:
            for name, kw in (("frame path", dict(classify=False, overlay=False, encode=False)),
                             ("frame path, landmarks at 0.5", dict(classify=False, overlay=False, encode=False,
                                                                   landmark_scale=0.5)),
                             ("full (classify+overlay+encode)", dict(classify=True, overlay=True, encode=True))):
                print(fmt(run_once(clip, name, **kw, **common)), flush=True)
        if not args.no_paced and DEMO.is_file():
            print(fmt(run_once(DEMO, "full, paced 30 fps", classify=True, overlay=True, encode=True, realtime=True,
                               **common)), flush=True)
        print(f"# load average after: {os.getloadavg()[0]:.2f}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
