"""Real faces made into distinct synthetic subjects.

A source is a real face photograph (scikit-image's ``astronaut`` by default) or a frame of a real
face video. A subject is one source re-shot: crop position and scale, mirroring, roll, a slight
change of face shape (aspect and smooth local warps), another background, skin tone, gamma,
contrast, saturation and focus. Each subject's base image is run through the face tracker once
(IMAGE mode); every later frame is an analytic warp of it, so its landmarks are known exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mecore import upright
from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from train.synth.warp import FaceGeometry

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".3gp", ".mts", ".m2ts", ".ts")
FRAMES_PER_VIDEO = 3  # stills taken from each video given as a face source
FACE_PX = (120.0, 400.0)  # face width (cheek to cheek) in a subject's frame
_FORE, _CHIN = 10, 152


@dataclass(frozen=True, eq=False)
class Source:
    """A real face: RGB uint8 image and its detected landmarks (478, 3) in pixels."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray


@dataclass(frozen=True, eq=False)
class Subject:
    """A synthetic subject: its base frame, landmarks detected on it, and how it was made."""

    index: int  # 1-based, as CASME II numbers subjects
    source: str
    image: np.ndarray
    landmarks: np.ndarray
    appearance: dict = field(default_factory=dict)
    geometry: FaceGeometry = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "geometry", FaceGeometry(self.landmarks, self.image.shape[:2]))

    @property
    def centre(self) -> tuple[float, float]:
        """The head's pivot for head motion: the nose tip."""
        x, y = self.landmarks[1, :2]
        return float(x), float(y)


def largest_face(tracker: FaceTracker, rgb: np.ndarray, where: str) -> np.ndarray:
    faces = tracker.detect(rgb)
    if not faces:
        raise MexError(f"{where}: no face found")
    best = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    return best.landmarks


def _video_stills(path: Path, count: int) -> list[tuple[str, np.ndarray]]:
    import av

    try:
        with av.open(str(path)) as container:
            frames = [upright.rgb(f) for f in container.decode(video=0)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise MexError(f"{path}: cannot decode video ({exc})") from None
    if not frames:
        raise MexError(f"{path}: video has no frames")
    picks = sorted({int(round(i)) for i in np.linspace(0, len(frames) - 1, count + 2)[1:-1]}) or [0]
    return [(f"{path.name}#frame{i}", frames[i]) for i in picks]


def load_sources(paths: list[str] | None, tracker: FaceTracker) -> list[Source]:
    """Face sources from image/video paths, or scikit-image's astronaut when none are given."""
    named: list[tuple[str, np.ndarray, str]] = []  # (name, image, where: for messages)
    if not paths:
        from skimage import data

        named.append(("astronaut", data.astronaut(), "skimage.data.astronaut"))
    for p in paths or []:
        path = Path(p)
        if not path.is_file():
            raise MexError(f"{path}: face source not found")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            named.extend((name, img, f"{path} ({name.split('#')[1]})") for name, img in _video_stills(path, FRAMES_PER_VIDEO))
            continue
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise MexError(f"{path}: cannot read image")
        named.append((path.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), str(path)))
    return [Source(name, img, largest_face(tracker, img, where)) for name, img, where in named]


# -- appearance --------------------------------------------------------------------------------------
def _draw_appearance(rng: np.random.Generator, vary: bool, size: tuple[int, int] | None) -> dict:
    if not vary:
        size = size or (256, 288)
        return {"width": size[0], "height": size[1], "fill": 0.62, "mirror": False, "roll_deg": 0.0,
                "aspect": 1.0, "dx": 0.0, "dy": 0.0, "bumps": [], "background": "original",
                "gains": [1.0, 1.0, 1.0], "gamma": 1.0, "contrast": 1.0, "brightness": 0.0,
                "saturation": 1.0, "blur": 0.0, "bg_seed": 0}
    fill = float(rng.uniform(0.62, 0.74))  # forehead-to-chin span / frame height
    if size is None:  # the face (cheek to cheek, about 0.9 of forehead to chin) 120-400 px wide
        face_px = float(rng.uniform(*FACE_PX))
        h = 2 * int(round(face_px / (0.9 * fill) / 2))
        size = (2 * int(round(h / rng.uniform(1.05, 1.2) / 2)), h)
    return {
        "width": size[0],
        "height": size[1],
        "fill": fill,
        "mirror": bool(rng.random() < 0.5),
        "roll_deg": float(rng.uniform(-6, 6)),
        "aspect": float(rng.uniform(0.9, 1.1)),  # face width / height change
        "dx": float(rng.uniform(-0.04, 0.04)),
        "dy": float(rng.uniform(-0.03, 0.03)),
        # smooth local shape changes: (landmark, direction deg, amplitude as a fraction of face height)
        "bumps": [[int(rng.integers(0, 478)), float(rng.uniform(0, 360)), float(rng.uniform(0.01, 0.025))]
                  for _ in range(3)],
        "background": str(rng.choice(["original", "flat", "texture"])),
        "gains": [float(g) for g in rng.uniform(0.85, 1.15, size=3)],
        "gamma": float(rng.uniform(0.75, 1.35)),
        "contrast": float(rng.uniform(0.85, 1.2)),
        "brightness": float(rng.uniform(-12, 12)),
        "saturation": float(rng.uniform(0.6, 1.3)),
        "blur": float(rng.uniform(0.0, 0.9)),
        "bg_seed": int(rng.integers(0, 2**31)),
    }


