"""Train one FGRMER (or several, averaged) on given sample indices and predict: the flat loop LOSO runs per fold.

Inputs are cached patch tensors: ``X`` (samples, factors, 30, C, 7, 7), C maps per node (or
(samples, factors, 30, 7, 7): one map, as in the paper). An epoch visits every training
sample once at an amplification factor drawn at random from the cached set (FGRMER's augmentation:
its dataset draws the factor per item); evaluation uses the single test factor.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from mecore.nets.fgrmer import FGRMER, FGRMEREnsemble


@dataclass
class FitOptions:
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.05
    seed: int = 0
    label_smoothing: float = 0.1
    balanced: bool = True  # class-weighted loss from the training labels (real sets are imbalanced)
    device: str = "cpu"  # "cuda" where a GPU is given to the fold (a Ray fold task with --ray-fold-gpus)
    # FGRMER constructor overrides (n_layers, head_hidden, feat, dropout, ...): they go into the
    # checkpoint's kwargs with the rest, so export and the stream rebuild the same network.
    model: dict = field(default_factory=dict)
    noise: float = 0.0  # Gaussian noise on the training patches, in units of each element's std
    mixup: float = 0.0  # Beta(a, a) mixup of training pairs (0: off); labels mixed the same way
    members: int = 1  # networks trained from seeds 1000 apart and averaged (mecore.nets.fgrmer.FGRMEREnsemble)

    def __post_init__(self):
        if self.members < 1:
            raise ValueError(f"members must be >= 1, got {self.members}")


@dataclass
class FitResult:
    model: FGRMER | FGRMEREnsemble
    kwargs: dict  # the model's constructor arguments, for its checkpoint
    arch: str = "fgrmer"  # its mecore.nets name
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0  # 1-based; the last epoch when there is no validation split
    seconds: float = 0.0


def _predict(model: FGRMER, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]) if len(x) else torch.zeros(0)


def predict(model: FGRMER, patches: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, classes) for (N, 30, C, 7, 7) patches."""
    device = next(model.parameters()).device
    logits = _predict(model, torch.as_tensor(np.asarray(patches, np.float32), device=device))
    return torch.softmax(logits, dim=1).cpu().numpy() if len(logits) else np.zeros((0, model.num_classes), np.float32)


def fit(X: np.ndarray, y: np.ndarray, train_idx: Sequence[int], num_classes: int, adjacency: np.ndarray,
        opts: FitOptions, val_idx: Sequence[int] = (), eval_factor: int = 0,
        train_factors: Sequence[int] | None = None) -> FitResult:
    """A fresh FGRMER trained on ``train_idx`` only; ``val_idx`` (training subjects too) picks the epoch.
    With ``opts.members`` > 1, that many trained alike from seeds 1000 apart, as one FGRMEREnsemble
    (its history the members' mean, its best epoch the first member's).

    ``eval_factor`` is the index (into X's factor axis) used for the validation accuracy;
    ``train_factors`` the factor indices used as augmentation (default: all).
    """
    runs = [_fit_one(X, y, train_idx, num_classes, adjacency, member_options(opts, j), val_idx, eval_factor,
                     train_factors) for j in range(opts.members)]
    if len(runs) == 1:
        return runs[0]
    members = [r.kwargs for r in runs]
    model = FGRMEREnsemble(members).to(next(runs[0].model.parameters()).device)
    for m, r in zip(model.members, runs):
        m.load_state_dict(r.model.state_dict())
    history = {k: np.mean([r.history[k] for r in runs], axis=0).tolist() for k in runs[0].history}
    return FitResult(model=model.eval(), kwargs={"members": members}, arch="fgrmer_ensemble", history=history,
                     best_epoch=runs[0].best_epoch, seconds=sum(r.seconds for r in runs))


def member_options(opts: FitOptions, j: int) -> FitOptions:
    """The options of an ensemble's member ``j``: one network, seeded 1000 * j from the ensemble's seed
    (member 0 is the single network the same options train)."""
    return replace(opts, seed=opts.seed + 1000 * j, members=1)


