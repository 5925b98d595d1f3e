"""Spotting recordings: what a spotter saw of a clip (per face and frame: the grey aligned crop, its landmarks,
blink and blendshape scores, where the face was), in one compressed ``.npz``.

``bench.spot_replay`` writes them from a live run and replays spotters on them; ``train.spotter`` learns from
them, so the learned spotter is trained on exactly what the stream's analyser gives it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mecore.errors import MexError

FORMAT = 1
ARRAYS = ("index", "grey", "landmarks", "blink", "centre", "width", "flush")


def path_for(folder: str | Path, video: str | Path) -> Path:
    """Where a clip's recording lives in ``folder``: its stem and a hash of its full path (two clips of one name)."""
    video = Path(video)
    return Path(folder) / f"{video.stem}-{hashlib.sha1(str(video.resolve()).encode()).hexdigest()[:8]}.npz"


def source(video: str | Path) -> dict:
    """What identifies the version of ``video`` a recording was made from."""
    video = Path(video)
    st = video.stat()
    return {"path": str(video.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def meta_of(path: str | Path) -> dict:
    try:
        with np.load(path) as z:
            return json.loads(z["meta"].tobytes())
    except (OSError, ValueError, KeyError) as exc:
        raise MexError(f"{path}: not a spotting recording ({exc})") from None


def faces(path: str | Path) -> tuple[dict, dict[int, dict]]:
    """(meta, {face id: {array name: array, "blendshapes": [dict per frame]}}) of a recording."""
    meta = meta_of(path)
    if meta.get("format") != FORMAT:
        raise MexError(f"{path}: recording format {meta.get('format')}, this code reads {FORMAT}; record it again")
    out: dict[int, dict] = {}
    with np.load(path) as z:
        for fid in meta["faces"]:
            out[fid] = {k: z[f"f{fid}_{k}"] for k in ARRAYS}
            out[fid]["blendshapes"] = meta["blendshapes"][str(fid)]
    return meta, out