def _placement(src: Source, a: dict) -> np.ndarray:
    """(2, 3) source -> subject frame: the face upright, scaled, mirrored, rolled and placed."""
    p = src.landmarks[:, :2].astype(np.float64)
    up = p[_FORE] - p[_CHIN]
    span = float(np.hypot(*up))
    centre = 0.5 * (p[_FORE] + p[_CHIN])
    k = a["fill"] * a["height"] / span
    ang = math.atan2(up[0], -up[1])  # the source face's roll; undo it
    rot = math.radians(a["roll_deg"]) - ang
    c, s = math.cos(rot), math.sin(rot)
    lin = np.array([[c, -s], [s, c]]) @ np.diag([a["aspect"] * (-1 if a["mirror"] else 1), 1.0]) * k
    out_centre = np.array([a["width"] * (0.5 + a["dx"]), a["height"] * (0.5 + a["dy"])])
    return np.hstack([lin, (out_centre - lin @ centre)[:, None]])


def _shape_warp(img: np.ndarray, pts: np.ndarray, bumps: list, face_h: float) -> np.ndarray:
    if not bumps:
        return img
    h, w = img.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx.copy(), gy.copy()
    sigma2 = 2 * (0.2 * face_h) ** 2
    for vertex, deg, amp in bumps:
        cx, cy = pts[vertex]
        g = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / sigma2) * np.float32(amp * face_h)
        mx -= g * np.float32(math.cos(math.radians(deg)))
        my -= g * np.float32(math.sin(math.radians(deg)))
    return cv2.remap(img, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def _background(a: dict, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(a["bg_seed"])
    h, w = shape
    if a["background"] == "flat":
        top, bottom = rng.uniform(40, 235, size=3), rng.uniform(40, 235, size=3)
        t = np.linspace(0, 1, h)[:, None, None]
        return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.float32)
    small = rng.uniform(50, 210, size=(5, 5, 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(big, (0, 0), w / 10)


def _face_mask(pts: np.ndarray, shape: tuple[int, int], face_h: float) -> np.ndarray:
    """Soft mask of the head: an ellipse around the landmarks, taller above for the hair."""
    h, w = shape
    lo, hi = pts.min(0), pts.max(0)
    cx, cy = (lo + hi) / 2
    ax, ay = (hi - lo) / 2
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(cx), int(cy - 0.08 * face_h)), (int(ax * 1.35), int(ay * 1.3)), 0, 0, 360, 1.0, -1)
    k = max(3, int(0.05 * w) | 1)
    return cv2.GaussianBlur(mask, (0, 0), k / 3)[..., None]


def _tone(img: np.ndarray, a: dict) -> np.ndarray:
    x = img / np.float32(255)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * np.float32(a["saturation"])
    x = np.clip(x * np.asarray(a["gains"], np.float32), 0, 1) ** np.float32(a["gamma"])
    x = (x - 0.5) * np.float32(a["contrast"]) + 0.5 + np.float32(a["brightness"] / 255)
    return np.clip(x * 255, 0, 255)


def render_base(src: Source, a: dict) -> np.ndarray:
    """The subject's base frame from its source and appearance parameters."""
    w, h = a["width"], a["height"]
    m = _placement(src, a)
    img = src.image
    k = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if k < 0.8:  # shrink first so the warp does not alias
        img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        m = m @ np.vstack([np.diag([1 / k, 1 / k, 1.0])[:2], [0, 0, 1]])
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    pts = src.landmarks[:, :2] @ _placement(src, a)[:, :2].T + _placement(src, a)[:, 2]
    face_h = float(np.hypot(*(pts[_FORE] - pts[_CHIN])))
    out = _shape_warp(out, pts, a["bumps"], face_h).astype(np.float32)
    if a["background"] != "original":
        mask = _face_mask(pts, (h, w), face_h)
        out = out * mask + _background(a, (h, w)) * (1 - mask)
    out = _tone(out, a)
    if a["blur"] > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), a["blur"])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_subject(
    src: Source,
    index: int,
    rng: np.random.Generator,
    tracker: FaceTracker,
    vary: bool = True,
    size: tuple[int, int] | None = None,
    overrides: dict | None = None,
    tries: int = 5,
) -> Subject:
    """A subject from ``src``: draw an appearance, render the base frame, detect its landmarks.

    ``vary=False`` keeps the source's look (crop and scale only), e.g. for the demo clip;
    ``overrides`` replaces drawn appearance parameters (e.g. ``{"fill": 0.45}``).
    """
    for _ in range(tries):
        a = {**_draw_appearance(rng, vary, size), **(overrides or {})}
        base = render_base(src, a)
        faces = tracker.detect(base)
        if faces:
            lms = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])).landmarks
            return Subject(index, src.name, base, lms.astype(np.float32), a)
    raise MexError(f"{src.name}: no face found after {tries} appearance variations (subject {index})")
