"""The bundled demo source of the streaming analyser: ``stream/assets/demo.mp4`` + ``demo.json``.

A real face (scikit-image's astronaut) holding still with a slow head sway, and one micro-expression
of each CASME II class, spaced by event-free stretches. Regenerate with
``python -m train.synth_me demo --out stream/assets`` (the stream reads the files; it never imports
train/).
"""

from __future__ import annotations

import json
from pathlib import Path

from mecore import atomic
from mecore.errors import MexError
from train.synth import output
from train.synth.events import CLASSES
from train.synth.long_clips import LONG_NUISANCE, LongClipConfig, make_long_clip
from train.synth.render import Nuisance

DEMO_NAME = "demo.mp4"
DEMO_SIZE = (640, 480)  # width, height: a webcam's frame
DEMO_FILL = 0.45  # forehead to chin spans this much of the height: room around the face for the overlay
DEMO_CONFIG = LongClipConfig(
    seconds=10.0, fps=30.0, events=len(CLASSES), amplitude=(2.0, 3.0), duration_s=(0.25, 0.5), gap_s=1.0,
    labels=("surprise", "happiness", "disgust", "others", "repression"),
    nuisance=Nuisance(**{**LONG_NUISANCE.__dict__, "head_px": 1.5, "head_deg": 0.4}), crf=20,
)


def make_demo(out_dir: str | Path, seed: int = 0) -> dict:
    """Write ``demo.mp4`` and ``demo.json`` into ``out_dir``; returns the ground truth."""
    out_dir = Path(out_dir)
    truth_path = (out_dir / DEMO_NAME).with_suffix(".json")
    if truth_path.exists():
        try:
            ours = json.loads(truth_path.read_text()).get("generator") == output.GENERATOR
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise MexError(f"{truth_path}: exists and was not written by {output.GENERATOR}; refusing to overwrite")
    elif (out_dir / DEMO_NAME).exists():
        raise MexError(f"{out_dir / DEMO_NAME}: exists without its demo.json; refusing to overwrite")
    truth = make_long_clip("astronaut", out_dir / DEMO_NAME, DEMO_CONFIG, seed=seed, size=DEMO_SIZE, fill=DEMO_FILL)
    truth["command"] = f"python -m train.synth_me demo --out {out_dir} --seed {seed}"
    atomic.write_json(truth_path, truth)
    return truth
