"""StreamConfig is the CLIs' options: the same defaults and help, live fields change mid-stream and only they."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from mecore.cli import from_options
from stream import app
from stream.config import StreamConfig
from tests.stream.conftest import REPO


def _run_stream():
    spec = importlib.util.spec_from_file_location("run_stream", REPO / "run_stream.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("front", ["run_stream", "stream.app"])
def test_cli_defaults_are_the_dataclass_defaults(front):
    parser = _run_stream()._parser() if front == "run_stream" else app.parser()
    assert from_options(StreamConfig, parser.parse_args([])) == StreamConfig()
    helps = {a.dest: (a.option_strings, a.help) for a in parser._actions}
    for f in dataclasses.fields(StreamConfig):
        if f.name == "fps":  # the source's, never an option (run_stream's --fps is an image folder's rate)
            assert "--fps" not in helps.get("fps", ((), ""))[0] or "image folder" in helps["fps"][1]
            continue
        flags, text = helps[f.name]
        assert f"--{f.name.replace('_', '-')}" in flags
        if front == "run_stream" and f.name == "overlay":
            assert "on when there is a window or --out" in text
            continue
        shown = "none" if f.default is None else str(f.default)
        assert text.endswith(f"(default: {shown})"), (f.name, text)
    # the help's default is the field's: threshold_p's is 0.1, not the 0.4 a hand-written help once said
    assert "--threshold" in helps["threshold_p"][0] and helps["threshold_p"][1].endswith("(default: 0.1)")


def test_options_parse_to_the_fields():
    args = _run_stream()._parser().parse_args(["--threshold", "0.3", "--spot-only", "--max-event-s", "2",
                                               "--no-mask-eyes", "--amplification", "12", "--min-contrast", "none"])
    cfg = from_options(StreamConfig, args, fps=25.0)
    assert (cfg.threshold_p, cfg.classify, cfg.max_event_s, cfg.mask_eyes, cfg.amplification, cfg.fps) == \
        (0.3, False, 2.0, False, 12.0, 25.0)
    assert cfg.min_contrast is None


def test_live_fields_and_what_follows_them():
    live = StreamConfig.live()
    assert {"threshold_p", "max_event_s", "amplification", "overlay"} <= live
    assert not {"fps", "align_size", "feature", "grid", "classify"} & live
    short, long = StreamConfig(max_event_s=0.5), StreamConfig(max_event_s=3.0)
    assert long.history - short.history == long.frames(2.5)  # the crops held per face follow max_event_s
