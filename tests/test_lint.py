"""Ruff and the import-linter contracts (stream/ never imports train/; layers) run with the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_clean():
    res = _run(str(BIN / "ruff"), "check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_import_contracts_kept():
    res = _run(str(BIN / "lint-imports"))
    assert res.returncode == 0, res.stdout + res.stderr