def _fit_one(X: np.ndarray, y: np.ndarray, train_idx: Sequence[int], num_classes: int, adjacency: np.ndarray,
             opts: FitOptions, val_idx: Sequence[int], eval_factor: int,
             train_factors: Sequence[int] | None) -> FitResult:
    t0 = time.perf_counter()
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    train_idx = np.asarray(train_idx, dtype=np.int64)
    val_idx = np.asarray(val_idx, dtype=np.int64)
    fidx = np.arange(X.shape[1]) if train_factors is None else np.asarray(train_factors, dtype=np.int64)
    dev = torch.device(opts.device)
    xs = torch.as_tensor(X[train_idx][:, fidx], dtype=torch.float32, device=dev)  # (n, factors, 30, C, 7, 7)
    ys = torch.as_tensor(y[train_idx], dtype=torch.long, device=dev)
    counts = np.bincount(y[train_idx], minlength=num_classes).astype(np.float64)
    weight = None
    if opts.balanced:
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
        weight = torch.as_tensor(w, dtype=torch.float32, device=dev)
    stats = X[train_idx][:, fidx].astype(np.float64)  # training samples only, like the adjacency
    mean, std = stats.mean(axis=(0, 1)), np.maximum(stats.std(axis=(0, 1)), 1e-6)
    kwargs = {"num_classes": num_classes, "adjacency": np.asarray(adjacency, np.float32).tolist(),
              "input_mean": mean.astype(np.float32).tolist(), "input_std": std.astype(np.float32).tolist(),
              "in_channels": int(X.shape[3]) if X.ndim == 6 else 1, **opts.model}
    model = FGRMER(**kwargs).to(dev)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=dev)
    gen = torch.Generator(device=dev).manual_seed(opts.seed)
    ce = functools.partial(F.cross_entropy, weight=weight, label_smoothing=opts.label_smoothing)
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    steps = max(1, opts.epochs * int(np.ceil(len(xs) / opts.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=opts.lr, total_steps=steps, pct_start=0.15)
    xv = torch.as_tensor(X[val_idx, eval_factor], dtype=torch.float32, device=dev) if len(val_idx) else None
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    if xv is not None:
        history.update(val_loss=[], val_acc=[])
    best, best_state, best_epoch = -1.0, None, opts.epochs
    for epoch in range(1, opts.epochs + 1):
        model.train()
        order = torch.as_tensor(rng.permutation(len(xs)))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), opts.batch_size):
            b = order[i:i + opts.batch_size]
            if len(b) < 2:  # BatchNorm needs two items
                continue
            f = torch.as_tensor(rng.integers(0, xs.shape[1], len(b)))
            xb, yb = xs[b, f], ys[b]
            if opts.noise > 0:
                xb = xb + opts.noise * std_t * torch.randn(xb.shape, generator=gen, device=dev)
            if opts.mixup > 0:
                lam = float(rng.beta(opts.mixup, opts.mixup))
                perm = torch.as_tensor(rng.permutation(len(b)), device=dev)
                logits = model(lam * xb + (1 - lam) * xb[perm])
                loss = lam * ce(logits, yb) + (1 - lam) * ce(logits, yb[perm])
            else:
                logits = model(xb)
                loss = ce(logits, yb)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            total += float(loss.detach()) * len(b)
            correct += int((logits.argmax(1) == ys[b]).sum())
            seen += len(b)
        history["train_loss"].append(total / max(seen, 1))
        history["train_acc"].append(correct / max(seen, 1))
        if xv is not None:
            logits = _predict(model, xv)
            yv = torch.as_tensor(y[val_idx], dtype=torch.long, device=dev)
            history["val_loss"].append(float(F.cross_entropy(logits, yv)))
            acc = float((logits.argmax(1) == yv).float().mean())
            history["val_acc"].append(acc)
            if acc >= best:  # later epochs win ties: they have seen more of the schedule
                best, best_state, best_epoch = acc, copy.deepcopy(model.state_dict()), epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model=model, kwargs=kwargs, history=history, best_epoch=best_epoch, seconds=time.perf_counter() - t0)
