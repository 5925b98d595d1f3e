"""engines/: the contract between train/ and stream/ — self-describing artifacts, a manifest, and backends.

    engine = engines.load("magnifier")   # TensorRT > ORT CUDA > PyTorch CUDA > ORT CPU > PyTorch CPU
    out = engine(onset=a, apex=b, amplification=amp)   # dict of numpy arrays, by output name
    engine.name, engine.why, engine.meta

Heavy runtimes (torch, onnxruntime, tensorrt) are imported only when an engine is loaded.
"""

from __future__ import annotations

from pathlib import Path

ENGINES_DIR = Path(__file__).parent  # artifacts live beside the code that loads them

from engines.artifacts import Artifact, resolve  # noqa: E402
from engines.engine import Engine  # noqa: E402


def load(name_or_path: str | Path, backend: str = "auto", **opts) -> Engine:
    """Load a verified artifact with ``backend`` ("auto", "tensorrt", "onnxruntime", "torch", or a
    device-specific name such as "onnxruntime-cpu"; see ``engines.backends.BACKENDS``).

    Options: ``engines_dir`` (where names resolve), ``threads`` (ONNX Runtime intra-op threads),
    ``device_id``, ``fp16`` (GPU backends, default True), ``cuda_graphs`` (PyTorch CUDA, default True).
    """
    from engines.backends import load as load_backend

    return load_backend(name_or_path, backend, **opts)


__all__ = ["ENGINES_DIR", "Artifact", "Engine", "load", "resolve"]
