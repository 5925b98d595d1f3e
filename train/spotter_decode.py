"""How ``train.spotter`` scores a decoder on its validation clips: the clips, the decoding the stream does
(``mecore.spotlearn.Decoder``), MEGC counts per kind, false alarms per minute, and the ranking that picks one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecore.spotlearn import Decoder, micro_frames
from mecore.spotscore import Interval, f1, match

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
MIN_FRAMES = (3, 4, 5)  # the decoder's shortest event: longer drops the one-blip false events of speech
GAPS = (1, 2)  # frames below the low level that end an event: each one is 33 ms more before a prediction


@dataclass
class Clip:
    key: str
    identity: str
    x: np.ndarray  # (n, F)
    y: np.ndarray  # (n,) class per frame
    idx: np.ndarray  # (n,) frame index of each row
    fps: float
    pos: np.ndarray  # rows with a full, unbroken window
    truth: list[Interval]
    source: str = ""  # what the generator made the clip from (its sheet's "source": a video's name or a photo's)
    train_only: bool = False  # from a --train-only folder: its person is never drawn for validation


def decode(clip: Clip, probs: np.ndarray, threshold: float, min_frames: int = 3, gap: int = 2) -> list[Interval]:
    # max_frames: the stream's max_macro_s (4 s) at the clip's rate
    dec = Decoder(threshold, gap=gap, min_frames=min_frames, max_frames=round(4.0 * clip.fps),
                  micro_frames=micro_frames(clip.fps))
    events = []
    for row in clip.pos:
        events += dec.push(int(clip.idx[row]), probs[row])
    events += dec.flush()
    return [Interval(clip.key, e.onset, e.offset, e.kind) for e in events]


def evaluate(clips: list[Clip], probs: list[np.ndarray], threshold: float, min_frames: int = 3, gap: int = 2) -> dict:
    """MEGC TP / FP / FN per type, pooled, and micro per truth folder (photo people, real videos); false
    alarms: micro events that touch no expression at all (on speech, blinks, head motion or nothing), per minute."""
    tot = {"micro": [0, 0, 0], "macro": [0, 0, 0]}
    folders: dict[str, list[int]] = {}
    alarms, minutes = 0, sum(len(c.idx) / c.fps for c in clips) / 60
    for c, p in zip(clips, probs):
        preds = decode(c, p, threshold, min_frames, gap)
        alarms += sum(1 for i in preds if i.kind == "micro" and not any(i.iou(g) > 0 for g in c.truth))
        for kind in tot:
            got = match([i for i in c.truth if i.kind == kind], [i for i in preds if i.kind == kind])
            for j, v in enumerate(got):
                tot[kind][j] += v
                if kind == "micro":
                    folders.setdefault(c.identity.split("/")[0], [0, 0, 0])[j] += v
    overall = [tot["micro"][j] + tot["macro"][j] for j in range(3)]
    return {"threshold": threshold, "min_frames": min_frames, "gap": gap, "false_per_min": round(alarms / max(minutes, 1e-9), 3),
            "micro": tot["micro"], "macro": tot["macro"], "f1_micro": round(f1(*tot["micro"]), 4),
            "f1_macro": round(f1(*tot["macro"]), 4), "f1": round(f1(*overall), 4), "micro_by_folder": folders}


def rank(score: dict, budget: float) -> tuple:
    """Decoders within the false-alarm budget (validation clips and event-free footage alike) first, by micro F1
    then overall; outside it, the fewest alarms."""
    worst = max(score["false_per_min"], score.get("free_per_min", 0.0))
    return (True, score["f1_micro"], score["f1"]) if worst <= budget else (False, -worst, score["f1_micro"])


def said(top: dict) -> str:
    return (f"val thr {top['threshold']} min {top['min_frames']} gap {top['gap']}: micro {top['micro']} F1 "
            f"{top['f1_micro']:.3f}, macro {top['macro']} F1 {top['f1_macro']:.3f}, overall {top['f1']:.3f}; "
            f"{top['false_per_min']:.2f} false micro/min, {top['free_per_min']:.2f} on event-free footage")


def best_decoder(va: list[Clip], probs: list[np.ndarray], free: list[Clip], free_probs: list[np.ndarray],
                 budget: float) -> dict:
    """The decoder (threshold, shortest event, gap) ranked best on the validation clips and event-free footage."""
    # on event-free footage every micro event touches no expression: evaluate's false alarms are all of them
    scores = [dict(evaluate(va, probs, t, m, g), free_per_min=evaluate(free, free_probs, t, m, g)["false_per_min"])
              for t in THRESHOLDS for m in MIN_FRAMES for g in GAPS]
    return max(scores, key=lambda s: rank(s, budget))


def best_epoch(va: list[Clip], free: list[Clip], per_epoch, budget: float, label: str) -> tuple[dict, list[dict]]:
    """(the epoch whose best decoder ranks highest, with ``epoch`` in it; every epoch's best decoder) from
    ``per_epoch``, each epoch's (validation probabilities, event-free probabilities) in order; each said as
    ``label``."""
    best, history = None, []
    for e, (probs, free_probs) in enumerate(per_epoch, start=1):
        top = best_decoder(va, probs, free, free_probs, budget)
        history.append({"epoch": e, **top})
        print(f"{label}, epoch {e:2d}: {said(top)}", flush=True)
        if best is None or rank(top, budget) > rank(best, budget):
            best = dict(top, epoch=e)
    return best, history
