"""Write artifacts (used by train/): ONNX with embedded metadata, PyTorch checkpoints, and publishing into engines/.

Every write is atomic, and ``publish`` stages all files before renaming any, then writes the
manifest last, so a reader never sees a manifest that lists a file it does not match.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from engines import ENGINES_DIR
from engines.artifacts import (
    KINDS,
    check_meta,
    code_version,
    encode_meta,
    graph_io,
    io_specs,
    kind_of,
    manifest_entry,
    read_manifest,
    utc_now,
    verify,
    write_manifest,
)
from mecore.atomic import atomic_path, new_file_mode
from mecore.errors import MexError


def _defaults(meta: dict) -> dict:
    return {"code_version": code_version(), "created": utc_now(), **meta}


def export_onnx(module, example_inputs: tuple, path: str | Path, input_names: list[str],
                output_names: list[str], dynamic_axes: dict | None, meta: dict, opset: int = 17) -> Path:
    """Export ``module`` to ONNX at ``path`` with ``meta`` embedded as JSON-encoded ``metadata_props``.

    ``inputs``/``outputs`` metadata are read from the exported graph (symbolic dims as strings)
    unless ``meta`` gives them; ``code_version`` and ``created`` are filled in when absent.
    """
    import onnx
    import torch

    path = Path(path)
    was_training = module.training
    module.eval()
    # nn.TransformerEncoderLayer's eval-time fast path is a fused op the ONNX exporter cannot write
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript-exporter deprecation and tracer notes
            torch.onnx.export(module, tuple(example_inputs), str(tmp), input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=dynamic_axes or {},
                              opset_version=opset, do_constant_folding=True, dynamo=False)
            embed_meta(onnx.load(str(tmp)), meta, tmp, where=path)
    finally:
        module.train(was_training)
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return path


def embed_meta(model, meta: dict, path: str | Path, where: str | Path | None = None) -> Path:
    """Save ONNX ``model`` at ``path`` with ``meta`` as its JSON-encoded ``metadata_props`` (replacing any).

    ``inputs``/``outputs`` are read from the graph unless ``meta`` gives them; the saved file is
    checked by ``onnx.checker``. ``where`` names the artifact in errors (default ``path``).
    """
    import onnx

    ins, outs = graph_io(model)
    inits = {i.name for i in model.graph.initializer}
    full = _defaults({"inputs": io_specs(i for i in model.graph.input if i.name not in inits),
                      "outputs": io_specs(model.graph.output), **meta})
    check_meta(full, where or path, ins, outs)
    del model.metadata_props[:]
    for k, v in encode_meta(full).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return Path(path)


def save_checkpoint(path: str | Path, arch: str, kwargs: dict, state_dict, meta: dict) -> Path:
    """Save ``{"arch", "kwargs", "state_dict", "meta"}`` so ``mecore.nets.build`` can rebuild the module.

    ``meta`` needs the same keys as the ONNX metadata (inputs/outputs name the forward arguments in order).
    """
    import torch

    path = Path(path)
    full = check_meta(_defaults(meta), path)
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        torch.save({"arch": arch, "kwargs": dict(kwargs), "state_dict": state, "meta": full}, tmp)
    return path


def _dest_name(key: str, src: Path) -> str:
    if Path(key).suffix.lower() in KINDS:
        if kind_of(key) != kind_of(src):
            raise MexError(f"{src}: cannot publish a {kind_of(src)} file as {key}")
        return key
    return key + src.suffix.lower()


def publish(files: dict[str, Path], engines_dir: Path = ENGINES_DIR) -> None:
    """Copy artifacts into ``engines_dir`` and list them in its manifest.

    ``files`` maps a model name ("magnifier") or a file name ("magnifier.pt") to a source file.
    Each source is verified (metadata) before anything is replaced.
    """
    engines_dir = Path(engines_dir)
    engines_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path, dict]] = []
    try:
        for key, src in files.items():
            src = Path(src)
            dest = engines_dir / _dest_name(key, src)
            data, meta = verify(src, None)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".staged", dir=engines_dir)
            staged.append((Path(tmp), dest, manifest_entry(dest, data, meta)))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, new_file_mode())
        for tmp, dest, _ in staged:
            os.replace(tmp, dest)
        manifest = read_manifest(engines_dir)
        for _, dest, entry in staged:
            manifest["artifacts"][dest.name] = entry
        write_manifest(engines_dir, manifest)
    finally:
        for tmp, _, _ in staged:
            if tmp.exists():
                tmp.unlink()
