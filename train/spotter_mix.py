"""Expressions over real motion, made in feature space: a training clip's region flow plus the region flow of
real event-free footage, so the learned spotter sees micro-expressions on faces that talk, nod and smile.

Why: the generator injects events into only a few real videos (5 training people's after validation), and on
the validation people's videos the network trained on them missed 54 of 60 micro-expressions, many while
the source's own movement went on. A region's flow over k frames of a face that moves by itself and makes a
small expression too is, to first order, the sum of the two flows (the global-motion fit is linear in the
flow), so the sum of two recordings' raw flows is a new clip whose labels are the training clip's own. Each
region's noise level is then measured on the sum as ``SpotFeatures`` measures it, so the mix is normalised as
the stream would normalise it. The footage is played forward and back (its flow negated going back) to the
clip's length, from a random place, mirrored half the time.

Only training people's footage is mixed in: never the validation people's (nor, by ``load_event_free``, the
held-out people's), and not footage of nobody in the generator's set, on which the false-alarm budget is
checked instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from mecore.spotflow import NAMES, NOISE_EVERY, NOISE_FLOOR, NOISE_WINDOW, mirror, nanmedian
from train.spotter_decode import Clip

R = len(NAMES)


def raw(x: np.ndarray, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(flow (n, R, 2) px at ``size``, noise level (n, R)) of SpotFeatures vectors (n, F)."""
    noise = NOISE_FLOOR * size / 128.0 * np.exp(x[:, 2 * R:3 * R])
    return x[:, :2 * R].reshape(len(x), R, 2) * noise[:, :, None], noise


def noise_levels(steps: np.ndarray, floor: float) -> np.ndarray:
    """(n, R) each region's level at each frame from its step flow (n, R), by SpotFeatures' rule."""
    out = np.empty_like(steps, dtype=np.float32)
    level = np.full(steps.shape[1], floor, np.float32)
    for t in range(len(steps)):
        if t % NOISE_EVERY == 0:
            level = np.maximum(floor, nanmedian(steps[max(0, t - NOISE_WINDOW + 1):t + 1])).astype(np.float32)
        out[t] = level
    return out


def vectors(flow: np.ndarray, context: np.ndarray, size: int = 128) -> np.ndarray:
    """SpotFeatures vectors (n, F) of raw region flows (n, R, 2) and context (n, len(CONTEXT))."""
    floor = NOISE_FLOOR * size / 128.0
    noise = noise_levels(np.linalg.norm(flow, axis=2), floor)
    return np.concatenate([(flow / noise[:, :, None]).reshape(len(flow), 2 * R), np.log(noise / floor),
                           context], axis=1).astype(np.float32)


def played(x: np.ndarray, n: int, start: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(flow (n, R, 2), context (n, C)) of footage ``x`` played forward and back from row ``start``."""
    flow, _ = raw(x, size)
    m = len(x)
    t = (start + np.arange(n)) % (2 * m)
    back = t >= m
    rows = np.where(back, 2 * m - 1 - t, t)
    return flow[rows] * np.where(back, -1.0, 1.0)[:, None, None], x[rows, 3 * R:]


def mix(clip: Clip, footage: np.ndarray, rng: np.random.Generator, size: int = 128) -> Clip:
    """``clip`` with ``footage``'s (features (m, F)) movement added; the clip's labels, rows and truth."""
    if rng.random() < 0.5:
        footage = mirror(footage)
    flow, context = played(footage, len(clip.x), int(rng.integers(2 * len(footage))), size)
    own, _ = raw(clip.x, size)
    # blink, jaw and head motion: the larger of the two (either one blinking is a blink)
    ctx = np.maximum(clip.x[:, 3 * R:], context)
    return dataclasses.replace(clip, key=clip.key + "+mix", x=vectors(own + flow, ctx, size))


def footage_for(free: list[Clip], val: list[Clip], identities: Path | None, mix: int = 1) -> tuple[list[Clip], list[Clip]]:
    """(the event-free clips mixed in, those the false-alarm budget is checked on). Only training people's
    footage is mixed in; the validation people's and footage of nobody in the generator's set stay out of
    training, so the check measures footage the network never saw. ``mix`` 0 (or no footage): none mixed in."""
    if not mix or not free:
        return [], free
    held = {Path(c.source).stem for c in val}
    ids = json.loads(identities.read_text(encoding="utf-8"))
    training = {Path(ids["sources"][p]["path"]).stem for p in ids.get("train", [])} - held
    mixed = [c for c in free if c.key in training and len(c.x) >= 2]
    return mixed, [c for c in free if not any(c is m for m in mixed)]
