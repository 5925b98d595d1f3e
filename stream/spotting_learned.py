"""Learned spotting, online (``--spotter learned``): the regions' optical flow of ``--spotter flow`` read by
a small temporal network (``engines/spotter.onnx``, trained by ``python -m train.spotter`` on the
generator's training identities: micro- and macro-expressions injected into real photos and videos, with
blinks, speech and head motion as negatives).

Per frame: ``mecore.spotflow.SpotFeatures`` (each region's flow over k frames, divided by its own running
noise level; blink, jaw and head-motion context); once a face has ``past + 1 + lookahead`` unbroken
frames, the network gives (none, micro, macro) probabilities for the frame ``lookahead`` back, and
``mecore.spotlearn.Decoder`` (hysteresis on p(micro) + p(macro)) turns them into events. The artifact
carries k, the window, the frame rate it was trained at and its threshold, so nothing here depends on
train/. Each event names the regions whose normalised flow was largest inside it.
"""

from __future__ import annotations

import warnings
from collections import deque
from functools import lru_cache

import numpy as np

from mecore.errors import MexError
from mecore.spotflow import FEATURES_VERSION, NAMES, REGIONS, FlowFrame, SpotFeatures
from mecore.spotlearn import Decoded, Decoder, Window, k_for, micro_frames
from mecore.types import SpotEvent
from stream.config import StreamConfig
from stream.spotting import SignalPoint

REGION_LEVEL = 2.0
APEX_LEVEL = 0.9  # chosen on the validation people's clips: mean |apex error| 1.32 frames (the surest frame: 1.68)
# an open micro event is guessed once the face has gone back this far from its largest displacement (in the
# frames the network has not decided on yet): past its apex, which no longer moves
SETTLED = 0.5


@lru_cache(maxsize=2)
def _engine(name: str):
    """One engine for every face (the network keeps no state between calls)."""
    import engines
    from engines.artifacts import NotListed

    try:
        # tiny: a GPU round trip per frame would cost more; one thread, as a pool's spinning workers took
        # the landmarker's CPU (frame path on face.mp4: 47 -> 58-70 fps, measured under load)
        engine = engines.load(name, "onnxruntime", threads=1)
    except (FileNotFoundError, NotListed, MexError) as exc:
        raise MexError(f"--spotter learned: no spotter engine ({exc}); train it with python -m train.spotter, "
                       "or use --spotter flow") from None
    meta = engine.meta
    if int(meta.get("features_version", -1)) != FEATURES_VERSION:
        raise MexError(f"{name}: made for spotting features v{meta.get('features_version')}, this code computes "
                       f"v{FEATURES_VERSION}; retrain it with python -m train.spotter")
    return engine


