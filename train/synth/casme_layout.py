"""The synthetic set in CASME II's exact layout: frames, coding sheet and ground truth.

    DIR/sub01/EP01_01/img1.jpg ...         frames of one clip (numbered from ``first_frame``)
    DIR/CASME2-coding.xlsx (+ .csv)        Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
                                           Action Units, Estimated Emotion
    DIR/ground_truth.json                  per clip: AUs, displacement per AU (crop and frame px,
                                           per vertex vectors), timing, head/light path; per
                                           subject: base-frame landmarks and appearance

Every random draw comes from ``SeedSequence(seed, spawn_key=(purpose, subject, clip))``, so a clip
is the same whatever else is generated, and two runs with one seed give the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mecore import atomic
from mecore.errors import MexError
from train.synth import output
from train.synth.events import CLASSES, Event, class_schedule, sample_aus, sample_timing
from train.synth.faces import Subject
from train.synth.render import Clip, Nuisance, Renderer, animate
from train.synth.video import VideoSubject
from train.synth.warp import EVAL_WARPS, WARPS, FaceGeometry

SHEET_COLUMNS: tuple[str, ...] = (
    "Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion",
)
SHEET_XLSX = "CASME2-coding.xlsx"
SHEET_CSV = "CASME2-coding.csv"
GROUND_TRUTH = "ground_truth.json"
_FIXED_TIME = "2014-05-08T00:00:00Z"  # the xlsx's document dates: fixed, so the bytes are reproducible

# spawn_key purposes
SUBJECT_KEY, SCHEDULE_KEY, CLIP_KEY, LONG_KEY = 1, 2, 3, 4


def rng_for(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass(frozen=True)
class SynthConfig:
    subjects: int = 14  # training identities (one person each)
    clips_per_subject: int = 10
    fps: float = 30.0  # for still subjects; a video subject keeps its own rate
    seed: int = 0
    first_frame: int = 1  # CASME II numbers frames from an arbitrary start; img{first_frame}.jpg is frame 0
    # apex displacement per AU, px on the aligned 256 crop (its face is 193 px wide: about px per 200 px of face)
    amplitude: tuple[float, float] = (0.5, 3.0)
    duration_s: tuple[float, float] = (0.15, 0.5)  # onset -> offset
    clip_s: tuple[float, float] = (0.8, 1.0)  # clip length
    lead_s: tuple[float, float] = (0.1, 0.2)  # neutral frames before the onset
    jpeg_quality: tuple[int, int] = (80, 95)  # drawn per clip
    nuisance: Nuisance = field(default_factory=Nuisance)
    holdout_identities: int = 0  # people written to holdout/ only, never to the training set
    holdout_clips: int = 6  # clips per held-out identity
    render_warp: str = ""  # every event in this warp family (EVAL_WARPS too) instead of one drawn from WARPS

    def __post_init__(self):
        if self.subjects < 1 or self.clips_per_subject < 1:
            raise ValueError("need at least one subject and one clip per subject")
        if self.holdout_identities < 0 or self.holdout_clips < 1:
            raise ValueError("holdout_identities must be >= 0 and holdout_clips >= 1")
        if self.subjects + self.holdout_identities > 99:
            raise ValueError("CASME II names allow at most 99 subjects (training and held out together)")
        if self.subjects > 99 or self.clips_per_subject > 99:
            raise ValueError("CASME II names allow at most 99 subjects and 99 clips per subject")
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"fps must be in [1, 1000], got {self.fps}")
        if self.first_frame < 0:
            raise ValueError("first_frame must be >= 0")
        lo, hi = self.amplitude
        if not 0 < lo <= hi <= 10:
            raise ValueError(f"amplitude range must satisfy 0 < lo <= hi <= 10 px, got {self.amplitude}")
        if not 0.04 <= self.duration_s[0] <= self.duration_s[1] <= 0.5:
            raise ValueError(f"micro-expression durations must lie in [0.04, 0.5] s, got {self.duration_s}")
        if self.clip_s[0] < self.lead_s[1] + self.duration_s[1] + 2 / self.fps:
            raise ValueError("clips are too short for the lead time plus the longest event")
        if not 50 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("jpeg_quality must lie in [50, 100]")
        if self.render_warp and self.render_warp not in WARPS + EVAL_WARPS:
            raise ValueError(f"render_warp must be one of {WARPS + EVAL_WARPS}, got {self.render_warp!r}")


def plan_clip(cfg: SynthConfig, subject: int, clip: int, label: str, scale: float,
              fps: float | None = None) -> tuple[Event, int, Clip]:
    """The event (frame indices 0-based), the clip's frame count and its nuisance path."""
    fps = fps or cfg.fps
    rng = rng_for(cfg.seed, CLIP_KEY, subject, clip)
    n = int(round(rng.uniform(*cfg.clip_s) * fps))
    onset = max(1, int(round(rng.uniform(*cfg.lead_s) * fps)))
    rise, total = sample_timing(rng, fps, cfg.duration_s)
    total = min(total, n - 1 - onset)
    rise = min(rise, total - 1)
    aus = sample_aus(label, rng, cfg.amplitude)
    clip_path = Clip.draw(n, fps, rng, cfg.nuisance, scale)
    warp = cfg.render_warp or str(rng.choice(WARPS))  # the last draw: skipping it changes nothing else
    return Event(label, aus, onset, onset + rise, onset + total, warp=warp), n, clip_path


