"""Landmarks of small faces: each one tracked on its own upscaled crop by its own landmarker.

A face the whole-frame landmarker does not track (too few pixels for its detector, or a second face:
that landmarker tracks one, see tracker.py) gets a square crop ``context`` face widths wide around its
last box, warped to at least ``size`` x ``size`` (a 40 px face comes out 85 px wide; a large face keeps
its own pixels, up to ``max_size``), and a VIDEO-mode one-face landmarker of its own: MediaPipe then
tracks it from frame to frame as it would a near face, without re-detecting it. The crop follows the face's landmarks; a track whose landmarker finds
nothing for more than ``max_lost`` frames ends, and its landmarker goes back to a pool for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Face = tuple[np.ndarray, tuple[float, float, float, float], dict[str, float]]  # landmarks, bbox, blendshapes


@dataclass
class _Crop:
    bbox: tuple[float, float, float, float]
    landmarker: object
    lost: int = 0
    seen: int = 0  # frames the landmarker found the face on


def crop_matrix(bbox: tuple[float, ...], context: float, size: int) -> tuple[np.ndarray, float, float, float]:
    """The affine map frame -> crop for a box, and (x0, y0, side) of the crop's square in the frame."""
    cx, cy = 0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3])
    side = context * max(bbox[2] - bbox[0], bbox[3] - bbox[1], 1.0)
    x0, y0 = cx - side / 2, cy - side / 2
    s = size / side
    return np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64), x0, y0, side


class CropTracks:
    """Small faces on upscaled crops. ``make_landmarker()`` -> a VIDEO-mode, one-face landmarker;
    ``to_faces(result, w, h)`` -> this frame's faces in crop pixels (the tracker's own conversion)."""

    def __init__(self, make_landmarker: Callable[[], object], to_faces: Callable[..., list[Face]],
                 size: int = 256, context: float = 3.0, max_lost: int = 1, max_size: int = 1024):
        self._make = make_landmarker
        self._to_faces = to_faces
        self.size = size
        self.max_size = max_size
        self.context = context
        self.max_lost = max_lost
        self._tracks: list[_Crop] = []
        self._pool: list[object] = []
        self._last_ts: dict[int, int] = {}  # per landmarker: VIDEO mode needs increasing timestamps

    def __len__(self) -> int:
        return len(self._tracks)

    @property
    def boxes(self) -> list[tuple[float, float, float, float]]:
        return [t.bbox for t in self._tracks]

    def start(self, bbox: tuple[float, float, float, float]) -> _Crop:
        lm = self._pool.pop() if self._pool else self._make()
        self._tracks.append(_Crop(tuple(map(float, bbox)), lm))
        return self._tracks[-1]

    def update(self, rgb: np.ndarray, timestamp_ms: int, tracks: list[_Crop] | None = None) -> tuple[list[Face], int]:
        """This frame's faces of every track (or of ``tracks``), in frame pixels, in track order; and how
        many established tracks ended."""
        import mediapipe as mp

        faces: list[Face] = []
        ended = 0
        for tr in list(self._tracks if tracks is None else tracks):
            tr.lost += 1
            # a pooled landmarker may have run on this frame already, for a track that ended
            ts = max(int(timestamp_ms), self._last_ts.get(id(tr.landmarker), -1) + 1)
            self._last_ts[id(tr.landmarker)] = ts
            width = max(tr.bbox[2] - tr.bbox[0], tr.bbox[3] - tr.bbox[1], 1.0)
            out = int(min(self.max_size, max(self.size, round(self.context * width))))
            m, x0, y0, side = crop_matrix(tr.bbox, self.context, out)
            crop = cv2.warpAffine(rgb, m, (out, out), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            found = self._to_faces(tr.landmarker.detect_for_video(mp.Image(mp.ImageFormat.SRGB, crop), ts), out, out)
            if not found:
                if tr.lost > self.max_lost:
                    ended += tr.seen > 0
                    self.end(tr)
                continue
            lms, _, bs = found[0]
            k = side / out
            lms = lms * np.float32(k) + np.array([x0, y0, 0.0], dtype=np.float32)
            bbox = (float(lms[:, 0].min()), float(lms[:, 1].min()), float(lms[:, 0].max()), float(lms[:, 1].max()))
            tr.bbox, tr.lost, tr.seen = bbox, 0, tr.seen + 1
            faces.append((lms, bbox, bs))
        return faces, ended

    def keep(self, n: int) -> None:
        """End all but ``n`` tracks: those found on the last frame first, larger faces first."""
        order = sorted(self._tracks, key=lambda t: (t.lost == 0, t.bbox[2] - t.bbox[0]), reverse=True)
        for tr in order[max(0, n):]:
            self.end(tr)

    def end(self, track: _Crop | int) -> None:
        tr = self._tracks[track] if isinstance(track, int) else track
        self._tracks.remove(tr)
        self._pool.append(tr.landmarker)

    def close(self) -> None:
        for lm in self._pool + [t.landmarker for t in self._tracks]:
            lm.close()
        self._pool.clear()
        self._tracks.clear()
