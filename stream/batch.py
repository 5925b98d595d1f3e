"""Analyse a video archive: every video in the given files, folders or list files, one task per video.

    python -m stream.batch recordings/ more.mp4 list.txt --out results/          # a process pool here
    python -m stream.batch recordings/ --out results/ --video --workers 4          # + annotated mp4s
    python -m stream.batch /shared/rec --out /shared/results --ray ADDRESS         # the same tasks on Ray

Each video goes through the analyser run_stream.py runs (face tracking, spotting, magnify + classify)
and gives ``DIR/<name>.events.jsonl`` (and with ``--video`` ``DIR/<name>.mp4``), named after the input
and written atomically, then ``DIR/<name>.done.json``: what the outputs were made from (the input's
size and time, the engines' SHA-256s, the options). A rerun skips a video whose record matches, so an
interrupted run resumes; a video that fails is reported by name and the others go on. ``DIR/summary.csv``
counts events per video and per label. A list file (``.txt``/``.lst``) names one input per line.
With ``--ray`` inputs and DIR must be paths every node sees (docs/scale.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mecore.atomic import write_json, write_text
from mecore.cli import add_options, from_options, opt
from mecore.errors import MexError, run_cli

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
LIST_EXTS = {".txt", ".lst", ".list"}


@dataclass(frozen=True)
class BatchConfig:
    out: Path = opt(help="output folder (events, videos, summary.csv)")
    video: bool = opt(False, "also write the annotated mp4 of each video")
    workers: int = opt(0, "videos at a time in a local process pool (0: one per CPU core)")
    ray: str | None = opt(None, "run the videos as Ray tasks: auto (this machine's cluster, else a new local "
                                "Ray) or a cluster ADDRESS; a bare --ray is auto", const="auto")
    engines: Path | None = opt(None, "engines folder (none: the project's engines/)")
    backend: str = opt("auto", "engines backend: auto, onnxruntime, tensorrt, torch, ...")
    spot_only: bool = opt(False, "spotting only: no magnifier/classifier needed")
    max_frames: int | None = opt(None, "analyse at most this many frames of each video")
    face_model: Path | None = opt(None, "MediaPipe .task file (none: the installed one)")
    pin: bool = opt(True, "pin each pool or Ray worker to cores of its own while enough are free (mecore.cores)")

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        if self.workers < 0:
            raise MexError(f"--workers must be >= 0, got {self.workers}")
        if self.max_frames is not None and self.max_frames < 1:
            raise MexError(f"--max-frames must be >= 1, got {self.max_frames}")


@dataclass(frozen=True)
class Job:
    input: Path
    name: str  # the outputs' stem in the output folder
    record: dict  # what the outputs are made from: a finished video whose .done.json matches is skipped


@dataclass
class VideoResult:
    name: str
    input: str
    status: str  # done / skipped / failed
    error: str = ""
    frames: int = 0
    events: int = 0
    labels: dict = field(default_factory=dict)
    damaged_packets: int = 0  # skipped by the decoder: the frames after each are missing or damaged
    seconds: float = 0.0


# --- inputs ----------------------------------------------------------------------------------------

def find_videos(inputs: list[str]) -> list[Path]:
    """Video files named, in folders (recursively, sorted) or listed one per line in list files."""
    found: list[Path] = []
    for spec in inputs:
        p = Path(spec)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTS)
        elif p.is_file() and p.suffix.lower() in LIST_EXTS:
            lines = [s.strip() for s in p.read_text().splitlines()]
            for i, line in enumerate(lines, 1):
                if line and not line.startswith("#"):
                    q = Path(line) if Path(line).is_absolute() else p.parent / line
                    if not q.is_file():
                        raise MexError(f"{p}: line {i}: {line}: no such video file")
                    found.append(q)
        elif p.is_file():
            found.append(p)
        else:
            raise MexError(f"{spec}: no such file or folder")
    unique = list(dict.fromkeys(f.resolve() for f in found))
    if not unique:
        raise MexError(f"no videos in {', '.join(inputs)} (looked for {', '.join(sorted(VIDEO_EXTS))})")
    return unique


def output_names(videos: list[Path]) -> list[str]:
    """The input's stem; where two inputs share one, each gets a hash of its path too."""
    stems = [v.stem for v in videos]
    return [s if stems.count(s) == 1 else f"{s}-{hashlib.sha256(str(v).encode()).hexdigest()[:8]}"
            for s, v in zip(stems, videos)]


