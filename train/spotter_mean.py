"""``train.spotter --keep mean``: the training runs averaged instead of the best one kept.

Why: one run's validation micro F1 moves by 0.11 with its seed alone, so keeping the best of four partly keeps
the luckiest draw on four validation people. Averaging the runs' probabilities (the classifier does the same with
its four networks) is steadier. The runs share the schedule, so they are averaged epoch by epoch: after each
epoch the runs' mean probabilities on the validation people and the event-free footage choose a decoder, and the
epoch whose decoder ranks best (the same rule and false-alarm budget as one run's) is published, every run at it.
"""

from __future__ import annotations

import numpy as np

from train.spotter_decode import Clip, best_epoch


def mean_probs(runs: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per clip, the runs' (n, 3) probabilities averaged (NaN rows, where no window is full, stay NaN)."""
    return [np.mean(np.stack(per_clip), axis=0) for per_clip in zip(*runs)]


def average(fitted: list[tuple], va: list[Clip], free: list[Clip], budget: float, kwargs: dict) -> tuple[dict, object, list]:
    """(the chosen epoch's validation score, the averaged network at that epoch, every epoch's score) from
    ``train.spotter.fit``'s results, whose fourth item is each epoch's (state dict, validation and event-free
    probabilities)."""
    from mecore.nets.spotnet import SpotNetMean

    traces = [r[3] for r in fitted]
    averaged = ((mean_probs([t[e][1] for t in traces]), mean_probs([t[e][2] for t in traces]))
                for e in range(min(len(t) for t in traces)))
    best, history = best_epoch(va, free, averaged, budget, f"mean of {len(traces)} runs")
    model = SpotNetMean([kwargs] * len(traces))
    for member, trace in zip(model.members, traces):
        member.load_state_dict(trace[best["epoch"] - 1][0])
    chosen = dict(best, train_seed=fitted[0][0]["train_seed"], mix=fitted[0][0]["mix"], members=len(traces))
    return chosen, model, history
