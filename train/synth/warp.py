"""Landmark-anchored displacement fields: how an action unit moves the pixels of one face.

An AU is a set of mesh vertices (``mecore.face.au.AU_REGIONS``) that move together in one direction
of the face's own frame (up = chin -> forehead, out = away from the midline). The dense field is a
compactly supported RBF interpolant (Wendland C2) through those control points, plus zero-displacement
anchors on every landmark farther than ``INFLUENCE_CROP_PX`` from them, on a few "hold" vertices that
must not follow (the lower lip when the upper lip rises), and on the image border. So the AU region
moves by exactly the requested vector, its surroundings follow smoothly, and the rest of the face
stays where it was.

Displacements are given in pixels of the aligned 256 x 256 face crop (``mecore.face.align``), the
scale the magnifier and classifier see; ``face_scale`` converts them to frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from mecore.face.align import Aligner
from mecore.face.au import AU_REGIONS

# Direction of each AU as (outward, up) in the face frame; outward flips sign with the side.
DIRECTIONS: dict[int, tuple[float, float]] = {
    1: (0.0, 1.0),  # inner brow up
    2: (0.0, 1.0),  # outer brow up
    4: (-0.6, -0.8),  # brows down and together
    6: (0.0, 1.0),  # cheeks up
    7: (0.0, 1.0),  # lower lids up
    9: (-0.3, 0.954),  # nose wrinkle: alae up (and a little in)
    10: (0.0, 1.0),  # upper lip up
    12: (0.707, 0.707),  # lip corners up and out
    14: (-1.0, 0.0),  # lip corners in / back
    15: (0.3, -0.954),  # lip corners down
    17: (0.0, 1.0),  # chin and lower lip up
    25: (0.0, -1.0),  # lips part: lower lip down
    26: (0.0, -1.0),  # jaw drop (speech distractor): lower lip and chin down
    43: (0.0, -1.0),  # eyes closing (blink distractor): upper lids down
}
# Regions of the distractor AUs, which are not in mecore's AU graph.
EXTRA_REGIONS: dict[int, tuple[int, ...]] = {
    26: (17, 84, 314, 14, 87, 317, 152, 175, 199, 200, 18),
    43: (246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398),
}
WARPS: tuple[str, ...] = ("rbf", "tps")  # Wendland RBF (compact) and thin-plate spline (global)
# Piecewise-affine on the landmarks' own Delaunay mesh: nothing draws it, so a held-out set rendered with it
# (``train.synth_me --holdout-warp mesh``) asks the models about a warp family they never trained on.
EVAL_WARPS: tuple[str, ...] = ("mesh",)
SUPPORTED_AUS: tuple[int, ...] = tuple(sorted(DIRECTIONS))

_UPPER_LIP_OUTER = (0, 37, 267, 39, 269)
_LOWER_LIP_OUTER = (17, 84, 314, 181, 405)
_LOWER_LIDS = (7, 163, 144, 145, 153, 154, 155, 249, 390, 373, 374, 380, 381, 382)
# Vertices pinned at zero although they lie inside the AU's influence: the other lip must not follow.
HOLD: dict[int, tuple[int, ...]] = {10: _LOWER_LIP_OUTER, 17: _UPPER_LIP_OUTER, 25: _UPPER_LIP_OUTER,
                                    26: _UPPER_LIP_OUTER, 43: _LOWER_LIDS}

INFLUENCE_CROP_PX = 22.0  # landmarks farther than this from an AU's vertices are anchored (crop px)
SUPPORT_FACTOR = 2.0  # RBF support radius / influence radius
ANCHOR_REACH = 4.0  # anchors beyond this many influence radii cannot change the field: skipped
GRID_STEP_CROP_PX = 4.0  # the RBF is evaluated on this grid and interpolated (the field is smooth)
_FORE, _CHIN = 10, 152
_RING = 24  # zero points on a circle 1.2x the face's reach: the mesh's outer edge


def face_scale(landmarks: np.ndarray) -> float:
    """Frame pixels per pixel of the aligned 256 x 256 crop."""
    m = Aligner(256).estimate(landmarks)
    return float(1.0 / np.hypot(m[0, 0], m[0, 1]))


def _wendland(r: np.ndarray) -> np.ndarray:
    """Wendland's C2 kernel on r = distance / support: positive definite, zero for r >= 1."""
    t = np.clip(1.0 - r, 0.0, None)
    return t**4 * (4.0 * r + 1.0)


