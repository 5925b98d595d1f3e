"""The deployed classifier: one FGRMER trained on all subjects, exported to ONNX + checkpoint with its
metadata, checked in ONNX Runtime against PyTorch, published into engines/ (atomic, with the
manifest), and TensorRT plans built where TensorRT and a CUDA GPU exist.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mecore.errors import MexError
from train import adjacency as adj_mod
from train import metrics
from train.cache import TEST_FACTOR

if TYPE_CHECKING:
    from train.config import Config
    from train.data import Data


def export_final(cfg: Config, data: Data, m: dict) -> Path:
    """Train on every subject, export, check, publish; the whole config goes into the metadata."""
    import engines
    from engines.export import export_onnx, publish, save_checkpoint
    from mecore import preprocess
    from train import fit as fit_mod

    samples, X, y, labels = data.samples, data.X, data.y, data.labels
    all_idx = np.arange(len(samples))
    adj = adj_mod.adjacency([s.aus for s in samples])
    t0 = time.perf_counter()
    res = fit_mod.fit(X, y, all_idx, len(labels), adj, cfg.fit_options(cfg.seed + 10_000))
    print(f"final model: {len(samples)} samples of {len({s.subject for s in samples})} subjects, "
          f"{cfg.epochs} epochs, {time.perf_counter() - t0:.1f} s")
    exp_dir = cfg.out / "export"
    adj_mod.save(exp_dir / "adjacency.npz", adj, {s.subject for s in samples})
    metrics.plot_curves(res.history, exp_dir / "curves.png", "final model (all subjects)")
    patch_shape = ["N", *X.shape[2:]]  # (N, 30, C, 7, 7): the cache's layout, what the stream must feed
    meta = {
        "model": "classifier", "version": f"fgrmer-{cfg.dataset}-{time.strftime('%Y%m%d')}",
        "arch": res.arch, "labels": labels, "class_set": data.class_set,
        "input_layout": f"patches (N, {', '.join(map(str, patch_shape[1:]))}): 7x7 windows of the 128x128 maps (the magnifier's "
                        f"motion: {preprocess.MAP_GROUPS}, then the optical flow: x, y) at the 30 graph "
                        "nodes (mecore.face.roi.NODES: 10 brow, 20 mouth), rows y, columns x",
        "normalisation": "maps: shape(a) - shape(1) of the magnifier's 'shape' output (the motion artifact), "
                         f"mecore.preprocess.motion_maps into {preprocess.MAP_GROUPS} map(s) of the mean |.| over the "
                         "channels, 128x128, then the onset -> apex optical flow (x, y) in 128x128 pixels "
                         "(mecore.preprocess.motion_features); patches are standardised "
                         "inside the graph (training statistics)",
        "features_version": preprocess.FEATURES_VERSION,
        # the factor its features are made at (a magnifier's "amplification" is the user's range)
        "feature_amplification": TEST_FACTOR, "train_amplifications": list(cfg.factors),
        "dataset": cfg.dataset, "n_samples": len(samples), "n_subjects": len({s.subject for s in samples}),
        "loso": {k: m[k] for k in ("accuracy", "uf1", "uar", "n")}, "magnifier": data.magnifier,
        "preprocess": "mecore.preprocess.motion_features", "train_config": cfg.to_dict(),
    }
    model = res.model.eval()
    import torch

    onnx_path = export_onnx(model, (torch.zeros(1, *patch_shape[1:]),), exp_dir / "classifier.onnx", ["patches"],
                            ["logits"], {"patches": {0: "N"}, "logits": {0: "N"}}, meta)
    pt_path = save_checkpoint(exp_dir / "classifier.pt", res.arch, res.kwargs, model.state_dict(), {
        **meta, "inputs": [{"name": "patches", "shape": patch_shape, "dtype": "float32"}],
        "outputs": [{"name": "logits", "shape": ["N", len(labels)], "dtype": "float32"}]})
    # parity check of what we publish: ONNX Runtime vs the PyTorch model on real cached inputs
    eng = engines.load(onnx_path, backend="onnxruntime")
    xs = X[:8, cfg.factors.index(TEST_FACTOR)].astype(np.float32)
    with torch.no_grad():
        diff = float(np.abs(eng(patches=xs)["logits"] - model(torch.as_tensor(xs)).numpy()).max())
    if diff > 1e-3:
        raise MexError(f"{onnx_path}: ONNX Runtime differs from PyTorch by {diff:.2e}; not published")
    dest = Path(cfg.publish_dir or cfg.engines_dir or engines.ENGINES_DIR)
    publish({"classifier.onnx": onnx_path, "classifier.pt": pt_path}, dest)
    print(f"published classifier.onnx + classifier.pt -> {dest} (ONNX vs PyTorch max |diff| {diff:.1e})")
    assert preprocess.MAGNET_SIZE == 256
    build_tensorrt(dest)
    return dest


def build_tensorrt(engines_dir: Path) -> None:
    from engines.backends import unavailable

    why = unavailable("tensorrt")
    if why:
        print(f"TensorRT engines: skipped ({why})")
        return
    import engines
    from engines.backends.tensorrt import plan_for

    for name in ("classifier", "motion", "magnifier"):
        try:
            art = engines.resolve(name, "onnx", engines_dir)
        except MexError as exc:
            print(f"TensorRT {name}: skipped ({exc})")
            continue
        plan, built = plan_for(art, True, 8, None, rebuild=False)
        print(f"TensorRT {name}: {plan} ({'built' if built else 'cached'})")