def engines_record(cfg: BatchConfig) -> dict:
    """{artifact: SHA-256} of what the analyser loads (the manifest's digests)."""
    if cfg.spot_only:
        return {}
    import engines

    out = {}
    for name in ("magnifier", "motion", "classifier"):
        try:
            out[name] = engines.resolve(name, "onnx", cfg.engines).sha256
        except MexError:
            if name != "motion":  # an older engines folder has no motion cut; the analyser copes
                raise
    return out


def jobs(cfg: BatchConfig, videos: list[Path]) -> list[Job]:
    eng = engines_record(cfg)
    options = {"video": cfg.video, "spot_only": cfg.spot_only, "max_frames": cfg.max_frames,
               "backend": cfg.backend}
    out = []
    for v, name in zip(videos, output_names(videos)):
        st = v.stat()
        out.append(Job(v, name, {"input": str(v), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                 "engines": eng, "options": options}))
    return out


def finished(cfg: BatchConfig, job: Job) -> VideoResult | None:
    """The stored result of a video done before with the same input, engines and options."""
    done = cfg.out / f"{job.name}.done.json"
    try:
        rec = json.loads(done.read_text())
    except (OSError, ValueError):
        return None
    outputs = [cfg.out / f"{job.name}.events.jsonl"] + ([cfg.out / f"{job.name}.mp4"] if cfg.video else [])
    if rec.get("record") != job.record or not all(p.is_file() for p in outputs):
        return None
    return VideoResult(**{**rec["result"], "status": "skipped"})


# --- one video -------------------------------------------------------------------------------------

def analyse(cfg: BatchConfig, job: Job, threads: int = 0) -> VideoResult:
    """One video through the analyser; its outputs and record in cfg.out. Never raises for a bad video."""
    t0 = time.perf_counter()
    try:
        report = _run_video(cfg, job, threads)
    except Exception as exc:  # noqa: BLE001 - a bad video fails alone, whatever broke
        return VideoResult(job.name, str(job.input), "failed", error=str(exc) or type(exc).__name__,
                           seconds=round(time.perf_counter() - t0, 2))
    res = VideoResult(job.name, str(job.input), "done", frames=report["frames"], events=report["events"],
                      labels=report.get("events_by_label", {}), seconds=round(time.perf_counter() - t0, 2),
                      damaged_packets=report.get("damaged_packets", 0))
    write_json(cfg.out / f"{job.name}.done.json", {"record": job.record, "result": asdict(res)})
    return res


def _run_video(cfg: BatchConfig, job: Job, threads: int) -> dict:
    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
    from stream.runner import Runner
    from stream.sinks import EventsFile, VideoFile
    from stream.sources import open_source

    if threads:
        import cv2

        cv2.setNumThreads(threads)  # the worker's share of the cores: OpenCV's own pool would take them all
    source = open_source(str(job.input)).open()
    analyzer = None
    try:
        # without --video no one sees the magnified faces: only motion + classify run per event
        scfg = StreamConfig(fps=source.fps, classify=not cfg.spot_only, overlay=cfg.video, insets=cfg.video,
                            engine_threads=threads, face_model=str(cfg.face_model) if cfg.face_model else None)
        analyzer = Analyzer(scfg, engines_dir=cfg.engines, backend=cfg.backend)
        sinks = [EventsFile(cfg.out / f"{job.name}.events.jsonl", wait_for_labels=scfg.classify),
                 VideoFile(cfg.out / f"{job.name}.mp4", source.fps) if cfg.video else None]
        runner = Runner(analyzer, sinks, max_frames=cfg.max_frames, finish_timeout=60.0, source_name=str(job.input))
        # a video that fails part way leaves nothing under the outputs' names
        return runner.run(source, {"engines": job.record["engines"]}, keep_partial=False)
    finally:
        if analyzer is not None:
            analyzer.close()
        source.close()


