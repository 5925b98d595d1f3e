"""Milliseconds per magnification (one onset/apex pair -> magnified frame + shape), side by side.

Also the ``motion`` cut of the same network (encoder shape path + manipulator, no decoder: what the
classifier reads, ``engines/motion.onnx``), eager and ONNX Runtime.

``python -m bench.magnifier [--weights engines/magnifier.pt] [--sizes 256 128] [--threads N] [--repeats 10]``

Backends in one run: PyTorch eager on the CPU, ONNX Runtime on the CPU (the graph ``train.magnet``
exports, loaded with the session options the project's engine uses) and, where a CUDA GPU is
present, PyTorch CUDA fp16. Printed: median ms per call (eager and ORT calls interleaved, so both
see the same machine load), the ratio ONNX Runtime / eager, and the load average around the run.
Timing is independent of the weights; without ``--weights`` and no engines/magnifier.pt, the network
is randomly initialised.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from mecore.errors import MexError, run_cli
from mecore.nets.magnet import MagNet, MagNetMotion

REPO = Path(__file__).resolve().parents[1]


def _time(fn, repeats: int, warmup: int = 3, sync=None) -> float:
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def _side_by_side(f, g, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median ms of f and g, calls interleaved so both see the same machine load."""
    for _ in range(warmup):
        f()
        g()
    tf, tg = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        tg.append(time.perf_counter() - t1)
        tf.append(t1 - t0)
    return statistics.median(tf) * 1000.0, statistics.median(tg) * 1000.0


def load_model(weights: Path | None) -> tuple[MagNet, str]:
    path = weights or REPO / "engines" / "magnifier.pt"
    if path.is_file():
        from train.magnet.importer import load_magnet

        return load_magnet(path), str(path)
    if weights:
        raise MexError(f"{weights}: weights file not found")
    return MagNet().eval(), "random init (no engines/magnifier.pt)"


def ort_session(onnx_path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])


def run(sizes: list[int], threads: int, repeats: int, weights: Path | None, onnx: Path | None) -> list[dict]:
    torch.set_num_threads(threads)
    model, source = load_model(weights)
    print(f"weights: {source}; CPU threads: {threads} of {os.cpu_count()}; torch {torch.__version__}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-magnifier-") as tmp:
        from train.magnet.export import export_magnet_onnx
        from train.magnet.importer import magnifier_meta

        if onnx is None:
            onnx = export_magnet_onnx(model, Path(tmp) / "magnifier.onnx", magnifier_meta("bench", "none"))
        sess = ort_session(onnx, threads)
        motion = MagNetMotion.from_magnet(model)
        msess = ort_session(export_magnet_onnx(motion, Path(tmp) / "motion.onnx", {
            **magnifier_meta("bench", "none"), "model": "motion",
            "outputs": [{"name": "motion", "shape": ["N", 32, "H/2", "W/2"], "dtype": "float32"}]}), threads)
        for size in sizes:
            g = torch.Generator().manual_seed(size)
            a = torch.rand(1, 3, size, size, generator=g) * 2 - 1
            b = (a + 0.02 * torch.randn(1, 3, size, size, generator=g)).clamp(-1, 1)
            amp = torch.tensor([10.0])
            feed = {"onset": a.numpy(), "apex": b.numpy(), "amplification": amp.numpy()}
            with torch.inference_mode():
                eager_ms, ort_ms = _side_by_side(lambda a=a, b=b, amp=amp: model(a, b, amp),
                                                 lambda feed=feed: sess.run(None, feed), repeats)
                m_eager, m_ort = _side_by_side(lambda a=a, b=b, amp=amp: motion(a, b, amp),
                                               lambda feed=feed: msess.run(None, feed), repeats)
            row = {"size": size, "torch_cpu_ms": eager_ms, "ort_cpu_ms": ort_ms, "ort_over_eager": ort_ms / eager_ms,
                   "motion_torch_cpu_ms": m_eager, "motion_ort_cpu_ms": m_ort}
            if torch.cuda.is_available():
                row["torch_cuda_fp16_ms"] = _cuda_fp16(model, a, b, amp, repeats)
            rows.append(row)
    return rows


def _cuda_fp16(model: MagNet, a, b, amp, repeats: int) -> float:
    dev = torch.device("cuda")
    m = copy.deepcopy(model).to(dev).half().eval().to(memory_format=torch.channels_last)
    ag, bg = (x.to(dev).half().contiguous(memory_format=torch.channels_last) for x in (a, b))
    ampg = amp.to(dev)
    torch.backends.cudnn.benchmark = True
    with torch.inference_mode():
        return _time(lambda: m(ag, bg, ampg), repeats * 5, warmup=10, sync=torch.cuda.synchronize)


def report(args) -> int:
    """Measure and print the table (a MexError for bad options or weights)."""
    if any(s % 4 for s in args.sizes):
        raise MexError(f"--sizes {args.sizes}: each must be a multiple of 4")
    rows = run(args.sizes, args.threads, args.repeats, args.weights, args.onnx)
    cuda = torch.cuda.is_available()
    print("| size | PyTorch eager CPU ms | ONNX Runtime CPU ms | ORT / eager | motion eager ms | motion ORT ms |"
          + (" PyTorch CUDA fp16 ms |" if cuda else ""))
    print("|---|---|---|---|---|---|" + ("---|" if cuda else ""))
    for r in rows:
        line = (f"| {r['size']}x{r['size']} | {r['torch_cpu_ms']:.1f} | {r['ort_cpu_ms']:.1f} | "
                f"{r['ort_over_eager']:.2f}x | {r['motion_torch_cpu_ms']:.1f} | {r['motion_ort_cpu_ms']:.1f} |")
        if cuda:
            line += f" {r['torch_cuda_fp16_ms']:.2f} |"
        print(line)
    if not cuda:
        print("PyTorch CUDA fp16: no CUDA GPU here")
    print(f"load average after: {os.getloadavg()[0]:.2f} (figures from a busy machine are not comparable)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.magnifier", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--onnx", type=Path, default=None, help="time this ONNX file instead of a fresh export")
    args = p.parse_args(argv)
    return run_cli(lambda: report(args))


if __name__ == "__main__":
    sys.exit(main())
