"""SMIC-HS (Li et al., 2013): no sheet; one folder per class.

Layout ``HS/s1/micro/negative/s1_ne_01/reg_image046438.bmp`` (the ``HS`` level is optional).
Classes are the folder names (positive, negative, surprise). SMIC codes neither an apex nor AUs:
the onset is the first frame, the offset the last, and the apex either the middle frame
(``apex="middle"``, the common choice) or the frame that differs most from the onset
(``apex="motion"``, mean absolute grey difference at low resolution). AUs are empty.
"""

from __future__ import annotations

import re
from pathlib import Path

from mecore.errors import MexError
from train.datasets.apex import choose_apex
from train.datasets.base import ReadResult, RowLog, Sample, dataset_root, find_dir, index_frames, map_emotion

NAME = "smic"
CLASS_SET = "smic-3"
APEX_MODES = ("middle", "motion")
_SUBJECT = re.compile(r"^s\d+$", re.IGNORECASE)


def read(root: str | Path, class_set: str = CLASS_SET, strict: bool = False, apex: str = "middle",
         dataset: str = NAME) -> ReadResult:
    if apex not in APEX_MODES:
        raise MexError(f"unknown SMIC apex mode {apex!r}; choose one of {', '.join(APEX_MODES)}")
    root = dataset_root(root)
    base = find_dir(root, "HS", depth=2) or root
    subjects = sorted((d for d in base.iterdir() if d.is_dir() and _SUBJECT.match(d.name)),
                      key=lambda d: int(d.name[1:]))
    if not subjects:
        raise MexError(f"{base}: no SMIC subject folders (s1, s2, ...) found")
    result = ReadResult()
    log = RowLog(result, strict)
    for sub in subjects:
        micro = find_dir(sub, "micro", depth=1) or sub
        for cls_dir in sorted(d for d in micro.iterdir() if d.is_dir()):
            for clip_dir in sorted(d for d in cls_dir.iterdir() if d.is_dir()):
                where = f"{clip_dir.relative_to(root)}"
                log.clip = f"{sub.name.lower()}/{clip_dir.name}"
                try:
                    label = map_emotion(cls_dir.name, class_set)
                except KeyError:
                    log.bad(where, f"unknown class folder {cls_dir.name!r} for class set {class_set}",
                            "unknown class folder")
                    continue
                if label is None:
                    result.excluded += 1
                    result.excluded_by[cls_dir.name.lower()] += 1
                    continue
                frames = index_frames(clip_dir)
                if len(frames) < 2:
                    log.bad(where, f"{len(frames)} frame file(s); need at least onset and apex",
                            "fewer than 2 frames")
                    continue
                numbers = sorted(frames)
                ap = choose_apex(numbers, frames, apex)
                result.samples.append(Sample(
                    dataset=dataset, subject=sub.name.lower(), clip=clip_dir.name, onset=numbers[0], apex=ap,
                    offset=numbers[-1], onset_path=frames[numbers[0]], apex_path=frames[ap], aus=frozenset(),
                    label=label, emotion=cls_dir.name, where=where, apex_from=apex,
                ))
    return result
