"""Spotting scores shared by evaluation (stream.spot_eval, bench) and training (train.spotter): MEGC interval
matching (IoU >= 0.5, greedy, each interval used once), F1 in counts, and the synthetic long clips' ground truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mecore.errors import MexError

IOU_HIT = 0.5


@dataclass(frozen=True)
class Interval:
    video: str
    onset: int  # 0-based frame index
    offset: int
    kind: str = "micro"  # "micro" | "macro"
    label: str | None = None

    def iou(self, other: Interval) -> float:
        inter = min(self.offset, other.offset) - max(self.onset, other.onset) + 1
        if inter <= 0:
            return 0.0
        union = (self.offset - self.onset + 1) + (other.offset - other.onset + 1) - inter
        return inter / union


def kind_of(text) -> str:
    """A sheet's or file's type cell -> "micro" or "macro"."""
    return "micro" if "micro" in str(text).lower() else "macro"


def read_synthetic(path: str | Path) -> tuple[dict[str, list[Interval]], dict[str, Path]]:
    """A synthetic long clip's JSON (or a folder of them) -> ({video: intervals}, {video: video path})."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    truth: dict[str, list[Interval]] = {}
    videos: dict[str, Path] = {}
    for f in files:
        if f.name.startswith("."):
            continue
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            name = d["video"]
            base = int(d.get("frame_index_base", 0))
            # "kind" micro | macro (generators before it made micro-expressions only); "distractors" (blinks,
            # speech, head turns) are not events: a spotted one is a false event
            truth[Path(name).stem] = [Interval(Path(name).stem, int(e["onset"]) - base, int(e["offset"]) - base,
                                               kind_of(e.get("kind", "micro")), e.get("label")) for e in d["events"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MexError(f"{f}: not a synthetic ground-truth file ({type(exc).__name__}: {exc})") from None
        videos[Path(name).stem] = f.parent / name
    if not truth:
        raise MexError(f"{path}: no ground-truth .json files")
    return truth, videos


def matched(truth: list[Interval], preds: list[Interval]) -> list[tuple[int, int]]:
    """(truth index, prediction index) of the hits: greedy by IoU (>= 0.5), each interval used once."""
    pairs = sorted(((g.iou(p), gi, pi) for gi, g in enumerate(truth) for pi, p in enumerate(preds)), reverse=True)
    used_g, used_p, hits = set(), set(), []
    for iou, gi, pi in pairs:
        if iou < IOU_HIT:
            break
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            hits.append((gi, pi))
    return hits


def match(truth: list[Interval], preds: list[Interval]) -> tuple[int, int, int]:
    """TP, FP, FN of one video and type: greedy by IoU, each interval used once."""
    tp = len(matched(truth, preds))
    return tp, len(preds) - tp, len(truth) - tp


def f1(tp: int, fp: int, fn: int) -> float:
    """2PR / (P + R), written in counts."""
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def f1_interval(counts: list[tuple[int, int, int]], groups: list[str] | None = None, level: float = 0.95,
                resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of the pooled F1 of per-clip (TP, FP, FN): whole groups (``groups``, one
    name per clip: a person's clips move together, as they do when another set of people is drawn) or clips
    resampled with replacement. So a figure on 45 events says how far another draw of people could move it."""
    import numpy as np

    if not counts:
        return 0.0, 0.0
    names = groups or [str(i) for i in range(len(counts))]
    if len(names) != len(counts):
        raise ValueError("one group name per clip")
    order, which = np.unique(names, return_inverse=True)
    per = np.zeros((len(order), 3))
    np.add.at(per, which, np.asarray(counts, dtype=float))
    pick = np.random.default_rng(seed).integers(0, len(order), size=(resamples, len(order)))
    tp, fp, fn = per[pick].sum(1).T
    scores = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    scores = scores[tp + fp + fn > 0]  # a draw with no event of the kind, found or true, has no F1
    if not len(scores):
        return 0.0, 0.0
    lo, hi = np.quantile(scores, [(1 - level) / 2, (1 + level) / 2])
    return round(float(lo), 3), round(float(hi), 3)


def person_of(video: str) -> str:
    """The person a long clip belongs to, for ``f1_interval``: "sub15_02" (synthetic), "15_0401" (CAS(ME)^2) and
    "006_1" (SAMM-LV) all start with it."""
    return video.split("_")[0]