class FaceGeometry:
    """One face's landmarks in one frame, and the AU fields built on them.

    ``landmarks``: (478, >=2) pixels; ``shape``: the frame's (height, width).
    """

    def __init__(self, landmarks: np.ndarray, shape: tuple[int, int], scale: float | None = None):
        self.points = np.asarray(landmarks, dtype=np.float64)[:, :2].copy()
        self.height, self.width = int(shape[0]), int(shape[1])
        self.scale = float(scale) if scale is not None else face_scale(self.points)
        up = self.points[_FORE] - self.points[_CHIN]
        self.face_height = float(np.hypot(*up))
        self.up = up / self.face_height
        self.right = np.array([-self.up[1], self.up[0]])  # image right for an upright face
        mid = 0.5 * (self.points[_FORE] + self.points[_CHIN])
        self.lateral = (self.points - mid) @ self.right  # < 0: image left = the subject's right
        self.radius = INFLUENCE_CROP_PX * self.scale
        self._cache: dict[tuple[int, str], np.ndarray] = {}
        self._mesh_weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- control points ----------------------------------------------------------------------------
    def side_of(self, vertex: int) -> str:
        """"R" (subject's right = image left), "L", or "" on the midline."""
        s = self.lateral[vertex]
        if abs(s) < 0.03 * self.face_height:
            return ""
        return "R" if s < 0 else "L"

    def au_vectors(self, au: int, side: str = "") -> tuple[tuple[int, ...], np.ndarray]:
        """The AU's vertices (on ``side`` only, if given) and their (n, 2) displacement, in frame
        pixels, for a 1-pixel displacement in the aligned crop."""
        if au not in DIRECTIONS:
            raise ValueError(f"AU{au} has no synthetic motion; supported: {SUPPORTED_AUS}")
        out, up = DIRECTIONS[au]
        verts, vecs = [], []
        for v in AU_REGIONS.get(au) or EXTRA_REGIONS[au]:
            vs = self.side_of(v)
            if side and vs != side:
                continue
            sign = {"R": -1.0, "L": 1.0, "": 0.0}[vs]  # image-left vertices move "out" to the left
            d = sign * out * self.right + up * self.up
            n = np.hypot(*d)
            if n < 1e-9:  # a midline vertex of a purely lateral AU does not move
                continue
            verts.append(v)
            vecs.append(d / np.hypot(out, up) * self.scale)
        return tuple(verts), np.array(vecs, dtype=np.float64).reshape(-1, 2)

    def anchors(self, au: int, side: str = "", reach: float = ANCHOR_REACH) -> np.ndarray:
        """Indices of the landmarks pinned at zero for this AU (far landmarks and holds)."""
        verts, _ = self.au_vectors(au, side)
        ctrl = self.points[list(verts)]
        dist = np.sqrt(((self.points[:, None, :] - ctrl[None]) ** 2).sum(-1)).min(axis=1)
        far = (dist >= self.radius) & (dist < reach * self.radius)
        hold = np.zeros(len(self.points), bool)
        hold[list(HOLD.get(au, ()))] = True
        keep = (far | hold) & (dist > 0.5)
        keep[list(verts)] = False
        return np.flatnonzero(keep)

    # -- fields ------------------------------------------------------------------------------------
    def unit_field(self, au: int, side: str = "", warp: str = "rbf") -> np.ndarray:
        """(H, W, 2) float32 forward displacement (frame px) for a 1-crop-pixel AU at its apex.

        ``warp``: "rbf" (compact Wendland kernel, anchors near the AU) or "tps" (thin-plate spline
        through the AU's vertices, every landmark outside its influence and the border: a global
        kernel, so the surroundings bend differently and no model learns one warp's signature); "mesh"
        (``EVAL_WARPS``: landmarks near the AU follow it, each triangle between landmarks moves affinely)."""
        key = (au, side, warp)
        if key not in self._cache:
            verts, vecs = self.au_vectors(au, side)
            if warp == "rbf":
                self._cache[key] = self._interpolate(self.points[list(verts)], vecs, self.points[self.anchors(au, side)])
            elif warp == "tps":
                anchors = self.points[self.anchors(au, side, reach=np.inf)]
                self._cache[key] = self._thin_plate(self.points[list(verts)], vecs, anchors)
            elif warp == "mesh":
                self._cache[key] = self._mesh(verts, vecs, HOLD.get(au, ()))
            else:
                raise ValueError(f"unknown warp {warp!r}; choose from {WARPS + EVAL_WARPS}")
        return self._cache[key]

    def field(self, aus: list[tuple[int, str, float]], warp: str = "rbf") -> np.ndarray:
        """Sum of AU fields; ``aus`` = [(au, side, displacement in crop px), ...]."""
        total = np.zeros((self.height, self.width, 2), np.float32)
        for au, side, amount in aus:
            total += np.float32(amount) * self.unit_field(au, side, warp)
        return total

    def _border(self) -> np.ndarray:
        step = max(8.0, self.radius)
        xs = np.arange(0.0, self.width + step, step).clip(max=self.width - 1)
        ys = np.arange(0.0, self.height + step, step).clip(max=self.height - 1)
        pts = [(x, 0.0) for x in xs] + [(x, self.height - 1.0) for x in xs]
        pts += [(0.0, y) for y in ys[1:-1]] + [(self.width - 1.0, y) for y in ys[1:-1]]
        return np.array(pts)

    def _interpolate(self, ctrl: np.ndarray, vecs: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        support = SUPPORT_FACTOR * self.radius
        border = self._border()
        near = np.sqrt(((border[:, None] - ctrl[None]) ** 2).sum(-1)).min(1) < ANCHOR_REACH * self.radius
        centres = np.concatenate([ctrl, anchors, border[near]])
        values = np.concatenate([vecs, np.zeros((len(centres) - len(ctrl), 2))])
        gram = _wendland(np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1)) / support)
        with threadpool_limits(1, user_api="blas"):  # a few hundred unknowns: threads only contend
            coef = cho_solve(cho_factor(gram + 1e-9 * np.eye(len(centres))), values)
        # Evaluate on a coarse grid, then interpolate. The kernel is compact, so only pairs closer
        # than the support count (sparse).
        gx, gy, step = self._grid()
        grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
        pairs = cKDTree(grid).sparse_distance_matrix(cKDTree(centres), support, output_type="coo_matrix")
        pairs.data = _wendland(pairs.data / support)
        return self._upsample((pairs.tocsr() @ coef).reshape(len(gy), len(gx), 2), step)

    def _grid(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Coarse evaluation grid (x nodes, y nodes, step): node (i, j) sits at pixel (j*step, i*step)."""
        step = max(2.0, GRID_STEP_CROP_PX * self.scale)
        return np.arange(0.0, self.width - 1 + step, step), np.arange(0.0, self.height - 1 + step, step), step

    def _upsample(self, coarse: np.ndarray, step: float) -> np.ndarray:
        """Coarse-grid values, node (i, j) at pixel (j*step, i*step), interpolated to every pixel."""
        mx, my = np.meshgrid(
            np.arange(self.width, dtype=np.float32) / np.float32(step),
            np.arange(self.height, dtype=np.float32) / np.float32(step),
        )
        return cv2.remap(coarse.astype(np.float32), mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

    def _thin_plate(self, ctrl: np.ndarray, vecs: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        from scipy.interpolate import RBFInterpolator

        zeros = np.concatenate([anchors, self._border()])
        # a zero point on top of a control point (or of another zero point) makes the system singular
        near_ctrl = np.sqrt(((zeros[:, None] - ctrl[None]) ** 2).sum(-1)).min(1) < 0.5
        zeros = np.unique(np.round(zeros[~near_ctrl], 2), axis=0)
        centres = np.concatenate([ctrl, zeros])
        values = np.concatenate([vecs, np.zeros((len(zeros), 2))])
        # Work in units of the influence radius: the kernel's conditioning does not depend on the frame size.
        unit = self.radius
        with threadpool_limits(1, user_api="blas"):
            tps = RBFInterpolator(centres / unit, values, kernel="thin_plate_spline", degree=1, smoothing=1e-9)
            gx, gy, step = self._grid()
            grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
            coarse = tps(grid / unit).reshape(len(gy), len(gx), 2)
        return self._upsample(coarse, step)

    def _mesh(self, verts: tuple[int, ...], vecs: np.ndarray, hold: tuple[int, ...]) -> np.ndarray:
        """Each landmark follows its nearest AU vertex, less in a straight line to nothing at the
        influence radius (the held vertices stay); inside each triangle of the landmarks' Delaunay mesh
        (closed by a ring of still points around the face) the displacement is the mix of its corners'."""
        ctrl = self.points[list(verts)]
        dist = np.sqrt(((self.points[:, None, :] - ctrl[None]) ** 2).sum(-1))
        near = dist.argmin(1)
        values = np.zeros((len(self.points) + _RING, 2))
        values[: len(self.points)] = vecs[near] * np.clip(1.0 - dist.min(1) / self.radius, 0.0, None)[:, None]
        values[list(hold)] = 0.0
        values[list(verts)] = vecs
        corners, weights, pixels = self._mesh_pixels()
        out = np.zeros((self.height * self.width, 2), np.float32)
        out[pixels] = np.einsum("pk,pkc->pc", weights, values[corners])
        return out.reshape(self.height, self.width, 2)

    def _mesh_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(corner indices, barycentric weights, flat pixel index) of every pixel the mesh covers; one
        Delaunay triangulation per face, shared by its AUs."""
        if self._mesh_weights is None:
            from scipy.spatial import Delaunay

            centre = self.points.mean(0)
            reach = 1.2 * np.linalg.norm(self.points - centre, axis=1).max()
            angle = np.linspace(0.0, 2 * np.pi, _RING, endpoint=False)
            nodes = np.concatenate([self.points, centre + reach * np.stack([np.cos(angle), np.sin(angle)], 1)])
            tri = Delaunay(nodes)
            lo = np.clip(np.floor(nodes.min(0)), 0, None).astype(int)
            hi = np.minimum(np.ceil(nodes.max(0)).astype(int) + 1, (self.width, self.height))
            xs, ys = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]))
            pix = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
            simplex = tri.find_simplex(pix)
            ok = simplex >= 0
            t = tri.transform[simplex[ok]]
            b = np.einsum("pij,pj->pi", t[:, :2], pix[ok] - t[:, 2])
            weights = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], 1)
            pixels = (pix[ok, 1] * self.width + pix[ok, 0]).astype(np.int64)
            self._mesh_weights = (tri.simplices[simplex[ok]], weights, pixels)
        return self._mesh_weights


def sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear values of an (H, W, 2) field at (N, 2) points (x, y)."""
    pts = np.asarray(points, dtype=np.float32).reshape(1, -1, 2)
    out = cv2.remap(field, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 2)
