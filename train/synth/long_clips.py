"""Long clips for spotting: several micro-expressions at known frames in one video, with event-free
stretches between them, written as H.264 mp4 (yuv420p) plus a ground-truth JSON beside it.

The face comes from a still (a synthetic subject: head sway, lighting drift and sensor noise are
added) or from the frames of a real face video (its own motion, light and noise are kept; the
landmarks are tracked in every frame in VIDEO mode and lightly smoothed, and each event frame is
warped around that frame's landmarks). A video can be played forward and back to a longer length
(``video_seconds``), and can carry the seeded head sway, light drift and sensor noise as well
(``video_nuisance``): without them an event-free clip of a video is the same for every seed.

Ground truth (``clip.json``)::

    {"video": "clip.mp4", "fps": 30.0, "frame_count": 300, "width": .., "height": .., "frame_index_base": 0,
     "source": "astronaut", "seed": 0,
     "events": [{"onset": 31, "apex": 36, "offset": 41, "label": "happiness", "aus": "6+12",
                 "displacement_px": {"6": 2.1, "12": 2.6}, "onset_s": .., "apex_s": .., "offset_s": ..}, ...]}

Frame indices count decoded frames from 0; onset is the last neutral frame, offset the first
neutral one again.
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
from train.synth import output
from train.synth.events import CLASSES, Event, class_schedule, sample_aus, sample_timing
from train.synth.faces import VIDEO_SUFFIXES, Source, Subject, largest_face, make_subject
from train.synth.render import Clip, Nuisance, Renderer, SensorNoise, animate
from train.synth.warp import FaceGeometry

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

    def __post_init__(self):
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
    """``cfg.events`` events at random places, each separated by at least ``gap_s`` of stillness."""
    k = cfg.events
    if k == 0:
        return []
    labels = list(cfg.labels) if cfg.labels else class_schedule(k, rng)
    timings = [sample_timing(rng, fps, cfg.duration_s) for _ in range(k)]
    gap = int(math.ceil(cfg.gap_s * fps))
    need = sum(total for _, total in timings) + (k + 1) * gap
    if need > n_frames:
        raise MexError(f"{k} events with {cfg.gap_s} s gaps need {need} frames; the clip has {n_frames}")
    slack = rng.multinomial(n_frames - need, np.full(k + 1, 1.0 / (k + 1)))
    events, t = [], 0
    for i, (label, (rise, total)) in enumerate(zip(labels, timings)):
        t += gap + int(slack[i])
        events.append(Event(label, sample_aus(label, rng, cfg.amplitude), t, t + rise, t + total))
        t += total
    return events


def truth_record(events: list[Event], fps: float, n: int, size: tuple[int, int], video: str,
                 source: str, seed: int) -> dict:
    return {
        "generator": output.GENERATOR, "video": video, "fps": fps, "frame_count": n, "width": size[0], "height": size[1],
        "frame_index_base": 0, "source": source, "seed": seed,
        "events": [
            {"onset": e.onset, "apex": e.apex, "offset": e.offset, "label": e.label, "aus": e.au_string,
             "displacement_px": {m.code: m.displacement_px for m in e.aus},
             "onset_s": round(e.onset / fps, 4), "apex_s": round(e.apex / fps, 4), "offset_s": round(e.offset / fps, 4)}
            for e in events
        ],
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
                stream.options = {"crf": str(crf), "preset": "medium"}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise MexError(f"{path}: no frames to write")
        container.mux(stream.encode(None))
    return count


def _write(out_mp4: Path, frames, events, fps, n, size, source, seed, crf) -> dict:
    out_mp4 = Path(out_mp4)
    written = write_mp4(out_mp4, frames, fps, crf)
    if written != n:
        raise MexError(f"{out_mp4}: wrote {written} frames, expected {n}")
    w, h = size
    truth = truth_record(events, fps, n, (w - w % 2, h - h % 2), out_mp4.name, source, seed)
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
    events = place_events(n, cfg.fps, cfg, rng)
    clip = Clip.draw(n, cfg.fps, rng, cfg.nuisance, subject.geometry.scale)
    frames = animate(Renderer(subject.image, subject.centre), subject.geometry, events, n, clip, rng)
    h, w = subject.image.shape[:2]
    return _write(out_mp4, frames, events, cfg.fps, n, (w, h), subject.source, seed, cfg.crf)


def _decode(path: Path, max_frames: int | None) -> Iterator[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and i >= max_frames:
                    break
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise MexError(f"{path}: cannot decode video ({exc})") from None


def _video_fps(path: Path) -> float:
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
    except (av.error.FFmpegError, IndexError) as exc:
        raise MexError(f"{path}: cannot open video ({exc})") from None
    return float(rate) if rate else 30.0


def track_landmarks(path: Path, max_frames: int | None = None, smooth: int = 2) -> np.ndarray:
    """(n, 478, 2) landmarks of the largest face per frame (VIDEO mode), gaps filled from the nearest
    tracked frame, then averaged over +-``smooth`` frames to remove the landmarker's jitter."""
    fps = _video_fps(path)
    tracks: list[np.ndarray | None] = []
    with FaceTracker(mode="video", max_faces=1, blendshapes=False) as tracker:
        for i, rgb in enumerate(_decode(path, max_frames)):
            faces = tracker.track(rgb, int(round(i * 1000 / fps)))
            tracks.append(faces[0].landmarks[:, :2] if faces else None)
    have = [i for i, t in enumerate(tracks) if t is not None]
    if not have:
        raise MexError(f"{path}: no face found in any frame")
    filled = np.stack([tracks[min(have, key=lambda j, i=i: abs(j - i))] for i in range(len(tracks))])
    if smooth > 0:
        kernel = np.ones(2 * smooth + 1) / (2 * smooth + 1)
        padded = np.concatenate([filled[:1].repeat(smooth, 0), filled, filled[-1:].repeat(smooth, 0)])
        filled = np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="valid"), 0, padded)
    return filled.astype(np.float32)


