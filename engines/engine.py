"""The one inference interface every backend implements: ``engine(**arrays) -> {output: array}``."""

from __future__ import annotations

import threading

import numpy as np

from engines.artifacts import Artifact
from mecore.errors import MexError


class Engine:
    """A loaded model. Subclasses implement ``run(feeds)`` on checked, contiguous arrays."""

    def __init__(self, artifact: Artifact, name: str):
        self.path = artifact.path
        self.meta: dict = artifact.meta
        self.artifact: dict = artifact.describe()  # model, file, version, SHA-256: what a run's outputs record
        self.name = name  # backend, e.g. "onnxruntime-cpu"
        self.why = ""  # set by the dispatcher: why this backend was picked
        self.input_names = [s["name"] for s in self.meta["inputs"]]
        self.output_names = [s["name"] for s in self.meta["outputs"]]
        self._specs = {s["name"]: s for s in self.meta["inputs"]}
        # CUDA graphs and TensorRT contexts hold per-call buffers: one call at a time per engine
        self._lock = threading.Lock()

    def __call__(self, **arrays) -> dict[str, np.ndarray]:
        feeds = self.check(arrays)
        with self._lock:
            return self.run(feeds)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def check(self, arrays: dict) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in arrays]
        extra = [n for n in arrays if n not in self._specs]
        if missing or extra:
            raise MexError(f"{self.path}: inputs missing {missing or '[]'}, unexpected {extra or '[]'}; "
                           f"expects {self.input_names}")
        feeds = {}
        for name in self.input_names:
            spec = self._specs[name]
            arr = np.ascontiguousarray(arrays[name], dtype=np.dtype(spec.get("dtype", "float32")))
            shape = spec.get("shape")
            if shape is not None and (arr.ndim != len(shape) or any(
                    isinstance(d, int) and d != s for d, s in zip(shape, arr.shape))):
                raise MexError(f"{self.path}: input {name!r} has shape {list(arr.shape)}, expects {shape}")
            feeds[name] = arr
        return feeds

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<Engine {self.meta.get('model')} v{self.meta.get('version')} on {self.name} from {self.path}>"
