"""Leave-one-subject-out training of FGRMER, pooled MEGC metrics, then the deployed classifier in engines/.

    python -m train.loso                                   # synthetic set, CPU, whole protocol
    python -m train.loso --dataset casme2 --root /data/CASME2 --epochs 40

Protocol: every subject is the test subject of one fold; a fresh model per fold (the previous fold's
model has seen this fold's test subject); the AU adjacency is counted on the fold's training subjects
only; model selection never looks at the test subject (a fixed number of epochs, or with
``--val-subjects K`` the best epoch on K held-out *training* subjects). Test predictions of all folds
are pooled for accuracy, UF1 and UAR (MEGC). Finally one model is trained on all subjects (adjacency
from all) and exported to ONNX + checkpoint into engines/. Folds already in ``--out`` with the same
settings are reused, so an interrupted run resumes fold by fold.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mecore.atomic import write_json, write_text
from mecore.errors import MexError, run_cli
from mecore.provenance import stamp
from train import adjacency as adj_mod
from train import metrics
from train.cache import TEST_FACTOR
from train.config import DATASETS, REPO, Config, hash_keys  # noqa: F401 - the CLI's names, re-exported
from train.config import parse_args as config_args
from train.data import Data, load_data  # noqa: F401 - load_data re-exported


@dataclass
class Split:
    test_subject: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def splits(subjects: list[str], val_subjects: int = 0, seed: int = 0, only: list[str] | None = None) -> list[Split]:
    """One split per subject: test = its samples; val = ``val_subjects`` other subjects; train = the rest."""
    subjects_arr = np.asarray(subjects)
    unique = sorted(set(subjects))
    chosen = unique if not only else [s for s in unique if s in set(only)]
    if only and len(chosen) != len(set(only)):
        missing = sorted(set(only) - set(unique))
        raise MexError(f"--folds names unknown subject(s) {', '.join(missing)}; subjects: {', '.join(unique)}")
    out = []
    for test in chosen:
        rest = [s for s in unique if s != test]
        rng = np.random.default_rng(seed + 1000 * (unique.index(test) + 1))
        val = set(rng.choice(rest, size=min(val_subjects, max(len(rest) - 1, 0)), replace=False).tolist()) \
            if val_subjects else set()
        out.append(Split(
            test_subject=test,
            train=np.flatnonzero(~np.isin(subjects_arr, [test, *val])),
            val=np.flatnonzero(np.isin(subjects_arr, list(val))),
            test=np.flatnonzero(subjects_arr == test),
        ))
    return out


# --- folds -----------------------------------------------------------------------------------------

def reused_fold(cfg: Config, sp: Split, fingerprint: dict) -> dict | None:
    """The stored result of a finished fold with the same settings (resume), else None."""
    path = cfg.out / "folds" / f"{sp.test_subject}.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("fingerprint") == fingerprint:
            return old
    return None


def train_fold(cfg: Config, k: int, sp: Split, data: Data, fingerprint: dict, device: str = "cpu",
               opts=None, train_factors: list[int] | None = None) -> dict:
    """Train and test one fold; writes nothing (a Ray task returns this to the driver, which saves it).

    ``opts`` (train.fit.FitOptions) and ``train_factors`` (factor indices) replace the config's, for
    bench.cls_ablate's settings that the config does not spell."""
    from train import fit as fit_mod

    samples, X, y = data.samples, data.X, data.y
    assert not set(sp.test) & set(sp.train) and not set(sp.test) & set(sp.val)
    train_aus = [samples[i].aus for i in sp.train]  # training subjects only: see docs/training.md
    adj = adj_mod.adjacency(train_aus)
    test_f = cfg.factors.index(TEST_FACTOR)
    opts = opts or cfg.fit_options(cfg.seed + k)
    opts.device = device
    res = fit_mod.fit(X, y, sp.train, len(data.labels), adj, opts, val_idx=sp.val, eval_factor=test_f,
                      train_factors=train_factors)
    probs = fit_mod.predict(res.model, X[sp.test, test_f])
    pred = probs.argmax(1) if len(probs) else np.zeros(0, int)
    return {
        "fingerprint": fingerprint, "config": cfg.to_dict(), "test_subject": sp.test_subject,
        "train_idx": sp.train.tolist(), "val_idx": sp.val.tolist(), "test_idx": sp.test.tolist(),
        "train_subjects": sorted({samples[i].subject for i in sp.train}),
        "val_subjects": sorted({samples[i].subject for i in sp.val}),
        "pred": pred.tolist(), "probs": probs.round(5).tolist(), "true": y[sp.test].tolist(),
        "history": res.history, "best_epoch": res.best_epoch, "seconds": round(res.seconds, 2),
        "adjacency": {"adj": adj, "cooccurrence": adj_mod.cooccurrence(train_aus)[0]},
    }


