"""Long clips for spotting: several micro-expressions at known frames in one video, with event-free
stretches between them, written as H.264 mp4 (yuv420p) plus a ground-truth JSON beside it.

The face comes from a still (a synthetic subject: head sway, lighting drift and sensor noise are
added) or from the frames of a real face video (its own motion, light and noise are kept; the
landmarks are tracked in every frame in VIDEO mode and lightly smoothed, and each event frame is
warped around that frame's landmarks). A video can be played forward and back to a longer length
(``video_seconds``; turning at its stillest frames, ``train.synth.playback``), and can carry the seeded
head sway, light drift and sensor noise as well (``video_nuisance``): without them an event-free clip of
a video is the same for every seed.

Ground truth (``clip.json``)::

    {"video": "clip.mp4", "fps": 30.0, "frame_count": 300, "width": .., "height": .., "frame_index_base": 0,
     "source": "astronaut", "seed": 0,
     "events": [{"onset": 31, "apex": 36, "offset": 41, "label": "happiness", "aus": "6+12", "kind": "micro",
                 "warp": "rbf", "displacement_px": {"6": 2.1, "12": 2.6}, "onset_s": .., "apex_s": .., "offset_s": ..},
                ...],
     "distractors": [{"kind": "blink", "start": 80, "end": 88, "size_px": 7.1}, ...],
     "turns": [212, 424], "turn_s": 0.2}          # a video's clip only: where its playback turns back

Frame indices count decoded frames from 0; onset is the last neutral frame, offset the first
neutral one again. ``kind`` is "micro" or "macro" (a macro-expression: same AU strings, larger,
0.5-4 s); distractors ("blink", "speech", "head_turn", "nod") carry no class. Events and
distractors never overlap; a real video keeps its own motion, which is not in ``distractors``; its playback's
turns are placed without regard to either.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from mecore import atomic
from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from mecore.h264 import x264_options
from train.synth import distractors as dis
from train.synth import output
from train.synth.distractors import Distractor
from train.synth.events import CLASSES, Event, class_schedule, sample_aus, sample_timing
from train.synth.faces import VIDEO_SUFFIXES, Source, Subject, largest_face, make_subject
from train.synth.playback import TURN_S, ping_pong, playback, turns
from train.synth.render import Clip, Nuisance, Renderer, SensorNoise, animate, blur, frame_field, head_at
from train.synth.video import cached_tracks
from train.synth.video import decode as _decode
from train.synth.video import video_fps as _video_fps
from train.synth.warp import EVAL_WARPS, WARPS, FaceGeometry

__all__ = ["LongClipConfig", "make_long_clip", "long_clip_from_video", "long_clip_from_subject", "ping_pong"]

# A person holding still for seconds: slower, wider sway than within one short clip.
LONG_NUISANCE = Nuisance(head_px=1.0, head_deg=0.3, head_scale=0.002, head_hz=(0.05, 0.3),
                         light=0.015, light_hz=(0.02, 0.1), noise=(0.6, 1.2))


@dataclass(frozen=True)
class LongClipConfig:
    seconds: float = 10.0  # for still sources; a video source keeps its own length (or max_frames)
    fps: float = 30.0  # for still sources; a video keeps its own rate
    events: int = 5
    amplitude: tuple[float, float] = (1.5, 3.0)  # apex displacement per AU, px on the aligned 256 crop
    duration_s: tuple[float, float] = (0.2, 0.5)  # onset -> offset
    gap_s: float = 0.8  # event-free time at least before the first, between, and after the last event
    labels: tuple[str, ...] | None = None  # one per event; default: the classes in a shuffled cycle
    nuisance: Nuisance = field(default_factory=lambda: LONG_NUISANCE)
    crf: int = 20
    max_frames: int | None = None  # at most this many frames (of a video source: read from it)
    video_seconds: float | None = None  # a video source played forward and back to this length; None: its own
    video_nuisance: bool = False  # a video source gets ``nuisance`` (seeded) on top of its own motion too
    macro: int = 0  # macro-expressions per clip (labelled events of kind "macro")
    macro_amplitude: tuple[float, float] = (4.0, 10.0)
    macro_s: tuple[float, float] = (0.5, 4.0)
    distractors: int = 0  # distractors per clip, kinds in a shuffled cycle of distractors.DISTRACTOR_KINDS
    warps: tuple[str, ...] = ("rbf",)  # each event's warp family drawn from these
    # every event rendered in this family instead of its drawn one (EVAL_WARPS too); the draws stay, so the
    # clips differ from the ones without it only in their warp
    render_warp: str = ""
    crf_range: tuple[int, int] | None = None  # drawn per clip (overrides crf)
    blur_range: tuple[float, float] | None = None  # focus blur sigma (px) drawn per clip

    def __post_init__(self):
        if self.macro < 0 or self.distractors < 0:
            raise ValueError("macro and distractors must be >= 0")
        if not self.warps or set(self.warps) - set(WARPS):
            raise ValueError(f"warps must be some of {WARPS}, got {self.warps}")
        if self.render_warp and self.render_warp not in WARPS + EVAL_WARPS:
            raise ValueError(f"render_warp must be one of {WARPS + EVAL_WARPS}, got {self.render_warp!r}")
        if self.crf_range is not None and not 0 <= self.crf_range[0] <= self.crf_range[1] <= 51:
            raise ValueError(f"crf_range must lie in [0, 51], got {self.crf_range}")
        if self.events < 0:
            raise ValueError("events must be >= 0")
        if self.video_seconds is not None and not 0 < self.video_seconds <= 3600:
            raise ValueError(f"video_seconds must be in (0, 3600], got {self.video_seconds}")
        if self.seconds <= 0 or not 1 <= self.fps <= 1000:
            raise ValueError("seconds must be > 0 and fps in [1, 1000]")
        if not 0.04 <= self.duration_s[0] <= self.duration_s[1] <= 0.5:
            raise ValueError(f"micro-expression durations must lie in [0.04, 0.5] s, got {self.duration_s}")
        if self.labels is not None and (len(self.labels) != self.events or set(self.labels) - set(CLASSES)):
            raise ValueError(f"labels must be {self.events} of {CLASSES}")
        if not 0 <= self.crf <= 51:
            raise ValueError("crf must be in [0, 51]")


def place_events(n_frames: int, fps: float, cfg: LongClipConfig, rng: np.random.Generator) -> list[Event]:
    """``cfg.events`` micro-expressions at random places, each separated by at least ``gap_s`` of stillness."""
    return place_items(n_frames, fps, cfg, rng)[0]


def place_items(n_frames: int, fps: float, cfg: LongClipConfig, rng: np.random.Generator,
                ) -> tuple[list[Event], list[Distractor]]:
    """Micro-expressions, macro-expressions and distractors at random places and in a random order,
    each separated from the next by at least ``gap_s`` of stillness. Without macro-expressions and
    distractors the draws are the ones this function always made (the same clips for a seed)."""
    k = cfg.events
    labels = list(cfg.labels) if cfg.labels else class_schedule(k, rng) if k else []
    timings = [sample_timing(rng, fps, cfg.duration_s) for _ in range(k)]
    items: list[tuple[str, object, int]] = [("micro", (lab, t), t[1]) for lab, t in zip(labels, timings)]
    if cfg.macro or cfg.distractors:
        macro_labels = class_schedule(cfg.macro, rng)
        for lab in macro_labels:
            t = sample_timing(rng, fps, cfg.macro_s, rise_s=None)
            items.append(("macro", (lab, t), t[1]))
        kinds = [dis.DISTRACTOR_KINDS[i] for i in rng.permutation(len(dis.DISTRACTOR_KINDS))]
        for j in range(cfg.distractors):
            d = dis.draw(kinds[j % len(kinds)], 0, fps, rng)
            items.append(("distractor", d, d.end - d.start))
        items = [items[i] for i in rng.permutation(len(items))]
    if not items:
        return [], []
    gap = int(math.ceil(cfg.gap_s * fps))
    need = sum(length for _, _, length in items) + (len(items) + 1) * gap
    if need > n_frames:
        what = f"{k} events" + (f", {cfg.macro} macro-expressions, {cfg.distractors} distractors"
                                if cfg.macro or cfg.distractors else "")
        raise MexError(f"{what} with {cfg.gap_s} s gaps need {need} frames; the clip has {n_frames}")
    slack = rng.multinomial(n_frames - need, np.full(len(items) + 1, 1.0 / (len(items) + 1)))
    events, distractors, t = [], [], 0
    for i, (kind, what, length) in enumerate(items):
        t += gap + int(slack[i])
        if kind == "distractor":
            distractors.append(Distractor(**{**what.__dict__, "start": t, "end": t + length}))
        else:
            label, (rise, total) = what
            amplitude = cfg.amplitude if kind == "micro" else cfg.macro_amplitude
            events.append(Event(label, sample_aus(label, rng, amplitude), t, t + rise, t + total, kind=kind))
        t += length
    if len(cfg.warps) > 1:
        events = [Event(**{**e.__dict__, "warp": str(rng.choice(cfg.warps))}) for e in events]
    if cfg.render_warp:
        events = [Event(**{**e.__dict__, "warp": cfg.render_warp}) for e in events]
    return events, distractors


def clip_look(cfg: LongClipConfig, rng: np.random.Generator) -> tuple[int, float]:
    """(CRF, blur sigma) of one clip: drawn when the config gives ranges (after every other draw)."""
    crf = int(rng.integers(cfg.crf_range[0], cfg.crf_range[1] + 1)) if cfg.crf_range else cfg.crf
    sigma = float(rng.uniform(*cfg.blur_range)) if cfg.blur_range else 0.0
    return crf, sigma


def truth_record(events: list[Event], fps: float, n: int, size: tuple[int, int], video: str,
                 source: str, seed: int, distractors: list[Distractor] = (), look: dict | None = None,
                 turned: list[int] | None = None) -> dict:
    return {
        "generator": output.GENERATOR, "video": video, "fps": fps, "frame_count": n, "width": size[0], "height": size[1],
        "frame_index_base": 0, "source": source, "seed": seed, **({"look": look} if look else {}),
        "events": [
            {"onset": e.onset, "apex": e.apex, "offset": e.offset, "label": e.label, "aus": e.au_string,
             "kind": e.kind, "warp": e.warp, "displacement_px": {m.code: m.displacement_px for m in e.aus},
             "onset_s": round(e.onset / fps, 4), "apex_s": round(e.apex / fps, 4), "offset_s": round(e.offset / fps, 4)}
            for e in events
        ],
        "distractors": [d.record() for d in distractors],
        # a video's clip: the frames where its playback turns back, each mirroring TURN_S of motion on either side
        **({"turns": list(turned), "turn_s": TURN_S} if turned is not None else {}),
    }


def write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float, crf: int = 20) -> int:
    """Encode RGB frames as H.264 (yuv420p) mp4, atomically; returns the frame count."""
    import av

    count = 0
    with atomic.atomic_path(path) as tmp, av.open(str(tmp), "w") as container:
        stream = None
        for rgb in frames:
            if stream is None:
                h, w = rgb.shape[:2]
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = x264_options(crf, "medium")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise MexError(f"{path}: no frames to write")
        container.mux(stream.encode(None))
    return count


def _write(out_mp4: Path, frames, events, fps, n, size, source, seed, crf, distractors=(), look=None,
           turned: list[int] | None = None) -> dict:
    out_mp4 = Path(out_mp4)
    written = write_mp4(out_mp4, frames, fps, crf)
    if written != n:
        raise MexError(f"{out_mp4}: wrote {written} frames, expected {n}")
    w, h = size
    truth = truth_record(events, fps, n, (w - w % 2, h - h % 2), out_mp4.name, source, seed, distractors, look, turned)
    atomic.write_json(out_mp4.with_suffix(".json"), truth)
    return truth


def long_clip_from_subject(subject: Subject, out_mp4: str | Path, cfg: LongClipConfig | None = None,
                           seed: int = 0) -> dict:
    """A long clip of a still synthetic subject; writes ``out_mp4`` and its ``.json``; returns the truth."""
    cfg = cfg or LongClipConfig()
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4, subject.index)))
    n = int(round(cfg.seconds * cfg.fps))
    if cfg.max_frames:
        n = min(n, cfg.max_frames)
    events, distractors = place_items(n, cfg.fps, cfg, rng)
    clip = Clip.draw(n, cfg.fps, rng, cfg.nuisance, subject.geometry.scale)
    crf, sigma = clip_look(cfg, rng)
    frames = animate(Renderer(subject.image, subject.centre), subject.geometry, events, n, clip, rng,
                     tuple(distractors), cfg.fps)
    if sigma:
        frames = (blur(f, sigma) for f in frames)
    h, w = subject.image.shape[:2]
    look = {"crf": crf, "blur": round(sigma, 3), "noise_sigma": round(clip.noise_sigma, 3)} if cfg.crf_range else None
    return _write(out_mp4, frames, events, cfg.fps, n, (w, h), subject.source, seed, crf, distractors, look)


def long_clip_from_video(video: str | Path, out_mp4: str | Path, cfg: LongClipConfig | None = None,
                         seed: int = 0) -> dict:
    """Inject ``cfg.events`` micro-expressions into a real face video (e.g. ../shared/media/face.mp4)."""
    cfg = cfg or LongClipConfig()
    video = Path(video)
    if not video.is_file():
        raise MexError(f"{video}: video not found")
    atomic.refuse_overwrite(out_mp4, video)
    fps = _video_fps(video)
    landmarks = cached_tracks(video, cfg.max_frames)
    n = len(landmarks) if cfg.video_seconds is None else max(1, int(round(cfg.video_seconds * fps)))
    source_of = playback(n, landmarks, fps)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4, 0)))
    events, distractors = place_items(n, fps, cfg, rng)  # drawn first: the defaults give the clips they always gave
    first = next(_decode(video, 1))
    clip = noise = None
    scale = FaceGeometry(landmarks[0], first.shape[:2]).scale
    if cfg.video_nuisance or distractors:
        nuisance = cfg.nuisance if cfg.video_nuisance else Nuisance.none()
        clip = Clip.draw(n, fps, rng, nuisance, scale)
        noise = SensorNoise(first.shape[:2], clip.noise_sigma, rng)
    crf, sigma = clip_look(cfg, rng)
    distractors = tuple(distractors)

    def source_frames() -> Iterator[np.ndarray]:
        if n <= len(landmarks):
            yield from _decode(video, n)
            return
        decoded = list(_decode(video, len(landmarks)))  # played back and forth: held in memory
        yield from (decoded[s] for s in source_of)

    def frames() -> Iterator[np.ndarray]:
        for i, rgb in enumerate(source_frames()):
            lms = landmarks[source_of[i]]
            moving = any(ev.onset < i < ev.offset for ev in events) or any(d.start < i < d.end for d in distractors)
            if not moving and clip is None:
                yield blur(rgb, sigma)
                continue
            field = frame_field(FaceGeometry(lms, rgb.shape[:2]), events, i, distractors, fps) if moving else None
            if clip is None:
                out = Renderer(rgb, tuple(lms[1])).render(field)
            else:
                out = Renderer(rgb, tuple(lms[1])).render(field, head_at(clip.head[i], distractors, i, scale),
                                                          clip.light[i], noise.next())
            yield blur(out, sigma)

    look = {"crf": crf, "blur": round(sigma, 3)} if cfg.crf_range else None
    return _write(out_mp4, frames(), events, fps, n, (first.shape[1], first.shape[0]), video.name, seed, crf,
                  distractors, look, turns(source_of))


def make_long_clip(source, out_mp4: str | Path, cfg: LongClipConfig | None = None, seed: int = 0,
                   size: tuple[int, int] | None = None, fill: float = 0.62) -> dict:
    """A long clip from a video path, an image path, an RGB array, or ``"astronaut"``.

    Stills keep their look (no appearance variation): cropped around the face to ``size``
    (width, height; default 384 x 432), forehead to chin spanning ``fill`` of the height.
    """
    cfg = cfg or LongClipConfig()
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() in VIDEO_SUFFIXES:
        return long_clip_from_video(source, out_mp4, cfg, seed)
    with FaceTracker(mode="image", max_faces=1, blendshapes=False) as tracker:
        if isinstance(source, np.ndarray):
            src = Source("array", source, largest_face(tracker, source, "array"))
        else:
            from train.synth.faces import load_sources

            src = load_sources(None if str(source) == "astronaut" else [str(source)], tracker)[0]
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,)))
        subject = make_subject(src, 1, rng, tracker, vary=False, size=size or (384, 432), overrides={"fill": fill})
    return long_clip_from_subject(subject, out_mp4, cfg, seed)
