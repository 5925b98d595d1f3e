"""Artifacts that describe themselves: ONNX metadata, checkpoint metadata, the manifest and SHA-256 checks.

Every check here raises ``MexError`` with one line that names the file and what is wrong, so a
truncated download, a corrupt copy or an artifact swapped for another never reaches a backend.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mecore.errors import MexError
from mecore.provenance import code_version, sha256_bytes, sha256_file  # noqa: F401 - re-exported

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
KINDS = {".onnx": "onnx", ".pt": "torch", ".plan": "plan"}
# Keys every artifact must carry; some models need more (see MODEL_KEYS).
REQUIRED_KEYS = ("model", "version", "inputs", "outputs", "normalisation", "code_version", "created")
MODEL_KEYS = {"classifier": ("labels",), "magnifier": ("amplification",), "motion": ("amplification",)}


class NotListed(MexError):
    """The manifest lists no artifact of that name and kind."""


def kind_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in KINDS:
        raise MexError(f"{path}: unknown artifact type {suffix!r}; expected one of {', '.join(KINDS)}")
    return KINDS[suffix]


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --- metadata -------------------------------------------------------------------------------------

def encode_meta(meta: dict) -> dict[str, str]:
    """ONNX metadata_props values are strings: store each value JSON-encoded."""
    return {str(k): json.dumps(v, sort_keys=True) for k, v in meta.items()}


def decode_meta(props: dict[str, str]) -> dict:
    out = {}
    for k, v in props.items():
        try:
            out[k] = json.loads(v)
        except (TypeError, ValueError):
            out[k] = v  # written by another tool: keep the raw text rather than refuse the file
    return out


def check_meta(meta: dict, where: str | Path, graph_inputs=None, graph_outputs=None) -> dict:
    """Raise MexError unless ``meta`` has the required keys and names the same inputs/outputs as the graph."""
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    missing += [k for k in MODEL_KEYS.get(meta.get("model"), ()) if k not in meta]
    if missing:
        raise MexError(f"{where}: metadata is missing {', '.join(missing)}")
    for key in ("inputs", "outputs"):
        specs = meta[key]
        if not isinstance(specs, list) or not all(isinstance(s, dict) and "name" in s for s in specs):
            raise MexError(f"{where}: metadata {key!r} must be a list of {{name, shape, dtype}}")
    for key, graph in (("inputs", graph_inputs), ("outputs", graph_outputs)):
        if graph is None:
            continue
        declared = [s["name"] for s in meta[key]]
        if sorted(declared) != sorted(graph):
            raise MexError(f"{where}: metadata {key} {declared} differ from the model's {key} {list(graph)}")
    return meta


def _dim(d) -> int | str:
    if d.HasField("dim_value"):
        return int(d.dim_value)
    return d.dim_param or "?"


def io_specs(values) -> list[dict]:
    """[{name, shape, dtype}] of ONNX ValueInfos, symbolic dims as strings."""
    from onnx import helper

    specs = []
    for v in values:
        t = v.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type).name if t.elem_type else "unknown"
        specs.append({"name": v.name, "shape": [_dim(d) for d in t.shape.dim], "dtype": dtype})
    return specs


def graph_io(model) -> tuple[list[str], list[str]]:
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits], [o.name for o in model.graph.output]


def parse_onnx(data: bytes, where: str | Path):
    """Parse ONNX bytes; MexError when they are not a whole ONNX model."""
    import onnx
    from google.protobuf.message import DecodeError

    if not data:
        raise MexError(f"{where}: file is empty")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise MexError(f"{where}: not a valid ONNX model (truncated or corrupt): {e}") from None
    if not model.graph.node or not model.graph.output:
        raise MexError(f"{where}: not a valid ONNX model (truncated or corrupt): empty graph")
    return model


def onnx_meta(data: bytes, where: str | Path) -> dict:
    """Checked metadata of ONNX bytes."""
    model = parse_onnx(data, where)
    meta = decode_meta({p.key: p.value for p in model.metadata_props})
    ins, outs = graph_io(model)
    return check_meta(meta, where, ins, outs)


def load_checkpoint(data: bytes, where: str | Path) -> dict:
    """Checked ``{"arch", "kwargs", "state_dict", "meta"}`` of a .pt file's bytes (CPU tensors)."""
    import torch

    if not data:
        raise MexError(f"{where}: file is empty")
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MexError(f"{where}: not a valid PyTorch checkpoint (truncated or corrupt): {first}") from None
    missing = [k for k in ("arch", "kwargs", "state_dict", "meta") if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise MexError(f"{where}: checkpoint is missing {', '.join(missing)}")
    check_meta(ckpt["meta"], where)
    return ckpt


# --- manifest -------------------------------------------------------------------------------------

def read_manifest(engines_dir: str | Path) -> dict:
    path = Path(engines_dir) / MANIFEST
    if not path.exists():
        return {"format": MANIFEST_FORMAT, "artifacts": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MexError(f"{path}: unreadable manifest: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), dict):
        raise MexError(f"{path}: manifest has no 'artifacts' table")
    return manifest


def write_manifest(engines_dir: str | Path, manifest: dict) -> None:
    from mecore.atomic import write_json

    manifest["format"] = MANIFEST_FORMAT
    manifest["updated"] = utc_now()
    write_json(Path(engines_dir) / MANIFEST, manifest)


def manifest_entry(path: Path, data: bytes, meta: dict) -> dict:
    return {"model": meta.get("model", path.stem), "kind": kind_of(path), "sha256": sha256_bytes(data),
            "size": len(data), "meta": meta}


# --- resolving a name or a path to checked bytes ----------------------------------------------------

@dataclass
class Artifact:
    """A verified artifact: its bytes, metadata and (when published) its manifest entry."""

    path: Path
    kind: str
    data: bytes = field(repr=False)
    meta: dict
    entry: dict | None = None  # manifest entry, None for a loose file
    checkpoint: Path | None = None  # a .pt twin for the PyTorch backend, when there is one

    @property
    def model(self) -> str:
        return self.meta.get("model", self.path.stem)

    @property
    def sha256(self) -> str:
        """The manifest's digest (checked on load); a loose file's from the bytes already read."""
        return self.entry["sha256"] if self.entry and self.entry.get("sha256") else sha256_bytes(self.data)

    def describe(self) -> dict:
        """What an output records of this artifact to be repeated: model, file, version, SHA-256."""
        return {"model": self.model, "file": self.path.name, "version": self.meta.get("version"),
                "sha256": self.sha256}


def verify(path: Path, entry: dict | None) -> tuple[bytes, dict]:
    """Read ``path`` once, check size and SHA-256 against ``entry``, then the metadata."""
    if not path.is_file():
        raise MexError(f"{path}: artifact not found")
    data = path.read_bytes()
    if entry is not None:
        if "size" in entry and len(data) != entry["size"]:
            raise MexError(f"{path}: size {len(data)} bytes but the manifest says {entry['size']} "
                           "(truncated or replaced); publish it again")
        digest = sha256_bytes(data)
        if digest != entry.get("sha256"):
            raise MexError(f"{path}: SHA-256 {digest[:12]}… does not match the manifest's "
                           f"{str(entry.get('sha256'))[:12]}… (corrupt or replaced); publish it again")
    kind = kind_of(path)
    if kind == "onnx":
        meta = onnx_meta(data, path)
    elif kind == "torch":
        meta = load_checkpoint(data, path)["meta"]
    else:
        from engines.plan import unpack

        meta = check_meta(unpack(data, path)[0]["meta"], path)
    if entry is not None and entry.get("model") not in (None, meta.get("model")):
        raise MexError(f"{path}: metadata says model {meta.get('model')!r} but the manifest lists "
                       f"{entry.get('model')!r}")
    return data, meta


def _find(manifest: dict, name: str, kinds: str | tuple[str, ...]) -> str | None:
    """File name listed for ``name`` (a file name, or a model name with the first of ``kinds`` found)."""
    if name in manifest["artifacts"]:
        return name
    for kind in (kinds,) if isinstance(kinds, str) else kinds:
        hits = [f for f, e in manifest["artifacts"].items() if e.get("model") == name and e.get("kind") == kind]
        if hits:
            return sorted(hits)[0]
    return None


def resolve(name_or_path: str | Path, kind: str | tuple[str, ...] = "onnx",
            engines_dir: str | Path | None = None) -> Artifact:
    """Find and verify an artifact: a manifest name ("magnifier"), a manifest file name or a path.

    ``kind`` picks which file of a model a name means ("onnx" for ONNX Runtime and TensorRT,
    "torch" for the PyTorch backend; a tuple: the first kind listed). A path is checked against the manifest beside it when listed.
    """
    from engines import ENGINES_DIR

    engines_dir = Path(engines_dir) if engines_dir is not None else ENGINES_DIR
    text = str(name_or_path)
    as_path = Path(text)
    manifest = None
    if as_path.exists() or as_path.suffix.lower() in KINDS or "/" in text or "\\" in text:
        path = as_path
        if not path.exists() and not path.is_absolute() and (engines_dir / text).exists():
            path = engines_dir / text
        if (path.parent / MANIFEST).exists():
            manifest = read_manifest(path.parent)
        entry = manifest["artifacts"].get(path.name) if manifest else None
    else:
        manifest = read_manifest(engines_dir)
        fname = _find(manifest, text, kind)
        if fname is None:
            known = sorted({e.get("model", f) for f, e in manifest["artifacts"].items()})
            kinds = kind if isinstance(kind, str) else "/".join(kind)
            raise NotListed(f"{engines_dir / MANIFEST}: no {kinds} artifact named {text!r}; "
                           f"listed: {', '.join(known) or 'none (train and export first)'}")
        path, entry = engines_dir / fname, manifest["artifacts"][fname]
    data, meta = verify(path, entry)
    art = Artifact(path=path, kind=kind_of(path), data=data, meta=meta, entry=entry)
    art.checkpoint = twin(art, manifest, "torch")
    return art


def twin(art: Artifact, manifest: dict | None, kind: str) -> Path | None:
    """The same model's file of another kind: from the manifest, else the same stem beside it."""
    if art.kind == kind:
        return art.path
    if manifest:
        fname = _find(manifest, art.model, kind)
        if fname and (art.path.parent / fname).exists():
            return art.path.parent / fname
    suffix = next(s for s, k in KINDS.items() if k == kind)
    cand = art.path.with_suffix(suffix)
    return cand if cand.exists() else None


def entry_for(path: Path) -> dict | None:
    """The manifest entry of ``path`` in the manifest beside it, if any."""
    if not (path.parent / MANIFEST).exists():
        return None
    return read_manifest(path.parent)["artifacts"].get(path.name)
