"""Every CLI as a user runs it (a subprocess): exit 0 on its happy path with tiny inputs, 2 on a user error,
and stderr without a Python traceback or an object's repr (run_cli used to hand train.loso's Outcome to
sys.exit, which printed it and exited 1).

The processes start together (most of their time is importing torch / MediaPipe) and each test reads one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A traceback, or a dataclass / object repr such as "Outcome(metrics={...})" or "<x object at 0x...>".
REPR = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*\(\w+=|object at 0x[0-9a-f]+")


def _commands(tmp: Path) -> dict[str, tuple[list[str], int]]:
    """name -> (argv after the interpreter, expected exit status)."""
    synth = tmp / "synth"
    cmds = {
        "run_stream": (["run_stream.py", "--source", "demo", "--spot-only", "--max-frames", "10", "--no-show"], 0),
        "train.loso": (["-m", "train.loso", "--root", str(synth), "--synth-subjects", "2", "--synth-clips", "2",
                        "--synth-holdout", "0",
                        "--epochs", "1", "--batch-size", "2", "--factors", "2.0", "--no-export", "--workers", "1",
                        "--out", str(tmp / "run"), "--cache", str(tmp / "cache")], 0),
        "train.loso user error": (["-m", "train.loso", "--dataset", "samm"], 2),
        "run_stream user error": (["run_stream.py", "--source", "demo", "--no-show", "--out", str(tmp / "x.mp4"),
                                   "--events", str(tmp / "x.mp4")], 2),
        "stream.magnify user error": (["-m", "stream.magnify", "demo", "--out", str(tmp / "a_file" / "o.mp4")], 2),
        "train.synth_me": (["-m", "train.synth_me", "--out", str(tmp / "synth_me"), "--subjects", "1",
                            "--clips-per-subject", "1", "--quiet"], 0),
        "train.magnet": (["-m", "train.magnet", "--help"], 0),
        "engines info": (["-m", "engines", "info"], 0),
        "engines user error": (["-m", "engines", "info", "--bogus"], 2),
        "train.datasets report": (["-m", "train.datasets", "report", "--dataset", "samm", "--root", str(tmp / "samm")],
                                  0),
        "train.datasets user error": (["-m", "train.datasets", "report", "--dataset", "samm", "--root",
                                       str(tmp / "nope")], 2),
        "stream.spot_eval": (["-m", "stream.spot_eval", "--truth", str(tmp / "truth"),
                              "--predictions", str(tmp / "preds")], 0),
        "stream.spot_eval user error": (["-m", "stream.spot_eval"], 2),
        "stream.app": (["-m", "stream.app", "--help"], 0),
        "stream.magnify": (["-m", "stream.magnify", "--help"], 0),
        "stream.batch": (["-m", "stream.batch", "--help"], 0),
    }
    for mod in ("engines", "browser", "stream", "soak", "magnifier", "face"):
        cmds[f"bench.{mod}"] = (["-m", f"bench.{mod}", "--help"], 0)
    return cmds


def _inputs(tmp: Path) -> None:
    from tests.train.test_datasets import samm_tree

    samm_tree(tmp / "samm")
    (tmp / "a_file").write_text("a file, not a folder: nothing can be written under it")
    (tmp / "truth").mkdir()
    (tmp / "truth" / "clip0.json").write_text(json.dumps({
        "video": "clip0.mp4", "fps": 30.0, "events": [{"onset": 30, "apex": 35, "offset": 41}]}))
    (tmp / "preds").mkdir()
    (tmp / "preds" / "clip0.jsonl").write_text(json.dumps({
        "type": "event", "onset_frame": 31, "offset_frame": 40, "onset_s": 31 / 30}) + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, face_model):
    tmp = tmp_path_factory.mktemp("cli")
    _inputs(tmp)
    cmds = _commands(tmp)
    env = dict(os.environ, PYTHONUNBUFFERED="1", MEX_FACE_MODEL=str(face_model))

    def one(argv):
        return subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, env=env,
                              timeout=300)

    with ThreadPoolExecutor(max_workers=3) as pool:
        # the long one first, so the short ones run beside it
        order = sorted(cmds, key=lambda k: k != "train.loso")
        futures = {name: pool.submit(one, cmds[name][0]) for name in order}
        return {name: (f.result(), cmds[name][1]) for name, f in futures.items()}




@pytest.mark.parametrize("name", list(_commands(Path("tmp"))))
def test_exit_status_and_clean_stderr(runs, name):
    proc, expected = runs[name]
    assert proc.returncode == expected, f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert not REPR.search(proc.stderr), f"{name}: stderr holds a traceback or repr:\n{proc.stderr[-2000:]}"
    if expected == 2:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith(("error:", "usage:"))]
        assert errors, proc.stderr
