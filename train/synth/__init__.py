"""Synthetic micro-expressions: real faces, AU-driven displacement fields, the CASME II layout,
long clips for spotting, and the stream's demo clip. Entry points:

- ``generate(out, SynthConfig(...))``: the dataset (``python -m train.synth_me --out DIR``)
- ``long_clips.make_long_clip(source, out_mp4, LongClipConfig(...), seed)``: one long clip + JSON
- ``demo.make_demo(out_dir)``: ``stream/assets/demo.mp4`` + ``demo.json``
"""

from train.synth.casme_layout import SynthConfig
from train.synth.dataset import generate

__all__ = ["SynthConfig", "generate"]
