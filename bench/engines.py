"""Latency and throughput of every engine backend available here, against PyTorch eager on the same device.

``python -m bench.engines [--dir engines/] [--batches 1 8] [--runs 20] [--image-size N] [--json out.json]``

For each model in the manifest (or, when the manifest is empty, small stand-in networks with the
artifacts' interfaces, exported and published into a temporary folder) and each backend that works
on this machine: median and p90 latency of one call (numpy in, numpy out: host/device copies
included), items per second, and the speed-up over PyTorch eager fp32 on the same device.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engines import ENGINES_DIR
from engines.artifacts import read_manifest, resolve
from mecore.errors import MexError, run_cli
from mecore.preprocess import IN_CHANNELS

STANDIN_ARCHS = {"bench-magnifier": "bench.engines:StandInMagnifier",
                 "bench-classifier": "bench.engines:StandInClassifier"}


def _standin_classes():
    import torch
    from torch import nn

    class Res(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

        def forward(self, x):
            return x + self.body(x)

    class StandInMagnifier(nn.Module):
        """MagNet-shaped (encoder -> shape x amplification -> decoder) but lighter: a stand-in until a real one is published."""

        def __init__(self, c: int = 32):
            super().__init__()
            self.enc = nn.Sequential(nn.Conv2d(3, 16, 7, padding=3), nn.ReLU(), nn.Conv2d(16, c, 3, 2, 1), nn.ReLU(),
                                     Res(c), Res(c))
            self.manip = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
            self.dec = nn.Sequential(Res(c), Res(c), nn.Upsample(scale_factor=2), nn.Conv2d(c, 16, 3, padding=1),
                                     nn.ReLU(), nn.Conv2d(16, 3, 7, padding=3))

        def forward(self, onset, apex, amplification):
            a, b = self.enc(onset), self.enc(apex)
            shape = b + self.manip(b - a) * (amplification.view(-1, 1, 1, 1) - 1)
            return torch.tanh(self.dec(shape)), shape

    class StandInClassifier(nn.Module):
        """patches (N, 30, C, 7, 7), the real classifier's input, -> a small transformer over the 30 nodes -> logits."""

        def __init__(self, classes: int = 3, dim: int = 64, maps: int = IN_CHANNELS):
            super().__init__()
            self.embed = nn.Linear(maps * 49, dim)
            layer = nn.TransformerEncoderLayer(dim, 4, dim * 2, dropout=0.0, batch_first=True)
            self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(dim, classes)

        def forward(self, patches):
            x = self.blocks(self.embed(patches.flatten(2)))
            return self.head(x.mean(1))

    return StandInMagnifier, StandInClassifier


def __getattr__(name):  # mecore.nets.build imports the stand-ins by name, without torch at module import
    if name in ("StandInMagnifier", "StandInClassifier"):
        mag, cls = _standin_classes()
        return {"StandInMagnifier": mag, "StandInClassifier": cls}[name]
    raise AttributeError(name)


STANDINS: list[str] = []


def standin_nets() -> list[tuple]:
    """The project's real architectures (MagNet, FGRMER) with random weights; lighter stand-ins if absent."""
    from mecore.nets import build

    mag_cls, cls_cls = _standin_classes()
    nets = []
    for arch, kwargs, fallback, fb_arch in (("magnet", {}, mag_cls, "bench-magnifier"),
                                            ("fgrmer", {"num_classes": 3, "in_channels": IN_CHANNELS}, cls_cls, "bench-classifier")):
        try:
            nets.append((build(arch, kwargs), arch, kwargs))
            STANDINS.append(arch)
        except (ImportError, KeyError, TypeError) as e:
            print(f"note: {arch} unavailable ({e}); using a lighter stand-in", file=sys.stderr)
            nets.append((fallback(), fb_arch, {}))
            STANDINS.append(fb_arch)
    return nets


def publish_standins(folder: Path, image_size: int) -> None:
    import torch

    from engines.export import export_onnx, publish, save_checkpoint
    from mecore.nets import ARCHS

    ARCHS.update(STANDIN_ARCHS)
    torch.manual_seed(0)
    (mag, mag_arch, mag_kw), (cls, cls_arch, cls_kw) = standin_nets()
    common = {"version": "standin", "dataset": "none (random weights)", "metrics": {}}
    img = {0: "N", 2: "H", 3: "W"}
    specs = [
        ("magnifier", mag, mag_arch, mag_kw,
         (torch.rand(1, 3, image_size, image_size) * 2 - 1, torch.rand(1, 3, image_size, image_size) * 2 - 1,
          torch.full((1,), 10.0)), ["onset", "apex", "amplification"], ["magnified", "shape"],
         {"onset": img, "apex": img, "amplification": {0: "N"}, "magnified": img, "shape": {0: "N", 2: "h", 3: "w"}},
         {"normalisation": "rgb/127.5-1", "amplification": {"min": 1, "max": 20, "default": 10},
          "image_size": image_size}),
        ("classifier", cls, cls_arch, cls_kw, (torch.randn(1, 30, IN_CHANNELS, 7, 7),), ["patches"], ["logits"],
         {"patches": {0: "N"}, "logits": {0: "N"}},
         {"normalisation": "shape-map patches", "labels": ["negative", "positive", "surprise"]}),
    ]
    files = {}
    for model, net, arch, kwargs, example, ins, outs, axes, meta in specs:
        net.eval()
        full = {"model": model, **common, **meta}
        onnx_path = export_onnx(net, example, folder / f"src-{model}.onnx", ins, outs, axes, full)
        full = resolve(onnx_path).meta
        save_checkpoint(folder / f"src-{model}.pt", arch, kwargs, net.state_dict(), full)
        files[model] = onnx_path
        files[f"{model}.pt"] = folder / f"src-{model}.pt"
    publish(files, folder)


