"""Atomic outputs: a file appears whole under its name or not at all, with a normal file's mode."""

from __future__ import annotations

import json
import os

import pytest

from mecore import atomic
from mecore.errors import MexError


def test_written_whole_or_not_at_all(tmp_path):
    out = tmp_path / "sub" / "r.json"
    with atomic.atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.suffix == ".json" and not out.exists()
        tmp.write_text("x")
    assert out.read_text() == "x"
    assert out.stat().st_mode & 0o777 == atomic.new_file_mode()  # not mkstemp's 0600
    with pytest.raises(RuntimeError), atomic.atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert out.read_text() == "x" and sorted(p.name for p in out.parent.iterdir()) == ["r.json"]


def test_new_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert atomic.new_file_mode() == 0o640
        atomic.write_json(tmp_path / "a.json", {"p": tmp_path})
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    assert json.loads((tmp_path / "a.json").read_text()) == {"p": str(tmp_path)}


def test_an_output_never_overwrites_an_input(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"v")
    os.symlink(src, tmp_path / "link.mp4")
    with pytest.raises(MexError, match="would overwrite the input"):
        atomic.refuse_overwrite(tmp_path / "link.mp4", src)
    atomic.refuse_overwrite(tmp_path / "out.mp4", src, None)  # another path: fine


def test_outputs_are_checked_before_any_work(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"v")
    with pytest.raises(MexError, match="would overwrite the input"):
        atomic.check_outputs(tmp_path / "out.mp4", src, inputs=(src,))
    with pytest.raises(MexError, match=r"a\.mp4: the same file for two outputs"):
        atomic.check_outputs(tmp_path / "a.mp4", tmp_path / "sub" / ".." / "a.mp4")
    (tmp_path / "file").write_text("x")
    with pytest.raises(MexError, match=r"file/o\.mp4: cannot write there \(.*file is not a folder\)"):
        atomic.check_outputs(tmp_path / "file" / "o.mp4")
    atomic.check_outputs(tmp_path / "new" / "o.mp4", None, tmp_path / "o.jsonl", inputs=(src, None))
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())  # the probe file is gone
