"""Milliseconds per frame of the face path: decode, landmarks, alignment, ROI patches, and all of it.

``python -m bench.face [--video face.mp4] [--frames N] [--model face_landmarker.task]``

Two clips in one run: the video as it is, and the same frames fitted into 640x480 (resized and
padded, encoded with libx264 to a temporary mp4 so decoding is measured on a real 640x480 stream).
On each clip, MediaPipe's FaceLandmarker alone (VIDEO mode, same options as the tracker) and the
whole per-frame face path (``FaceTracker.track`` -> ``Aligner.align`` -> grey 128x128 map of the
crop -> 30 node patches) run interleaved on the same decoded frames, so both see the same load on
the machine; the ratio whole / landmarker-alone is the face core's overhead (goal: <= 1.3x).

Then, per real clip of ``--real`` (default ``../shared/media/real``, every clip its ``SOURCES.tsv``
lists; ``--real ''`` skips it): the percentage of frames with a face found by the analyser's tracker
(``stream.pipeline.face_tracker``: whole-frame landmarks, plus the far-face tiles and crops), beside the
same without far faces (``--no-far-faces``, the tracker before them), the faces per frame, their median
width and the tracker's ms per frame. Goal: a face in >= 90 % of the frames of every clip whose faces
are at least 40 px wide.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from mecore import upright
from mecore.errors import MexError, run_cli
from mecore.face import roi
from mecore.face.align import Aligner
from mecore.face.tracker import FaceTracker

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEX_SHARED", REPO.parent / "shared"))
DEFAULT_VIDEO = Path(os.environ.get("MEX_FACE_VIDEO", SHARED / "media" / "face.mp4"))
WARMUP = 5
FRAME_MS = 33


def decode(path: Path, frames: int) -> tuple[list[np.ndarray], float]:
    """The first ``frames`` RGB frames and the decode time in ms per frame (open + demux + decode + RGB)."""
    out: list[np.ndarray] = []
    t0 = time.perf_counter()
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                out.append(upright.rgb(frame))
                if len(out) >= frames:
                    break
    except (av.error.FFmpegError, OSError) as exc:
        raise MexError(f"{path}: cannot decode video ({exc})") from None
    if not out:
        raise MexError(f"{path}: no video frames")
    return out, (time.perf_counter() - t0) * 1000 / len(out)


def fit_640x480(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(640 / w, 480 / h)
    nw, nh = round(w * scale), round(h * scale)
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    left, top = (640 - nw) // 2, (480 - nh) // 2
    return cv2.copyMakeBorder(small, top, 480 - nh - top, left, 640 - nw - left, cv2.BORDER_CONSTANT, value=(96, 96, 96))


def encode(frames: list[np.ndarray], path: Path, fps: int = 30) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def raw_landmarker(model: Path, max_faces: int):
    """MediaPipe's FaceLandmarker with the tracker's options, nothing of ours around it."""
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    return vision.FaceLandmarker.create_from_options(
        vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=max_faces,
            output_face_blendshapes=True,
        )
    )


def roi_patches(aligned_rgb: np.ndarray, crop_landmarks: np.ndarray) -> np.ndarray:
    grey = cv2.resize(cv2.cvtColor(aligned_rgb, cv2.COLOR_RGB2GRAY), (128, 128), interpolation=cv2.INTER_AREA)
    return roi.extract_patches(grey, roi.node_points(crop_landmarks, 128 / aligned_rgb.shape[0]))


def measure(frames: list[np.ndarray], model: Path, max_faces: int = 2) -> dict[str, float]:
    """Mean ms per frame of each stage; the landmarker alone and the whole path interleaved frame by frame."""
    import mediapipe as mp

    aligner = Aligner(256)
    times = {"landmarks": [], "align": [], "roi": [], "path": []}
    faces_seen = 0
    lm = raw_landmarker(model, max_faces)
    try:
        with FaceTracker(model, max_faces=max_faces) as tracker:
            for i, rgb in enumerate(frames[:WARMUP] + frames):
                ts = i * FRAME_MS
                t0 = time.perf_counter()
                lm.detect_for_video(mp.Image(mp.ImageFormat.SRGB, np.ascontiguousarray(rgb)), ts)
                t1 = time.perf_counter()
                faces = tracker.track(rgb, ts)
                t2 = time.perf_counter()
                aligned = [aligner.align(rgb, face.landmarks) for face in faces]
                t3 = time.perf_counter()
                for a in aligned:
                    roi_patches(a.image, a.landmarks)
                t4 = time.perf_counter()
                if i < WARMUP:
                    continue
                faces_seen += len(faces)
                times["landmarks"].append(t1 - t0)
                times["align"].append(t3 - t2)
                times["roi"].append(t4 - t3)
                times["path"].append(t4 - t1)
    finally:
        lm.close()
    out = {k: 1000 * float(np.mean(v)) for k, v in times.items()}
    out["faces"] = faces_seen / len(frames)
    return out


def report(args) -> int:
    """Measure both clips and print the table (a MexError for bad options or video)."""
    if args.frames < 1:
        raise MexError(f"--frames must be >= 1, got {args.frames}")
    if not args.video.is_file():
        raise MexError(f"{args.video}: video not found")
    from mecore.face import model_file

    model = model_file.resolve(args.model)
    frames, decode_ms = decode(args.video, args.frames)
    with tempfile.TemporaryDirectory(prefix="bench_face_") as tmp:
        clip640 = Path(tmp) / "clip_640x480.mp4"
        encode([fit_640x480(f) for f in frames], clip640)
        frames640, decode640_ms = decode(clip640, args.frames)
    h, w = frames[0].shape[:2]
    rows = [(f"{args.video.name} {w}x{h}", decode_ms, measure(frames, model))]
    rows.append(("640x480 (fitted)", decode640_ms, measure(frames640, model)))
    print(f"bench.face: {len(frames)} frames per clip, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print("ms per frame (mean); face path = tracker + alignment + ROI patches, decode excluded")
    head = f"{'clip':<26}{'faces':>6}{'decode':>8}{'landmarks':>11}{'align':>7}{'roi':>7}{'face path':>11}{'ratio':>7}"
    print(head)
    print("-" * len(head))
    for name, dec, m in rows:
        ratio = m["path"] / m["landmarks"]
        print(
            f"{name:<26}{m['faces']:>6.2f}{dec:>8.2f}{m['landmarks']:>11.2f}{m['align']:>7.2f}"
            f"{m['roi']:>7.2f}{m['path']:>11.2f}{ratio:>6.2f}x"
        )
    print("ratio = face path / MediaPipe FaceLandmarker alone (same options, same frames, interleaved); goal <= 1.30x")
    return 0


def found_on(path: Path, max_faces: int, far_faces: bool) -> dict[str, float]:
    """Run the analyser's tracker over a whole clip: how often, how many and how wide faces were found."""
    from stream.config import StreamConfig
    from stream.pipeline import face_tracker
    from stream.sources import open_source

    frames = found = faces = 0
    widths: list[float] = []
    track_s = 0.0
    with open_source(str(path)) as src:
        cfg = StreamConfig(fps=src.fps, max_faces=max_faces, far_faces=far_faces, classify=False)
        with face_tracker(cfg) as tracker:
            for frame in src:
                t0 = time.perf_counter()
                got = tracker.track(frame.image, int(round(frame.timestamp_s * 1000)))
                track_s += time.perf_counter() - t0
                frames += 1
                found += bool(got)
                faces += len(got)
                widths += [f.bbox[2] - f.bbox[0] for f in got]
    if not frames:
        raise MexError(f"{path}: no video frames")
    return {"frames": frames, "found": 100.0 * found / frames, "faces": faces / frames,
            "width": float(np.median(widths)) if widths else 0.0, "ms": 1000 * track_s / frames,
            "size": f"{frame.image.shape[1]}x{frame.image.shape[0]}"}


