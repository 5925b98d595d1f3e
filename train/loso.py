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

import argparse
import csv
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mecore.atomic import write_json, write_text
from mecore.errors import MexError, run_cli
from train import adjacency as adj_mod
from train import metrics
from train.cache import TEST_FACTOR, TRAIN_FACTORS
from train.fit import FitOptions

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("synth", "casme2", "samm", "casme3", "smic", "composite")


@dataclass
class Config:
    dataset: str = "synth"
    root: Path | None = None  # synth: .cache/synth-SxC-seedN (generated when missing)
    class_set: str | None = None  # default: the dataset's own (datasets.DATASETS)
    classes: list[str] | None = None  # a subset of the class set's classes (others are left out)
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    folds: list[str] | None = None  # test subjects to run (default: all)
    val_subjects: int = 0  # 0: fixed epochs; K: pick the epoch on K training subjects
    workers: int = 2
    out: Path | None = None  # default runs/loso-<dataset>
    cache: Path = REPO / ".cache" / "preprocess"
    magnifier: str = "magnifier"  # engines name or .onnx path
    engines_dir: Path | None = None  # where the magnifier name resolves (default engines/)
    publish_dir: Path | None = None  # where the classifier is published (default: engines_dir)
    export: bool = True
    strict: bool = False
    seed: int = 0
    synth_subjects: int = 8
    synth_clips: int = 20
    face_model: Path | None = None
    factors: tuple[float, ...] = TRAIN_FACTORS  # training amplifications (must include TEST_FACTOR)
    threads: int = 1  # torch threads: the model is small, one thread wastes least on a busy CPU

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise MexError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.root is None and self.dataset != "synth":
            raise MexError(f"--dataset {self.dataset} needs --root (the folder of your licensed copy)")
        self.root = Path(self.root) if self.root is not None else (
            REPO / ".cache" / f"synth-{self.synth_subjects}x{self.synth_clips}-seed{self.seed}")
        self.out = Path(self.out) if self.out is not None else REPO / "runs" / f"loso-{self.dataset}"
        self.cache = Path(self.cache)
        for name in ("epochs", "batch_size", "workers", "synth_subjects", "synth_clips"):
            if int(getattr(self, name)) < 1:
                raise MexError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise MexError("--batch-size must be >= 2 (BatchNorm)")
        if not 0 < self.lr < 1:
            raise MexError(f"--lr must be in (0, 1), got {self.lr}")
        self.factors = tuple(sorted({round(float(f), 3) for f in self.factors}))
        if TEST_FACTOR not in self.factors:
            raise MexError(f"--factors must include the test factor {TEST_FACTOR}, got {list(self.factors)}")
        if not 0 <= self.label_smoothing < 1:
            raise MexError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.val_subjects < 0:
            raise MexError(f"--val-subjects must be >= 0, got {self.val_subjects}")

    def fit_options(self, seed: int) -> FitOptions:
        return FitOptions(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                          weight_decay=self.weight_decay, label_smoothing=self.label_smoothing, seed=seed)

    def fingerprint(self, magnifier_id: str, keys: list[str]) -> dict:
        """What a stored fold must match to be reused."""
        return {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size, "seed": self.seed,
                "weight_decay": self.weight_decay, "label_smoothing": self.label_smoothing, "val_subjects": self.val_subjects,
                "class_set": self.class_set, "classes": self.classes, "magnifier": magnifier_id, "factors": list(self.factors), "samples": len(keys),
                "keys_hash": hash_keys(keys)}


