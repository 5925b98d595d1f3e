"""The demo's Magnify tab: its handler on a real clip, and the tab in the built app."""

from __future__ import annotations

from pathlib import Path

from stream.app_magnify import run_magnify
from tests.stream.test_magnify import clip, read_clip  # noqa: F401 - the module-scoped clip fixture


def test_handler_magnifies_an_upload(clip):  # noqa: F811
    out, status = run_magnify(str(clip), "", 10, "evm-colour", "temporal", 30, 0.8, 2.0, False, True, 512)
    assert out is not None and Path(out).is_file(), status
    frames, _ = read_clip(Path(out))
    assert len(frames) == 12 and frames[0].shape == (64, 192, 3)  # side by side
    assert "12 frames" in status


def test_handler_reports_errors_as_status(clip):  # noqa: F811
    out, status = run_magnify(str(clip), "", 10, "magnet", "temporal", 10, 3.0, 1.0, False, False, 512)
    assert out is None and status.startswith("⚠️") and "band" in status
    assert run_magnify(None, "", 10, "magnet", "static", 10, 0.5, 3.0, False, False, 512)[0] is None


def test_tab_is_in_the_demo(tmp_path):
    from stream.app import App

    demo = App().build()
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"magnify-in", "magnify-run", "magnify-status"} <= ids