class LearnedSpotter:
    """One face's learned spotter. ``update`` once per frame in which the face was seen."""

    def __init__(self, config: StreamConfig, face_id: int = 0):
        self.cfg, self.face_id = config, face_id
        self.engine = _engine(config.spotter_model)
        m = self.engine.meta
        self.k, self.past, self.lookahead = k_for(config.fps, float(m["step_s"])), int(m["past"]), int(m["lookahead"])
        if not self.fits(config):
            lo, hi = min(m["fps"]), max(m["fps"])
            warnings.warn(f"the spotter was trained on {lo:g}-{hi:g} fps clips, the source runs at {config.fps:g}: "
                          "its windows (frames) span other durations", stacklevel=2)
        self._features = SpotFeatures(self.k, int(m["flow_size"]), float(m["flow_patch"]))
        self._window = Window(self.past + 1 + self.lookahead)
        # (index, features, flow frame) of the frames an event can still reach back to
        self._history: deque[tuple[int, np.ndarray, FlowFrame]] = deque(maxlen=config.frames(config.max_macro_s) + self._window.size)
        self._decoder = self._make_decoder()
        self.suppressed: dict[str, int] = {}
        self.last_signal: SignalPoint | None = None
        self.guess: SpotEvent | None = None
        self._guessed: tuple[int, int] | None = None  # (onset, apex) of the last guess: each is made once
        # the open event's onset and each later frame's displacement from it per region (noise units): measured
        # once per frame, for its guesses and its apex alike
        self._moves: tuple[int, dict[int, np.ndarray]] = (-1, {})

    @staticmethod
    def fits(config: StreamConfig) -> bool:
        """Whether the engine was trained near the source's frame rate (within 0.8x its lowest .. 1.2x its highest)."""
        return LearnedSpotter.stride(config) == 1

    @staticmethod
    def default_threshold(config: StreamConfig) -> float:
        """The engine's own p(event) threshold, chosen on its validation people."""
        return float(_engine(config.spotter_model).meta["threshold"])

    @staticmethod
    def stride(config: StreamConfig) -> int | None:
        """How many of the source's frames the engine should see as one: 1 where it was trained near the source's
        rate (0.8x its lowest .. 1.2x its highest); for a faster source the n that brings the rate nearest its
        highest (a 60 fps phone video: 2, a 200 fps dataset clip: 7); None for a slower one (a browser's 10 fps)."""
        fps = _engine(config.spotter_model).meta["fps"]
        lo, hi = 0.8 * min(fps), 1.2 * max(fps)
        fit = [n for n in range(1, 1 + int(config.fps // lo)) if lo <= config.fps / n <= hi]
        return min(fit, key=lambda n: abs(config.fps / n - max(fps))) if fit else None

    def _make_decoder(self) -> Decoder:
        m = self.engine.meta
        thr = self.cfg.spot_threshold if self.cfg.spot_threshold is not None else self.default_threshold(self.cfg)
        return Decoder(thr, gap=int(m["gap"]), min_frames=int(m["min_frames"]),
                       max_frames=self.cfg.frames(self.cfg.max_macro_s),
                       micro_frames=micro_frames(self.cfg.fps, self.cfg.micro_max_s, float(m["step_s"])))

    def reconfigure(self, config: StreamConfig) -> None:
        self.cfg = config
        d = self._make_decoder()
        self._decoder.threshold, self._decoder.low = d.threshold, d.low

    def update(self, index: int, grey: np.ndarray, crop_landmarks: np.ndarray, crop_size: int,
               blink: float = 0.0, centre: tuple[float, float] = (0.0, 0.0), face_width: float = 1.0,
               blendshapes: dict[str, float] | None = None) -> tuple[list[SpotEvent], SignalPoint | None]:
        """Add the face's frame ``index``; returns the events that ended and the newest signal point."""
        self.guess = None
        frame = self._features.flow.frame(index, grey, crop_landmarks, crop_size, blink, centre, face_width)
        x = self._features.update(frame, float((blendshapes or {}).get("jawOpen", 0.0)))
        if x is None:
            return [], None
        self._window.add(index, x)
        self._history.append((index, x, frame))
        if not self._window.full:
            return [], None
        logits = self.engine(features=self._window.array())["logits"][0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        target = self._window.index(self.past)
        events = [self._event(d) for d in self._decoder.push(target, probs)]
        self.guess = self._guess()
        self.last_signal = SignalPoint(target, float(probs[1] + probs[2]), self._decoder.threshold,
                                       self._decoder.active)
        return events, self.last_signal

    def flush(self) -> list[SpotEvent]:
        """End of stream: close an event still open."""
        self.guess = None
        return [self._event(d) for d in self._decoder.flush()]

    def _guess(self) -> SpotEvent | None:
        """The open micro event as the stream should classify it, before the decoder emits it (``lookahead`` +
        ``gap`` frames after its offset): once the face, in the newest frames, has gone back from its apex, or
        at the first frame below the decoder's low level. Each (onset, apex) is guessed once."""
        d = self._decoder.pending() if self._decoder.active else None
        if d is None or d.kind != "micro":
            return None
        moves = self._moved(d.onset, self._history[-1][0])
        if not self._decoder.ending:
            top = [m.max() for _, m in moves]
            if len(top) < 2 or top[-1] > SETTLED * max(top):
                return None
            d = Decoded(d.onset, d.apex, max(d.offset, moves[int(np.argmax(top))][0]), d.kind, d.score)
        ev = self._event(d)
        if (ev.onset_frame, ev.apex_frame) == self._guessed:
            return None
        self._guessed = (ev.onset_frame, ev.apex_frame)
        return ev

    def _moved(self, onset: int, last: int) -> list[tuple[int, np.ndarray]]:
        """(index, displacement from the onset frame per region in noise units) of the frames after ``onset`` up to
        ``last``; the onset frame is the first held at or after ``onset``."""
        if self._moves[0] != onset:
            self._moves = (onset, {})
        held = [(i, f) for i, _, f in self._history if onset <= i <= last]
        if len(held) < 2:
            return []
        ref, cache = held[0][1], self._moves[1]
        for i, f in held[1:]:
            if i not in cache:
                cache[i] = self._features.flow.displacement(ref, f) / self._features.noise
        return [(i, cache[i]) for i, _ in held[1:]]

    def _event(self, d: Decoded) -> SpotEvent:
        """The event of a decoded span: for a micro one the apex is the first frame displaced at least APEX_LEVEL
        of the most from the onset (what the classifier reads, as datasets code it) and its regions those displaced there; a macro one
        (not classified) keeps the network's surest frame and names the regions of largest flow inside it."""
        inside = [(i, x) for i, x, _ in self._history if d.onset <= i <= d.offset]
        apex, z = d.apex, np.zeros(len(NAMES))
        moves = self._moved(d.onset, d.offset) if d.kind == "micro" else []
        if moves:
            disp = np.stack([m for _, m in moves])
            top = disp.max(axis=1)
            best = int(np.argmax(top >= APEX_LEVEL * top.max()))  # the plateau's first frame, not its noisiest
            apex, z = moves[best][0], disp[best]
        elif inside:
            r = len(NAMES)
            z = np.linalg.norm(np.stack([x for _, x in inside])[:, :2 * r].reshape(-1, r, 2), axis=2).max(axis=0)
        # at least the region that moved most, however little
        order = [i for i in np.argsort(-z) if z[i] >= max(REGION_LEVEL, 0.5 * z.max())][:4] or [int(np.argmax(z))]
        regions = tuple(NAMES[i] for i in order)
        aus = tuple(sorted({au for n in regions for au in REGIONS[n][1]}))
        return SpotEvent(self.face_id, d.onset, apex, d.offset, d.score, float(self.cfg.fps), kind=d.kind,
                         regions=regions, aus=aus)