def hash_keys(keys: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


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


# --- data ------------------------------------------------------------------------------------------

def ensure_synth(cfg: Config) -> None:
    """Generate the synthetic set at cfg.root unless a coding sheet is already there."""
    if any(cfg.root.glob("CASME2-coding*")):
        return
    from train import synth_me

    print(f"generating the synthetic set: {cfg.synth_subjects} subjects x {cfg.synth_clips} clips -> {cfg.root}")
    synth_me.generate(out=cfg.root, subjects=cfg.synth_subjects, clips_per_subject=cfg.synth_clips, seed=cfg.seed)


def load_data(cfg: Config):
    """Samples, their cached patches (N, F, 30, 7, 7), labels, magnifier id."""
    from train import cache, datasets

    if cfg.dataset == "synth":
        ensure_synth(cfg)
    class_set = cfg.class_set or datasets.DATASETS[cfg.dataset][1]
    labels = list(datasets.classes(class_set))
    if cfg.classes:
        unknown = [c for c in cfg.classes if c not in labels]
        if unknown:
            raise MexError(f"--classes {', '.join(unknown)} not in class set {class_set} ({', '.join(labels)})")
        labels = [c for c in labels if c in cfg.classes]
    res = datasets.read(cfg.dataset, cfg.root, class_set=class_set, strict=cfg.strict)
    if cfg.classes:
        kept = [s for s in res.samples if s.label in labels]
        res.excluded += len(res.samples) - len(kept)
        res.samples = kept
    print(res.summary(f"{cfg.dataset} ({cfg.root})"))
    if not res.samples:
        raise MexError(f"{cfg.root}: no usable samples")
    t0 = time.perf_counter()
    entries, failures = cache.build(res.samples, cfg.magnifier, cfg.cache, cfg.factors, cfg.workers,
                                    cfg.engines_dir, cfg.face_model)
    for key, why in sorted(failures.items()):
        print(f"skipped {key}: {why}")
        if cfg.strict:
            raise MexError(f"{key}: {why}")
    samples = [s for s in res.samples if s.key in entries]
    X = np.stack([np.stack([entries[s.key].at(f) for f in cfg.factors]) for s in samples])
    y = np.array([labels.index(s.label) for s in samples], dtype=np.int64)
    import engines

    art = engines.resolve(str(cfg.magnifier), "onnx", cfg.engines_dir)
    mag = {"id": cache.magnifier_id(art.path), "version": art.meta.get("version"), "file": art.path.name}
    print(f"cache: {len(samples)} samples x {len(cfg.factors)} factors ready in {time.perf_counter() - t0:.1f} s "
          f"({len(failures)} without a face), magnifier {mag['version']} [{mag['id']}]")
    return samples, X, y, labels, class_set, mag


# --- folds -----------------------------------------------------------------------------------------

def run_fold(cfg: Config, k: int, sp: Split, samples, X, y, labels, fingerprint: dict) -> dict:
    """Train and test one fold (or reuse its stored result)."""
    from train import fit as fit_mod

    fold_dir = cfg.out / "folds"
    path = fold_dir / f"{sp.test_subject}.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("fingerprint") == fingerprint:
            return old
    assert not set(sp.test) & set(sp.train) and not set(sp.test) & set(sp.val)
    train_aus = [samples[i].aus for i in sp.train]  # training subjects only: see docs/training.md
    adj = adj_mod.adjacency(train_aus)
    adj_mod.save(fold_dir / f"{sp.test_subject}.adjacency.npz", adj, {samples[i].subject for i in sp.train},
                 adj_mod.cooccurrence(train_aus)[0])
    test_f = cfg.factors.index(TEST_FACTOR)
    res = fit_mod.fit(X, y, sp.train, len(labels), adj, cfg.fit_options(cfg.seed + k), val_idx=sp.val,
                      eval_factor=test_f)
    probs = fit_mod.predict(res.model, X[sp.test, test_f])
    pred = probs.argmax(1) if len(probs) else np.zeros(0, int)
    metrics.plot_curves(res.history, fold_dir / f"{sp.test_subject}.curves.png", f"fold {sp.test_subject}")
    out = {
        "fingerprint": fingerprint, "test_subject": sp.test_subject,
        "train_idx": sp.train.tolist(), "val_idx": sp.val.tolist(), "test_idx": sp.test.tolist(),
        "train_subjects": sorted({samples[i].subject for i in sp.train}),
        "val_subjects": sorted({samples[i].subject for i in sp.val}),
        "pred": pred.tolist(), "probs": probs.round(5).tolist(), "true": y[sp.test].tolist(),
        "history": res.history, "best_epoch": res.best_epoch, "seconds": round(res.seconds, 2),
    }
    write_json(path, out)
    return out


def pooled_report(cfg: Config, samples, labels, folds: list[dict], mag: dict) -> dict:
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
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    write_json(cfg.out / "results.json", {"config": cfg_dict, "magnifier": mag, "metrics": m,
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
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    samples, X, y, labels, class_set, mag = load_data(cfg)
    subjects = [s.subject for s in samples]
    sp_list = splits(subjects, cfg.val_subjects, cfg.seed, cfg.folds)
    cfg.out.mkdir(parents=True, exist_ok=True)
    fp = cfg.fingerprint(mag["id"], [s.key for s in samples]) | {"class_set": class_set}
    selection = f"best epoch on {cfg.val_subjects} training subject(s)" if cfg.val_subjects else "fixed epochs"
    print(f"LOSO over {len(set(subjects))} subjects, {len(samples)} samples, classes {', '.join(labels)}; "
          f"{len(sp_list)} fold(s), {cfg.epochs} epochs, selection: {selection}")
    folds = []
    for k, sp in enumerate(sp_list):
        f = run_fold(cfg, k, sp, samples, X, y, labels, fp)
        acc = float(np.mean(np.array(f["pred"]) == np.array(f["true"]))) if f["true"] else 0.0
        print(f"fold {k + 1}/{len(sp_list)} test {sp.test_subject}: {len(f['true'])} samples, accuracy {acc:.3f} "
              f"(train {len(f['train_idx'])}, val {len(f['val_idx'])}; {f['seconds']:.1f} s)", flush=True)
        folds.append(f)
    m = pooled_report(cfg, samples, labels, folds, mag)
    print(metrics.report_text(m))
    print("per-subject accuracy: " + ", ".join(f"{s} {r['accuracy']:.2f}" for s, r in m["per_subject"].items()))
    dest = None
    if cfg.export:
        from train.export import export_final

        dest = export_final(cfg, samples, X, y, labels, class_set, m, mag)
    print(f"report: {cfg.out}/results.json, results.csv, predictions.csv, confusion.png, curves.png; "
          f"total {time.perf_counter() - t_start:.0f} s")
    return Outcome(metrics=m, folds=folds, engines_dir=dest)


def parse_args(argv: list[str] | None = None) -> Config:
    ap = argparse.ArgumentParser(prog="python -m train.loso", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synth", choices=DATASETS)
    ap.add_argument("--root", type=Path, help="dataset folder (synth: generated here when missing; default .cache/synth-...)")
    ap.add_argument("--class-set", help="class set name (default: the dataset's own, e.g. casme2-5)")
    ap.add_argument("--classes", help="comma-separated subset of the class set's classes to keep")
    ap.add_argument("--epochs", type=int, default=Config.epochs)
    ap.add_argument("--lr", type=float, default=Config.lr)
    ap.add_argument("--batch-size", type=int, default=Config.batch_size)
    ap.add_argument("--weight-decay", type=float, default=Config.weight_decay)
    ap.add_argument("--label-smoothing", type=float, default=Config.label_smoothing)
    ap.add_argument("--folds", help="comma-separated test subjects to run (default: all)")
    ap.add_argument("--val-subjects", type=int, default=0,
                    help="pick the epoch on this many held-out training subjects (default 0: fixed epochs)")
    ap.add_argument("--workers", type=int, default=Config.workers, help="preprocessing processes")
    ap.add_argument("--out", type=Path, help="report folder (default runs/loso-<dataset>)")
    ap.add_argument("--cache", type=Path, default=Config.cache)
    ap.add_argument("--magnifier", default="magnifier", help="magnifier: engines name or .onnx path")
    ap.add_argument("--engines-dir", type=Path, help="engines folder the magnifier name resolves in (default engines/)")
    ap.add_argument("--publish-dir", type=Path, help="engines folder to publish the classifier into "
                                                       "(default: --engines-dir)")
    ap.add_argument("--no-export", dest="export", action="store_false", help="skip the final model and export")
    ap.add_argument("--strict", action="store_true", help="stop at the first bad row or sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synth-subjects", type=int, default=Config.synth_subjects)
    ap.add_argument("--synth-clips", type=int, default=Config.synth_clips)
    ap.add_argument("--face-model", type=Path)
    ap.add_argument("--factors", default=",".join(map(str, TRAIN_FACTORS)),
                    help="training amplification factors, comma-separated (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=Config.threads, help="torch threads (default: %(default)s)")
    a = ap.parse_args(argv)
    d = vars(a)
    d["folds"] = [s.strip() for s in a.folds.split(",") if s.strip()] if a.folds else None
    d["classes"] = [s.strip() for s in a.classes.split(",") if s.strip()] if a.classes else None
    try:
        d["factors"] = tuple(float(f) for f in a.factors.split(",") if f.strip())
    except ValueError:
        raise MexError(f"--factors: expected numbers separated by commas, got {a.factors!r}") from None
    return Config(**d)


def main(argv: list[str] | None = None) -> int:
    return run_cli(lambda: run(parse_args(argv)),
                   interrupted="interrupted; finished folds are kept and reused on the next run")


if __name__ == "__main__":
    sys.exit(main())
