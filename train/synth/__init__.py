"""Synthetic micro-expressions: real faces, AU-driven displacement fields, the CASME II layout,
long clips for spotting, and the stream's demo clip. Entry points:

- ``generate(out, SynthConfig(...))``: the dataset (``python -m train.synth_me --out DIR``)
- ``long_clips.make_long_clip(source, out_mp4, LongClipConfig(...), seed)``: one long clip + JSON
- ``demo.make_demo(out_dir)``: ``stream/assets/demo.mp4`` + ``demo.json``
"""

__all__ = ["SynthConfig", "generate"]


def __getattr__(name: str):
    # lazy, so that ``python -m train.synth.sources`` (set-up) does not import the module it runs
    if name == "SynthConfig":
        from train.synth.casme_layout import SynthConfig
        return SynthConfig
    if name == "generate":
        from train.synth.dataset import generate
        return generate
    raise AttributeError(f"module 'train.synth' has no attribute {name!r}")