def clip_frames(subject: Subject | VideoSubject, event: Event, n: int, clip: Clip, seed: int, clip_index: int,
                fps: float = 30.0):
    """The clip's RGB frames (an iterator) and, for a video subject, its cut (else None); noise and
    the cut are drawn from the clip's own streams."""
    rng = rng_for(seed, CLIP_KEY, subject.index, clip_index, 1)
    if isinstance(subject, VideoSubject):
        plan = subject.plan(n, rng_for(seed, CLIP_KEY, subject.index, clip_index, 2))
        return subject.clip_frames([event], n, clip, plan, rng, fps), plan
    return animate(Renderer(subject.image, subject.centre), subject.geometry, [event], n, clip, rng), None


def au_record(geometry: FaceGeometry, event: Event) -> list[dict]:
    out = []
    for m in event.aus:
        verts, vecs = geometry.au_vectors(m.au, m.side)
        out.append({
            "au": m.au, "side": m.side, "displacement_px": m.displacement_px,
            "displacement_frame_px": round(m.displacement_px * geometry.scale, 4),
            "vertices": list(verts), "vectors": np.round(vecs * m.displacement_px, 4).tolist(),
        })
    return out


def write_frames(folder: Path, frames, first_frame: int, quality: int) -> int:
    """JPEG frames img{first_frame}.jpg, ... at ``quality``; returns their count."""
    folder.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    count = 0
    for i, rgb in enumerate(frames):
        path = folder / f"img{first_frame + i}.jpg"
        if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]), params):
            raise MexError(f"{path}: cannot write frame")
        count += 1
    return count


