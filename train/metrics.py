"""MEGC-style metrics pooled over all LOSO folds, and the report figures.

Pooled means: the predictions of every fold's test subject are concatenated and the metrics are
computed once on the whole set (MEGC 2019), not averaged over folds (a fold with 3 samples would
weigh as much as one with 30).

- UF1 (unweighted F1): the mean over classes of 2 TP_c / (2 TP_c + FP_c + FN_c);
- UAR (unweighted average recall): the mean over classes of TP_c / N_c.

Classes absent from the ground truth are left out of both means, as MEGC does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mecore.atomic import atomic_path


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n, n) counts; rows are the true class, columns the predicted one."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def pooled(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict:
    """accuracy, UF1, UAR, per-class precision/recall/F1/support and the confusion matrix."""
    cm = confusion(y_true, y_pred, len(labels))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    present = support > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=(support + predicted) > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    n = int(cm.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "uf1": float(f1[present].mean()) if present.any() else 0.0,
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {
            lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                  "support": int(support[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": cm.tolist(),
        "labels": list(labels),
    }


def per_subject(subjects: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for s, t, p in zip(subjects, y_true, y_pred):
        d = out.setdefault(s, {"n": 0, "correct": 0})
        d["n"] += 1
        d["correct"] += int(t == p)
    for d in out.values():
        d["accuracy"] = d["correct"] / d["n"]
    return dict(sorted(out.items()))


def report_text(m: dict) -> str:
    """A per-class table plus the pooled line, as printed at the end of a run."""
    lines = [f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}"]
    for lab, r in m["per_class"].items():
        lines.append(f"{lab:<12} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} {r['support']:>5d}")
    lines.append(f"pooled over {m['n']} samples: accuracy {m['accuracy']:.3f}  UF1 {m['uf1']:.3f}  UAR {m['uar']:.3f}")
    return "\n".join(lines)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(cm: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(fig, Path(path))


def plot_curves(history: dict[str, list[float]], path: str | Path, title: str) -> None:
    """Loss and accuracy per epoch; keys ending in "loss" go on the left axis, the rest on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, vals in history.items():
        ax = a1 if key.endswith("loss") else a2
        ax.plot(range(1, len(vals) + 1), vals, label=key)
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.set_ylim(0, 1.02)
    for ax in (a1, a2):
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, Path(path))
