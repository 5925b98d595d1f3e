"""Figures on held-out identities: people the synthetic generator wrote only to ``<root>/holdout``
(``python -m train.synth_me --holdout-identities K``), never to the set LOSO trains, tunes or selects on.

After the deployed classifier is published, ``evaluate`` runs that artifact (ONNX Runtime, as the
stream does) on the held-out clips at the serving amplification and prints pooled accuracy, UF1 and
UAR over them. ``python -m train.holdout --root DIR`` does the same for a published classifier without
training: e.g. on a held-out set rendered in a warp family nothing trained on (``train.synth_me
--holdout-warp mesh``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mecore.atomic import write_json
from mecore.errors import MexError, run_cli
from train import metrics
from train.cache import TEST_FACTOR

if TYPE_CHECKING:
    from train.config import Config

HOLDOUT_DIR = "holdout"


def holdout_root(cfg: Config) -> Path | None:
    root = Path(cfg.root) / HOLDOUT_DIR
    return root if any(root.glob("CASME2-coding*")) else None


def _persons(root: Path) -> set[str]:
    try:
        return {s.get("person", s["source"]) for s in json.loads((root / "ground_truth.json").read_text())["subjects"]}
    except (OSError, ValueError, KeyError) as exc:
        raise MexError(f"{root / 'ground_truth.json'}: unreadable ({exc})") from None


def holdout_samples(cfg: Config, train_labels: list[str] | None = None):
    """(samples, X, y, labels) of the held-out set, after checking that none of its people is in the
    training set (by the generator's person names and by subject folder)."""
    from train.data import load_data

    root = holdout_root(cfg)
    if root is None:
        raise MexError(f"{cfg.root}: no held-out set (generate with --holdout-identities K)")
    shared = _persons(Path(cfg.root)) & _persons(root)
    if shared:
        raise MexError(f"{root}: held-out people also in the training set: {', '.join(sorted(shared))}")
    data = load_data(replace(cfg, root=root, out=cfg.out))
    if train_labels is not None and {s.label for s in data.samples} - set(train_labels):
        raise MexError(f"{root}: labels outside the training classes")
    return data.samples, data.X, data.y, data.labels


def evaluate(cfg: Config, engines_dir: Path, train_subjects: set[str]) -> dict:
    """Pooled metrics of the published classifier on the held-out identities; printed and written to
    ``<out>/holdout.json``."""
    import engines

    samples, X, y, labels = holdout_samples(cfg)
    leaked = {s.subject for s in samples} & set(train_subjects)
    if leaked:
        raise MexError(f"held-out subjects {', '.join(sorted(leaked))} are training subjects too")
    art = engines.resolve("classifier", "onnx", engines_dir)
    eng = engines.load(art.path, backend="onnxruntime")
    xs = X[:, cfg.factors.index(TEST_FACTOR)].astype(np.float32)
    logits = np.concatenate([eng(patches=xs[i:i + 64])["logits"] for i in range(0, len(xs), 64)])
    order = list(art.meta.get("labels", labels))  # the classifier's own label order
    if set(order) != set(labels):
        raise MexError(f"{art.path}: classifier labels {order} differ from the held-out set's {labels}")
    pred = [labels.index(order[p]) for p in logits.argmax(1)]
    m = metrics.pooled(y.tolist(), pred, labels)
    m["per_subject"] = metrics.per_subject([s.subject for s in samples], y.tolist(), pred)
    print(f"held-out identities: {len(samples)} samples of {len({s.subject for s in samples})} people never trained "
          f"on: accuracy {m['accuracy']:.3f}, UF1 {m['uf1']:.3f}, UAR {m['uar']:.3f} (classifier {art.path})")
    write_json(Path(cfg.out) / "holdout.json", {"root": str(holdout_root(cfg)), "metrics": m})
    return m


def main(argv: list[str] | None = None) -> int:
    """``train.loso``'s options; --root is the synthetic set whose holdout/ is scored, --engines-dir the
    classifier's folder (none: engines/)."""
    from engines import ENGINES_DIR
    from train import datasets
    from train.config import parse_args

    def run() -> None:
        cfg = parse_args(argv, __doc__)
        train = datasets.read(cfg.dataset, cfg.root).samples  # the sheet only: whose subjects may not be held out
        evaluate(cfg, Path(cfg.engines_dir or ENGINES_DIR), {s.subject for s in train})

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
