"""Region optical-flow spotting for real faces, online: one frame in, events out (``--spotter flow``).

The MEGC long-video spotters work on the optical flow of facial regions with the head's motion
removed; this is an online form of that. On the grey aligned crop (head shift, roll and scale are
already removed by the alignment) DIS optical flow is computed between the newest frame and the
frame ``k`` before it; each region of interest (brows, eye lids, cheeks, nose wings, lips, mouth
corners, chin; ``REGIONS``) gets the mean flow of a small patch at its landmarks, less an affine fit
of the face's own block flow (eyes and mouth left out; ``mecore.spotflow.RegionFlow``, which the
learned spotter shares): what alignment left of head motion goes, a region's own movement stays.
A region's signal is the length of that vector, divided by the
region's own threshold T_r = max(floor, noise_factor x its median over a rolling window): a talking
mouth raises the mouth's threshold, not the brows'.

When a region's normalised signal stays above 1 for two frames, an event opens with the frame k
before as its neutral reference; from then on each region's displacement is the flow from that
reference to the newest frame, and each region's movement is followed on its own: its peak, and the
first frame back below ``close_fraction`` of it (staying there for ``merge_s``). The regions that
went out and came back within ``micro_max_s`` (0.5 s, MEGC's definition) make a ``micro`` event once
no other region still can, even while others keep moving (a real face's own slower motion must not
stretch a brief movement into a long one), if they lead (``brief_lead``); its offset is the
half-way-back frame plus as long again. Otherwise the event lasts until every region that crossed is
back, and is ``macro`` (a posed expression, a smile held: reported as such, not classified); one
held past ``max_macro_s`` is closed there as macro.

What does not count: the eye regions while the eyes are closing or closed (``blink_gate``; masked for
that stretch, the rest of the event stands); the mouth and chin while the face is speaking (the
jawOpen blendshape ranging more than ``speech_jaw`` over the last ``speech_s``); every region while
the face moves more than ``motion_gate`` face widths within k frames (a head turn leaves parallax
the 2-D alignment cannot remove). Each event names the regions that crossed and the action units
they suggest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from mecore.spotflow import NAMES, REGIONS, FlowFrame, RegionFlow
from mecore.spotflow import nanmedian as _nanmedian
from mecore.types import SpotEvent
from stream.config import StreamConfig
from stream.spotting import SignalPoint

EYES = np.array([n.startswith("eye_") for n in NAMES])
FLOW_WARMUP_S = 1.0  # a region's median needs this much signal before it means anything
THRESHOLD_EVERY = 5  # frames between recomputing the regions' medians (of a 10 s window)
PERIOCULAR = np.array([n.startswith(("brow_", "cheek_")) for n in NAMES])
MOUTH = np.array([n in ("upper_lip", "mouth_r", "mouth_l", "lower_lip", "chin") for n in NAMES])
_Frame = FlowFrame


@dataclass
class _Open:
    ref: _Frame  # the neutral reference: k frames before the first crossing
    start: int  # first frame above
    thresholds: np.ndarray  # (R,) frozen at the opening
    peak: np.ndarray  # (R,) peak normalised displacement per region
    apex: int
    apex_value: float
    eyes_masked: bool = False
    held: bool = False  # the face stopped moving away from the reference: a macro-expression held
    at_apex: np.ndarray | None = None  # (R,) regions above their threshold at the apex
    counted: int = len(NAMES)  # regions not masked at the apex
    spread: int = 0  # regions displaced at least half as much as the most displaced one, at the apex
    back: int | None = None  # first frame after the apex back near the reference: the offset
    below: int = 0  # frames in a row the face has not moved (step flow below its threshold)
    # per region: the frame of its peak, the first frame back near the reference after it (-1: not back)
    r_apex: np.ndarray | None = None
    r_back: np.ndarray | None = None
    r_done: np.ndarray | None = None  # back and stayed back for merge_s: this region's movement is over
    r_masked: np.ndarray | None = None  # masked at some frame of the event: its movement was not seen whole
    r_peak: np.ndarray | None = None  # the peak of its movement until it was over
    blinks: list = None  # frames with the eyes closed
    z_hist: list = None  # (frame, (R,) normalised displacement) since the reference


class FlowSpotter:
    """Region-flow spotting for one face. ``update`` once per frame in which the face was seen."""

    guess: SpotEvent | None = None  # emits within a frame or two of the offset: nothing to classify early

    def __init__(self, config: StreamConfig, face_id: int = 0):
        self.cfg, self.face_id = config, face_id
        self.k = config.k
        self.size = config.flow_size
        self._flow = RegionFlow(config.flow_size, config.flow_patch)
        self._frames: deque[_Frame] = deque(maxlen=2 * self.k + 1)
        self._A: deque[np.ndarray] = deque(maxlen=self.k + 1)  # flow(n - k -> n) per region, newest last
        self._noise: deque[np.ndarray] = deque(maxlen=config.frames(config.window_s))
        self._jaw: deque[float] = deque(maxlen=config.frames(config.speech_s))
        self._noise_step: deque[np.ndarray] = deque(maxlen=config.frames(config.window_s))
        self._thr_step: np.ndarray | None = None
        self._noise_n = 0  # noise frames added
        self._thr: np.ndarray | None = None  # thresholds, recomputed when the noise window changes
        self._pending = False  # one centre above: an event opens if the next is above too
        self._open: _Open | None = None
        self._last_offset = -(10**9)
        self._seen = 0
        self.suppressed: dict[str, int] = {"motion": 0, "short": 0, "masked": 0, "blink": 0}
        self.last_signal: SignalPoint | None = None

    def reconfigure(self, config: StreamConfig) -> None:
        """Take a config with changed live fields (gates, thresholds); the buffers do not depend on them."""
        self.cfg = config
        self._thr = self._thr_step = None

    # -- verbs -------------------------------------------------------------------------------------
    def update(self, index: int, grey: np.ndarray, crop_landmarks: np.ndarray, crop_size: int,
               blink: float = 0.0, centre: tuple[float, float] = (0.0, 0.0), face_width: float = 1.0,
               blendshapes: dict[str, float] | None = None) -> tuple[list[SpotEvent], SignalPoint | None]:
        """Add the face's frame ``index``; returns the events that ended and the newest signal point."""
        if self._frames and index - self._frames[-1].index > self.k:
            self._frames.clear()  # a gap: frame n - k is no longer k frames back
            self._A.clear()
            self._pending = False
            if self._open is not None:
                self._open = None
        frame = self._frame(index, grey, crop_landmarks, crop_size, blink, centre, face_width)
        self._frames.append(frame)
        self._jaw.append(float((blendshapes or {}).get("jawOpen", 0.0)))
        self._seen += 1
        if self._open is not None:
            return self._follow(frame)
        if len(self._frames) < self.k + 1:
            return [], None
        return self._watch(frame)

    def flush(self) -> list[SpotEvent]:
        """End of stream: close an event still open."""
        if self._open is None or not self._frames:
            return []
        return self._close(self._frames[-1].index)

    # -- signals -----------------------------------------------------------------------------------
    def _frame(self, index, grey, crop_landmarks, crop_size, blink, centre, face_width) -> _Frame:
        return self._flow.frame(index, grey, crop_landmarks, crop_size, blink, centre, face_width)

    def _vectors(self, ref: _Frame, cur: _Frame) -> np.ndarray:
        return self._flow.vectors(ref, cur)

    def _masks(self, frames: list[_Frame]) -> tuple[np.ndarray, bool]:
        """(R,) True for regions that do not count now; and whether the head moved too much."""
        masked = np.zeros(len(NAMES), dtype=bool)
        if max(f.blink for f in frames) > self.cfg.blink_gate:
            masked |= EYES
        if self._jaw and max(self._jaw) - min(self._jaw) > self.cfg.speech_jaw:
            masked |= MOUTH
        span = float(np.linalg.norm(frames[-1].centre - frames[0].centre)) / frames[-1].width
        return masked, span > self.cfg.motion_gate

    def thresholds(self) -> np.ndarray:
        """(R,) each region's threshold: noise_factor x its median signal (masked frames left out), >= the floor."""
        if self._thr is None:
            floor = self.cfg.flow_floor * self.size / 128.0
            if not self._noise:
                return np.full(len(NAMES), np.inf)
            noise = np.nan_to_num(_nanmedian(np.stack(self._noise)), nan=floor)
            self._thr = np.maximum(floor, self.cfg.flow_noise_factor * noise)
        return self._thr

    def thresholds_step(self) -> np.ndarray:
        """(R,) the same for the step flow |flow(n - k -> n)|: above it, the face is moving."""
        if self._thr_step is None:
            if not self._noise_step:
                return np.full(len(NAMES), np.inf)
            floor = self.cfg.flow_floor * self.size / 128.0
            noise = np.nan_to_num(_nanmedian(np.stack(self._noise_step)), nan=floor)
            self._thr_step = np.maximum(floor, self.cfg.flow_noise_factor * noise)
        return self._thr_step

    # -- state machine -----------------------------------------------------------------------------
    def _watch(self, cur: _Frame) -> tuple[list[SpotEvent], SignalPoint]:
        self._A.append(self._vectors(self._frames[-self.k - 1], cur))
        if len(self._A) < self.k + 1:
            return [], None
        centre = self._frames[self.k]  # j = n - k: B_j = (flow(j-k -> j) + flow(j+k -> j)) / 2
        d = np.linalg.norm(0.5 * (self._A[0] - self._A[-1]), axis=1)
        masked, moving = self._masks(list(self._frames))
        thr = self.thresholds()
        z = np.where(masked, 0.0, d / thr)
        warm = len(self._noise) >= self.cfg.frames(max(self.cfg.warmup_s, FLOW_WARMUP_S))
        ready = warm and not moving and centre.index - self._last_offset > self.cfg.frames(self.cfg.refractory_s, minimum=0)
        # the bump B, or a movement that keeps going one way over k frames (a smooth ramp cancels in B)
        step = np.where(masked, 0.0, np.linalg.norm(self._A[-1], axis=1) / self.thresholds_step())
        above = ready and (float(z.max()) > 1.0 or float(step.max()) > self.cfg.step_factor)
        if above and self._pending:
            self._open = self._start(self._frames[0], thr)
            self._pending = False
            return self._follow(cur, replay=True)
        self._pending = above
        if not above and not moving:
            self._noise.append(np.where(masked, np.nan, d))
            self._noise_step.append(np.where(masked, np.nan, np.linalg.norm(self._A[-1], axis=1)))
            self._noise_n += 1
            if self._noise_n % THRESHOLD_EVERY == 0:
                self._thr = self._thr_step = None  # medians of a 10 s window: every few frames is enough
        self.last_signal = SignalPoint(centre.index, float(z.max()), 1.0, False)
        return [], self.last_signal

    def _start(self, ref: _Frame, thr: np.ndarray) -> _Open:
        """An event with ``ref`` (k before the first centre above) as neutral reference, moved on to the last
        frame still near it; then the frames since are followed."""
        onset = ref
        for f in list(self._frames)[1:]:
            if float((self._displacement(ref, f) / thr).max()) > self.cfg.onset_level:
                break
            onset = f
        n = len(NAMES)
        return _Open(onset, onset.index + 1, thr, np.zeros(n), onset.index, 0.0, r_apex=np.full(n, onset.index),
                     r_back=np.full(n, -1), r_done=np.zeros(n, bool), r_masked=np.zeros(n, bool), r_peak=np.zeros(n), z_hist=[], blinks=[])

    def _follow(self, cur: _Frame, replay: bool = False) -> tuple[list[SpotEvent], SignalPoint]:
        ev = self._open
        assert ev is not None
        if replay:  # the frames between the onset and now, then the newest
            events: list[SpotEvent] = []
            for f in [f for f in self._frames if ev.ref.index < f.index <= cur.index]:
                events += self._follow(f)[0]
                if self._open is None:
                    break
            return events, self.last_signal
        if cur.blink > self.cfg.blink_gate:
            ev.eyes_masked = True
            ev.blinks.append(cur.index)
        masked, _ = self._masks([ev.ref, cur])
        masked = masked & MOUTH | (EYES if ev.eyes_masked else False)
        z = np.where(masked, 0.0, self._displacement(ev.ref, cur) / ev.thresholds)
        back = next(f for f in self._frames if f.index >= cur.index - self.k)
        moving = np.where(masked, 0.0, self._displacement(back, cur) / self.thresholds_step()) if back is not cur else z
        ev.z_hist.append((cur.index, z))
        ev.r_masked |= masked
        self._follow_regions(ev, cur.index, z)
        ev.peak = np.maximum(ev.peak, z)
        score = float(z.max())
        if score > ev.apex_value and not ev.held:
            ev.apex, ev.apex_value, ev.back = cur.index, score, None
            ev.at_apex, ev.counted = z > 1.0, int((~masked).sum())
            ev.spread = int((z > 0.5 * score).sum())  # regions moving at least half as much as the most moved
        crossed = ev.peak > 1.0
        # back within close_fraction of its peak, give or take half a threshold of drift since the onset
        near = not crossed.any() or bool(np.all(z[crossed] <= self.cfg.close_fraction * ev.peak[crossed] + 0.5))
        if near and ev.back is None and cur.index > ev.apex:
            ev.back = cur.index
        elif not near and ev.back is not None and cur.index - ev.back < self.cfg.frames(self.cfg.merge_s):
            ev.back = None  # a rebound of the same movement
        ev.below = ev.below + 1 if float(moving.max()) <= 1.0 else 0
        events: list[SpotEvent] = []
        brief = self._brief(ev, cur.index)
        if brief is not None:
            events = brief
        elif ev.back is not None and cur.index - ev.back >= self.cfg.frames(self.cfg.merge_s):
            events = self._close(ev.back)  # back near the reference and staying there: over
        elif ev.below >= self.cfg.frames(self.cfg.merge_s) and cur.index - ev.ref.index > 2 * self.k:
            ev.held, ev.below = True, 0  # stopped away from the reference: held; it ends once the face moves back
        elif cur.index - ev.ref.index > self.cfg.frames(self.cfg.max_macro_s):
            events = self._close(cur.index)
        self.last_signal = SignalPoint(cur.index, score, 1.0, self._open is not None)
        return events, self.last_signal

    def _follow_regions(self, ev: _Open, index: int, z: np.ndarray) -> None:
        """Each region's own movement: its peak, and the first frame back near the reference after it."""
        rising = (z > ev.r_peak) & ~ev.r_done
        ev.r_peak[rising] = z[rising]
        ev.r_apex[rising] = index
        ev.r_back[rising] = -1
        near = z <= self.cfg.close_fraction * ev.r_peak + 0.5
        crossed = (ev.r_peak > 1.0) & ~ev.r_done
        merge = self.cfg.frames(self.cfg.merge_s)
        ev.r_back[crossed & near & (ev.r_back < 0) & (index > ev.r_apex)] = index
        rebound = crossed & ~near & (ev.r_back >= 0) & (index - ev.r_back < merge)
        ev.r_back[rebound] = -1
        ev.r_done |= crossed & (ev.r_back >= 0) & (index - ev.r_back >= merge)

    def _brief(self, ev: _Open, index: int) -> list[SpotEvent] | None:
        """A micro event once the regions that went out and came back within micro_max_s carry it, even while
        others keep moving (the face's own slower motion must not stretch a brief movement into a macro one);
        None while it is undecided or not brief."""
        crossed = (ev.peak > 1.0) & ~ev.r_masked  # a region masked for a while (a blink, speech): not judged
        if not crossed.any():
            return None
        onset = ev.ref.index
        window = self.cfg.frames(self.cfg.micro_max_s) + self.k
        merge = self.cfg.frames(self.cfg.merge_s)
        if (crossed & ~ev.r_done).any() and index - onset <= window + merge:
            return None  # a region may still come back in time
        brief = crossed & ev.r_done & (ev.r_back - onset <= window)
        if not brief.any() or ev.r_peak[brief].max() < self.cfg.brief_lead * ev.peak[crossed].max():
            return None  # a small part of a larger movement (or one that came back and moved on further)
        lead = int(np.argmax(np.where(brief, ev.r_peak, -1.0)))
        apex = int(ev.r_apex[lead])
        # back is where the lead region fell to about close_fraction of its peak; a fall takes about as long again
        # to reach neutral (the measured offset was 2-3 frames early on the tuning clips without this)
        offset = 2 * int(ev.r_back[lead]) - apex
        zs = dict(ev.z_hist).get(apex, ev.peak)
        # the onset: the last frame before the lead region's apex still low in that region
        for f, zf in ev.z_hist:
            if f >= apex:
                break
            if zf[lead] <= self.cfg.onset_level:
                onset = f
        ev.apex, ev.apex_value = apex, float(ev.r_peak[lead])
        ev.at_apex = brief & (zs > 1.0) if (brief & (zs > 1.0)).any() else brief
        ev.spread = int((zs > 0.5 * ev.apex_value).sum())
        ev.peak = np.where(brief, ev.r_peak, 0.0)
        return self._close(offset, onset=onset, kind="micro")

    def _close(self, offset: int, onset: int | None = None, kind: str | None = None) -> list[SpotEvent]:
        ev, self._open = self._open, None
        assert ev is not None
        self._last_offset = offset
        self._frames.clear()  # the next reference is a frame after this event
        self._A.clear()
        if ev.eyes_masked:
            ev.peak[EYES] = 0.0
        crossed = ev.peak > 1.0
        if not crossed.any():
            self.suppressed["masked"] += 1
            return []
        onset = ev.ref.index if onset is None else onset
        if offset - ev.start < self.cfg.frames(self.cfg.min_event_s):
            self.suppressed["short"] += 1
            return []
        # the measured extent runs up to k frames longer than the movement (the onset is found k frames back,
        # to the last frame still near the reference; the offset is the first back near it)
        if kind is None:
            kind = "micro" if offset - onset <= self.cfg.frames(self.cfg.micro_max_s) + self.k else "macro"
        # most of the face about as much, briefly: head motion the alignment left, not an expression (whose
        # regions move unevenly; a macro-expression such as a smile does move most of the face)
        if kind == "micro" and ev.spread > self.cfg.max_regions * ev.counted:
            self.suppressed["motion"] += 1
            return []
        order = np.argsort(-ev.peak)
        # a blink pulls the brows and the upper cheeks too (orbicularis oculi): a brief movement led by them
        # while the eyes closed is the blink (the still clips' false micro events were these)
        if kind == "micro" and PERIOCULAR[order[0]] and any(onset <= b <= offset for b in ev.blinks):
            self.suppressed["blink"] += 1
            return []
        at_apex = ev.at_apex if ev.at_apex is not None and ev.at_apex.any() else crossed
        regions = tuple(NAMES[i] for i in order if at_apex[i])
        aus = tuple(sorted({au for r in regions for au in REGIONS[r][1]}))
        return [SpotEvent(self.face_id, onset, ev.apex, offset, float(ev.apex_value), float(self.cfg.fps),
                          kind=kind, regions=regions, aus=aus)]

    def _displacement(self, ref: _Frame, cur: _Frame) -> np.ndarray:
        return self._flow.displacement(ref, cur)
