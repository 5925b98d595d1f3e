"""Record what the spotters see on a clip once, replay spotters on it in a fraction of the time.

A live run spends most of its time in decoding and MediaPipe; the spotter only needs, per face and
frame, the aligned grey crop, its landmarks and the blink / blendshape scores. ``record`` runs the
analyser (spotting only) with ``Analyzer(spot_tap=...)`` and stores those inputs, and where each
face's spotter was flushed, in one compressed ``.npz``; ``replay`` feeds them to a fresh spotter
built from any config whose face-tracking options match the recording's, so a spotting parameter is
measured on a set of clips in seconds instead of minutes (``python -m bench.spotting --record DIR``).
The replayed events equal the live run's (tests/bench/test_spot_replay.py). ``python -m bench.spot_replay
REC...`` prints how many frames before its emission the learned spotter guessed each micro event (the stream
classifies a guess at once, so this is what hides the motion pass from the latency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mecore import spotrec
from mecore.atomic import atomic_path
from mecore.errors import MexError
from mecore.spotrec import FORMAT
from mecore.types import SpotEvent
from stream.config import StreamConfig

# the options that decide what reaches the spotter: a recording answers only for these values
TRACKING = ("max_faces", "far_faces", "far_scan_s", "smooth_hz", "face_model", "landmark_scale", "align_size",
            "track_timeout_s", "min_face_px")


def tracking(cfg: StreamConfig) -> dict:
    """``cfg``'s values of the TRACKING options, as a recording stores them."""
    return {k: getattr(cfg, k) for k in TRACKING}


