"""Real face videos as subjects: events warped around landmarks tracked in every frame.

The person's own head motion, speech, blinks, light and camera noise stay; each frame's field is built
on that frame's tracked landmarks, so an injected AU moves with the head. Tracks are cached under
``.cache/faces/tracks`` by the video's SHA-256 (tracking is the slow part).

For the CASME II-layout set, every clip is a stretch of the video (played forward and back where it
is short) cut around the face and scaled so the face is 120-400 px wide, with a lighting drift,
sensor noise and focus blur drawn per clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mecore import atomic, upright
from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from train.synth.events import Event
from train.synth.playback import ping_pong
from train.synth.render import Clip, Renderer, SensorNoise, blur, frame_field
from train.synth.warp import FaceGeometry

MAX_FRAMES = 300  # frames of a video used (10 s at 30 fps): tracking and memory stay bounded
_CHEEKS = (234, 454)


def decode(path: Path, max_frames: int | None) -> Iterator[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and i >= max_frames:
                    break
                yield upright.rgb(frame)
    except av.error.FFmpegError as exc:
        raise MexError(f"{path}: cannot decode video ({exc})") from None


def video_fps(path: Path) -> float:
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
    fps = video_fps(path)
    tracks: list[np.ndarray | None] = []
    with FaceTracker(mode="video", max_faces=1, blendshapes=False) as tracker:
        for i, rgb in enumerate(decode(path, max_frames)):
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


def cached_tracks(path: Path, max_frames: int | None = MAX_FRAMES, cache: Path | None = None) -> np.ndarray:
    """``track_landmarks`` once per video content and length, then read from ``cache``."""
    from train.synth.sources import CACHE, sha256_of

    folder = (cache or CACHE) / "tracks"
    key = folder / f"{sha256_of(path)[:20]}-{max_frames or 'all'}.npy"
    if key.is_file():
        try:
            return np.load(key)
        except (OSError, ValueError):
            pass  # a damaged cache entry is tracked again
    lms = track_landmarks(path, max_frames)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(key) as tmp, open(tmp, "wb") as f:
        np.save(f, lms)
    return lms


def face_width(lms: np.ndarray) -> float:
    return float(np.hypot(*(lms[_CHEEKS[1]] - lms[_CHEEKS[0]])))


@dataclass(eq=False)
class VideoSubject:
    """A subject made of a real video: its frames (up to ``MAX_FRAMES``), tracked landmarks, rate."""

    index: int
    source: str  # the person
    path: Path
    landmarks_track: np.ndarray  # (n, 478, 2)
    fps: float
    appearance: dict = field(default_factory=dict)
    _frames: list[np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, index: int, person: str, path: str | Path) -> VideoSubject:
        path = Path(path)
        return cls(index, person, path, cached_tracks(path), video_fps(path), {"video": str(path)})

    def frames(self) -> list[np.ndarray]:
        if self._frames is None:
            self._frames = list(decode(self.path, len(self.landmarks_track)))
        return self._frames

    def release(self) -> None:
        self._frames = None

    @property
    def image(self) -> np.ndarray:
        return self.frames()[0]

    @property
    def landmarks(self) -> np.ndarray:
        return self.landmarks_track[0]

    @property
    def geometry(self) -> FaceGeometry:
        return FaceGeometry(self.landmarks, self.image.shape[:2])

    # -- one clip -----------------------------------------------------------------------------------
    def plan(self, n: int, rng: np.random.Generator) -> dict:
        """Where a clip of ``n`` frames comes from and how it is cut: start, face width, blur."""
        m = len(self.landmarks_track)
        return {"start": int(rng.integers(0, max(1, m - n + 1))), "face_px": float(rng.uniform(120, 400)),
                "aspect": float(rng.uniform(1.05, 1.2)), "blur": float(rng.uniform(0.0, 0.8))}

    def cut(self, plan: dict, n: int) -> tuple[list[int], np.ndarray, tuple[int, int]]:
        """(source frame of each clip frame, (2, 3) source -> clip affine, clip (width, height))."""
        m = len(self.landmarks_track)
        order = [plan["start"] + i for i in range(n)] if m >= n else ping_pong(n, m).tolist()
        lms = self.landmarks_track[order]
        k = plan["face_px"] / float(np.median([face_width(p) for p in lms]))
        centre = lms.reshape(-1, 2).mean(0)
        w = 2 * int(round(plan["face_px"]))  # two face widths: room for the head's own motion
        h = 2 * int(round(w * plan["aspect"] / 2))
        m_aff = np.array([[k, 0, w / 2 - k * centre[0]], [0, k, h / 2 - k * centre[1]]], np.float64)
        return order, m_aff, (w, h)

    def clip_frames(self, events: list[Event], n: int, clip: Clip, plan: dict, rng: np.random.Generator,
                    fps: float) -> Iterator[np.ndarray]:
        """The clip's RGB frames: each source frame cut and scaled, the events warped around that
        frame's landmarks, then lit, blurred and noised."""
        order, m_aff, (w, h) = self.cut(plan, n)
        frames = self.frames()
        noise = SensorNoise((h, w), clip.noise_sigma, rng)
        k = float(m_aff[0, 0])
        for i, s in enumerate(order):
            img, mm = frames[s], m_aff
            if k < 0.7:  # shrink first so the cut does not alias
                img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
                mm = np.array([[1.0, 0, m_aff[0, 2]], [0, 1.0, m_aff[1, 2]]])
            out = cv2.warpAffine(img, mm, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            lms = self.landmarks_track[s] * k + m_aff[:, 2]
            fld = frame_field(FaceGeometry(lms, (h, w)), events, i, (), fps)
            rendered = Renderer(out, tuple(lms[1])).render(fld)
            yield Renderer(blur(rendered, plan["blur"]), tuple(lms[1])).render(None, None, clip.light[i], noise.next())

    def clip_landmarks(self, plan: dict, n: int) -> np.ndarray:
        """(n, 478, 2) tracked landmarks of the clip's frames in clip pixels."""
        order, m_aff, _ = self.cut(plan, n)
        return self.landmarks_track[order] * m_aff[0, 0] + m_aff[:, 2]
