"""Export a trained MagNet into engines/: ``magnifier.{onnx,pt}`` and ``motion.{onnx,pt}``.

``magnifier`` is the whole network (the magnified face, for display); ``motion`` is the same weights
cut down to what the classifier reads (``MagNetMotion``: encoder shape path + manipulator, no
decoder), about 8x cheaper per event. Both ONNX graphs (dynamic batch and size) are checked against
PyTorch with ONNX Runtime (max abs diff <= 1e-4 at two sizes) before anything is published.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from engines import ENGINES_DIR
from engines.export import export_onnx, publish, save_checkpoint
from mecore.errors import MexError
from mecore.nets.magnet import MagNet, MagNetMotion
from train.magnet.importer import VERSION, load_magnet_and_checkpoint, magnifier_meta

INPUTS = ["onset", "apex", "amplification"]
OUTPUTS = ["magnified", "shape"]
DYNAMIC = {"onset": {0: "N", 2: "H", 3: "W"}, "apex": {0: "N", 2: "H", 3: "W"}, "amplification": {0: "N"},
           "magnified": {0: "N", 2: "H", 3: "W"}, "shape": {0: "N", 2: "H/2", 3: "W/2"}}
MOTION_DYNAMIC = {**{k: v for k, v in DYNAMIC.items() if k in INPUTS}, "motion": {0: "N", 2: "H/2", 3: "W/2"}}
PARITY_TOL = 1e-4


def export_magnet_onnx(model: MagNet | MagNetMotion, path: Path, meta: dict, size: int = 64, opset: int = 17,
                       dynamic_shape: str = "H/2") -> Path:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    amp = torch.tensor([10.0])
    if isinstance(model, MagNetMotion):
        return export_onnx(model, (x, x, amp), path, INPUTS, ["motion"], MOTION_DYNAMIC, meta, opset=opset)
    dynamic = {**DYNAMIC, "shape": {0: "N", 2: dynamic_shape, 3: dynamic_shape.replace("H", "W")}}
    return export_onnx(model, (x, x, amp), path, INPUTS, OUTPUTS, dynamic, meta, opset=opset)


def parity(model: MagNet | MagNetMotion, onnx_path: Path, sizes=((2, 64, 64), (1, 96, 128)),
           threads: int = 2) -> float:
    """Max abs difference between ONNX Runtime and PyTorch over random inputs at several (N, H, W)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    model.eval()
    for n, h, w in sizes:
        a = torch.rand(n, 3, h, w, generator=g) * 2 - 1
        b = (a + 0.05 * torch.randn(n, 3, h, w, generator=g)).clamp(-1, 1)
        amp = torch.linspace(2.0, 20.0, n)
        with torch.no_grad():
            ref = model(a, b, amp)
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = sess.run(None, {"onset": a.numpy(), "apex": b.numpy(), "amplification": amp.numpy()})
        for r, o in zip(ref, got):
            if tuple(r.shape) != o.shape:
                raise MexError(f"{onnx_path}: ONNX output shape {o.shape} differs from PyTorch {tuple(r.shape)}")
            worst = max(worst, float(np.abs(r.numpy() - o).max()))
    return worst


