"""Face tracking on MediaPipe's FaceLandmarker: 478 landmarks, 52 blendshapes, stable track ids.

MediaPipe's VIDEO mode tracks landmarks from frame to frame but gives no identities: its list of
faces can come back in any order. Ids are ours: each detected face is matched greedily to the
tracks of earlier frames by bounding-box overlap (falling back to centre distance for a face that
was briefly lost and returns nearby); a track unseen for more than ``max_lost`` frames is forgotten
and the face gets a new id when it comes back.

Several faces, and faces too small for the landmarker's detector (``far_faces``): the whole-frame
landmarker tracks one face (one tracking fewer faces than its ``num_faces`` re-detects every frame, and
its landmarks jitter); while fewer than ``max_faces`` faces are tracked, every ``scan_every`` frames
(and at once when a crop's track ends) the bundle's BlazeFace looks for faces on the frame and on tiles
of it (mecore/face/finder.py), and each new one gets its own landmarker on an upscaled crop
(mecore/face/crops.py). Nothing of this runs while the frame's faces are all tracked, so the one-face
path costs what it did. ``smooth``: an optional One-Euro filter per track id on the landmarks
(mecore/face/smooth.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mecore.errors import MexError
from mecore.face import model_file
from mecore.face.crops import CropTracks
from mecore.face.finder import FaceFinder, iou
from mecore.face.smooth import OneEuro
from mecore.types import FaceTrack

MODES = ("video", "image")
MIN_IOU = 0.2  # overlap that counts as the same face between consecutive frames
MAX_CENTRE_DIST = 0.6  # centre distance / face size that still counts, for faces without overlap
SAME_FACE_IOU = 0.3  # a small-face crop track this much over a whole-frame face is that face: ended
SPARE_CANDIDATES = 4  # detections tried beyond the free places, the ones with landmarks kept
MIN_FAR_PX = 16  # detections narrower than this have too few pixels for landmarks


@dataclass
class _TrackState:
    track_id: int
    bbox: tuple[float, float, float, float]
    lost: int = 0  # consecutive frames without a match
    smoother: OneEuro | None = None


def _centre_dist(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Distance between box centres in units of the boxes' mean size."""
    size = 0.5 * (max(a[2] - a[0], a[3] - a[1]) + max(b[2] - b[0], b[3] - b[1]))
    d = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    return float(d / size) if size > 0 else float("inf")


