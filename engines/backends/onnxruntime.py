"""ONNX Runtime backend: CPU everywhere; the CUDA and TensorRT execution providers where installed (IO binding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.artifacts import Artifact
from engines.engine import Engine
from mecore.errors import MexError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}


def unavailable(device: str) -> str | None:
    import onnxruntime as ort

    have = ort.get_available_providers()
    if PROVIDERS[device] not in have:
        return f"{PROVIDERS[device]} not in this onnxruntime's providers ({', '.join(have)})"
    if device != "cpu":
        from engines.backends.gpu import no_cuda

        return no_cuda()
    return None


def _providers(device: str, device_id: int, fp16: bool, cache: Path) -> list:
    cuda = ("CUDAExecutionProvider", {"device_id": device_id})
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        return [cuda, "CPUExecutionProvider"]
    cache.mkdir(parents=True, exist_ok=True)
    trt = {"device_id": device_id, "trt_fp16_enable": fp16, "trt_engine_cache_enable": True,
           "trt_engine_cache_path": str(cache), "trt_timing_cache_enable": True}
    return [("TensorrtExecutionProvider", trt), cuda, "CPUExecutionProvider"]


class OrtEngine(Engine):
    def __init__(self, artifact: Artifact, device: str = "cpu", threads: int | None = None,
                 device_id: int = 0, fp16: bool = True, **_):
        import onnxruntime as ort

        super().__init__(artifact, f"onnxruntime-{device}")
        self._ort, self.device, self.device_id = ort, device, device_id
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # provider fallbacks are reported by us, not as stderr noise
        if threads:
            so.intra_op_num_threads = int(threads)
        cache = artifact.path.parent / "trt" / "ort"
        try:
            self.session = ort.InferenceSession(artifact.data, sess_options=so,
                                                providers=_providers(device, device_id, fp16, cache))
        except Exception as e:  # onnxruntime raises its own exception types per failure
            raise MexError(f"{artifact.path}: ONNX Runtime cannot load it: {str(e).splitlines()[0]}") from None
        # ORT silently falls back to CPU when a GPU provider fails to initialise: treat that as a failure.
        if self.session.get_providers()[0] != PROVIDERS[device]:
            raise MexError(f"{artifact.path}: {PROVIDERS[device]} did not initialise "
                           f"(session uses {self.session.get_providers()})")
        names = [o.name for o in self.session.get_outputs()]
        if sorted(names) != sorted(self.output_names):
            raise MexError(f"{artifact.path}: outputs {names} differ from its metadata {self.output_names}")

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.device == "cpu":
            return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))
        # IO binding: inputs copied to the GPU once, outputs left there until the single copy back.
        binding = self.session.io_binding()
        for name, arr in feeds.items():
            binding.bind_ortvalue_input(name, self._ort.OrtValue.ortvalue_from_numpy(arr, "cuda", self.device_id))
        for name in self.output_names:
            binding.bind_output(name, "cuda", self.device_id)
        self.session.run_with_iobinding(binding)
        return dict(zip(self.output_names, binding.copy_outputs_to_cpu()))


def load(artifact: Artifact, device: str = "cpu", **opts) -> OrtEngine:
    return OrtEngine(artifact, device, **opts)
