"""Stand-in engines (tiny real networks with the artifacts' names and metadata) and media for stream tests.

The real trained artifacts live in engines/; tests use these so they never depend on a training run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LABELS = ["negative", "positive", "surprise"]


def make_standin_engines(folder: Path, **classifier_meta) -> Path:
    """Export and publish a tiny magnifier and classifier into ``folder`` (an engines dir);
    ``classifier_meta`` overrides the classifier's metadata."""
    import torch

    from engines.export import export_onnx, publish
    from mecore import preprocess
    from tests.engines.nets import TinyClassifier, TinyMagnifier

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    loose = folder / "loose"
    loose.mkdir(exist_ok=True)
    img = {0: "N", 2: "H", 3: "W"}
    mag_meta = {"model": "magnifier", "version": "0.0.1", "normalisation": "rgb/127.5-1",
                "amplification": {"min": 1.0, "max": 20.0, "default": 8.0}, "dataset": "stand-in", "metrics": {}}
    cls_meta = {"model": "classifier", "version": "0.0.1", "normalisation": "shape-map patches",
                "labels": LABELS, "dataset": "stand-in", "metrics": {}, "features_version": preprocess.FEATURES_VERSION,
                **classifier_meta}
    x = torch.zeros(1, 3, 32, 32)
    groups = preprocess.MAP_GROUPS  # the stand-in's shape must have a channel per map group at least
    export_onnx(TinyMagnifier(groups).eval(), (x, x, torch.ones(1)), loose / "magnifier.onnx",
                ["onset", "apex", "amplification"], ["magnified", "shape"],
                {"onset": img, "apex": img, "amplification": {0: "N"}, "magnified": img,
                 "shape": {0: "N", 2: "h", 3: "w"}}, mag_meta)
    export_onnx(TinyClassifier(len(LABELS), in_channels=preprocess.IN_CHANNELS).eval(),
                (torch.zeros(1, 30, preprocess.IN_CHANNELS, 7, 7),),
                loose / "classifier.onnx",
                ["patches"], ["logits"], {"patches": {0: "N"}, "logits": {0: "N"}}, cls_meta)
    publish({"magnifier": loose / "magnifier.onnx", "classifier": loose / "classifier.onnx"}, folder)
    return folder


@pytest.fixture(scope="session")
def standin_engines(tmp_path_factory) -> Path:
    return make_standin_engines(tmp_path_factory.mktemp("engines"))


REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "stream" / "assets" / "demo.mp4"


@pytest.fixture(scope="session")
def demo_clip() -> Path:
    """The bundled demo: a real face with injected micro-expressions, ground truth in demo.json."""
    if not DEMO.is_file():
        pytest.fail(f"{DEMO}: the bundled demo clip is missing")
    return DEMO


@pytest.fixture(scope="session")
def face_long_clip(face_video, tmp_path_factory) -> Path:
    """A synthetic long clip made from the real face video by ``python -m train.synth_me --long-clips 1``
    (run as a command: stream/ never imports train/); returns the .mp4, its ground truth beside it."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("synth") / "out"
    cmd = [sys.executable, "-m", "train.synth_me", "--out", str(out), "--subjects", "1", "--clips-per-subject", "1",
           "--faces", str(face_video), "--no-default-faces", "--long-clips", "1", "--seed", "11", "--quiet"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    clips = sorted((out / "long").glob("*.mp4"))
    assert clips, f"no long clip in {out / 'long'}"
    return clips[0]