def ping_pong(n: int, m: int) -> np.ndarray:
    """Source frame of each of ``n`` output frames when ``m`` source frames play forward, back, forward..."""
    if m <= 1:
        return np.zeros(n, dtype=np.int64)
    p = np.arange(n) % (2 * m - 2)
    return np.where(p < m, p, 2 * m - 2 - p)


def long_clip_from_video(video: str | Path, out_mp4: str | Path, cfg: LongClipConfig | None = None,
                         seed: int = 0) -> dict:
    """Inject ``cfg.events`` micro-expressions into a real face video (e.g. ../shared/media/face.mp4)."""
    cfg = cfg or LongClipConfig()
    video = Path(video)
    if not video.is_file():
        raise MexError(f"{video}: video not found")
    atomic.refuse_overwrite(out_mp4, video)
    fps = _video_fps(video)
    landmarks = track_landmarks(video, cfg.max_frames)
    n = len(landmarks) if cfg.video_seconds is None else max(1, int(round(cfg.video_seconds * fps)))
    source_of = ping_pong(n, len(landmarks))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4, 0)))
    events = place_events(n, fps, cfg, rng)  # drawn first: the defaults give the clips they always gave
    first = next(_decode(video, 1))
    clip = noise = None
    if cfg.video_nuisance:
        clip = Clip.draw(n, fps, rng, cfg.nuisance, FaceGeometry(landmarks[0], first.shape[:2]).scale)
        noise = SensorNoise(first.shape[:2], clip.noise_sigma, rng)

    def source_frames() -> Iterator[np.ndarray]:
        if n <= len(landmarks):
            yield from _decode(video, n)
            return
        decoded = list(_decode(video, len(landmarks)))  # played back and forth: held in memory
        yield from (decoded[s] for s in source_of)

    def frames() -> Iterator[np.ndarray]:
        for i, rgb in enumerate(source_frames()):
            motions = [m for ev in events for m in ev.motions(i)]
            if not motions and clip is None:
                yield rgb
                continue
            lms = landmarks[source_of[i]]
            field = FaceGeometry(lms, rgb.shape[:2]).field(motions) if motions else None
            if clip is None:
                yield Renderer(rgb, tuple(lms[1])).render(field)
            else:
                yield Renderer(rgb, tuple(lms[1])).render(field, clip.head[i], clip.light[i], noise.next())

    return _write(out_mp4, frames(), events, fps, n, (first.shape[1], first.shape[0]), video.name, seed, cfg.crf)


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
