"""Shared fixtures: the real face model and the real face video from the shared assets folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEX_SHARED", REPO.parent / "shared"))
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and other files kept for a person to look at


@pytest.fixture(scope="session")
def face_model() -> Path:
    from mecore.face import model_file

    return model_file.resolve()


def _shared_file(env: str, default: str, what: str) -> Path:
    """A shared asset (never committed): $env, else ``default`` under the shared folder; skip when absent."""
    path = Path(os.environ.get(env, SHARED / default))
    if not path.is_file():
        pytest.skip(f"{path}: {what} not present (set {env})")
    return path


@pytest.fixture(scope="session")
def face_video() -> Path:
    return _shared_file("MEX_FACE_VIDEO", "media/face.mp4", "real face video")


@pytest.fixture(scope="session")
def magnet_reference() -> Path:
    return _shared_file("MEX_MAGNET_REFERENCE", "models/magnet_reference.pth", "reference MagNet weights")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def torch_one_thread():
    """Pin torch to one thread for a module of tiny-tensor tests (faster, no OpenMP stalls when busy)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray (2 CPUs) for the whole session; skipped with the reason when Ray is missing or cannot start."""
    ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'microexpr[ray]')")
    # Ray starts workers at niceness 15; on a busy machine (CI runners, shared boxes) that starves them
    os.environ.setdefault("RAY_worker_niceness", "0")
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    except Exception as exc:  # noqa: BLE001 - any start-up failure is a reason to skip, printed
        pytest.skip(f"Ray cannot start here: {type(exc).__name__}: {exc}")
    yield ray
    ray.shutdown()


def write_turned_mp4(path: Path, upright: list, fps: float, angle: int) -> Path:
    """An mp4 as a phone records it: each upright RGB frame stored turned, and the track's display matrix
    (FFmpeg's display rotation ``angle``, degrees counter-clockwise: -90 for an iPhone's portrait video)
    saying how to turn it back. Real libx264 encode; the matrix is written into the track header in place."""
    import math
    import struct

    import numpy as np

    from train.synth.long_clips import write_mp4

    write_mp4(path, (np.ascontiguousarray(np.rot90(f, -(angle // 90))) for f in upright), fps, 18)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    matrix = at + 8 + (32 if data[at + 4] == 1 else 20) + 16  # after version, flags, times, ids, layer, volume
    cos, sin = round(math.cos(math.radians(angle))), round(math.sin(math.radians(angle)))
    struct.pack_into(">9i", data, matrix, cos << 16, -sin << 16, 0, sin << 16, cos << 16, 0, 0, 0, 1 << 30)
    path.write_bytes(data)
    return path


@pytest.fixture
def turned_mp4():
    return write_turned_mp4
