"""Where the MediaPipe face model lives, and how set-up fetches it (the project's one download)."""

from __future__ import annotations

import functools
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from mecore.errors import MexError
from mecore.provenance import sha256_file

URL = "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
ENV_VAR = "MEX_FACE_MODEL"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "assets" / "face_landmarker.task"


def resolve(path: str | os.PathLike | None = None) -> Path:
    """The model path to load: an explicit path, else the installed copy, else ``$MEX_FACE_MODEL``."""
    candidates = [Path(path)] if path else [DEFAULT_PATH] + ([Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else [])
    for cand in candidates:
        if cand.is_file():
            return cand
    where = candidates[0]
    raise MexError(
        f"{where}: face model not found; run scripts/setup.sh (or set {ENV_VAR} to a local face_landmarker.task)"
    )


def describe(path: str | os.PathLike | None = None) -> dict:
    """What an output records of the face model (it is not in the engines' manifest): file and SHA-256."""
    found = resolve(path)
    return {"model": "face_landmarker", "file": found.name, "version": None, "sha256": _digest(str(found.resolve()))}


@functools.cache
def _digest(path: str) -> str:
    return sha256_file(path)  # 4 MB, once per process


def install(source: str | None = None, dest: Path = DEFAULT_PATH, timeout: float = 30.0) -> Path:
    """Copy ``source`` (a local file) or download the official URL to ``dest``, checking the SHA-256."""
    if dest.is_file() and sha256_file(dest) == SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    try:
        if source:
            if not Path(source).is_file():
                raise MexError(f"{source}: face model not found ({ENV_VAR} or --model)")
            shutil.copyfile(source, tmp)
        else:
            try:
                with urllib.request.urlopen(URL, timeout=timeout) as resp, open(tmp, "wb") as out:
                    shutil.copyfileobj(resp, out)
            except OSError as exc:
                raise MexError(
                    f"{URL}: download failed ({exc}); without network set {ENV_VAR}=/path/to/face_landmarker.task"
                ) from None
        got = sha256_file(tmp)
        if got != SHA256:
            raise MexError(f"{source or URL}: SHA-256 {got[:12]}… does not match the official {SHA256[:12]}…")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Install the MediaPipe face model (SHA-256 checked).")
    parser.add_argument("--model", default=os.environ.get(ENV_VAR), help=f"local file instead of the download (env {ENV_VAR})")
    args = parser.parse_args(argv)
    try:
        path = install(args.model)
    except MexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"face model: {path} (sha256 ok)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
