"""How an output was made: file digests, the code version and the machine, for every run's records."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.cache
def code_version() -> str:
    """``git describe`` of the working tree when there is one, else the package version."""
    repo = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=repo,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from mecore import __version__

    return __version__


def machine() -> dict:
    """What the figures of a run depend on: host, CPU, cores, OS and Python."""
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "os": platform.platform(terse=True), "python": sys.version.split()[0]}


def stamp(config: dict, artifacts: list[dict]) -> dict:
    """The provenance block of an output: config, artifacts (name, file, version, sha256), code, machine."""
    return {"config": config, "artifacts": artifacts, "code_version": code_version(), "machine": machine()}
