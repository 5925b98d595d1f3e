"""TensorRT plan files without TensorRT: the metadata header, the cache key and the optimisation profile.

A plan file is ``MAGIC`` + 8-byte little-endian header length + JSON header + serialized engine, so
a plan names the ONNX it came from, the GPU and TensorRT it was built for, and the model metadata.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from mecore.errors import MexError

MAGIC = b"MEXPLAN1"
_LEN = struct.Struct("<Q")
MAX_HEADER = 16 << 20  # a header is a few KB; a huge length means the file is not ours


def pack(header: dict, plan: bytes) -> bytes:
    body = json.dumps(header, sort_keys=True).encode("utf-8")
    return MAGIC + _LEN.pack(len(body)) + body + bytes(plan)


def unpack(data: bytes, where: str | Path = "plan") -> tuple[dict, bytes]:
    """(header, engine bytes) of a plan file; MexError naming ``where`` when it is not a whole one."""
    if not data.startswith(MAGIC):
        raise MexError(f"{where}: not a micro-expression TensorRT plan (bad magic; corrupt or foreign file)")
    start = len(MAGIC) + _LEN.size
    if len(data) < start:
        raise MexError(f"{where}: plan truncated inside its header")
    (n,) = _LEN.unpack_from(data, len(MAGIC))
    if n > MAX_HEADER or len(data) < start + n:
        raise MexError(f"{where}: plan truncated or corrupt (header length {n}, file {len(data)} bytes)")
    try:
        header = json.loads(data[start:start + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MexError(f"{where}: plan header is not JSON: {e}") from None
    engine = data[start + n:]
    if not isinstance(header, dict) or not isinstance(header.get("meta"), dict):
        raise MexError(f"{where}: plan header has no model metadata")
    if len(engine) == 0 or ("engine_size" in header and len(engine) != header["engine_size"]):
        raise MexError(f"{where}: plan truncated ({len(engine)} engine bytes, header says "
                       f"{header.get('engine_size')})")
    return header, engine


def cache_key(gpu: str, sm: str, trt_version: str, onnx_sha256: str, build: dict) -> str:
    """Plans are only valid for one GPU model, compute capability and TensorRT version; ``build``
    (profile, precision) is part of the key because a different profile is a different engine."""
    blob = json.dumps({"gpu": gpu, "sm": sm, "trt": trt_version, "onnx": onnx_sha256, "build": build},
                      sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def cache_path(cache_dir: str | Path, model: str, onnx_sha256: str, key: str) -> Path:
    return Path(cache_dir) / f"{model}-{onnx_sha256[:12]}-{key}.plan"


def profile(meta: dict, max_batch: int = 8, image_size: int | None = None) -> dict[str, list[list[int]]]:
    """Optimisation profile from the metadata: input name -> [min, opt, max] shapes.

    Symbolic dims at index 0 are the batch (1, 1, ``max_batch``); other symbolic dims are image
    sides (half, ``image_size``, double; ``image_size`` from the metadata or 256). A metadata key
    ``trt_profile`` ({symbol: [min, opt, max]}) overrides both.
    """
    size = int(image_size or meta.get("image_size") or 256)
    fixed = meta.get("trt_profile") or {}
    out = {}
    for spec in meta["inputs"]:
        lo, opt, hi = [], [], []
        for i, d in enumerate(spec["shape"]):
            if isinstance(d, int):
                rng = (d, d, d)
            elif d in fixed:
                rng = tuple(int(x) for x in fixed[d])
            elif i == 0:
                rng = (1, 1, max_batch)
            else:
                rng = (max(1, size // 2), size, size * 2)
            lo.append(rng[0])
            opt.append(rng[1])
            hi.append(rng[2])
        out[spec["name"]] = [lo, opt, hi]
    return out
