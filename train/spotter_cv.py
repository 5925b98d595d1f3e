"""``train.spotter --folds K``: every training person trains the published spotter, and its epoch and decoder
are chosen by cross-validation instead of on people kept out.

Why: the default keeps 4 of the 14 training people (2 of the 7 real videos) for validation, and the real-video
figure is limited by how few real-video people there are (session 21: 3 video people instead of 5 found 4 of the
validation videos' 60 micro-expressions instead of 9). Here the people are dealt into K folds (each truth folder's
people in turn, so photos and videos are spread alike); each fold's network is trained on the other folds, and
its probabilities after every epoch are kept on the fold's own people and on the event-free footage it neither
trained on nor shares a person with. The epoch and the decoder are chosen on all folds' out-of-fold probabilities
pooled (every person scored by a network that never saw them: 14 people instead of 4), within the same false-alarm
budget; then one network is trained on everyone, with the same seed and schedule, and kept at that epoch.

What this cannot give is a choice among seeds (the refit is never scored on people it did not see): one run.
"""

from __future__ import annotations

import numpy as np

from mecore.errors import MexError
from train.spotter_data import own_free, people_by_folder
from train.spotter_decode import Clip, best_epoch
from train.spotter_mix import footage_for


def deal(clips: list[Clip], k: int, seed: int) -> list[list[str]]:
    """K folds of identities: each truth folder's people shuffled (seeded) and dealt in turn, the next folder
    going on where the last one stopped, so the folds differ by at most one person of each kind."""
    by_folder = people_by_folder(clips)
    people = sum(len(v) for v in by_folder.values())
    if not 2 <= k <= people:
        raise MexError(f"train.spotter: --folds {k}: between 2 and the {people} training people")
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for folder in sorted(by_folder):
        for ident in rng.permutation(by_folder[folder]):
            folds[turn % k].append(str(ident))
            turn += 1
    return [sorted(f) for f in folds]


def cross_validate(cfg, clips: list[Clip], free_all: list[Clip], weight_of) -> dict:
    """The refit network and what chose it: ``chosen`` (the pooled out-of-fold score of the chosen epoch and
    decoder), ``model``, ``history`` (every epoch's best decoder out of fold), ``folds``, and the refit's
    ``footage`` (mixed in) and ``free`` (event-free footage nobody in the set is: the refit's false alarms there
    are still unseen ones). ``weight_of(clips)``: the loss's class weights for those training clips."""
    from train.spotter import epochs, predict

    folds = deal(clips, cfg.folds, cfg.seed)
    runs = []
    for i, fold in enumerate(folds):
        va = [c for c in clips if c.identity in fold]
        tr = [c for c in clips if c.identity not in fold]
        tr += own_free(cfg, tr) if cfg.train_on_free else []
        footage, free = footage_for(free_all, va, cfg.identities, cfg.mix)
        free = free + own_free(cfg, va)
        print(f"fold {i + 1} of {len(folds)}: scored on {fold}, trained on {len(tr)} clips", flush=True)
        runs.append((va, free, [(predict(m, va, cfg), predict(m, free, cfg)) for _, m, _ in
                                epochs(cfg, tr, weight_of(tr), cfg.seed, footage)]))
    va = [c for r in runs for c in r[0]]
    free = [c for r in runs for c in r[1]]  # a clip once per fold that checks it, with that fold's probabilities
    pooled = (([p for r in runs for p in r[2][e][0]], [p for r in runs for p in r[2][e][1]]) for e in range(cfg.epochs))
    best, history = best_epoch(va, free, pooled, cfg.false_budget, "out of fold")
    footage, free = footage_for(free_all, [], cfg.identities, cfg.mix)
    print(f"chosen out of fold: epoch {best['epoch']}; the refit on all {len(clips)} clips", flush=True)
    everyone = clips + (own_free(cfg, clips) if cfg.train_on_free else [])
    model = next(m for e, m, _ in epochs(cfg, everyone, weight_of(everyone), cfg.seed, footage) if e == best["epoch"])
    return {"chosen": dict(best, train_seed=cfg.seed, mix=cfg.mix if footage else 0), "model": model,
            "history": history, "folds": folds, "footage": footage, "free": free}
