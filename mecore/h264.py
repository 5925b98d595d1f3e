"""libx264 options that make an encode depend on its frames alone.

With x264's AVX-512 kernels (PyAV 18's libx264, core 165, on an AVX-512 Xeon) the same frames encoded
twice gave different bytes in the first keyframe interval only, before the encoder reuses its buffers,
as if a kernel read memory never written: 4 files in 5 runs of 100 frames of a 1080x720 clip, while
``asm=0`` or ``asm=AVX2`` gave one. So on a CPU with AVX-512 the encoder is held to AVX2 (which such a
CPU always has). Elsewhere nothing changes: naming flags the CPU lacks would make x264 run instructions
it cannot."""

from __future__ import annotations


def _has_avx512() -> bool:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return False
    return bool(features.get("AVX512F"))


def x264_options(crf: int, preset: str) -> dict[str, str]:
    """PyAV ``stream.options`` for a reproducible libx264 encode at ``crf`` and ``preset``."""
    options = {"crf": str(crf), "preset": preset}
    if _has_avx512():
        options["x264-params"] = "asm=AVX2"
    return options
