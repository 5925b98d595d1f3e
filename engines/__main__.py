"""``python -m engines info`` (artifacts, metadata, backends here) and ``python -m engines build`` (ONNX -> TensorRT)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engines import ENGINES_DIR
from engines.artifacts import MANIFEST, read_manifest, verify
from mecore.errors import MexError, run_cli


def _table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def _io(specs: list[dict]) -> str:
    return ", ".join(f"{s['name']}{list(s.get('shape', []))}" for s in specs)


def _extra(meta: dict) -> str:
    parts = [f"norm={meta.get('normalisation')}"]
    if "labels" in meta:
        parts.append(f"labels={','.join(map(str, meta['labels']))}")
    if "amplification" in meta:
        parts.append(f"amp={json.dumps(meta['amplification'], sort_keys=True)}")
    for key in ("dataset", "metrics"):
        if key in meta:
            parts.append(f"{key}={json.dumps(meta[key], sort_keys=True)[:60]}")
    parts.append(f"code={meta.get('code_version')} created={meta.get('created')}")
    return " ".join(parts)


def info(engines_dir: Path) -> int:
    from engines.backends import BACKENDS, unavailable

    manifest = read_manifest(engines_dir)
    print(f"artifacts in {engines_dir / MANIFEST}:")
    rows, details = [], []
    for fname, entry in sorted(manifest["artifacts"].items()):
        try:
            _, meta = verify(engines_dir / fname, entry)
            status = "ok"
        except MexError as e:
            meta, status = entry.get("meta", {}), f"BAD: {e}"
        rows.append([fname, meta.get("model", "?"), meta.get("version", "?"), entry.get("kind"),
                     f"{entry.get('size', 0) / 1e6:.2f} MB", str(entry.get("sha256", ""))[:12], status])
        details.append(f"  {fname}: in {_io(meta.get('inputs', []))} -> out {_io(meta.get('outputs', []))}; "
                       f"{_extra(meta)}")
    if rows:
        print(_table(rows, ["file", "model", "version", "kind", "size", "sha256", "status"]))
        print("\n".join(details))
    else:
        print("  (none: train and export first, e.g. python -m train.loso)")
    plans = sorted((engines_dir / "trt").glob("*.plan")) if (engines_dir / "trt").is_dir() else []
    print(f"\nTensorRT plan cache {engines_dir / 'trt'}: {len(plans)} plan(s)")
    for p in plans:
        print(f"  {p.name}  {p.stat().st_size / 1e6:.2f} MB")
    print("\nbackends on this machine (auto order: tensorrt > onnxruntime-cuda > torch-cuda > onnxruntime-cpu > torch-cpu):")
    print(_table([[name, "yes" if (why := unavailable(name)) is None else f"no: {why}"] for name in BACKENDS],
                 ["backend", "available"]))
    return 0 if all(r[-1] == "ok" for r in rows) else 1


def build(engines_dir: Path, fp16: bool, max_batch: int, image_size: int | None, rebuild: bool) -> int:
    from engines.backends import unavailable

    why = unavailable("tensorrt")
    if why:
        print(f"error: cannot build TensorRT engines on this machine: {why}; nothing changed", file=sys.stderr)
        return 2
    from engines.artifacts import Artifact
    from engines.backends.tensorrt import plan_for

    manifest = read_manifest(engines_dir)
    onnx = {f: e for f, e in sorted(manifest["artifacts"].items()) if e.get("kind") == "onnx"}
    if not onnx:
        print(f"error: {engines_dir / MANIFEST} lists no ONNX artifact; nothing to build", file=sys.stderr)
        return 2
    for fname, entry in onnx.items():
        path = engines_dir / fname
        data, meta = verify(path, entry)
        art = Artifact(path=path, kind="onnx", data=data, meta=meta, entry=entry)
        plan, built = plan_for(art, fp16, max_batch, image_size, rebuild=rebuild)
        print(f"{fname} -> {plan} ({'built' if built else 'cached'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engines", description=__doc__)
    ap.add_argument("--dir", type=Path, default=ENGINES_DIR, help="engines folder (default: %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="artifacts, their metadata and the backends available here")
    b = sub.add_parser("build", help="build TensorRT plans for every ONNX model in the manifest")
    b.add_argument("--fp32", action="store_true", help="do not allow fp16 kernels")
    b.add_argument("--max-batch", type=int, default=8)
    b.add_argument("--image-size", type=int, default=None, help="opt image side (default: metadata or 256)")
    b.add_argument("--rebuild", action="store_true", help="ignore cached plans")
    args = ap.parse_args(argv)
    if args.cmd == "info":
        return run_cli(lambda: info(args.dir))
    return run_cli(lambda: build(args.dir, not args.fp32, args.max_batch, args.image_size, args.rebuild))


if __name__ == "__main__":
    sys.exit(main())
