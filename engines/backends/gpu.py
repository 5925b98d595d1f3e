"""CUDA presence, asked through torch (the one GPU runtime every GPU backend here already needs)."""

from __future__ import annotations


def no_cuda() -> str | None:
    """Why there is no usable CUDA GPU, or None when there is one."""
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
