"""Scale-out on Ray, measured: LOSO cache + folds and stream.batch, serial and on a local Ray in one run.

``python -m bench.scale [--part loso|batch|both] [--subjects S --clips C --epochs 100] [--videos 8] [--cpus 2]``

LOSO: the default synthetic set (generated once; its faces need ``python -m train.synth.sources fetch``), the preprocessing cache built from nothing and the
folds trained, first in one process (``--workers 1``: the serial baseline), then on a local Ray with
``--cpus`` CPUs (one cache actor and one fold task per CPU), each into its own cache and report folder;
no final export. stream.batch: ``--videos`` copies of the demo clip (10 s, 300 frames, 5 events, all
classified), first one after another in this process, then as Ray tasks. Also printed: Ray's start-up (a new local Ray, and joining one started with `ray start --head`),
a no-op task's round trip, the first fold's overhead outside training, the peak resident memory of each
Ray worker (sampled from /proc), and from the measured per-fold and per-video-second times the wall
time of CAS(ME)^3's 100 folds and of 1,000 one-minute videos on 1, 8 and 64 workers. The machine's
load average is printed with each phase: on a shared machine the figures are only as quiet as it was.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from mecore import raycluster

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "stream" / "assets" / "demo.mp4"
CASME3_SAMPLES = 860  # CAS(ME)^3 part A, 100 subjects: about 860 coded micro-expressions (7 classes)


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


class RayMemory:
    """Peak resident memory and CPU time of this run's Ray worker processes (``ray::...``), sampled in a thread."""

    def __init__(self, every_s: float = 0.5):
        self.peak: dict[int, tuple[str, float]] = {}
        self.cpu: dict[int, float] = {}  # pid -> user + system CPU seconds, last seen
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                    if not title.startswith("ray::") or not _descends(int(pid), os.getpid()):
                        continue  # not a worker of this run's Ray (others on the machine run theirs)
                    rss = next(int(x.split()[1]) for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                               if x.startswith("VmRSS:")) / 1024
                    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
                except (OSError, StopIteration, ValueError):
                    continue
                self.cpu[int(pid)] = sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")
                kind, mb = self.peak.get(int(pid), ("ray::IDLE", 0.0))
                if not title.startswith("ray::IDLE"):  # the task or actor it ran last
                    kind = title.split()[0].split(".")[0]
                self.peak[int(pid)] = (kind, max(mb, rss))

    def cpu_s(self) -> float:
        """CPU seconds the workers seen so far used (an exited worker counts until its last sample)."""
        return sum(self.cpu.values())

    def summary(self) -> str:
        by: dict[str, list[float]] = {}
        for kind, mb in self.peak.values():
            by.setdefault(kind, []).append(mb)
        return ", ".join(f"{k} {len(v)} x peak {max(v):.0f} MB" for k, v in sorted(by.items())) or "none seen"


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def ray_overhead(cpus: int) -> dict:
    import ray

    # Ray starts its workers at niceness 15 (to keep the driver responsive): on a machine shared with other
    # jobs that starves them against the serial run in the driver. Equal priority makes the comparison fair.
    os.environ.setdefault("RAY_worker_niceness", "0")
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
    startup = time.perf_counter() - t0

    @ray.remote(num_cpus=1)
    def noop(x):
        return x

    ray.get([noop.remote(i) for i in range(cpus)])  # workers started
    t0 = time.perf_counter()
    for i in range(20):
        ray.get(noop.remote(i))
    rtt = (time.perf_counter() - t0) / 20
    ray.shutdown()  # the runs below start their own, as a user's run does (in the background: mecore.raycluster)
    return {"startup_s": startup, "rtt_ms": rtt * 1e3}


_JOIN = """
import json, time
t0 = time.perf_counter()
import ray
ray.init(address={addr!r}, logging_level="WARNING")
t1 = time.perf_counter()
ray.get(ray.remote(lambda: 0).remote())
print(json.dumps({{"connect_s": t1 - t0, "first_task_s": time.perf_counter() - t1}}))
"""


