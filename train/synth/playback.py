"""How a real video shorter than its clip is played to the clip's length.

Played forward and back, a video mirrors at each turn the face's motion of the moments before it: whatever the
face did there comes back undone within a few frames, a brief go-and-return that no camera records and that a
spotter takes for a micro-expression. Session 24 found 7 of the 8 false micro events on one split's validation
videos at the two frames where a talking woman's video turned back at its first frame (docs/streaming.md). So a
short video turns at its stillest moments instead of at its ends: the frame of least face motion in its first
third and in its last third, where there is little to mirror. The clip frames where it turns are listed in the
ground truth (``turns``), so an evaluation can tell a false event there from one on the face's own motion.
"""

from __future__ import annotations

import numpy as np

TURN_S = 0.2  # the stretch on each side of a turn whose motion it mirrors (about a micro-expression's rise)


def ping_pong(n: int, m: int) -> np.ndarray:
    """Source frame of each of ``n`` output frames when ``m`` source frames play forward, back, forward..."""
    if m <= 1:
        return np.zeros(n, dtype=np.int64)
    p = np.arange(n) % (2 * m - 2)
    return np.where(p < m, p, 2 * m - 2 - p)


def face_motion(landmarks: np.ndarray) -> np.ndarray:
    """(m,) each frame's landmark motion from the frame before, less the head's (an affine fit), in face widths
    (0 for the first frame): the face's own movement, which a turn would mirror."""
    pts = landmarks[:, :, :2].astype(np.float64)
    width = float(np.median(np.ptp(pts[:, :, 0], axis=1))) or 1.0
    out = np.zeros(len(pts))
    for s in range(1, len(pts)):
        a = np.hstack([pts[s - 1], np.ones((len(pts[s - 1]), 1))])
        fit, *_ = np.linalg.lstsq(a, pts[s], rcond=None)
        out[s] = float(np.linalg.norm(a @ fit - pts[s], axis=1).mean()) / width
    return out


def still_span(landmarks: np.ndarray, fps: float) -> tuple[int, int]:
    """(first, last) source frames to play between: the frame in the first third whose next ``TURN_S`` moves
    least and the one in the last third whose previous ``TURN_S`` moves least; the whole video when it is too
    short to choose (under six such stretches)."""
    m = len(landmarks)
    w = max(1, round(TURN_S * fps))
    if m < 6 * w:
        return 0, m - 1
    moved = np.concatenate([[0.0], np.cumsum(face_motion(landmarks)[1:])])  # moved[s]: from frame 0 to s
    third = m // 3
    first = int(np.argmin(moved[w:third + w] - moved[:third]))  # the motion over the next w frames
    last = m - third + int(np.argmin(moved[m - third:] - moved[m - third - w:m - w]))  # over the previous w
    return first, last


def playback(n: int, landmarks: np.ndarray, fps: float) -> np.ndarray:
    """Source frame of each of ``n`` clip frames: the video once from its start when it is long enough, else
    forward and back between the frames of ``still_span``, starting at the first."""
    m = len(landmarks)
    if n <= m:
        return np.arange(n)
    first, last = still_span(landmarks, fps)
    return first + ping_pong(n, last - first + 1)


def turns(order: np.ndarray) -> list[int]:
    """The clip frames where ``order`` (source frame per clip frame) turns back."""
    d = np.diff(np.asarray(order))
    return (np.flatnonzero(d[:-1] * d[1:] < 0) + 1).tolist()
