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


@pytest.fixture(scope="session")
def face_video() -> Path:
    path = Path(os.environ.get("MEX_FACE_VIDEO", SHARED / "media" / "face.mp4"))
    if not path.is_file():
        pytest.skip(f"{path}: real face video not present (set MEX_FACE_VIDEO)")
    return path


@pytest.fixture(scope="session")
def magnet_reference() -> Path:
    path = Path(os.environ.get("MEX_MAGNET_REFERENCE", SHARED / "models" / "magnet_reference.pth"))
    if not path.is_file():
        pytest.skip(f"{path}: reference MagNet weights not present (set MEX_MAGNET_REFERENCE)")
    return path


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
