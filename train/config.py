"""LOSO training's options: one dataclass that is also ``python -m train.loso``'s command line.

Fields marked ``fold=True`` change a fold's result: a stored fold is reused only when they match
(``fingerprint``). The whole config is saved with each fold, in results.json and in the exported
classifier's metadata (``to_dict``), so a run can be repeated from any of them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from mecore.cli import add_options, from_options, opt, to_dict
from mecore.errors import MexError
from train.cache import TEST_FACTOR, TRAIN_FACTORS
from train.datasets.apex import APEX_MISSING
from train.fit import FitOptions

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("synth", "casme2", "samm", "casme3", "smic", "composite")


@dataclass
class Config:
    dataset: str = opt("synth", "dataset reader", choices=DATASETS)
    root: Path | None = opt(None, "dataset folder (synth: generated here when missing; none: .cache/synth-SxC-hH-seedN)")
    class_set: str | None = opt(None, "class set name (none: the dataset's own, e.g. casme2-5)", fold=True)
    classes: list[str] | None = opt(None, "a subset of the class set's classes to keep (others are left out)",
                                    fold=True)
    epochs: int = opt(40, "training epochs (40 keeps the synthetic default inside 20 min on 2 cores)", fold=True)
    lr: float = opt(1e-3, "learning rate (AdamW)", fold=True)
    batch_size: int = opt(32, "batch size", fold=True)
    weight_decay: float = opt(0.05, "AdamW weight decay", fold=True)
    label_smoothing: float = opt(0.1, "label smoothing of the cross-entropy", fold=True)
    layers: int = opt(2, "FGRMER: transformer layers per facial region (the paper: 6; docs/training.md)", fold=True)
    head_hidden: int = opt(128, "FGRMER: hidden width of each region's head (the paper: 320)", fold=True)
    feat: int = opt(64, "FGRMER: region feature / AU-GCN output width (the paper: 160)", fold=True)
    dropout: float = opt(0.5, "FGRMER: dropout in the transformers and heads", fold=True)
    input_noise: float = opt(0.0, "Gaussian noise on training patches, in units of each element's std", fold=True)
    mixup: float = opt(0.0, "mixup Beta(a, a) of training pairs (0: off)", fold=True)
    ensemble: int = opt(4, "FGRMERs per fold and in the deployed model, seeded 1000 apart, their softmax "
                           "averaged (1: one network; docs/training.md)", fold=True)
    folds: list[str] | None = opt(None, "test subjects to run (none: all)")
    val_subjects: int = opt(0, "0: fixed epochs; K: pick the epoch on K held-out training subjects", fold=True)
    workers: int = opt(2, "local processes for the preprocessing cache and for the folds")
    out: Path | None = opt(None, "report folder (none: runs/loso-<dataset>)")
    cache: Path = opt(REPO / ".cache" / "preprocess", "preprocessing cache folder")
    magnifier: str = opt("magnifier", "magnifier: engines name or .onnx path")
    engines_dir: Path | None = opt(None, "engines folder the magnifier name resolves in (none: engines/)")
    publish_dir: Path | None = opt(None, "engines folder to publish the classifier into (none: --engines-dir)")
    export: bool = opt(True, "train the final model on all subjects and publish it")
    strict: bool = opt(False, "stop at the first bad row or sample")
    apex_missing: str = opt("skip", "a sheet row without a coded apex (CASME II's '/'): skip it (as MEGC 2019), "
                            "or take the middle / the most-moved frame of onset..offset", choices=APEX_MISSING,
                            fold=True)
    sample_list: Path | None = opt(None, "composite: a sample list like MEGC 2019's combined_3class_gt.csv "
                                   "(none: the MEGC 2019 list shipped in train/datasets/lists)", fold=True)
    seed: int = opt(0, "seed of splits, training and the synthetic set", fold=True)
    synth_subjects: int = opt(14, "synthetic set: training identities (one real person each)")
    synth_clips: int = opt(12, "synthetic set: clips per subject")
    synth_holdout: int = opt(8, "synthetic set: identities generated only into <root>/holdout, never trained on "
                                "(the deployed classifier's figures on them are printed)")
    face_model: Path | None = opt(None, "MediaPipe .task file (none: the installed one)")
    factors: tuple[float, ...] = opt(TRAIN_FACTORS, f"training amplifications (must include {TEST_FACTOR})",
                                     fold=True)
    threads: int = opt(1, "torch threads: the model is small, one thread wastes least on a busy CPU")
    ray: str | None = opt(None, "cache and folds as Ray tasks: auto (this machine's cluster, else a new local "
                                "Ray) or a cluster ADDRESS; a bare --ray is auto (docs/scale.md)", const="auto")
    ray_shared_cache: bool = opt(False, "Ray workers write the cache into --cache themselves (a path every node "
                                        "sees); else entries come back through the object store")
    ray_retries: int = opt(2, "further attempts of a Ray fold that failed or whose worker died")
    ray_fold_gpus: float | None = opt(None, "GPUs per Ray fold task (none: 1 when the cluster has GPUs, else 0)")

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise MexError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.root is None and self.dataset != "synth":
            raise MexError(f"--dataset {self.dataset} needs --root (the folder of your licensed copy)")
        self.root = Path(self.root) if self.root is not None else (
            REPO / ".cache" / f"synth-{self.synth_subjects}x{self.synth_clips}-h{self.synth_holdout}-seed{self.seed}")
        self.out = Path(self.out) if self.out is not None else REPO / "runs" / f"loso-{self.dataset}"
        self.cache = Path(self.cache)
        for name in ("epochs", "batch_size", "workers", "synth_subjects", "synth_clips", "layers", "head_hidden",
                     "feat"):
            if int(getattr(self, name)) < 1:
                raise MexError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.synth_holdout < 0:
            raise MexError(f"--synth-holdout must be >= 0, got {self.synth_holdout}")
        if self.batch_size < 2:
            raise MexError("--batch-size must be >= 2 (BatchNorm)")
        if not 0 < self.lr < 1:
            raise MexError(f"--lr must be in (0, 1), got {self.lr}")
        self.factors = tuple(sorted({round(float(f), 3) for f in self.factors}))
        if TEST_FACTOR not in self.factors:
            raise MexError(f"--factors must include the test factor {TEST_FACTOR}, got {list(self.factors)}")
        if not 0 <= self.label_smoothing < 1:
            raise MexError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.dropout < 1:
            raise MexError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.input_noise < 0 or self.mixup < 0:
            raise MexError(f"--input-noise and --mixup must be >= 0, got {self.input_noise}, {self.mixup}")
        if self.val_subjects < 0:
            raise MexError(f"--val-subjects must be >= 0, got {self.val_subjects}")
        if self.ensemble < 1:
            raise MexError(f"--ensemble must be >= 1, got {self.ensemble}")
        if self.ray_retries < 0:
            raise MexError(f"--ray-retries must be >= 0, got {self.ray_retries}")
        if self.apex_missing not in APEX_MISSING:
            raise MexError(f"--apex-missing must be one of {', '.join(APEX_MISSING)}, got {self.apex_missing!r}")
        if self.sample_list is not None:
            if self.dataset != "composite":
                raise MexError(f"--sample-list is for --dataset composite, not {self.dataset}")
            self.sample_list = Path(self.sample_list)

    def ray_options(self):
        """train.cluster.RayOptions when the run goes to Ray, else None (and Ray is never imported)."""
        if self.ray is None:
            return None
        from train.cluster import RayOptions

        return RayOptions(address=self.ray, shared_cache=self.ray_shared_cache, retries=self.ray_retries,
                          threads=self.threads, fold_gpus=self.ray_fold_gpus)

    def fit_options(self, seed: int) -> FitOptions:
        return FitOptions(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                          weight_decay=self.weight_decay, label_smoothing=self.label_smoothing, seed=seed,
                          noise=self.input_noise, mixup=self.mixup, members=self.ensemble,
                          model={"n_layers": self.layers, "head_hidden": self.head_hidden, "feat": self.feat,
                                 "dropout": self.dropout})

    def fingerprint(self, magnifier_id: str, keys: list[str]) -> dict:
        """What a stored fold must match to be reused: the ``fold=True`` fields and the samples."""
        d = to_dict(self)
        return {**{f.name: d[f.name] for f in fields(self) if f.metadata.get("fold")},
                "magnifier": magnifier_id, "samples": len(keys), "keys_hash": hash_keys(keys)}

    def to_dict(self) -> dict:
        return to_dict(self)


def hash_keys(keys: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


def parser(description: str = "") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m train.loso", description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(ap, Config)
    return ap


def parse_args(argv: list[str] | None = None, description: str = "") -> Config:
    return from_options(Config, parser(description).parse_args(argv))
