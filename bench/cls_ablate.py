"""Classifier ablations on the cached patches: LOSO over the *training* identities only.

    python -m bench.cls_ablate '{"model": {"n_layers": 1}, "epochs": 40}' --name l1
    python -m bench.cls_ablate probe          # the linear probe (logistic regression) on the same patches

Each setting is a JSON object of train.fit.FitOptions fields over the default Config's (``{}`` is
``python -m train.loso``'s fold; ``model`` holds FGRMER constructor overrides, merged into the
default's; ``train_factors``, a list of amplifications, trains at those only). Data, folds, adjacency and the test factor are those of ``python -m train.loso`` with the
default Config (the cache must exist: run train.loso once). The held-out identities are never read
here: hyper-parameters are chosen on these figures only. One line of JSON per setting is appended to
``runs/ablate.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mecore.atomic import write_text


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
            fidx = None if factors is None else [cfg.factors.index(round(float(f), 3)) for f in factors]
            base = cfg.fit_options(cfg.seed + k)  # '{}' is python -m train.loso's own fold
            model = {**base.model, **setting.pop("model", {})}
            opts = fit_mod.FitOptions(**{**asdict(base), **setting, "model": model})
            res = train_fold(cfg, k, sp, data, {}, opts=opts, train_factors=fidx)
            pred = np.asarray(res["pred"], dtype=np.int64)
            train_acc.append(res["history"]["train_acc"][-1])
        y_true += data.y[sp.test].tolist()
        y_pred += pred.tolist()
        print(f"fold {sp.test_subject}: {np.mean(pred == data.y[sp.test]):.2f}", flush=True)
    m = metrics.pooled(y_true, y_pred, data.labels)
    row = {"name": args.name, "setting": args.setting, "val_subjects": args.val_subjects,
           "accuracy": round(m["accuracy"], 3), "uf1": round(m["uf1"], 3), "uar": round(m["uar"], 3),
           "train_acc": round(float(np.mean(train_acc)), 3),
           "per_class_f1": {c: round(r["f1"], 3) for c, r in m["per_class"].items()},
           "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(row))
    args.log.parent.mkdir(parents=True, exist_ok=True)
    old = args.log.read_text() if args.log.exists() else ""
    write_text(args.log, old + json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
