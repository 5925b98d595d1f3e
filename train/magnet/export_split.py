"""Artifacts for whole-video magnification: encoder/decoder splits, and the fast magnifier.

``python -m train.magnet split``  engines/magnifier.pt -> ``magnifier_encoder`` + ``magnifier_decoder``
(.onnx + .pt), the SAME weights as the shipped magnifier cut between encoder and decoder (it is not
retrained, and magnifier.* / motion.* are left untouched), so a video loop can band-pass the shape
representation between the two calls (MagNet's temporal mode).

``python -m train.magnet export-fast --checkpoint runs/fastmag/last.pt``  a ``distill`` run ->
``fast_magnifier`` (the two-frame interface of ``magnifier``: onset, apex, amplification -> magnified,
shape) + ``fast_magnifier_encoder`` + ``fast_magnifier_decoder``.

Every ONNX graph is checked against PyTorch with ONNX Runtime, and each split pair against its whole
network (decoder(encoder(b), motion = shape_b - shape_a) == net(a, b)), before anything is published.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from engines import ENGINES_DIR
from engines.export import export_onnx, publish, save_checkpoint
from mecore.errors import MexError
from mecore.nets import build
from mecore.nets.magnify_split import split
from train.magnet.export import PARITY_TOL, _checked, export_magnet_onnx, read_metrics, weights_sha256
from train.magnet.importer import VERSION, _torch_load, load_magnet_and_checkpoint, load_state, magnifier_meta

FRAME = {0: "N", 2: "H", 3: "W"}
FAST_DATASET = ("synthetic motion-magnification data (train.magnet.data) with the shipped MagNet "
                "(engines/magnifier.pt) as teacher")


def load_fastmag(path: str | Path):
    """A FastMagNet in eval mode and the checkpoint dict, from a ``distill`` run or a fast_magnifier.pt."""
    path = Path(path)
    raw = _torch_load(path)
    if not isinstance(raw, dict) or raw.get("arch") != "fastmag" or "state_dict" not in raw:
        raise MexError(f"{path}: not a fast magnifier checkpoint (arch {raw.get('arch') if isinstance(raw, dict) else None!r})")
    try:
        model = load_state(build("fastmag", raw.get("kwargs") or {}), raw["state_dict"], path)
    except RuntimeError as e:
        raise MexError(f"{path}: weights do not fit FastMagNet: {str(e).splitlines()[-1].strip()}") from None
    return model.eval(), raw


def _split_meta(whole: dict, part: str, io: dict, sha: str) -> dict:
    base = whole["model"]
    meta = {k: v for k, v in whole.items() if k not in ("inputs", "outputs", "metrics", "code_version", "created")}
    meta.update(model=f"{base}_{part}", inputs=io["inputs"], outputs=io["outputs"],
                split={"part": part, "pair": f"{base}_{'decoder' if part == 'encoder' else 'encoder'}",
                       "decoder_computes": "decode(texture, shape + h(g(motion) * (alpha - 1)))",
                       "motion": "shape - shape_ref (static / dynamic) or bandpass(shape) (temporal)"},
                derived_from={"model": base, "version": whole.get("version"), "weights_sha256": sha})
    meta["normalisation"] = whole["normalisation"]
    return meta


def _io(names_shapes: list[tuple[str, list]]) -> list[dict]:
    return [{"name": n, "shape": s, "dtype": "float32"} for n, s in names_shapes]


def split_files(model, base: str, kwargs: dict, whole_meta: dict, tmp: Path, prefix: str) -> dict[str, Path]:
    """encoder + decoder (.onnx, .pt) of ``model`` in ``tmp``, checked; {file name: path}."""
    enc, dec = split(model, base, kwargs)
    ch = model.manipulator.g.weight.shape[0]
    r = "H/4" if base == "fastmag" else "H/2"
    rw = r.replace("H", "W")
    texture, shape = ["N", ch, "H/4", "W/4"], ["N", ch, r, rw]
    frame = ["N", 3, "H", "W"]
    dec_in = [("texture", texture), ("shape", shape), ("motion", shape), ("amplification", ["N"])]
    if base == "fastmag":
        dec_in = [("frame", frame)] + dec_in
    sha = weights_sha256(model)
    enc_meta = _split_meta(whole_meta, "encoder", {"inputs": _io([("frame", frame)]),
                                                       "outputs": _io([("texture", texture), ("shape", shape)])}, sha)
    dec_meta = _split_meta(whole_meta, "decoder", {"inputs": _io(dec_in),
                                                       "outputs": _io([("magnified", frame)])}, sha)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    with torch.no_grad():
        t, s = enc(x)
    feeds = {"frame": x, "texture": t, "shape": s, "motion": s * 0.01, "amplification": torch.tensor([10.0])}
    sym = {"frame": FRAME, "texture": {0: "N", 2: "H/4", 3: "W/4"}, "shape": {0: "N", 2: r, 3: rw},
           "motion": {0: "N", 2: r, 3: rw}, "amplification": {0: "N"}, "magnified": FRAME}
    dec_names = [n for n, _ in dec_in]
    files = {}
    for part, module, ins, outs, meta in (("encoder", enc, ["frame"], ["texture", "shape"], enc_meta),
                                          ("decoder", dec, dec_names, ["magnified"], dec_meta)):
        name = f"{prefix}_{part}"
        onnx_path = export_onnx(module, tuple(feeds[n] for n in ins), tmp / f"{name}.onnx", ins, outs,
                                {k: sym[k] for k in ins + outs}, meta)
        _parity(module, onnx_path, ins)
        arch = {"encoder": "magnifier_encoder", "decoder": "fast_magnifier_decoder" if base == "fastmag"
                else "magnifier_decoder"}[part]
        files[f"{name}.onnx"] = onnx_path
        files[f"{name}.pt"] = save_checkpoint(tmp / f"{name}.pt", arch, {"base": base, **kwargs},
                                              module.state_dict(), meta)
    _pair_matches_whole(model, enc, dec, base)
    return files


def _parity(module, onnx_path: Path, ins: list[str]) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for n, h, w in ((2, 64, 64), (1, 96, 128)):
        feeds = {}
        for inp in sess.get_inputs():
            if inp.name == "amplification":
                feeds[inp.name] = torch.linspace(2.0, 20.0, n)
                continue
            shape = [n if d == "N" or i == 0 else d for i, d in enumerate(inp.shape)]
            div = {"H": 1, "H/2": 2, "H/4": 4}
            shape = [shape[0], inp.shape[1], h // div[inp.shape[2]], w // div[inp.shape[2]]]
            feeds[inp.name] = torch.rand(*shape, generator=g) * 2 - 1
        with torch.no_grad():
            ref = module(*(feeds[k] for k in ins))
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = sess.run(None, {k: v.numpy() for k, v in feeds.items()})
        worst = max(worst, *(float(np.abs(r.numpy() - o).max()) for r, o in zip(ref, got)))
    if worst > PARITY_TOL:
        raise MexError(f"{onnx_path.name}: ONNX Runtime differs from PyTorch by {worst:.2e} (> {PARITY_TOL})")


@torch.no_grad()
def _pair_matches_whole(model, enc, dec, base: str) -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.rand(2, 3, 64, 96, generator=g) * 2 - 1
    b = (a + 0.05 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    amp = torch.tensor([3.0, 15.0])
    whole, _ = model.eval()(a, b, amp)
    _, sa = enc(a)
    tb, sb = enc(b)
    args = (b, tb, sb, sb - sa, amp) if base == "fastmag" else (tb, sb, sb - sa, amp)
    diff = float((dec(*args) - whole).abs().max())
    if diff > 1e-4:
        raise MexError(f"{base}: encoder + decoder differ from the whole network by {diff:.2e}")


def export_split(checkpoint: str | Path = ENGINES_DIR / "magnifier.pt", engines_dir: str | Path = ENGINES_DIR) -> dict:
    """magnifier_encoder / magnifier_decoder from a MagNet checkpoint (its weights, unchanged)."""
    model, raw = load_magnet_and_checkpoint(checkpoint)
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else \
        magnifier_meta(VERSION, "unknown (weights without metadata)", channels=model.encoder.conv2.weight.shape[0])
    with tempfile.TemporaryDirectory(prefix="split-export-") as tmp:
        files = split_files(model, "magnet", raw.get("kwargs", {}), meta, Path(tmp), "magnifier")
        publish(files, Path(engines_dir))
    return {"engines_dir": str(engines_dir), "files": sorted(files)}


def _loss_text(cfg: dict) -> str:
    loss, reg = cfg.get("loss", "mse"), cfg.get("reg_weight")
    if loss == "psnr":
        return f"mean over samples of log(mse(Y_hat, Y) + teacher_weight mse(Y_hat, teacher(A, B))); reg {reg}"
    return f"{loss}(Y_hat, Y) + teacher_weight {loss}(Y_hat, teacher(A, B)); reg {reg}"


def export_fast(checkpoint: str | Path, engines_dir: str | Path = ENGINES_DIR, metrics: str | Path | None = None) -> dict:
    """fast_magnifier (+ its encoder / decoder) from a ``distill`` run."""
    model, raw = load_fastmag(checkpoint)
    kwargs = raw.get("kwargs", {})
    extra = {}
    if "config" in raw:
        cfg = raw["config"]
        extra["training"] = {"steps": raw.get("step"), "elapsed_s": round(raw.get("elapsed_s", 0.0), 1),
                             "device": "cpu", **{k: cfg.get(k) for k in ("pool", "size", "batch", "lr",
                                                                       "teacher_weight", "seed", "minutes")},
                             "loss": _loss_text(cfg)}
        first = (raw.get("history") or [{}])[0]
        if first.get("phase") == "init":  # a continued run: say from what, and that phase's length
            extra["training"]["continued_from"] = first
    if metrics:
        extra["metrics"] = read_metrics(metrics)
    ch = model.manipulator.g.weight.shape[0]
    meta = magnifier_meta(VERSION, FAST_DATASET, channels=ch, **extra)
    meta.update(model="fast_magnifier", arch="FastMagNet (mecore.nets.fastmag): reduced encoder, H/4 motion "
                "representation, after Ha et al. 2024", parameters=sum(p.numel() for p in model.parameters()))
    meta["outputs"][1]["shape"] = ["N", ch, "H/4", "W/4"]
    with tempfile.TemporaryDirectory(prefix="fast-export-") as tmp:
        onnx_path = export_magnet_onnx(model, Path(tmp) / "fast_magnifier.onnx", meta, dynamic_shape="H/4")
        worst = _checked(model, onnx_path)
        files = {"fast_magnifier.onnx": onnx_path,
                 "fast_magnifier.pt": save_checkpoint(Path(tmp) / "fast_magnifier.pt", "fastmag", kwargs,
                                                      model.state_dict(), meta)}
        files.update(split_files(model, "fastmag", kwargs, meta, Path(tmp), "fast_magnifier"))
        publish(files, Path(engines_dir))
    return {"engines_dir": str(engines_dir), "parity_max_abs_diff": worst, "files": sorted(files)}