# -- the coding sheet --------------------------------------------------------------------------------
def _xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(SHEET_COLUMNS))
    for row in rows:
        ws.append(row)
    wb.properties.creator = output.GENERATOR
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps the save time into core.xml and the zip entries: pin both.
    packed = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + _FIXED_TIME.encode(), data)
            entry = zipfile.ZipInfo(info.filename, date_time=(2014, 5, 8, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return packed.getvalue()


def write_sheet(out: Path, rows: list[list]) -> None:
    """The coding sheet as xlsx and csv, each written atomically."""
    import csv

    atomic.write_bytes(out / SHEET_XLSX, _xlsx_bytes(rows))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SHEET_COLUMNS)
    writer.writerows(rows)
    atomic.write_text(out / SHEET_CSV, text.getvalue())


# -- the whole set -----------------------------------------------------------------------------------
def subject_record(s: Subject | VideoSubject) -> dict:
    video = isinstance(s, VideoSubject)
    return {
        "subject": s.index, "folder": f"sub{s.index:02d}", "source": s.source, "person": s.source,
        "kind": "video" if video else "photo",
        "width": int(s.image.shape[1]), "height": int(s.image.shape[0]),
        "face_scale": round(s.geometry.scale, 5), "appearance": s.appearance,
        "landmarks": np.round(s.landmarks.astype(np.float64), 3).tolist(),
    }


def write_dataset(
    out: Path, cfg: SynthConfig, subjects: list[Subject], progress: bool = True,
    on_clip: Callable[[], None] | None = None,
) -> dict:
    """Render and write every clip of ``subjects``; returns the ground truth (also written)."""
    from tqdm import tqdm

    rows, clips = [], []
    bar = tqdm(total=len(subjects) * cfg.clips_per_subject, desc="synth clips", unit="clip", disable=not progress)
    for s in subjects:
        # One class cycle over the whole set (balanced even with few clips per subject), each
        # subject's share in its own order.
        m = cfg.clips_per_subject
        labels = class_schedule(m, rng_for(cfg.seed, SCHEDULE_KEY), start=(s.index - 1) * m)
        labels = [labels[i] for i in rng_for(cfg.seed, SCHEDULE_KEY, s.index).permutation(m)]
        video = isinstance(s, VideoSubject)
        fps = s.fps if video else cfg.fps
        scale = s.geometry.scale
        for j, label in enumerate(labels, start=1):
            name = f"EP{j:02d}_01"
            event, n, clip = plan_clip(cfg, s.index, j, label, scale, fps)
            if video:  # the person's own head motion stays; no synthetic sway on top
                clip = Clip(np.tile([0.0, 0.0, 0.0, 1.0], (n, 1)), clip.light, clip.noise_sigma)
            frames, plan = clip_frames(s, event, n, clip, cfg.seed, j, fps)
            quality = int(rng_for(cfg.seed, CLIP_KEY, s.index, j, 3).integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
            write_frames(out / f"sub{s.index:02d}" / name, frames, cfg.first_frame, quality)
            geometry = s.geometry
            if video:
                lms = s.clip_landmarks(plan, n)[event.apex]
                w, h = s.cut(plan, n)[2]
                geometry = FaceGeometry(lms, (h, w))
            f0 = cfg.first_frame
            rows.append([s.index, name, f0 + event.onset, f0 + event.apex, f0 + event.offset, event.au_string, label])
            clips.append({
                "subject": s.index, "filename": name, "label": label, "aus": event.au_string, "kind": event.kind,
                "warp": event.warp, "onset": f0 + event.onset, "apex": f0 + event.apex, "offset": f0 + event.offset,
                "first_frame": f0, "n_frames": n, "fps": fps, "jpeg_quality": quality,
                "au_displacements": au_record(geometry, event),
                "noise_sigma": round(clip.noise_sigma, 4), "head_light": clip.records(),
                **({"video_cut": plan} if video else {}),
            })
            bar.update(1)
            if on_clip:
                on_clip()
        if video:
            s.release()
    bar.close()
    truth = {
        "generator": output.GENERATOR, "version": output.VERSION, "config": _jsonable(asdict(cfg)),
        "units": {"displacement_px": "pixels of the aligned 256x256 face crop",
                  "displacement_frame_px": "pixels of the frame", "head_light": "tx, ty, roll_deg, scale, gain, slope"},
        "subjects": [subject_record(s) for s in subjects], "clips": clips,
    }
    atomic.write_json(out / GROUND_TRUTH, truth)
    write_sheet(out, rows)
    return truth


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def summary_line(truth: dict, seconds: float, long_clips: int = 0) -> str:
    counts = Counter(c["label"] for c in truth["clips"])
    per_class = ", ".join(f"{c} {counts.get(c, 0)}" for c in CLASSES)
    frames = sum(c["n_frames"] for c in truth["clips"])
    extra = f", {long_clips} long clips" if long_clips else ""
    return (f"synth: {len(truth['subjects'])} subjects, {len(truth['clips'])} clips ({per_class}), "
            f"{frames} frames{extra} in {seconds:.1f} s")
