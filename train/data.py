"""What LOSO trains on: the dataset's samples read, their cached patches and labels, as one ``Data``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mecore.errors import MexError
from train.config import Config


@dataclass(frozen=True, eq=False)
class Data:
    samples: list  # train.datasets.base.Sample, in the order of X and y
    X: np.ndarray  # (N, F, 30, C, 7, 7) patches at each of the config's factors
    y: np.ndarray  # (N,) class indices into labels
    labels: list[str]
    class_set: str
    magnifier: dict  # {"id": sha256[:16] of the file [+motion] (the cache's key), "model", "file", "version", "sha256"}

    @property
    def subjects(self) -> list[str]:
        return [s.subject for s in self.samples]


def ensure_synth(cfg: Config) -> None:
    """Generate the synthetic set at cfg.root unless a coding sheet is already there."""
    if any(cfg.root.glob("CASME2-coding*")):
        return
    from train import synth_me

    print(f"generating the synthetic set: {cfg.synth_subjects} subjects x {cfg.synth_clips} clips, "
          f"{cfg.synth_holdout} held-out identities -> {cfg.root}")
    truth = synth_me.generate(out=cfg.root, subjects=cfg.synth_subjects, clips_per_subject=cfg.synth_clips,
                              seed=cfg.seed, holdout_identities=cfg.synth_holdout)
    print(truth["summary"])


def load_data(cfg: Config) -> Data:
    """Samples, their cached patches (N, F, 30, C, 7, 7), labels, the magnifier's id."""
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
    extra = {"sample_list": cfg.sample_list} if cfg.sample_list else {}
    res = datasets.read(cfg.dataset, cfg.root, class_set=class_set, strict=cfg.strict,
                        apex_missing=cfg.apex_missing, **extra)
    if cfg.classes:
        kept = [s for s in res.samples if s.label in labels]
        res.excluded += len(res.samples) - len(kept)
        res.samples = kept
    print(res.summary(f"{cfg.dataset} ({cfg.root})"))
    if not res.samples:
        raise MexError(f"{cfg.root}: no usable samples")
    t0 = time.perf_counter()
    entries, failures = cache.build(res.samples, cfg.magnifier, cfg.cache, cfg.factors, cfg.workers,
                                    cfg.engines_dir, cfg.face_model, ray=cfg.ray_options())
    for key, why in sorted(failures.items()):
        print(f"skipped {key}: {why}")
        if cfg.strict:
            raise MexError(f"{key}: {why}")
    samples = [s for s in res.samples if s.key in entries]
    X = np.stack([np.stack([entries[s.key].at(f) for f in cfg.factors]) for s in samples])
    y = np.array([labels.index(s.label) for s in samples], dtype=np.int64)
    art, _, features = cache.feature_engine(cfg.magnifier, cfg.engines_dir)
    mag = {"id": features, **art.describe()}
    print(f"cache: {len(samples)} samples x {len(cfg.factors)} factors ready in {time.perf_counter() - t0:.1f} s "
          f"({len(failures)} without a face), magnifier {mag['version']} [{mag['id']}]")
    return Data(samples, X, y, labels, class_set, mag)
