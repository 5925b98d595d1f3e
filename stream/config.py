"""The streaming analyser's options: one typed dataclass, validated on creation, frame counts scaled by fps.

Durations are given in seconds and turned into frame counts with the source's frame rate, so the same
config means the same thing for a 30 fps webcam and a 200 fps dataset clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from mecore.cli import live_fields, opt

FEATURES = ("lbp", "intensity")
# stream/spotting_flow.py (regions' optical flow), stream/spotting.py (the baseline), stream/spotting_learned.py
# (a temporal network over the regions' flow, engines/spotter.onnx)
SPOTTERS = ("learned", "flow", "moilanen")  # and "auto" (stream/spotters.py: learned where it fits the frame rate)
# The contrast a movement must reach whatever the window's statistics say (they are all noise on a
# still face): intensity features are in [0, 1], so 1.3e-3 is a third of a grey level in the most
# changed blocks. Measured on synthetic long clips made from a real face video (docs/streaming.md);
# not calibrated for LBP (0: no floor).
MIN_CONTRAST = {"intensity": 1.3e-3, "lbp": 0.0}


@dataclass(frozen=True)
class StreamConfig:
    """Every option of the analyser. ``live=True`` fields may change while a stream runs
    (``Analyzer.update_config``); the others need a new Analyzer. The CLIs' options are these fields."""

    fps: float = opt(30.0, "the source's frame rate; every frame count below derives from it", cli=False)

    # face core
    max_faces: int = opt(1, "faces tracked (with far_faces each beyond the first on a crop of its own, as steady "
                            "as one face; without, MediaPipe re-detects every frame while it tracks fewer than "
                            "this: jittery landmarks)")
    far_faces: bool = opt(True, "look for faces too small for the landmarker (tiles of the frame, every far_scan_s "
                                "while fewer than max_faces are tracked) and track each on an upscaled crop")
    far_scan_s: float = opt(0.33, "seconds between two looks for faces while fewer than max_faces are tracked")
    smooth_hz: float | None = opt(None, "One-Euro filter on each face's landmarks, its cutoff when still (Hz); "
                                        "none: off")
    face_model: str | None = opt(None, "MediaPipe .task file (none: the installed one)")
    landmark_scale: float = opt(1.0, "run landmarks on a frame downscaled by this factor (landmarks are rescaled)")
    align_size: int = opt(256, "aligned crop size (the magnifier's input size wins when engines are loaded)")
    track_timeout_s: float = opt(1.0, "forget a face's spotting state after this long unseen")
    min_face_px: float = opt(120.0, "faces narrower than this (px in the frame) are tracked and marked too small, "
                                    "not spotted on")

    # spotting: which spotter, and what both share
    # learned: on the held-out people micro F1 0.898 on photos and 0.609 in real videos against flow's 0.784
    # and 0.087, no micro event on any real clip, and now within the frame rate and latency goals
    # (docs/streaming.md); trained at 22-30 fps, so auto keeps flow for other rates
    spotter: str = opt("auto", "spotter: learned (a network over the regions' flow, engines/spotter.onnx), "
                               "flow (the regions' optical flow with hand-set gates), moilanen (block intensities, "
                               "the baseline) or auto (learned where its engine was trained for the source's frame "
                               "rate, else flow)", choices=("auto", *SPOTTERS))
    spotter_model: str = opt("spotter", "learned: the spotter engine, a name in engines/ or an .onnx path")
    spot_threshold: float | None = opt(None, "learned: p(event) that opens an event (none: the artifact's own, "
                                             "chosen on its validation identities)", live=True)
    micro_max_s: float = opt(0.5, "onset..offset up to this is a micro-expression (MEGC), longer a macro-expression")
    max_macro_s: float = opt(4.0, "flow: an expression held longer is closed here (as macro)")
    flow_size: int = opt(128, "flow: grey aligned crop the optical flow is computed on")
    flow_patch: float = opt(0.1, "flow: side of a region's patch, fraction of the crop")
    flow_noise_factor: float = opt(4.0, "flow: a region's threshold is this times its median signal over window_s",
                                   live=True)
    flow_floor: float = opt(0.12, "flow: a region's threshold is at least this many px (at a 128 px crop)")
    max_regions: float = opt(0.5, "flow: a micro event with more than this fraction of the regions displaced at "
                                   "least half as much as the most displaced one, at its apex, is head motion")
    step_factor: float = opt(2.0, "flow: an event also opens when a region's flow over k frames is this times its "
                                  "threshold (a slow onset the bump misses)")
    brief_lead: float = opt(0.5, "flow: regions that moved out and back within micro_max_s make a micro event while "
                                 "others keep moving, when their peak is at least this fraction of the largest")
    onset_level: float = opt(0.3, "flow: the onset is the last frame displaced less than this x the threshold")
    speech_jaw: float = opt(0.06, "flow: mouth and chin do not count while jawOpen ranged more than this over "
                                  "speech_s (speech)")
    speech_s: float = opt(1.0, "flow: the window of the speech test, seconds")

    # Moilanen et al. 2014 block spotter (the baseline, --spotter moilanen), on the aligned face
    feature: str = opt("intensity", "block feature: intensity (4x4 cell means, L1) or lbp (uniform LBP, "
                                    "chi-squared)", choices=FEATURES)
    spot_size: int = opt(128, "grey aligned crop the block features are computed on")
    grid: int = opt(8, "grid x grid blocks")
    me_length_s: float = opt(0.3, "expected micro-expression length; k = half of it in frames")
    top_fraction: float = opt(0.1, "F averages this fraction of the most changed blocks (Moilanen: 1/3)", live=True)
    # a quarter, not the median: an expression of several AUs can move half the face's blocks
    baseline_quantile: float | None = opt(0.25, "F less this quantile of all blocks, the face-wide change "
                                                "(none: no baseline)")
    threshold_p: float = opt(0.1, "moilanen: spotting threshold p: T = mean + p * (max - mean) of the contrast over "
                                  "the rolling window", live=True, flags=("--threshold",))
    noise_factor: float = opt(4.0, "T is at least this times the contrast's noise level (its 75th percentile)",
                              live=True)
    min_contrast: float | None = opt(None, "T is at least this (none: MIN_CONTRAST of the feature)")
    window_s: float = opt(10.0, "rolling window of the threshold statistics, seconds")
    warmup_s: float = opt(0.5, "no events before this much contrast signal per face, seconds")
    close_fraction: float = opt(0.5, "C is low below T or this fraction of its peak, the higher (a strong event "
                                     "ends sooner)")
    merge_s: float = opt(0.14, "an event ends after C stays low this long (side lobes of one movement merge)")
    min_event_s: float = opt(0.1, "shorter excursions above T are noise", live=True)
    max_event_s: float = opt(1.0, "longer ones are cut here (a macro-expression or head turn)", live=True)
    refractory_s: float = opt(0.3, "no new event of a face this soon after the last one's offset", live=True)
    mask_eyes: bool = opt(True, "leave the eye blocks out of F so blinks do not count")
    face_cover: float = opt(0.5, "leave out blocks less than this much inside the face's hull (0: keep all)")
    blink_gate: float = opt(0.45, "drop an event when eyeBlink (blendshape) goes above this inside it", live=True)
    motion_gate: float = opt(0.08, "drop an event when the face moved more than this (face widths) inside it",
                             live=True)

    # magnify + classify
    classify: bool = opt(True, "magnify and classify events (--no-classify: spotting only, no engines needed)")
    amplification: float | None = opt(None, "magnification factor of the face shown (none: the magnifier's "
                                            "default); clamped to the magnifier's range", live=True)
    insets: bool = opt(True, "magnify each classified event's face at the amplification, for display (overlay, app); "
                             "--no-insets: the whole magnifier never runs (headless batch work)")
    engine_threads: int = opt(0, "CPU threads per engine; 0: the runtime's default (measured faster here than 1)")
    max_pending: int = opt(4, "events waiting for the worker; older ones are skipped when more arrive")

    # overlay
    overlay: bool = opt(True, "draw boxes, labels, the magnified face and the signal on the frames", live=True)
    timeline_s: float = opt(6.0, "seconds of signal the overlay's timeline shows", live=True)
    label_fade_s: float = opt(2.5, "seconds a label stays on the overlay", live=True)

    def __post_init__(self):
        def need(cond: bool, msg: str):
            if not cond:
                raise ValueError(f"StreamConfig: {msg}")

        need(math.isfinite(self.fps) and 1.0 <= self.fps <= 1000.0, f"fps must be in [1, 1000], got {self.fps}")
        need(1 <= self.max_faces <= 8, f"max_faces must be in [1, 8], got {self.max_faces}")
        need(self.far_scan_s > 0, f"far_scan_s must be > 0, got {self.far_scan_s}")
        need(self.smooth_hz is None or self.smooth_hz > 0, f"smooth_hz must be > 0, got {self.smooth_hz}")
        need(0.1 <= self.landmark_scale <= 1.0, f"landmark_scale must be in [0.1, 1], got {self.landmark_scale}")
        need(self.align_size >= 64 and self.align_size % 2 == 0, f"align_size must be even and >= 64, got {self.align_size}")
        need(self.spotter in ("auto", *SPOTTERS), f"spotter must be auto or one of {SPOTTERS}, got {self.spotter!r}")
        need(self.spot_threshold is None or 0.0 < self.spot_threshold < 1.0,
             f"spot_threshold must be in (0, 1), got {self.spot_threshold}")
        need(0.04 <= self.micro_max_s < self.max_macro_s, "need 0.04 <= micro_max_s < max_macro_s")
        need(32 <= self.flow_size <= self.align_size, f"flow_size must be in [32, align_size], got {self.flow_size}")
        need(0.02 <= self.flow_patch <= 0.3, f"flow_patch must be in [0.02, 0.3], got {self.flow_patch}")
        need(self.flow_noise_factor >= 0.0 and self.flow_floor >= 0.0, "flow_noise_factor and flow_floor must be >= 0")
        need(self.speech_jaw > 0.0 and self.speech_s > 0.0, "speech_jaw and speech_s must be > 0")
        need(self.feature in FEATURES, f"feature must be one of {FEATURES}, got {self.feature!r}")
        need(32 <= self.spot_size <= self.align_size, f"spot_size must be in [32, align_size], got {self.spot_size}")
        need(2 <= self.grid <= 16 and self.spot_size // self.grid >= 4, f"grid {self.grid} too fine or coarse for spot_size {self.spot_size}")
        need(0.04 <= self.me_length_s <= 2.0, f"me_length_s must be in [0.04, 2], got {self.me_length_s}")
        need(0.0 <= self.threshold_p < 1.0, f"threshold_p must be in [0, 1), got {self.threshold_p}")
        need(self.min_contrast is None or self.min_contrast >= 0.0, f"min_contrast must be >= 0, got {self.min_contrast}")
        need(0.0 <= self.close_fraction < 1.0, f"close_fraction must be in [0, 1), got {self.close_fraction}")
        need(self.noise_factor >= 0.0, f"noise_factor must be >= 0, got {self.noise_factor}")
        need(0.0 < self.top_fraction <= 1.0, f"top_fraction must be in (0, 1], got {self.top_fraction}")
        need(self.baseline_quantile is None or 0.0 <= self.baseline_quantile <= 0.5,
             f"baseline_quantile must be in [0, 0.5], got {self.baseline_quantile}")
        need(self.window_s >= 1.0, f"window_s must be >= 1, got {self.window_s}")
        need(0.0 < self.min_event_s < self.max_event_s, "need 0 < min_event_s < max_event_s")
        need(self.refractory_s >= 0.0 and self.warmup_s >= 0.0, "refractory_s and warmup_s must be >= 0")
        need(0.0 <= self.face_cover <= 1.0, f"face_cover must be in [0, 1], got {self.face_cover}")
        need(0.0 < self.blink_gate <= 1.0, f"blink_gate must be in (0, 1], got {self.blink_gate}")
        need(self.motion_gate > 0.0, f"motion_gate must be > 0, got {self.motion_gate}")
        need(self.amplification is None or 0.0 < self.amplification <= 100.0,
             f"amplification must be in (0, 100], got {self.amplification}")
        need(self.max_pending >= 1, "max_pending must be >= 1")
        need(self.engine_threads >= 0, "engine_threads must be >= 0")
        need(self.timeline_s > 0 and self.label_fade_s > 0, "timeline_s and label_fade_s must be > 0")
        need(self.track_timeout_s > 0, "track_timeout_s must be > 0")

    @property
    def contrast_floor(self) -> float:
        return MIN_CONTRAST[self.feature] if self.min_contrast is None else self.min_contrast

    # -- frame counts ------------------------------------------------------------------------------
    def frames(self, seconds: float, minimum: int = 1) -> int:
        return max(minimum, int(round(seconds * self.fps)))

    @property
    def k(self) -> int:
        """Moilanen's k: half the expected micro-expression length, in frames (N = 2k + 1)."""
        return max(1, int(self.me_length_s * self.fps / 2))

    @property
    def history(self) -> int:
        """Frames of aligned crops kept per face: enough to reach an event's onset when it is emitted."""
        return self.frames(self.max_event_s) + 4 * self.k + 4

    def with_fps(self, fps: float) -> StreamConfig:
        return replace(self, fps=float(fps))

    @classmethod
    def live(cls) -> frozenset[str]:
        """The fields that may change while a stream runs."""
        return live_fields(cls)

    def updated(self, **changes) -> StreamConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"StreamConfig: unknown option(s) {sorted(unknown)}")
        return replace(self, **changes)
