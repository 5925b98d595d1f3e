"""Classifier ablations on the cached patches: LOSO over the *training* identities only.

    python -m bench.cls_ablate '{"model": {"n_layers": 1}, "epochs": 40}' --name l1
    python -m bench.cls_ablate probe          # the linear probe (logistic regression) on the same patches

Each setting is a JSON object of train.fit.FitOptions fields over the default Config's (``{}`` is
``python -m train.loso``'s fold; ``model`` holds FGRMER constructor overrides, merged into the
default's; ``train_factors``, a list of amplifications, trains at those only; ``channels``, a list of
input channels to keep, each an index or a list of indices averaged into one, e.g. ``[[0, 1], 8, 9]``;
``ensemble``, K networks per fold seeded 1000 apart, their softmax averaged: the row also gives each
member's own UF1, so one run shows the seed spread). Data, folds, adjacency and the test factor are those of ``python -m train.loso`` with the
default Config (the cache must exist: run train.loso once). The held-out identities are never read
here: hyper-parameters are chosen on these figures only. One line of JSON per setting is appended to
``runs/ablate.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mecore.atomic import write_text


def _channels(data, keep: list | None):
    """``data`` with only the ``keep`` input channels of its (N, F, 30, C, 7, 7) patches (a list in
    ``keep`` averages those channels into one)."""
    if keep is None:
        return data
    from dataclasses import replace

    X = data.X
    cols = [X[:, :, :, c] if isinstance(c, int) else X[:, :, :, list(c)].mean(axis=3) for c in keep]
    return replace(data, X=np.ascontiguousarray(np.stack(cols, axis=3)))


def main(argv: list[str] | None = None) -> int:
    import torch

    from train import fit as fit_mod
    from train import metrics
    from train.cache import TEST_FACTOR
    from train.config import Config
    from train.data import load_data
    from train.loso import splits, train_fold

    ap = argparse.ArgumentParser(prog="python -m bench.cls_ablate")
    ap.add_argument("setting", help="JSON object of FitOptions fields, or 'probe[:C]'")
    ap.add_argument("--name", default="")
    ap.add_argument("--val-subjects", type=int, default=0)
    ap.add_argument("--log", type=Path, default=Path("runs/ablate.jsonl"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config(export=False)
    data = load_data(cfg)
    test_f = cfg.factors.index(TEST_FACTOR)
    t0 = time.perf_counter()
    y_true, y_pred, train_acc = [], [], []
    member_pred: dict[int, list] = defaultdict(list)  # each ensemble member's own predictions
    for k, sp in enumerate(splits(data.subjects, args.val_subjects, cfg.seed)):
        if args.setting.startswith("probe"):  # docs/training.md's probe: C 0.05 (probe:C), factor 2.0
            from sklearn.linear_model import LogisticRegression
            from sklearn.preprocessing import StandardScaler

            xtr = data.X[sp.train, test_f].reshape(len(sp.train), -1)
            sc = StandardScaler().fit(xtr)
            c = float(args.setting.partition(":")[2] or 0.05)
            clf = LogisticRegression(C=c, max_iter=2000).fit(sc.transform(xtr), data.y[sp.train])
            pred = clf.predict(sc.transform(data.X[sp.test, test_f].reshape(len(sp.test), -1)))
            train_acc.append(float(clf.score(sc.transform(xtr), data.y[sp.train])))
        else:
            setting = json.loads(args.setting)
            factors = setting.pop("train_factors", None)  # amplifications to train at (default: all cached)
            fold_data = _channels(data, setting.pop("channels", None))
            ensemble = int(setting.pop("ensemble", 1))
            fidx = None if factors is None else [cfg.factors.index(round(float(f), 3)) for f in factors]
            base = cfg.fit_options(cfg.seed + k)  # '{}' is python -m train.loso's own fold
            model = {**base.model, **setting.pop("model", {})}
            opts = fit_mod.FitOptions(**{**asdict(base), **setting, "model": model})
            probs = []
            for j in range(ensemble):  # train.fit's members, one at a time for their own predictions; softmax averaged
                res = train_fold(cfg, k, sp, fold_data, {}, opts=fit_mod.member_options(opts, j), train_factors=fidx)
                probs.append(np.asarray(res["probs"]).reshape(len(sp.test), -1))
                member_pred[j] += np.argmax(probs[-1], 1).tolist()
                train_acc.append(res["history"]["train_acc"][-1])
            pred = np.mean(probs, axis=0).argmax(1)
        y_true += data.y[sp.test].tolist()
        y_pred += pred.tolist()
        print(f"fold {sp.test_subject}: {np.mean(pred == data.y[sp.test]):.2f}", flush=True)
    m = metrics.pooled(y_true, y_pred, data.labels)
    row = {"name": args.name, "setting": args.setting, "val_subjects": args.val_subjects,
           "accuracy": round(m["accuracy"], 3), "uf1": round(m["uf1"], 3), "uar": round(m["uar"], 3),
           "train_acc": round(float(np.mean(train_acc)), 3),
           "per_class_f1": {c: round(r["f1"], 3) for c, r in m["per_class"].items()},
           "seconds": round(time.perf_counter() - t0, 1)}
    if len(member_pred) > 1:
        row["members_uf1"] = [round(metrics.pooled(y_true, p, data.labels)["uf1"], 3) for p in member_pred.values()]
    print(json.dumps(row))
    args.log.parent.mkdir(parents=True, exist_ok=True)
    old = args.log.read_text() if args.log.exists() else ""
    write_text(args.log, old + json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
