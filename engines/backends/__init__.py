"""Backend dispatch: a dict from backend name to its module and device; ``auto`` tries them in order.

Each backend module exposes ``unavailable(device) -> str | None`` (why it cannot run here) and
``load(artifact, device, **opts) -> Engine``; it imports its runtime only inside those functions.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from engines.artifacts import Artifact, entry_for, resolve, verify
from engines.engine import Engine
from mecore.errors import MexError

log = logging.getLogger("engines")

# name -> (module, device, artifact kind it loads)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "tensorrt": ("engines.backends.tensorrt", "cuda", "onnx"),
    "onnxruntime-tensorrt": ("engines.backends.onnxruntime", "tensorrt", "onnx"),
    "onnxruntime-cuda": ("engines.backends.onnxruntime", "cuda", "onnx"),
    "onnxruntime-cpu": ("engines.backends.onnxruntime", "cpu", "onnx"),
    "torch-cuda": ("engines.backends.torch", "cuda", "torch"),
    "torch-cpu": ("engines.backends.torch", "cpu", "torch"),
}
# What a short name means, best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "auto": ("tensorrt", "onnxruntime-cuda", "torch-cuda", "onnxruntime-cpu", "torch-cpu"),  # last: no .onnx
    "onnxruntime": ("onnxruntime-cuda", "onnxruntime-cpu"),
    "torch": ("torch-cuda", "torch-cpu"),
}


def _module(name: str):
    return importlib.import_module(BACKENDS[name][0])


def unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run on this machine, or None when it can."""
    try:
        return _module(name).unavailable(BACKENDS[name][1])
    except ImportError as e:  # the backend's runtime is not installed
        return f"{e.name or e} not installed"


def available() -> dict[str, str | None]:
    """Every backend -> None when usable here, else the reason it is not."""
    return {name: unavailable(name) for name in BACKENDS}


def _artifact_for(art: Artifact, kind: str) -> Artifact:
    if art.kind == kind or (kind == "onnx" and art.kind == "plan"):
        return art
    other = art.checkpoint if kind == "torch" else None
    if other is None and kind == "onnx" and art.path.with_suffix(".onnx").exists():
        other = art.path.with_suffix(".onnx")
    if other is None:
        raise MexError(f"{art.path}: no {kind} artifact of model {art.model!r} beside it")
    data, meta = verify(other, entry_for(other))
    return Artifact(path=other, kind=kind, data=data, meta=meta, entry=entry_for(other), checkpoint=art.checkpoint)


def load(name_or_path: str | Path, backend: str = "auto", **opts) -> Engine:
    """Resolve and verify the artifact, then load it with ``backend`` (or the first that works)."""
    if backend not in BACKENDS and backend not in ALIASES:
        raise MexError(f"unknown backend {backend!r}; choose from {', '.join([*ALIASES, *BACKENDS])}")
    candidates = ALIASES.get(backend, (backend,))
    # auto also accepts a model published only as a checkpoint
    kinds = ("onnx", "torch") if backend == "auto" else BACKENDS[candidates[-1]][2]
    art = resolve(name_or_path, kinds, opts.pop("engines_dir", None))
    skipped: list[str] = []
    for name in candidates:
        reason = unavailable(name)
        if reason is None:
            try:
                engine = _module(name).load(_artifact_for(art, BACKENDS[name][2]), BACKENDS[name][1], **opts)
            except MexError as e:
                if len(candidates) == 1:
                    raise
                reason = f"failed to load: {e}"
            else:
                engine.why = "; ".join([*skipped, f"picked {name}"])
                log.info("%s: %s", art.path.name, engine.why)
                return engine
        skipped.append(f"{name}: {reason}")
        if len(candidates) == 1:
            raise MexError(f"{art.path}: backend {name} unavailable: {reason}")
    raise MexError(f"{art.path}: no backend could load it ({'; '.join(skipped)})")