def save_fold(cfg: Config, out: dict) -> dict:
    """Write a trained fold's adjacency, curves and result (``<out>/folds/<subject>.*``); the stored result."""
    fold_dir = cfg.out / "folds"
    sub = out["test_subject"]
    a = out.pop("adjacency")
    adj_mod.save(fold_dir / f"{sub}.adjacency.npz", a["adj"], set(out["train_subjects"]), a["cooccurrence"])
    metrics.plot_curves(out["history"], fold_dir / f"{sub}.curves.png", f"fold {sub}")
    write_json(fold_dir / f"{sub}.json", out)
    return out


def run_fold(cfg: Config, k: int, sp: Split, data: Data, fingerprint: dict) -> dict:
    """Train, test and save one fold in this process (or reuse its stored result)."""
    return reused_fold(cfg, sp, fingerprint) or save_fold(cfg, train_fold(cfg, k, sp, data, fingerprint))


def _print_fold(k: int, n: int, f: dict) -> None:
    acc = float(np.mean(np.array(f["pred"]) == np.array(f["true"]))) if f["true"] else 0.0
    print(f"fold {k + 1}/{n} test {f['test_subject']}: {len(f['true'])} samples, accuracy {acc:.3f} "
          f"(train {len(f['train_idx'])}, val {len(f['val_idx'])}; {f['seconds']:.1f} s)", flush=True)


# A fold pool process's data: sent once per process by the pool's initializer, not once per fold.
_POOL_DATA: Data | None = None


def _init_fold_worker(data: Data, threads: int) -> None:
    import torch

    global _POOL_DATA
    _POOL_DATA = data
    torch.set_num_threads(threads)


def _pool_fold(fold_fn, cfg: Config, k: int, sp: Split, fp: dict) -> dict:
    return fold_fn(cfg, k, sp, _POOL_DATA, fp)


