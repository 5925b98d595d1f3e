"""CUDA presence, asked through torch (the one GPU runtime every GPU backend here already needs)."""

from __future__ import annotations

from pathlib import Path

# Where an NVIDIA driver shows itself: Linux (also inside GPU containers), WSL2, Jetson
DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/nvhost-ctrl-gpu")


def no_cuda() -> str | None:
    """Why there is no usable CUDA GPU, or None when there is one. Without any sign of an NVIDIA driver
    it answers before importing torch, which costs a CPU-only process most of a second at start-up
    (each stream, batch task and Ray worker asks while choosing the ``auto`` backend)."""
    if not any(Path(p).exists() for p in DRIVER_PATHS):
        return "no NVIDIA driver on this machine (none of " + ", ".join(DRIVER_PATHS) + ")"
    try:
        import torch
    except ImportError:
        return "torch not installed (needed for CUDA memory)"
    if not torch.cuda.is_available():
        return f"no CUDA GPU (torch {torch.__version__}: torch.cuda.is_available() is False)"
    return None


def describe(device_id: int = 0) -> dict:
    """GPU name and compute capability, for cache keys and reports."""
    import torch

    major, minor = torch.cuda.get_device_capability(device_id)
    return {"gpu": torch.cuda.get_device_name(device_id), "sm": f"{major}.{minor}"}