def _inside(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """The centre of box a lies in box b."""
    cx, cy = 0.5 * (a[0] + a[2]), 0.5 * (a[1] + a[3])
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def _box(lms: np.ndarray) -> tuple[float, float, float, float]:
    return (float(lms[:, 0].min()), float(lms[:, 1].min()), float(lms[:, 0].max()), float(lms[:, 1].max()))


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an RGB uint8 (H, W, 3) array, got {desc}")
    return np.ascontiguousarray(rgb)


class FaceTracker:
    """MediaPipe FaceLandmarker with track ids. Use as a context manager (or call ``close``).

    ``mode`` picks the landmarker created up front ("video" for ``track``, "image" for ``detect``);
    the other one is created on first use. One tracker per stream: VIDEO mode keeps state between
    frames and needs increasing timestamps (a non-increasing one is bumped by 1 ms).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        mode: str = "video",
        max_faces: int = 2,
        min_confidence: float = 0.5,
        blendshapes: bool = True,
        max_lost: int = 15,
        far_faces: bool = False,
        scan_every: int = 10,
        smooth: tuple[float, float] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.model_path = model_file.resolve(model_path)
        self.mode = mode
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self.blendshapes = blendshapes
        self.max_lost = max_lost
        if scan_every < 1:
            raise ValueError(f"scan_every must be >= 1, got {scan_every}")
        self.scan_every = scan_every
        self.smooth = smooth  # One-Euro (min_cutoff Hz, beta) or None
        self.far_faces = far_faces
        self._finder: FaceFinder | None = None
        self._crops = CropTracks(self._one_face_landmarker, self._faces)
        self._since_scan = scan_every  # frames since the last far-face scan: scan on the first frame
        self._landmarkers: dict[str, object] = {}
        self._tracks: list[_TrackState] = []
        self._next_id = 0
        self._last_ts = -1
        self._landmarker(mode)  # fail now, with the path, if the model is unusable

    # -- lifecycle ---------------------------------------------------------------------------------
    def _landmarker(self, mode: str):
        lm = self._landmarkers.get(mode)
        if lm is None:
            # VIDEO mode with far_faces tracks one face on the whole frame, the others on crops: a landmarker
            # tracking fewer faces than its num_faces re-detects every frame, and its landmarks jitter
            faces = 1 if mode == "video" and self.far_faces else self.max_faces
            lm = self._landmarkers[mode] = self._new_landmarker(mode, faces)
        return lm

    def _one_face_landmarker(self):
        return self._new_landmarker("video", 1)

    def _new_landmarker(self, mode: str, num_faces: int):
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        running = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=running,
            num_faces=num_faces,
            min_face_detection_confidence=self.min_confidence,
            min_face_presence_confidence=self.min_confidence,
            min_tracking_confidence=self.min_confidence,
            output_face_blendshapes=self.blendshapes,
        )
        try:
            lm = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:
            raise MexError(f"{self.model_path}: not a usable MediaPipe face landmarker model ({exc})") from None
        return lm

    def close(self) -> None:
        for lm in self._landmarkers.values():
            lm.close()
        self._landmarkers.clear()
        self._crops.close()
        if self._finder is not None:
            self._finder.close()
            self._finder = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- verbs -------------------------------------------------------------------------------------
    def track(self, rgb: np.ndarray, timestamp_ms: int) -> list[FaceTrack]:
        """Faces in one video frame, with ids stable across calls. ``timestamp_ms`` should increase."""
        import mediapipe as mp

        rgb = _check_rgb(rgb)
        ts = int(timestamp_ms)
        if ts <= self._last_ts:
            ts = self._last_ts + 1
        self._last_ts = ts
        result = self._landmarker("video").detect_for_video(mp.Image(mp.ImageFormat.SRGB, rgb), ts)
        faces = self._faces(result, rgb.shape[1], rgb.shape[0])
        if self.far_faces:
            faces += self._far(rgb, ts, [bbox for _, bbox, _ in faces])
        ids = self._assign([bbox for _, bbox, _ in faces])
        out = [FaceTrack(tid, self._smoothed(tid, lms, ts), bbox, bs) for tid, (lms, bbox, bs) in zip(ids, faces)]
        if self.smooth:
            out = [FaceTrack(f.track_id, f.landmarks, _box(f.landmarks), f.blendshapes) for f in out]
        return sorted(out, key=lambda f: f.track_id)

    def _far(self, rgb: np.ndarray, ts: int, near: list[tuple]) -> list[tuple[np.ndarray, tuple, dict[str, float]]]:
        """Faces the whole-frame landmarker missed: crop tracks, and a tile scan while there is room for more."""
        faces, ended = self._crops.update(rgb, ts)
        faces = self._unique(faces, near)
        self._since_scan = self.scan_every if ended else self._since_scan + 1  # a face lost: look again now
        if len(near) + len(faces) < self.max_faces and self._since_scan >= self.scan_every:
            self._since_scan = 0
            if self._finder is None:
                self._finder = FaceFinder(self.model_path, min_confidence=self.min_confidence)
            taken = near + self._crops.boxes
            room = self.max_faces - len(near) - len(faces) + SPARE_CANDIDATES  # some have no landmarks: try more
            new = []
            for det in sorted(self._finder.find(rgb), key=lambda d: d.width, reverse=True):
                if len(new) >= room:
                    break
                if det.width >= MIN_FAR_PX and all(iou(det.bbox, b) < 0.1 and not _inside(det.bbox, b) for b in taken):
                    new.append(self._crops.start(det.bbox))
                    taken.append(det.bbox)
            faces = self._unique(faces + self._crops.update(rgb, ts, new)[0], near)
            if len(near) + len(self._crops) > self.max_faces:
                self._crops.keep(self.max_faces - len(near))
                faces = [f for f in faces if f[1] in self._crops.boxes]
        return faces

    def _unique(self, faces: list[tuple], near: list[tuple]) -> list[tuple]:
        """End the crop tracks that found a face already had (by the whole-frame landmarker, or by an older
        track: a small face grown near enough, two crops drifted onto one face); the faces of the others."""
        for i in range(len(self._crops) - 1, -1, -1):
            box = self._crops.boxes[i]
            if any(iou(box, b) > SAME_FACE_IOU for b in near + self._crops.boxes[:i]):
                self._crops.end(i)
        boxes = self._crops.boxes
        return [f for f in faces if f[1] in boxes]

    def _smoothed(self, track_id: int, lms: np.ndarray, ts: int) -> np.ndarray:
        if not self.smooth:
            return lms
        tr = next(t for t in self._tracks if t.track_id == track_id)
        if tr.smoother is None:
            tr.smoother = OneEuro(*self.smooth)
        return tr.smoother.filter(lms, ts / 1000.0, scale=float(np.ptp(lms[:, 0])))

    def detect(self, rgb: np.ndarray) -> list[FaceTrack]:
        """Faces in one still image, ids 0.. from left to right; no state is kept."""
        import mediapipe as mp

        rgb = _check_rgb(rgb)
        result = self._landmarker("image").detect(mp.Image(mp.ImageFormat.SRGB, rgb))
        faces = sorted(self._faces(result, rgb.shape[1], rgb.shape[0]), key=lambda f: f[1][0])
        return [FaceTrack(i, lms, bbox, bs) for i, (lms, bbox, bs) in enumerate(faces)]

    # -- internals ---------------------------------------------------------------------------------
    def _faces(self, result, width: int, height: int) -> list[tuple[np.ndarray, tuple, dict[str, float]]]:
        scale = np.array([width, height, width], dtype=np.float32)
        faces = []
        for i, pts in enumerate(result.face_landmarks):
            lms = np.array([(p.x, p.y, p.z) for p in pts], dtype=np.float32) * scale
            x0, y0 = lms[:, :2].min(axis=0)
            x1, y1 = lms[:, :2].max(axis=0)
            bs = {}
            if self.blendshapes and result.face_blendshapes and i < len(result.face_blendshapes):
                bs = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            faces.append((lms, (float(x0), float(y0), float(x1), float(y1)), bs))
        return faces

    def _assign(self, boxes: list[tuple[float, ...]]) -> list[int]:
        """Greedy matching of this frame's boxes to the live tracks; returns one id per box."""
        pairs = []
        for di, box in enumerate(boxes):
            for ti, tr in enumerate(self._tracks):
                overlap = iou(box, tr.bbox)
                if overlap >= MIN_IOU:
                    pairs.append((1.0 + overlap, di, ti))
                else:
                    dist = _centre_dist(box, tr.bbox)
                    if dist <= MAX_CENTRE_DIST:
                        pairs.append((1.0 - dist / MAX_CENTRE_DIST, di, ti))
        ids: list[int | None] = [None] * len(boxes)
        taken: set[int] = set()
        for _, di, ti in sorted(pairs, reverse=True):
            if ids[di] is None and ti not in taken:
                ids[di] = self._tracks[ti].track_id
                taken.add(ti)
                self._tracks[ti].bbox = boxes[di]
                self._tracks[ti].lost = 0
        for ti, tr in enumerate(self._tracks):
            if ti not in taken:
                tr.lost += 1
        self._tracks = [tr for tr in self._tracks if tr.lost <= self.max_lost]
        for di, box in enumerate(boxes):
            if ids[di] is None:
                ids[di] = self._next_id
                self._tracks.append(_TrackState(self._next_id, box))
                self._next_id += 1
        return ids  # type: ignore[return-value]
