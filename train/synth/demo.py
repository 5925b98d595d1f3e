"""The bundled demo source of the streaming analyser: ``stream/assets/demo.mp4`` + ``demo.json``.

A person the shipped classifier never saw: the default set's split (``python -m train.loso``'s seed
and held-out count) holds scikit-image's astronaut out of training, and the demo is made of her as
the held-out identities are (appearance drawn by ``faces.make_subject``, both warp families, sensor
noise and a slow head sway), framed as a webcam sees a face, with one micro-expression of each CASME
II class spaced by event-free stretches. Regenerate with ``python -m train.synth_me demo --out
stream/assets`` (registry faces fetched: the split depends on who is there; the stream reads the
files and never imports train/).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mecore import atomic
from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from train.synth import output
from train.synth.events import CLASSES
from train.synth.faces import make_subject
from train.synth.identities import default_identities, photo_source, split_holdout
from train.synth.long_clips import LONG_NUISANCE, LongClipConfig, long_clip_from_subject
from train.synth.render import Nuisance

DEMO_NAME = "demo.mp4"
DEMO_SIZE = (640, 480)  # width, height: a webcam's frame
DEMO_FILL = 0.45  # forehead to chin spans this much of the height: room around the face for the overlay
DEMO_PERSON = "astronaut-eileen-collins"  # held out of the default set; the demo refuses anyone trained on
DEMO_CONFIG = LongClipConfig(
    seconds=10.0, fps=30.0, events=len(CLASSES), amplitude=(2.0, 3.0), duration_s=(0.25, 0.5), gap_s=1.0,
    labels=("surprise", "happiness", "disgust", "others", "repression"), warps=("rbf", "tps"),
    nuisance=Nuisance(**{**LONG_NUISANCE.__dict__, "head_px": 1.5, "head_deg": 0.4}), crf=20,
)


def demo_subject(seed: int, tracker: FaceTracker):
    """The demo's person as a synthetic subject, after checking the default split holds her out."""
    from train.config import Config

    default = Config()
    identities, notes = default_identities(tracker)
    train, held = split_holdout(identities, default.synth_holdout, default.seed)
    ident = next((i for i in held if i.person == DEMO_PERSON), None)
    if ident is None:
        where = "trained on" if any(i.person == DEMO_PERSON for i in train) else "not found"
        raise MexError(f"{DEMO_PERSON}: {where} in the default set's split ({len(identities)} people"
                       + (f"; {len(notes)} registry files missing: run python -m train.synth.sources fetch" if notes
                          else "") + "); the demo must show a held-out person")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,)))
    return make_subject(photo_source(ident, tracker), 1, rng, tracker, size=DEMO_SIZE,
                        overrides={"fill": DEMO_FILL, "mirror": False, "roll_deg": 0.0})


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
    with FaceTracker(mode="image", max_faces=6, blendshapes=False) as tracker:
        subject = demo_subject(seed, tracker)
    truth = long_clip_from_subject(subject, out_dir / DEMO_NAME, DEMO_CONFIG, seed=seed)
    truth["person"] = DEMO_PERSON
    truth["appearance"] = subject.appearance
    truth["command"] = f"python -m train.synth_me demo --out {out_dir} --seed {seed}"
    atomic.write_json(truth_path, truth)
    return truth