def record(video: str | Path, out: str | Path, config: StreamConfig | None = None) -> Path:
    """Run the analyser on ``video`` and write its spotting inputs to ``out`` (.npz, atomically)."""
    from stream.spot_eval import spot_video

    video, out = Path(video), Path(out)
    faces: dict[int, dict[str, list]] = {}

    def tap(face_id: int, inputs: dict | None) -> None:
        f = faces.setdefault(face_id, {k: [] for k in ("index", "grey", "landmarks", "blink", "centre", "width",
                                                         "blendshapes", "flush")})
        if inputs is None:  # flushed after this many updates
            f["flush"].append(len(f["index"]))
            return
        f["index"].append(inputs["index"])
        f["grey"].append(inputs["grey"])
        f["landmarks"].append(np.asarray(inputs["crop_landmarks"], np.float32))
        f["blink"].append(inputs["blink"])
        f["centre"].append(inputs["centre"])
        f["width"].append(inputs["face_width"])
        f["blendshapes"].append(inputs["blendshapes"] or {})

    cfg = config or StreamConfig()
    _, frames, fps = spot_video(video, cfg, spot_tap=tap)
    arrays: dict[str, np.ndarray] = {}
    for fid, f in faces.items():
        n = len(f["index"])
        arrays.update({
            f"f{fid}_index": np.asarray(f["index"], np.int64),
            f"f{fid}_grey": np.stack(f["grey"]) if n else np.zeros((0, cfg.align_size, cfg.align_size), np.uint8),
            f"f{fid}_landmarks": np.stack(f["landmarks"]) if n else np.zeros((0, 478, 3), np.float32),
            f"f{fid}_blink": np.asarray(f["blink"], np.float64),
            f"f{fid}_centre": np.asarray(f["centre"], np.float64).reshape(n, 2),
            f"f{fid}_width": np.asarray(f["width"], np.float64),
            f"f{fid}_flush": np.asarray(f["flush"], np.int64),
        })
    meta = {"format": FORMAT, "source": spotrec.source(video), "frames": frames, "fps": fps, "faces": sorted(faces),
            "tracking": tracking(cfg),
            "blendshapes": {str(fid): f["blendshapes"] for fid, f in faces.items()}}
    with atomic_path(out, suffix=".npz") as tmp:  # np.savez appends .npz to any other name
        np.savez_compressed(tmp, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return out


def recorded(path: str | Path, video: str | Path | None = None) -> dict | None:
    """The recording's metadata, or None when there is none (or it was made from another version of ``video``)."""
    path = Path(path)
    if not path.is_file():
        return None
    meta = spotrec.meta_of(path)
    if meta.get("format") != FORMAT or (video is not None and meta["source"] != spotrec.source(video)):
        return None
    return meta


def _updates(path: str | Path, config: StreamConfig | None):
    """(meta, then per update of a fresh spotter per face: (spotter, frame index, the events it gave)); a flush
    gives index -1. The config's tracking options must be the recording's."""
    from stream.spotters import make_spotter

    path = Path(path)
    if not path.is_file():
        raise MexError(f"{path}: no recording; record it first")
    meta, faces = spotrec.faces(path)
    cfg = (config or StreamConfig()).with_fps(meta["fps"])
    for name, value in tracking(cfg).items():
        if value != meta["tracking"][name]:
            raise MexError(f"{path}: recorded with {name}={meta['tracking'][name]!r}, asked for "
                           f"{value!r}; record it again with that setting")

    def steps():
        for fid, a in faces.items():
            shapes = a["blendshapes"]
            spotter, flushes = make_spotter(cfg, fid), set(a["flush"].tolist())
            for i in range(len(a["index"])):
                if i in flushes:  # the face was forgotten (unseen too long) before this update
                    yield spotter, -1, spotter.flush()
                    spotter = make_spotter(cfg, fid)
                evs, _ = spotter.update(int(a["index"][i]), a["grey"][i], a["landmarks"][i], a["grey"].shape[1],
                                        blink=float(a["blink"][i]), centre=tuple(a["centre"][i]),
                                        face_width=float(a["width"][i]), blendshapes=shapes[i])
                yield spotter, int(a["index"][i]), evs
            if len(a["index"]) in flushes:
                yield spotter, -1, spotter.flush()

    return meta, steps()


def replay(path: str | Path, config: StreamConfig | None = None) -> tuple[list[SpotEvent], int, float]:
    """The events a fresh spotter (``config``'s) finds in a recording: (events, frames, fps), as a live run."""
    meta, steps = _updates(path, config)
    events = [ev for _, _, evs in steps for ev in evs]
    return sorted(events, key=lambda e: (e.onset_frame, e.face_id)), int(meta["frames"]), float(meta["fps"])


def guess_leads(path: str | Path, config: StreamConfig | None = None) -> tuple[list[int], int, int]:
    """How many frames before its emission each emitted micro event was guessed (the stream classifies a guess
    at once: ``Predictor.speculate``); how many were not guessed; how many guesses no event claimed (a motion
    pass run for nothing)."""
    _, steps = _updates(path, config)
    guessed: dict[tuple[int, int, int], int] = {}
    leads, claimed, unguessed = [], set(), 0
    for spotter, index, evs in steps:
        g = spotter.guess
        if g is not None and index >= 0:
            guessed.setdefault((g.face_id, g.onset_frame, g.apex_frame), index)
        for ev in evs:
            key = (ev.face_id, ev.onset_frame, ev.apex_frame)
            if ev.kind != "micro":
                continue
            if key in guessed and index >= 0:
                leads.append(index - guessed[key])
                claimed.add(key)
            else:
                unguessed += 1
    return leads, unguessed, len(set(guessed) - claimed)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from mecore.errors import run_cli

    ap = argparse.ArgumentParser(prog="python -m bench.spot_replay",
                                 description="how early the learned spotter's guesses come, on recordings")
    ap.add_argument("recordings", nargs="+", type=Path, help="recordings (bench.spotting --record)")
    ap.add_argument("--spotter", default="learned")
    a = ap.parse_args(argv)

    def body() -> int:
        leads, unguessed, wasted = [], 0, 0
        for rec in a.recordings:
            got, missed, lost = guess_leads(rec, StreamConfig(spotter=a.spotter))
            leads, unguessed, wasted = leads + got, unguessed + missed, wasted + lost
        if not leads:
            print(f"{len(a.recordings)} recordings: no micro event claimed a guess ({unguessed} emitted); "
                  f"{wasted} guesses unclaimed")
            return 0
        print(f"{len(a.recordings)} recordings: {len(leads)} micro events claimed a guess, {unguessed} were not "
              f"guessed; median {np.median(leads):g} frames (min {min(leads)}, max {max(leads)}) before their emission; "
              f"{wasted} guesses unclaimed; frames before emission: {np.bincount(leads).tolist()}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