def real_report(folder: Path, max_faces: int) -> int:
    """The per-clip table of faces found on the real clips; returns how many clips miss the goal."""
    from bench.spotting import real_clips

    print(f"\nfaces found on the real clips of {folder} (max_faces {max_faces}; the tracker's ms per frame, decode excluded)")
    head = (f"{'clip':<36}{'size':>10}{'frames':>7}{'no far':>8}{'found':>8}{'faces/fr':>9}{'width':>7}"
            f"{'ms/fr':>7}  goal")
    print(head)
    print("-" * len(head))
    missed = 0
    for _, path in real_clips(folder):
        old = found_on(path, max_faces, far_faces=False)
        new = found_on(path, max_faces, far_faces=True)
        goal = "-" if new["width"] < 40 else ("ok" if new["found"] >= 90 else "MISSED")
        missed += goal == "MISSED"
        print(f"{path.name:<36}{new['size']:>10}{new['frames']:>7}{old['found']:>7.1f}%{new['found']:>7.1f}%"
              f"{new['faces']:>9.2f}{new['width']:>7.0f}{new['ms']:>7.1f}  {goal}", flush=True)
    print("no far = far_faces off (whole-frame landmarks only); found, faces/fr, width (median px), ms/fr: far_faces on; "
          "goal: found >= 90 % where the faces are >= 40 px wide")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="a face video (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=300, help="frames per clip (default: %(default)s)")
    parser.add_argument("--model", default=None, help="face_landmarker.task (default: the installed one)")
    parser.add_argument("--real", default=str(SHARED / "media" / "real"),
                        help="folder of real clips for the faces-found table ('' to skip; default: %(default)s)")
    parser.add_argument("--max-faces", type=int, default=1, help="faces tracked in the faces-found table")
    parser.add_argument("--no-timing", action="store_true", help="only the faces-found table")
    args = parser.parse_args(argv)

    def body() -> int:
        if not args.no_timing:
            report(args)
        if args.real:
            real_report(Path(args.real), args.max_faces)
        return 0

    return run_cli(body)


if __name__ == "__main__":
    raise SystemExit(main())
