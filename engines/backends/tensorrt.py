"""TensorRT backend (10.x and 11.x Python API): ONNX -> plan with an optimisation profile, cached per
GPU / compute capability / TensorRT version / ONNX SHA-256 under ``engines/trt/``; inference with named
tensors and ``execute_async_v3`` on torch CUDA tensors (no pycuda)."""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import numpy as np

from engines import plan as planfile
from engines.artifacts import Artifact, sha256_bytes, utc_now
from engines.engine import Engine
from mecore.atomic import write_bytes
from mecore.errors import MexError

log = logging.getLogger("engines")
WORKSPACE = 2 << 30
TORCH_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT32": "int32",
                "INT64": "int64", "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}


def unavailable(device: str = "cuda") -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "tensorrt not installed (pip install microexpr[tensorrt] on a CUDA machine)"
    from engines.backends.gpu import no_cuda

    return no_cuda()


def _logger(trt):
    return trt.Logger(trt.Logger.WARNING)


def _fp16_onnx(onnx_bytes: bytes, trt) -> tuple[bytes, str]:
    """TensorRT 11 builds strongly typed networks only: fp16 needs an fp16 graph (ModelOpt AutoCast)."""
    if hasattr(trt.BuilderFlag, "FP16"):
        return onnx_bytes, "fp16"  # TensorRT 10: a builder flag lets it pick fp16 kernels itself
    if importlib.util.find_spec("modelopt") is None:
        return onnx_bytes, "fp32 (TensorRT 11 needs nvidia-modelopt for fp16)"
    import tempfile

    from modelopt.onnx.autocast import convert_to_mixed_precision

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "model.onnx"
        src.write_bytes(onnx_bytes)
        model = convert_to_mixed_precision(onnx_path=str(src), low_precision_type="fp16", keep_io_types=True)
    return model.SerializeToString(), "fp16 (ModelOpt AutoCast)"


def build(art: Artifact, fp16: bool = True, max_batch: int = 8, image_size: int | None = None,
          device_id: int = 0) -> tuple[dict, bytes]:
    """Build a serialized engine from ONNX bytes; (header, engine bytes)."""
    import tensorrt as trt
    import torch

    torch.cuda.set_device(device_id)  # the builder uses the current CUDA device
    logger = _logger(trt)
    builder = trt.Builder(logger)
    onnx_bytes, precision = _fp16_onnx(art.data, trt) if fp16 else (art.data, "fp32")
    network = builder.create_network(0)  # explicit batch is the only mode in 10.x; strong typing in 11.x
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise MexError(f"{art.path}: TensorRT cannot parse it: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE)
    if fp16 and hasattr(trt.BuilderFlag, "FP16"):
        config.set_flag(trt.BuilderFlag.FP16)
    prof = builder.create_optimization_profile()
    shapes = planfile.profile(art.meta, max_batch, image_size)
    for name, (lo, opt, hi) in shapes.items():
        prof.set_shape(name, tuple(lo), tuple(opt), tuple(hi))
    config.add_optimization_profile(prof)
    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise MexError(f"{art.path}: TensorRT build failed (see the TensorRT log above)")
    engine = bytes(serialized)
    header = {"model": art.model, "onnx_sha256": sha256_bytes(art.data), "trt_version": trt.__version__,
              **_gpu(device_id), "precision": precision, "profile": shapes, "created": utc_now(),
              "build_s": round(time.perf_counter() - t0, 1), "engine_size": len(engine), "meta": art.meta}
    return header, engine


def _gpu(device_id: int) -> dict:
    from engines.backends.gpu import describe

    return describe(device_id)


def plan_for(art: Artifact, fp16: bool = True, max_batch: int = 8, image_size: int | None = None,
             device_id: int = 0, cache_dir: str | Path | None = None, rebuild: bool = False) -> tuple[Path, bool]:
    """The cached plan of an ONNX artifact, built when missing; (path, built_now)."""
    import tensorrt as trt

    gpu = _gpu(device_id)
    onnx_sha = sha256_bytes(art.data)
    build_opts = {"fp16": fp16, "profile": planfile.profile(art.meta, max_batch, image_size)}
    key = planfile.cache_key(gpu["gpu"], gpu["sm"], trt.__version__, onnx_sha, build_opts)
    path = planfile.cache_path(cache_dir or art.path.parent / "trt", art.model, onnx_sha, key)
    if path.exists() and not rebuild:
        return path, False
    header, engine = build(art, fp16, max_batch, image_size, device_id)
    write_bytes(path, planfile.pack(header, engine))
    log.info("%s: built TensorRT plan %s in %.1f s (%s)", art.path.name, path.name, header["build_s"],
             header["precision"])
    return path, True


class TrtEngine(Engine):
    def __init__(self, artifact: Artifact, device: str = "cuda", fp16: bool = True, max_batch: int = 8,
                 image_size: int | None = None, device_id: int = 0, cache_dir: str | Path | None = None, **_):
        import tensorrt as trt
        import torch

        if artifact.kind == "onnx":
            path, _built = plan_for(artifact, fp16, max_batch, image_size, device_id, cache_dir)
            data = path.read_bytes()
        else:
            path, data = artifact.path, artifact.data
        header, engine_bytes = planfile.unpack(data, path)
        here = {"trt_version": trt.__version__, **_gpu(device_id)}
        stale = {k: (header.get(k), v) for k, v in here.items() if header.get(k) != v}
        if stale:
            raise MexError(f"{path}: plan was built for {stale}; run `python -m engines build` on this machine")
        super().__init__(artifact, f"tensorrt-{header.get('precision', 'fp32').split()[0]}")
        self.plan_path, self.header = path, header
        self._torch, self._trt = torch, trt
        self.device = torch.device(f"cuda:{device_id}")
        torch.cuda.set_device(self.device)
        self.runtime = trt.Runtime(_logger(trt))
        self.engine = self.runtime.deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise MexError(f"{path}: TensorRT cannot deserialize the plan (corrupt, or another TensorRT build)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_in = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        if sorted(n for n in names if is_in[n]) != sorted(self.input_names):
            raise MexError(f"{path}: engine inputs {[n for n in names if is_in[n]]} differ from the metadata")
        self.dtypes = {n: getattr(torch, TORCH_DTYPES[self.engine.get_tensor_dtype(n).name]) for n in names}
        self.stream = torch.cuda.Stream(self.device)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.cuda.stream(self.stream):
            keep = []  # tensors must outlive execute_async_v3 until the stream is synchronised
            for name in self.input_names:
                t = torch.from_numpy(feeds[name]).to(self.device, self.dtypes[name], non_blocking=True).contiguous()
                keep.append(t)
                if not self.context.set_input_shape(name, tuple(t.shape)):
                    raise MexError(f"{self.plan_path}: input {name!r} shape {list(t.shape)} is outside the plan's "
                                   f"profile {self.header['profile'].get(name)}")
                self.context.set_tensor_address(name, t.data_ptr())
            outs = {}
            for name in self.output_names:
                shape = tuple(self.context.get_tensor_shape(name))
                outs[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
                self.context.set_tensor_address(name, outs[name].data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise MexError(f"{self.plan_path}: TensorRT execution failed")
            result = {n: o.float().cpu() for n, o in outs.items()}  # .cpu() waits for this stream
        return {n: o.numpy() for n, o in result.items()}


def load(artifact: Artifact, device: str = "cuda", **opts) -> TrtEngine:
    return TrtEngine(artifact, device, **opts)
