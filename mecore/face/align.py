"""Face alignment: a similarity transform from stable landmarks to a canonical face frame.

Head motion (shift, roll, distance to the camera) must not look like facial motion to the
magnifier, so every frame of a face is warped so that its eye corners and nose bridge land on
fixed places of the crop. Those places come from MediaPipe's own canonical face mesh (the
``canonical_mesh`` of ``geometry_pipeline_metadata_landmarks.binarypb`` inside
``face_landmarker.task``; x right, y down, centimetres; symmetric and frontal). The crop is scaled
and centred so that the whole canonical mesh, forehead (vertex 10) to chin (152) and cheek to
cheek, fills ``FILL`` of its height: brows, eyes, mouth and chin are always inside.

Eye corners and the nose bridge barely move in any facial action (the brows and mouth, which
FGRMER looks at, are not used), so the fit follows the head, not the expression.
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np

from mecore.errors import MexError

# Mesh vertex -> canonical (x, y) in cm, y down, from MediaPipe's canonical face mesh.
STABLE_POINTS: dict[int, tuple[float, float]] = {
    33: (-4.445859, -2.663991),  # right eye, outer corner (image left)
    133: (-1.856432, -2.585245),  # right eye, inner corner
    362: (1.856432, -2.585245),  # left eye, inner corner
    263: (4.445859, -2.663991),  # left eye, outer corner
    168: (0.0, -3.271027),  # nose bridge between the eyes
    6: (0.0, -2.473255),  # nose bridge
    197: (0.0, -1.728369),  # nose bridge, lower
}
STABLE_INDICES: tuple[int, ...] = tuple(STABLE_POINTS)
# The canonical mesh's extent (cm): x -7.743..7.743 (vertices 127, 356), y -8.262..9.403 (10, 152).
MESH_CENTRE = (0.0, 0.570800)
MESH_HEIGHT = 17.665153
FILL = 0.86  # fraction of the crop's height the canonical mesh spans (7% margin top and bottom)


def template(size: int = 256) -> np.ndarray:
    """(7, 2) float64 target positions of ``STABLE_INDICES`` in a ``size`` x ``size`` crop."""
    canon = np.array(list(STABLE_POINTS.values()), dtype=np.float64)
    scale = FILL * size / MESH_HEIGHT
    return (canon - np.array(MESH_CENTRE)) * scale + size / 2.0


def canonical_mesh(model_path: str | os.PathLike | None = None) -> np.ndarray:
    """(468, 3) float32 canonical face mesh (cm; x right, y down, z towards the camera) read from
    the face model's geometry metadata: the source of ``STABLE_POINTS`` and ``MESH_*``.
    """
    from mecore.face import model_file

    path = model_file.resolve(model_path)
    try:
        with zipfile.ZipFile(path) as zf:
            data = zf.read("geometry_pipeline_metadata_landmarks.binarypb")
        mesh = next(v for f, w, v in _proto_fields(data) if f == 1 and w == 2)  # canonical_mesh
        floats: list[float] = []
        for f, w, v in _proto_fields(mesh):
            if f == 3 and w == 5:  # vertex_buffer, one float per field
                floats.append(struct.unpack("<f", v)[0])
            elif f == 3 and w == 2:  # the same, packed
                floats.extend(np.frombuffer(v, "<f4").tolist())
    except (OSError, KeyError, StopIteration, zipfile.BadZipFile, IndexError, struct.error) as exc:
        raise MexError(f"{path}: no canonical face mesh in the model ({exc})") from None
    verts = np.asarray(floats, dtype=np.float32).reshape(-1, 5)[:, :3]  # x, y, z, u, v per vertex
    return verts * np.array([1.0, -1.0, 1.0], dtype=np.float32)


def _proto_fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of one protobuf message; enough for the mesh (no nesting)."""

    def varint(i: int) -> tuple[int, int]:
        out = shift = 0
        while True:
            byte = buf[i]
            i += 1
            out |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return out, i

    fields, i = [], 0
    while i < len(buf):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = varint(i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise struct.error(f"unsupported wire type {wire}")
        fields.append((field, wire, value))
    return fields


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) src -> dst, as a (2, 3) matrix.

    Closed form of Umeyama's estimate in 2-D; no reflection is possible with this parametrisation.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    norm = float((s * s).sum())
    if norm <= 1e-12:
        raise ValueError("degenerate landmarks: all stable points coincide")
    a = float((s * d).sum()) / norm  # scale * cos(angle)
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm  # scale * sin(angle)
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (md - rot @ ms)[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Transform (N, >=2) points (x, y) by a (2, 3) affine matrix; returns (N, 2) float32."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A stabilised face crop. ``matrix`` maps source pixels -> crop pixels."""

    image: np.ndarray  # (size, size, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) float64
    landmarks: np.ndarray  # (478, 2) float32, crop pixels

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) crop -> source pixels, e.g. to draw onto the frame."""
        return cv2.invertAffineTransform(self.matrix)

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """Crop points (N, 2) -> source-frame pixels."""
        return apply(self.inverse, points)


class Aligner:
    """Warp a face to the canonical frame: ``Aligner(256).align(rgb, track.landmarks)``.

    ``estimate`` and ``warp`` are exposed separately so a caller can reuse or smooth the matrix
    (e.g. hold the onset frame's transform over one clip).
    """

    def __init__(self, size: int = 256, border: int = cv2.BORDER_REPLICATE):
        if size < 16:
            raise ValueError(f"crop size must be >= 16, got {size}")
        self.size = int(size)
        self.border = border
        self._template = template(self.size)

    def estimate(self, landmarks: np.ndarray) -> np.ndarray:
        """(2, 3) float64 source -> crop matrix from (478, >=2) landmarks in source pixels."""
        lms = np.asarray(landmarks)
        if lms.ndim != 2 or lms.shape[0] <= max(STABLE_INDICES) or lms.shape[1] < 2:
            raise ValueError(f"expected (478, 2 or 3) landmarks, got shape {lms.shape}")
        return similarity(lms[list(STABLE_INDICES), :2], self._template)

    def warp(self, rgb: np.ndarray, matrix: np.ndarray, landmarks: np.ndarray | None = None) -> AlignedFace:
        image = cv2.warpAffine(
            rgb, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=self.border
        )
        crop_lms = apply(matrix, landmarks) if landmarks is not None else np.zeros((0, 2), np.float32)
        return AlignedFace(image, matrix, crop_lms)

    def align(self, rgb: np.ndarray, landmarks: np.ndarray) -> AlignedFace:
        return self.warp(rgb, self.estimate(landmarks), landmarks)


def in_frame_of(ref: AlignedFace, face: AlignedFace) -> AlignedFace:
    """``face`` (a crop of another frame) re-cut with ``ref``'s matrix: both crops then share one frame.

    Aligning every frame on its own landmarks moves the crop by the landmarks' jitter: on the synthetic
    set the apex crop moved a median 0.6 px (90th percentile 2 px) against its onset, as much as a
    micro-expression moves the face (0.5-3 px), and the magnifier amplified it. A micro-expression is
    40-500 ms, too short for the head to move much, so training (train/cache.py) and serving
    (stream/pipeline.py) both compare the apex with its onset in the onset's frame: a linear probe's
    LOSO accuracy rose from 0.57 to 0.71 (docs/training.md). Re-cutting the crop, not the source
    frame, keeps the stream's deque of crops enough; the border replicates as the aligner's does.
    """
    rel = np.vstack([ref.matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(np.vstack([face.matrix, [0.0, 0.0, 1.0]]))
    h, w = ref.image.shape[:2]
    image = cv2.warpAffine(face.image, rel[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(image, np.asarray(ref.matrix, np.float64).copy(), apply(rel[:2], face.landmarks))