def read_metrics(path: str | Path) -> dict:
    """The JSON of ``eval --out-json``, to embed in an artifact's metadata."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise MexError(f"{path}: cannot read evaluation JSON: {e}") from None


def export(checkpoint: str | Path, engines_dir: str | Path = ENGINES_DIR, metrics: str | Path | None = None,
           dataset: str | None = None) -> dict:
    """Checkpoint (a run's last.pt or any MagNet weights) -> engines/magnifier.{onnx,pt}; returns a summary."""
    model, raw = load_magnet_and_checkpoint(checkpoint)
    kwargs = raw.get("kwargs", {})
    extra = {}
    if "config" in raw:
        cfg = raw["config"]
        extra["training"] = {"steps": raw.get("step"), "elapsed_s": round(raw.get("elapsed_s", 0.0), 1),
                             "batch": cfg.get("batch"), "crop": cfg.get("size"), "lr": cfg.get("lr"),
                             "warmup": cfg.get("warmup"), "cosine": cfg.get("cosine"),
                             "precision": cfg.get("precision"), "seed": cfg.get("seed"),
                             "loss": "L1(Y_hat, Y) + 0.1 (L1(tex C, tex A) + L1(shape C, shape B))"}
    if metrics:
        extra["metrics"] = read_metrics(metrics)
    meta = magnifier_meta(VERSION, dataset or "synthetic motion-magnification data (train.magnet.data, "
                          "Oh et al. 2018 recipe; procedural + scikit-image/scikit-learn sample textures)",
                          channels=model.encoder.conv2.weight.shape[0], **extra)
    with tempfile.TemporaryDirectory(prefix="magnifier-export-") as tmp:
        onnx_path = export_magnet_onnx(model, Path(tmp) / "magnifier.onnx", meta)
        worst = _checked(model, onnx_path)
        pt_path = save_checkpoint(Path(tmp) / "magnifier.pt", "magnet", kwargs, model.state_dict(), meta)
        motion = _motion_files(model, kwargs, meta, Path(tmp))
        publish({"magnifier.onnx": onnx_path, "magnifier.pt": pt_path, **motion}, Path(engines_dir))
    return {"engines_dir": str(engines_dir), "parity_max_abs_diff": worst, "parameters":
            sum(p.numel() for p in model.parameters())}


def export_motion(checkpoint: str | Path, engines_dir: str | Path = ENGINES_DIR) -> dict:
    """Only ``motion.{onnx,pt}`` from a magnifier checkpoint (e.g. an engines folder's magnifier.pt)."""
    model, raw = load_magnet_and_checkpoint(checkpoint)
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else \
        magnifier_meta(VERSION, "unknown (weights without metadata)", channels=model.encoder.conv2.weight.shape[0])
    with tempfile.TemporaryDirectory(prefix="motion-export-") as tmp:
        files = _motion_files(model, raw.get("kwargs", {}), meta, Path(tmp))
        publish(files, Path(engines_dir))
    return {"engines_dir": str(engines_dir), "files": sorted(files)}


def _checked(model, onnx_path: Path) -> float:
    worst = parity(model, onnx_path)
    if worst > PARITY_TOL:
        raise MexError(f"{onnx_path.name}: ONNX Runtime differs from PyTorch by {worst:.2e} (> {PARITY_TOL})")
    return worst


def _motion_files(model: MagNet, kwargs: dict, magnifier_meta: dict, tmp: Path) -> dict[str, Path]:
    """motion.onnx + motion.pt from the magnifier's weights, its metadata carried over."""
    motion = MagNetMotion.from_magnet(model, kwargs)
    channels = model.encoder.conv2.weight.shape[0]
    meta = {k: v for k, v in magnifier_meta.items() if k not in ("metrics", "code_version", "created")}
    meta.update(model="motion", arch="MagNet encoder (trunk + shape) + manipulator: shape(alpha) - shape(1)",
                outputs=[{"name": "motion", "shape": ["N", channels, "H/2", "W/2"], "dtype": "float32"}],
                normalisation=magnifier_meta["normalisation"].split("; output")[0],
                amplification={**magnifier_meta["amplification"], "applied_as": "alpha - 1 (alpha = 1: zero motion)"},
                derived_from={"model": "magnifier", "version": magnifier_meta.get("version"),
                              "weights_sha256": weights_sha256(motion)})
    onnx_path = export_magnet_onnx(motion, tmp / "motion.onnx", meta)
    _checked(motion, onnx_path)
    pt_path = save_checkpoint(tmp / "motion.pt", "magnet_motion", kwargs, motion.state_dict(), meta)
    return {"motion.onnx": onnx_path, "motion.pt": pt_path}


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of a module's weights (names and float32 bytes in key order): which magnifier a motion came from."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()