def join_overhead(cpus: int, port: int = 6391) -> dict | None:
    """What a run pays to join a cluster already started with ``ray start --head`` (docs/scale.md's
    set-up), in a fresh interpreter: import + connect, and the first task (a worker process started)."""
    ray_cli = Path(sys.executable).with_name("ray")
    start = [str(ray_cli), "start", "--head", f"--port={port}", f"--num-cpus={cpus}", "--include-dashboard=false"]
    if subprocess.run(start, capture_output=True).returncode:
        return None
    try:
        out = subprocess.run([sys.executable, "-c", _JOIN.format(addr="auto")],
                             capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    finally:  # before this process starts its own local Ray: `ray stop` stops every Ray on the machine
        subprocess.run([str(ray_cli), "stop", "--force"], capture_output=True)


def cpu_now(mem: RayMemory) -> float:
    """CPU seconds so far of this process (all its threads: ONNX Runtime's, torch's) and of the Ray workers."""
    return time.process_time() + mem.cpu_s()


def bench_loso(args, work: Path, mem: RayMemory) -> dict:
    import torch

    from train import loso
    from train.data import ensure_synth, load_data

    base = {"synth_subjects": args.subjects, "synth_clips": args.clips, "synth_holdout": 0, "epochs": args.epochs,
            "export": False}
    times, folds = {}, {}
    for mode in ("serial", "ray"):
        extra = {"workers": 1} if mode == "serial" else {"ray": "auto"}
        cfg = loso.Config(**base, **extra, out=work / f"loso-{mode}", cache=work / f"cache-{mode}")
        ensure_synth(cfg)
        torch.set_num_threads(cfg.threads)  # as loso.run does; a Ray fold task sets the same
        print(f"\n--- LOSO {mode}: {load()}", flush=True)
        t0, c0 = time.perf_counter(), cpu_now(mem)
        if mode == "ray":  # as train.loso.run does; Ray's start-up is part of the timed run
            raycluster.start("auto", num_cpus=args.cpus)
        data = load_data(cfg)
        t_cache, c_cache = time.perf_counter() - t0, cpu_now(mem) - c0
        sp_list = loso.splits(data.subjects, cfg.val_subjects, cfg.seed, cfg.folds)
        fp = cfg.fingerprint(data.magnifier["id"], [s.key for s in data.samples]) | {"class_set": data.class_set}
        t0, c0 = time.perf_counter(), cpu_now(mem)
        folds[mode] = loso.fold_results(cfg, sp_list, data, fp)
        t_folds, c_folds = time.perf_counter() - t0, cpu_now(mem) - c0
        times[mode] = {"cache": t_cache, "folds": t_folds, "samples": len(data.samples),
                       "cache_cpu": c_cache, "folds_cpu": c_folds}
        print(f"LOSO {mode}: cache {t_cache:.1f} s, {len(sp_list)} folds {t_folds:.1f} s; {load()}", flush=True)
    same = [a["pred"] == b["pred"] and a["probs"] == b["probs"] for a, b in zip(folds["serial"], folds["ray"])]
    fit_s = [f["seconds"] for f in folds["serial"]]
    return {"times": times, "identical": all(same), "fold_s": sum(fit_s) / len(fit_s),
            "ray_fold_s": sum(f["seconds"] for f in folds["ray"]) / len(folds["ray"]), "waited_s": raycluster.waited_s}


def bench_batch(args, work: Path, mem: RayMemory) -> dict:
    from stream import batch

    clips = work / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    for i in range(args.videos):
        shutil.copy(DEMO, clips / f"clip{i}.mp4")
    times, results = {}, {}
    for mode in ("serial", "ray"):
        out = work / f"batch-{mode}"
        shutil.rmtree(out, ignore_errors=True)
        cfg = batch.BatchConfig(out=out, workers=1) if mode == "serial" else batch.BatchConfig(out=out, ray="auto")
        print(f"\n--- stream.batch {mode}: {load()}", flush=True)
        t0, c0 = time.perf_counter(), cpu_now(mem)
        if mode == "ray":  # as batch.run does (a no-op when the LOSO part left Ray running)
            raycluster.start("auto", num_cpus=args.cpus)
        results[mode] = batch.run(cfg, [str(clips)], progress=False)
        times[mode] = time.perf_counter() - t0
        times[f"{mode}_cpu"] = cpu_now(mem) - c0
        print(f"stream.batch {mode}: {args.videos} videos in {times[mode]:.1f} s; {load()}", flush=True)
    video_s = sum(r.frames for r in results["serial"]) / 30.0
    same = [(a.events, a.labels) for a in results["serial"]] == [(b.events, b.labels) for b in results["ray"]]
    return {"times": times, "video_s": video_s, "identical": same,
            "per_video_s": times["serial"] / args.videos,
            "ray_task_s": sum(r.seconds for r in results["ray"]) / len(results["ray"])}


def on_paper(per_unit_s: float, units: int, workers: tuple[int, ...] = (1, 8, 64)) -> str:
    """Wall time of ``units`` equal tasks on W workers: ceil(units / W) rounds of one task each."""
    def fmt(s):
        return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min"
    return ", ".join(f"{w}: {fmt(math.ceil(units / w) * per_unit_s)}" for w in workers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("loso", "batch", "both"), default="both")
    from train.config import Config

    ap.add_argument("--subjects", type=int, default=Config.synth_subjects, help="(default: the default set's)")
    ap.add_argument("--clips", type=int, default=Config.synth_clips)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default: %(default)s)")
    ap.add_argument("--work", type=Path, default=REPO / ".cache" / "bench-scale", help="scratch folder (emptied)")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    print(f"bench.scale on {os.cpu_count()} cores; {load()} (a shared machine: other jobs run beside this)")
    join = join_overhead(args.cpus)
    over = ray_overhead(args.cpus)
    print(f"Ray start-up {over['startup_s']:.1f} s; a no-op task's round trip {over['rtt_ms']:.1f} ms")
    if join:
        print(f"joining a running cluster (ray start --head): connect {join['connect_s']:.2f} s (Ray's import "
              f"included), first task {join['first_task_s']:.2f} s")
    with RayMemory() as mem:
        lo = bench_loso(args, args.work, mem) if args.part in ("loso", "both") else None
        ba = bench_batch(args, args.work, mem) if args.part in ("batch", "both") else None
    print("\n=== results")
    if lo:
        s, r = lo["times"]["serial"], lo["times"]["ray"]
        tot_s, tot_r = s["cache"] + s["folds"], r["cache"] + r["folds"]
        print(f"LOSO {args.subjects}x{args.clips} ({s['samples']} samples), {args.epochs} epochs: "
              f"serial cache {s['cache']:.0f} s + folds {s['folds']:.0f} s = {tot_s:.0f} s; "
              f"Ray ({args.cpus} CPUs) cache {r['cache']:.0f} s + folds {r['folds']:.0f} s = {tot_r:.0f} s: "
              f"{tot_r / tot_s:.2f}x (cache {r['cache'] / s['cache']:.2f}x, folds {r['folds'] / s['folds']:.2f}x); "
              f"per-fold results identical: {lo['identical']}")
        print("cores busy on average (CPU s / wall s; this process's threads + the Ray workers'): serial cache "
              f"{s['cache_cpu'] / s['cache']:.2f}, folds {s['folds_cpu'] / s['folds']:.2f}; Ray cache "
              f"{r['cache_cpu'] / r['cache']:.2f}, folds {r['folds_cpu'] / r['folds']:.2f} of {args.cpus}. CPU s: serial "
              f"cache {s['cache_cpu']:.0f} + folds {s['folds_cpu']:.0f}, Ray cache {r['cache_cpu']:.0f} + folds "
              f"{r['folds_cpu']:.0f} (a serial phase near {args.cpus} cores cannot gain; under other jobs' load "
              "the wall times are the scheduler's share, the CPU seconds less so)")
        print(f"a fold trains in {lo['fold_s']:.1f} s serial, {lo['ray_fold_s']:.1f} s as a Ray task; Ray start-up "
              f"{over['startup_s']:.1f} s + round trip {over['rtt_ms']:.1f} ms = "
              f"{100 * (over['startup_s'] + over['rtt_ms'] / 1e3) / lo['fold_s']:.0f} % of one fold "
              f"(once per run; per task {100 * over['rtt_ms'] / 1e3 / lo['fold_s']:.2f} %)")
        print(f"in the run, Ray started beside the driver's own preparation (mecore.raycluster.start) and the "
              f"driver waited {lo['waited_s']:.2f} s for it = {100 * lo['waited_s'] / lo['fold_s']:.0f} % of one fold")
        if join:
            j = join["connect_s"] + join["first_task_s"]
            print(f"joining a running cluster instead: {j:.2f} s = {100 * j / lo['fold_s']:.0f} % of one fold")
        per_fold = lo["fold_s"] * CASME3_SAMPLES / s["samples"]  # a fold's epoch is linear in its samples
        print(f"on paper, CAS(ME)^3 100 folds (~{CASME3_SAMPLES} samples, fold time x{CASME3_SAMPLES / s['samples']:.1f}"
              f" = {per_fold:.0f} s): {on_paper(per_fold, 100)} workers")
        per_sample = r["cache"] * args.cpus / r["samples"]  # one Ray worker's time per sample
        print(f"cache: {s['cache'] / s['samples']:.2f} s per sample serial, {per_sample:.2f} s per sample per Ray "
              f"worker; on paper, CAS(ME)^3's {CASME3_SAMPLES} samples once: "
              f"{on_paper(per_sample, CASME3_SAMPLES)} workers")
    if ba:
        t = ba["times"]
        print(f"stream.batch {args.videos} videos ({ba['video_s']:.0f} s of video): serial {t['serial']:.1f} s, "
              f"Ray ({args.cpus} CPUs) {t['ray']:.1f} s: {t['ray'] / t['serial']:.2f}x; "
              f"events and labels identical: {ba['identical']}")
        print(f"cores busy on average: serial {t['serial_cpu'] / t['serial']:.2f}, Ray {t['ray_cpu'] / t['ray']:.2f} of "
              f"{args.cpus}; CPU s serial {t['serial_cpu']:.0f}, Ray {t['ray_cpu']:.0f}")
        per_min = 60.0 * t["serial"] / ba["video_s"]
        print(f"analysis {t['serial'] / ba['video_s']:.2f} s per second of video serial ({ba['ray_task_s']:.1f} s per "
              f"10 s clip as a Ray task); on paper, 1,000 one-minute videos at {per_min:.0f} s each: "
              f"{on_paper(per_min, 1000)} workers")
    print(f"Ray workers' memory: {mem.summary()}")
    import ray

    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