def worker_task(cfg: BatchConfig, job: Job, threads: int) -> VideoResult:
    """analyse() in a pool or Ray worker process, pinned to cores of its own when free."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's per-process start-up chatter
    if cfg.pin:
        from mecore.cores import pin

        pin(threads)
    return analyse(cfg, job, threads)


# --- many videos -----------------------------------------------------------------------------------

def run(cfg: BatchConfig, inputs: list[str], progress: bool = True) -> list[VideoResult]:
    """Every video: finished ones skipped, the rest in a process pool (or on Ray); summary.csv written.
    Raises MexError naming the videos that failed, after the others are done."""
    from tqdm import tqdm

    if cfg.ray is not None:  # Ray starts while the inputs are listed and the finished ones found
        from mecore.raycluster import start

        start(cfg.ray)
    videos = find_videos(inputs)
    cfg.out.mkdir(parents=True, exist_ok=True)
    results = {}
    todo = []
    for job in jobs(cfg, videos):
        old = finished(cfg, job)
        if old is not None:
            results[job.name] = old
        else:
            todo.append(job)
    bar = tqdm(total=len(videos), initial=len(results), unit="video", disable=not progress,
               desc=f"videos ({len(results)} done before)" if results else "videos")
    try:
        for res in _execute(cfg, todo):
            results[res.name] = res
            if res.status == "failed":
                tqdm.write(f"failed: {_named(res)}", file=sys.stderr)
            bar.update()
    finally:
        bar.close()
        ordered = [results[n] for n in output_names(videos) if n in results]
        write_text(cfg.out / "summary.csv", summary_csv(ordered))
    failed = [r for r in ordered if r.status == "failed"]
    print(f"{len(ordered) - len(failed)} of {len(videos)} videos analysed ({sum(r.status == 'skipped' for r in ordered)} "
          f"done before), {sum(r.events for r in ordered)} events; {cfg.out / 'summary.csv'}")
    if failed:
        raise MexError(f"{len(failed)} of {len(videos)} videos failed: " + "; ".join(map(_named, failed)))
    return ordered


def _named(r: VideoResult) -> str:
    return r.error if r.input in r.error else f"{r.input}: {r.error}"


def _execute(cfg: BatchConfig, todo: list[Job]):
    """VideoResults as videos finish: here (one worker), in a spawn process pool, or as Ray tasks."""
    if not todo:
        return
    if cfg.ray is not None:
        from stream import batch_ray

        yield from batch_ray.execute(cfg, todo)
        return
    workers = min(cfg.workers or os.cpu_count() or 1, len(todo))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers == 1:
        for job in todo:
            yield analyse(cfg, job, threads)
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(worker_task, cfg, job, threads): job for job in todo}
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker process fails its video only
                    yield VideoResult(job.name, str(job.input), "failed", error=f"worker died: {exc}")
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def summary_csv(results: list[VideoResult]) -> str:
    labels = sorted({k for r in results for k in r.labels})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["video", "input", "status", "frames", "damaged_packets", "events", *labels, "seconds", "error"])
    for r in results:
        w.writerow([r.name, r.input, r.status, r.frames, r.damaged_packets, r.events, *[r.labels.get(k, 0) for k in labels],
                    r.seconds, r.error])
    ok = [r for r in results if r.status != "failed"]
    w.writerow(["TOTAL", "", f"{len(ok)} of {len(results)} ok", sum(r.frames for r in ok),
                sum(r.damaged_packets for r in ok), sum(r.events for r in ok),
                *[sum(r.labels.get(k, 0) for r in ok) for k in labels], round(sum(r.seconds for r in ok), 2), ""])
    return buf.getvalue()


def parse_args(argv: list[str] | None = None) -> tuple[BatchConfig, list[str]]:
    ap = argparse.ArgumentParser(prog="python -m stream.batch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", help="video files, folders of videos, or list files (one input a line)")
    add_options(ap, BatchConfig)
    ns = ap.parse_args(argv)
    return from_options(BatchConfig, ns), ns.inputs


def main(argv: list[str] | None = None) -> int:
    def go():
        cfg, inputs = parse_args(argv)
        run(cfg, inputs)
        return 0

    return run_cli(go, interrupted="interrupted; finished videos are kept and skipped on the next run")


if __name__ == "__main__":
    sys.exit(main())
