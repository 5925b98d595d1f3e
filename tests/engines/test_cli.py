"""``python -m engines info`` and ``build`` as a user runs them (subprocess)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engines", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_info_lists_artifacts_and_backends(published):
    res = _cli("--dir", str(published), "info")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for name in ("magnifier.onnx", "magnifier.pt", "classifier.onnx", "classifier.pt"):
        assert name in out
    assert "labels=negative,positive,surprise" in out and '"default": 10.0' in out
    assert "onnxruntime-cpu       yes" in out and "tensorrt" in out
    assert "Traceback" not in res.stderr


def test_info_flags_a_damaged_artifact(engines_copy):
    (engines_copy / "classifier.onnx").write_bytes(b"garbage")
    res = _cli("--dir", str(engines_copy), "info")
    assert res.returncode == 1
    assert "BAD:" in res.stdout and "classifier.onnx" in res.stdout


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_build_without_tensorrt_says_so_and_changes_nothing(engines_copy):
    before = sorted(p.name for p in engines_copy.rglob("*"))
    res = _cli("--dir", str(engines_copy), "build")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: cannot build TensorRT engines")
    assert sorted(p.name for p in engines_copy.rglob("*")) == before


def test_bad_manifest_is_one_line(tmp_path):
    (tmp_path / "manifest.json").write_text("[]")
    res = _cli("--dir", str(tmp_path), "info")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "manifest" in res.stderr
