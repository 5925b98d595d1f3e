"""One call for the whole synthetic set: subjects from real faces, clips in the CASME II layout,
optional long clips, the folder guarded and recorded."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from mecore.face.tracker import FaceTracker
from train.synth import output
from train.synth.casme_layout import (
    GROUND_TRUTH,
    LONG_KEY,
    SHEET_CSV,
    SHEET_XLSX,
    SUBJECT_KEY,
    SynthConfig,
    rng_for,
    summary_line,
    write_dataset,
)
from train.synth.faces import Subject, load_sources, make_subject
from train.synth.long_clips import LongClipConfig, long_clip_from_subject, long_clip_from_video

LONG_DIR = "long"


def make_subjects(cfg: SynthConfig, sources, tracker: FaceTracker) -> list[Subject]:
    """``cfg.subjects`` subjects, taking the sources in turn."""
    return [
        make_subject(sources[(i - 1) % len(sources)], i, rng_for(cfg.seed, SUBJECT_KEY, i), tracker)
        for i in range(1, cfg.subjects + 1)
    ]


def generate(
    out: str | Path,
    cfg: SynthConfig | None = None,
    faces: list[str] | None = None,
    long_clips: int = 0,
    long_cfg: LongClipConfig | None = None,
    progress: bool = True,
) -> dict:
    """Write the set into ``out`` (new, empty, or a previous synth output) and return its ground truth
    with ``"summary"`` (the one-line summary) and ``"seconds"`` added."""
    start = time.perf_counter()
    cfg = cfg or SynthConfig()
    out = Path(out)
    planned = [f"sub{i:02d}" for i in range(1, cfg.subjects + 1)] + [SHEET_XLSX, SHEET_CSV, GROUND_TRUTH]
    if long_clips:
        planned.append(LONG_DIR)
    settings = {"config": asdict(cfg), "faces": list(faces or []), "long_clips": long_clips}
    output.claim(out, settings, planned)
    with FaceTracker(mode="image", max_faces=2, blendshapes=False) as tracker:
        sources = load_sources(faces, tracker)
        subjects = make_subjects(cfg, sources, tracker)
    truth = write_dataset(out, cfg, subjects, progress=progress)
    if long_clips:
        write_long_clips(out / LONG_DIR, subjects, faces, long_clips, long_cfg or LongClipConfig(fps=cfg.fps), cfg.seed)
    output.finish(out, settings, planned)
    seconds = time.perf_counter() - start
    truth["seconds"] = round(seconds, 2)
    truth["summary"] = summary_line(truth, seconds, long_clips)
    return truth


def write_long_clips(folder: Path, subjects: list[Subject], faces: list[str] | None, k: int,
                     cfg: LongClipConfig, seed: int) -> list[dict]:
    """``k`` long clips: from the given videos in turn when there are any, else from the subjects."""
    from train.synth.faces import VIDEO_SUFFIXES

    videos = [f for f in faces or [] if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    folder.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(k):
        path = folder / f"long{i + 1:02d}.mp4"
        clip_seed = int(rng_for(seed, LONG_KEY, i).integers(0, 2**31))
        if videos:
            truths.append(long_clip_from_video(videos[i % len(videos)], path, cfg, clip_seed))
        else:
            truths.append(long_clip_from_subject(subjects[i % len(subjects)], path, cfg, clip_seed))
    return truths
