"""The learned magnifier's frame loop over an encoder and a decoder, as in MagNet's video modes.

One encoder call per frame gives (texture, shape); what the decoder amplifies depends on the mode:

    static    motion = shape_t - shape_0          (every frame against the first)
    dynamic   motion = shape_t - shape_(t-1)      (against the previous frame)
    temporal  motion = bandpass(shape)_t          (a difference of IIRs, state carried frame to frame)

and the decoder returns decode(texture_t, shape_t + h(g(motion) (alpha - 1))) -- the paper's
manipulation applied to the encoder's shape representation, between encoder and decoder. Encoder and
decoder are any callables taking named numpy arrays and returning a dict (``engines`` engines), so
this runs the same on ONNX Runtime, TensorRT or PyTorch; ``LearnedMagnifier.from_torch`` runs an
in-memory ``MagNet`` / ``FastMagNet`` (a training run's model) through the same loop.
"""

from __future__ import annotations

import numpy as np

from mecore.errors import MexError
from mecore.magnify.filters import DifferenceOfIIR

MODES = ("static", "dynamic", "temporal")


class LearnedMagnifier:
    """``step(frames (N, 3, H, W) float32 in [-1, 1]) -> magnified, same shape``; N frames magnified alike
    (tiles of one frame: each keeps its own reference and filter state)."""

    def __init__(self, encoder, decoder, alpha: float, mode: str = "static", low_hz: float | None = None,
                 high_hz: float | None = None, fps: float | None = None):
        if mode not in MODES:
            raise MexError(f"magnification mode {mode!r}: expected one of {', '.join(MODES)}")
        self.encoder, self.decoder, self.alpha, self.mode = encoder, decoder, float(alpha), mode
        self.filter = None
        if mode == "temporal":
            if None in (low_hz, high_hz, fps):
                raise MexError("temporal mode needs a band (low and high Hz) and the frame rate")
            self.filter = DifferenceOfIIR(low_hz, high_hz, fps)
        self._ref = None

    @classmethod
    def from_torch(cls, model, alpha: float, mode: str = "static", low_hz: float | None = None,
                   high_hz: float | None = None, fps: float | None = None, kwargs: dict | None = None):
        """The same frame loop over a torch ``MagNet`` or ``FastMagNet`` (``kwargs``: its constructor arguments),
        cut into encoder and decoder as the exported artifacts are (``mecore.nets.magnify_split``)."""
        from mecore.nets.fastmag import FastMagNet
        from mecore.nets.magnify_split import split

        enc, dec = split(model, "fastmag" if isinstance(model, FastMagNet) else "magnet", dict(kwargs or {}))
        dec_inputs = ["texture", "shape", "motion", "amplification"]
        if isinstance(model, FastMagNet):
            dec_inputs.insert(0, "frame")
        return cls(_TorchPart(enc, ["frame"], ["texture", "shape"]),
                   _TorchPart(dec, dec_inputs, ["magnified"]), alpha, mode, low_hz, high_hz, fps)

    def reset(self) -> None:
        self._ref = None
        if self.filter is not None:
            self.filter.reset()

    def step(self, frames: np.ndarray) -> np.ndarray:
        enc = self.encoder(frame=frames)
        texture, shape = enc["texture"], enc["shape"]
        if self.mode == "temporal":
            motion = self.filter(shape)
        else:
            if self._ref is None or self._ref.shape != shape.shape:
                self._ref = shape
            motion = shape - self._ref
            if self.mode == "dynamic":
                self._ref = shape
        feeds = {"frame": frames, "texture": texture, "shape": shape, "motion": motion.astype(np.float32),
                 "amplification": np.full((frames.shape[0],), self.alpha, np.float32)}
        names = getattr(self.decoder, "input_names", list(feeds))
        return self.decoder(**{k: feeds[k] for k in names})["magnified"]


class _TorchPart:
    """A torch module called like an ``engines`` engine: named numpy arrays in, a dict of them out."""

    def __init__(self, module, input_names: list[str], output_names: list[str]):
        self.module, self.input_names, self.output_names = module.eval(), input_names, output_names

    def __call__(self, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.no_grad():
            outs = self.module(*(torch.from_numpy(np.ascontiguousarray(feeds[k])) for k in self.input_names))
        outs = outs if isinstance(outs, tuple) else (outs,)
        return {k: v.numpy() for k, v in zip(self.output_names, outs, strict=True)}