def make_inputs(meta: dict, batch: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for spec in meta["inputs"]:
        shape = [d if isinstance(d, int) else (batch if i == 0 else size) for i, d in enumerate(spec["shape"])]
        if spec["name"] == "amplification":
            out[spec["name"]] = np.full(shape, meta.get("amplification", {}).get("default", 10), np.float32)
        else:
            out[spec["name"]] = rng.uniform(-1, 1, shape).astype(spec.get("dtype", "float32"))
    return out


def measure(fn, runs: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def eager(model: str, engines_dir: Path, device: str):
    """PyTorch eager fp32 on ``device`` with the engines' numpy-in/numpy-out contract; None without a .pt."""
    import torch

    from engines.backends.torch import rebuild

    try:
        art = resolve(model, "torch", engines_dir)
    except MexError:
        return None
    module = rebuild(art).to(device)
    names = [s["name"] for s in art.meta["inputs"]]

    def call(**arrays):
        with torch.inference_mode():
            out = module(*[torch.from_numpy(arrays[n]).to(device) for n in names])
            out = out if isinstance(out, (tuple, list)) else (out,)
            return [o.cpu().numpy() for o in out]

    return call


def run(engines_dir: Path, batches: list[int], runs: int, image_size: int | None) -> list[dict]:
    import engines
    from engines.backends import BACKENDS, unavailable

    manifest = read_manifest(engines_dir)
    models = sorted({e.get("model") for e in manifest["artifacts"].values()})
    rows = []
    for model in models:
        meta = resolve(model, ("onnx", "torch"), engines_dir).meta
        size = image_size or int(meta.get("image_size", 256))
        baselines = {}
        for device in ("cpu", "cuda"):
            if device == "cpu" or unavailable("torch-cuda") is None:
                call = eager(model, engines_dir, device)
                if call is None:
                    continue
                baselines[device] = {}
                for b in batches:
                    arrays = make_inputs(meta, b, size)
                    med, p90 = measure(lambda c=call, a=arrays: c(**a), runs)
                    baselines[device][b] = med
                    rows.append({"model": model, "backend": f"torch-{device}-eager-fp32", "batch": b,
                                 "median_ms": med, "p90_ms": p90, "ratio": 1.0})
        for name in BACKENDS:
            why = unavailable(name)
            if why:
                continue
            try:
                engine = engines.load(model, name, engines_dir=engines_dir)
            except MexError as e:
                rows.append({"model": model, "backend": name, "batch": None, "error": str(e)})
                continue
            device = "cpu" if BACKENDS[name][1] == "cpu" else "cuda"
            for b in batches:
                arrays = make_inputs(meta, b, size)
                med, p90 = measure(lambda e=engine, a=arrays: e(**a), runs)
                base = baselines.get(device, {}).get(b)
                rows.append({"model": model, "backend": engine.name, "batch": b, "median_ms": med, "p90_ms": p90,
                             "ratio": base / med if base else None})
            engine.close()
    for r in rows:
        if r.get("median_ms"):
            r["items_per_s"] = r["batch"] * 1e3 / r["median_ms"]
    return rows


def table(rows: list[dict], size_note: str) -> str:
    head = ["model", "backend", "batch", "median ms", "p90 ms", "items/s", "x eager"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["model"], r["backend"], "-", f"failed: {r['error']}", "", "", ""])
            continue
        body.append([r["model"], r["backend"], str(r["batch"]), f"{r['median_ms']:.2f}",
                     f"{r['p90_ms']:.2f}", f"{r['items_per_s']:.1f}",
                     f"{r['ratio']:.2f}" if r["ratio"] is not None else "n/a"])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    fmt = lambda x: "  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip()  # noqa: E731
    return "\n".join([size_note, fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=ENGINES_DIR)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=None, help="image side (default: metadata or 256)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)

    def body() -> None:
        engines_dir, note = args.dir, f"artifacts from {args.dir}"
        with tempfile.TemporaryDirectory() as tmp:
            if not read_manifest(engines_dir)["artifacts"]:
                engines_dir = Path(tmp)
                publish_standins(engines_dir, args.image_size or 256)
                note = f"{args.dir} lists no artifacts: {' + '.join(STANDINS)} with random weights"
            rows = run(engines_dir, args.batches, args.runs, args.image_size)
        import platform

        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        note += f"; {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, {gpu}"
        print(table(rows, note))
        if args.json:
            from mecore.atomic import write_json

            write_json(args.json, {"note": note, "rows": rows})

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