def _local_folds(cfg: Config, todo: list, data: Data, fp: dict, fold_fn):
    """(fold index, result) as folds finish in ``cfg.workers`` spawn processes: each fold is seeded and
    single-threaded, so the results are those of one process (tests/train/test_loso.py)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(cfg.workers, len(todo))
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_fold_worker,
                             initargs=(data, cfg.threads)) as pool:
        futures = {pool.submit(_pool_fold, fold_fn, cfg, k, sp, fp): k for k, sp in todo}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def fold_results(cfg: Config, sp_list: list[Split], data: Data, fp: dict, fold_fn=train_fold) -> list[dict]:
    """Every fold's result in fold order: stored ones reused, the rest trained here one after another, in
    ``cfg.workers`` local processes, or with ``cfg.ray`` as one Ray task per fold (``fold_fn`` is what a
    process or task runs)."""
    done = {k: f for k, sp in enumerate(sp_list) if (f := reused_fold(cfg, sp, fp)) is not None}
    todo = [(k, sp) for k, sp in enumerate(sp_list) if k not in done]
    for k in sorted(done):
        _print_fold(k, len(sp_list), done[k])
    opts = cfg.ray_options()
    if opts is None and cfg.workers > 1 and len(todo) > 1:
        results = _local_folds(cfg, todo, data, fp, fold_fn)
    elif opts is None:
        results = ((k, fold_fn(cfg, k, sp, data, fp)) for k, sp in todo)
    else:
        from train import cluster

        results = cluster.run_folds(cfg, todo, data, fp, fold_fn, opts)
    for k, out in results:
        done[k] = save_fold(cfg, out)
        _print_fold(k, len(sp_list), done[k])
    return [done[k] for k in range(len(sp_list))]


def pooled_report(cfg: Config, data: Data, folds: list[dict]) -> dict:
    samples, labels = data.samples, data.labels
    idx = [i for f in folds for i in f["test_idx"]]
    y_true = [t for f in folds for t in f["true"]]
    y_pred = [p for f in folds for p in f["pred"]]
    subs = [samples[i].subject for i in idx]
    m = metrics.pooled(y_true, y_pred, labels)
    m["per_subject"] = metrics.per_subject(subs, y_true, y_pred)
    metrics.plot_confusion(m["confusion"], labels, cfg.out / "confusion.png",
                           f"LOSO {cfg.dataset}: UF1 {m['uf1']:.3f}  UAR {m['uar']:.3f}")
    mean_curves: dict[str, list[float]] = {}
    for key in folds[0]["history"]:
        runs = [f["history"][key] for f in folds if key in f["history"]]
        mean_curves[key] = np.mean(np.array(runs), axis=0).tolist()
    metrics.plot_curves(mean_curves, cfg.out / "curves.png", f"LOSO {cfg.dataset}: mean over {len(folds)} folds")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["subject", "clip", "onset", "apex", "true", "pred", *[f"p_{lab}" for lab in labels]])
    for f in folds:
        for i, t, p, pr in zip(f["test_idx"], f["true"], f["pred"], f["probs"]):
            s = samples[i]
            w.writerow([s.subject, s.clip, s.onset, s.apex, labels[t], labels[p], *pr])
    write_text(cfg.out / "predictions.csv", buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["metric", "value"])
    for key in ("n", "accuracy", "uf1", "uar"):
        w.writerow([key, m[key]])
    for lab, r in m["per_class"].items():
        for key, v in r.items():
            w.writerow([f"{lab}.{key}", v])
    for sub, r in m["per_subject"].items():
        w.writerow([f"subject.{sub}.accuracy", r["accuracy"]])
    write_text(cfg.out / "results.csv", buf.getvalue())
    mag = {k: v for k, v in data.magnifier.items() if k != "id"}
    write_json(cfg.out / "results.json", {**stamp(cfg.to_dict(), [mag]), "magnifier": data.magnifier, "metrics": m,
                                          "folds": [{k: f[k] for k in ("test_subject", "best_epoch", "seconds")}
                                                    for f in folds]})
    return m


# --- main ------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    metrics: dict
    folds: list[dict] = field(default_factory=list)
    engines_dir: Path | None = None


def run(cfg: Config) -> Outcome:
    if cfg.ray is not None:  # Ray starts beside this process's own imports and reading of the dataset
        from mecore.raycluster import start

        start(cfg.ray)
    import torch

    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg)
    finally:
        torch.set_num_threads(threads)  # a caller (a test, a notebook) gets its own setting back


def _run(cfg: Config) -> Outcome:
    t_start = time.perf_counter()
    data = load_data(cfg)
    samples, labels, subjects = data.samples, data.labels, data.subjects
    sp_list = splits(subjects, cfg.val_subjects, cfg.seed, cfg.folds)
    cfg.out.mkdir(parents=True, exist_ok=True)
    fp = cfg.fingerprint(data.magnifier["id"], [s.key for s in samples]) | {"class_set": data.class_set}
    selection = f"best epoch on {cfg.val_subjects} training subject(s)" if cfg.val_subjects else "fixed epochs"
    print(f"LOSO over {len(set(subjects))} subjects, {len(samples)} samples, classes {', '.join(labels)}; "
          f"{len(sp_list)} fold(s), {cfg.epochs} epochs, selection: {selection}")
    folds = fold_results(cfg, sp_list, data, fp)
    m = pooled_report(cfg, data, folds)
    print(metrics.report_text(m))
    print("per-subject accuracy: " + ", ".join(f"{s} {r['accuracy']:.2f}" for s, r in m["per_subject"].items()))
    dest = None
    if cfg.export:
        from train.export import export_final

        dest = export_final(cfg, data, m)
        from train import holdout

        if holdout.holdout_root(cfg) is not None:  # people never trained on: the deployed model's figures
            holdout.evaluate(cfg, dest, set(subjects))
    print(f"report: {cfg.out}/results.json, results.csv, predictions.csv, confusion.png, curves.png; "
          f"total {time.perf_counter() - t_start:.0f} s")
    return Outcome(metrics=m, folds=folds, engines_dir=dest)


def parse_args(argv: list[str] | None = None) -> Config:
    """The options are Config's fields (train.config): help and defaults come from the dataclass."""
    return config_args(argv, __doc__)


def main(argv: list[str] | None = None) -> int:
    return run_cli(lambda: run(parse_args(argv)),
                   interrupted="interrupted; finished folds are kept and reused on the next run")


if __name__ == "__main__":
    sys.exit(main())
