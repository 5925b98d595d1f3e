"""Train the fast magnifier (``FastMagNet``) on a CPU budget: ``python -m train.magnet distill``.

The synthetic data generator costs about 20 ms a sample at 64x64 on one core and the teacher (the
project's shipped MagNet, ``engines/magnifier.pt``) about 60 ms, so both are paid once: a pool of
``pool`` samples is generated with the teacher's magnified frame beside the ground truth and cached in
the run folder, and each batch draws from it under a random flip / transpose of all frames alike (the
motion turns with the image, so every one of the 8 is a valid sample).

Loss: MSE(Y_hat, Y) + ``teacher_weight`` * MSE(Y_hat, teacher(A, B)), Adam with warm-up and cosine
decay over the wall-clock budget. Not MagNet's L1: the decoder predicts a correction to the input
frame, and under L1 the many pixels where the input is already right (static background; their
errors' signs are noise) hold the correction at zero -- a run with L1 stayed the identity for 250
steps -- while the squared error's gradient comes from the moving edges, where the error is large. The ground truth keeps the student honest where the teacher is
wrong; the teacher's frame is a target the student can reach early in a short run. The manipulator
starts from the teacher's (same shapes). MagNet's regulariser (``reg_weight`` * (L1(texture C,
texture A) + L1(shape C, shape B))) is off by default: with the fast network's skip connection the
output is already the input frame when every feature is zero, and a first run with 0.1 did exactly
that -- the regulariser drove the encoder's features to zero and the network stayed the identity.

``loss="psnr"`` (per sample log(MSE to Y + w * MSE to the teacher), averaged) optimises what the
evaluation reports, a mean of per-sample PSNRs; the pooled MSE lets the large-alpha samples, whose
errors are 30x the small ones', decide every step. ``init`` continues from a run's last.pt or a
published fast_magnifier.pt; ``best.pt`` keeps the weights with the best validation PSNR so far.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mecore.atomic import atomic_path
from mecore.errors import MexError
from mecore.nets.fastmag import FastMagNet
from train.magnet.data import Synth, SynthConfig, held_out_set
from train.magnet.train import psnr


@dataclass
class DistillConfig:
    out: Path = Path("runs/fastmag")
    teacher: Path = Path("engines/magnifier.pt")
    minutes: float = 25.0
    pool: int = 3000                   # cached (A, B, C, Y, teacher) samples
    size: int = 64                     # training crop (the network is fully convolutional)
    batch: int = 16
    lr: float = 5e-4
    lr_min: float = 1e-5
    warmup: int = 200
    teacher_weight: float = 0.5
    loss: str = "mse"                  # "mse", "l1" (MagNet's) or "psnr"; see the module docstring
    reg_weight: float = 0.0            # MagNet's 0.1 collapses this network (see the module docstring)
    grad_clip: float = 1.0
    eval_every: int = 250
    val_n: int = 32                    # validation samples (a seed apart from the test set's)
    val_size: int = 128
    threads: int = 1
    seed: int = 1
    init: Path | None = None           # start the student from this run's weights (a second phase)
    model: dict = field(default_factory=dict)  # FastMagNet constructor arguments

    def __post_init__(self):
        self.out, self.teacher = Path(self.out), Path(self.teacher)
        if self.minutes <= 0 or self.pool < self.batch or self.batch < 1:
            raise MexError(f"minutes={self.minutes}, pool={self.pool}, batch={self.batch}: need minutes > 0 "
                           "and pool >= batch >= 1")
        if self.size % 4:
            raise MexError(f"crop size {self.size}: must be a multiple of 4")
        if self.loss not in ("mse", "l1", "psnr"):
            raise MexError(f"loss {self.loss!r}: expected mse, l1 or psnr")


@torch.no_grad()
def build_pool(cfg: DistillConfig, teacher: nn.Module, log=print) -> dict[str, torch.Tensor]:
    """The cached training pool (uint8 frames to keep it small); rebuilt when the config differs."""
    path = cfg.out / "pool.pt"
    key = {"pool": cfg.pool, "size": cfg.size, "seed": cfg.seed, "teacher": str(cfg.teacher)}
    if path.is_file():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("key") == key:
            return cached["data"]
    synth = Synth(SynthConfig(size=cfg.size), seed=cfg.seed)
    parts, t0 = [], time.perf_counter()
    for i in range(0, cfg.pool, 64):
        b = synth.batch(min(64, cfg.pool - i))
        b["T"], _ = teacher(b["A"], b["B"], b["amp"])
        parts.append({k: (v if k == "amp" else ((v.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
                      for k, v in b.items()})
        log(f"pool {i + len(b['amp'])}/{cfg.pool} ({time.perf_counter() - t0:.0f} s)")
    data = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    with atomic_path(path) as tmp:
        torch.save({"key": key, "data": data}, tmp)
    return data


def draw(pool: dict[str, torch.Tensor], n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A batch from the pool under one random dihedral transform, frames back in [-1, 1]."""
    idx = torch.randint(0, pool["amp"].shape[0], (n,), generator=gen)
    flip_h, flip_v, transpose = (torch.rand(3, generator=gen) < 0.5).tolist()
    out = {"amp": pool["amp"][idx]}
    for k in "ABCYT":
        x = pool[k][idx].float() / 127.5 - 1
        if flip_h:
            x = x.flip(-1)
        if flip_v:
            x = x.flip(-2)
        if transpose:
            x = x.transpose(-1, -2)
        out[k] = x.contiguous()
    return out


def per_sample_log_mse(y_hat: torch.Tensor, y: torch.Tensor, t: torch.Tensor, teacher_weight: float) -> torch.Tensor:
    """Mean over samples of log(MSE to Y + w * MSE to the teacher): minus the mean PSNR, up to scale.

    The evaluation is a mean of per-sample PSNRs, which weighs a small-alpha sample (error ~3e-3)
    as much as a large-alpha one (~8e-2); a pooled MSE is dominated by the large ones, and a student
    trained on it magnified large motions but stayed slightly worse than the unmagnified frame at alpha < 10.
    """
    err = (y_hat - y).pow(2).flatten(1).mean(1) + teacher_weight * (y_hat - t).pow(2).flatten(1).mean(1)
    return torch.log(err + 1e-5).mean()  # 1e-5: about 56 dB, where the 8-bit targets stop being exact


def lr_at(cfg: DistillConfig, step: int, progress: float) -> float:
    lr = cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return lr * min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else lr


def save(path: Path, model: FastMagNet, kwargs: dict, opt, step: int, elapsed: float, cfg: DistillConfig,
         history: list) -> None:
    state = {"arch": "fastmag", "kwargs": kwargs,
             "state_dict": {k: v.detach().float().cpu() for k, v in model.state_dict().items()},
             "optimizer": opt.state_dict(), "step": step, "elapsed_s": elapsed,
             "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
             "history": history}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def distill(cfg: DistillConfig, progress_bar: bool = True) -> Path:
    from tqdm import tqdm

    from train.magnet.importer import load_magnet

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    cfg.out.mkdir(parents=True, exist_ok=True)
    teacher = load_magnet(cfg.teacher)
    pool = build_pool(cfg, teacher, log=print)
    val = held_out_set(n=cfg.val_n, size=cfg.val_size, seed=cfg.seed + 7919)  # not the test seed
    kwargs = dict(cfg.model)
    if cfg.init is not None:  # a distill run's last.pt or a published fast_magnifier.pt
        from train.magnet.export_split import load_fastmag

        start, raw = load_fastmag(cfg.init)
        kwargs = kwargs or dict(raw.get("kwargs") or {})
    model = FastMagNet(**kwargs).init_from(teacher)
    if cfg.init is not None:
        model.load_state_dict(start.state_dict())
        done = (raw.get("meta") or {}).get("training") or raw  # a published .pt keeps it in its metadata
        history = [{"phase": "init", "from": str(cfg.init), "step": done.get("step", done.get("steps")),
                    "elapsed_s": done.get("elapsed_s")}] + list(raw.get("history", []))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    budget, step = cfg.minutes * 60, 0
    history = history if cfg.init is not None else []
    last, best, best_psnr = cfg.out / "last.pt", cfg.out / "best.pt", -math.inf
    bar = tqdm(disable=not progress_bar, dynamic_ncols=True, desc="fastmag")
    t0 = time.perf_counter()
    model.train()
    while (elapsed := time.perf_counter() - t0) < budget:
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, step, elapsed / budget)
        b = draw(pool, cfg.batch, gen)
        n = cfg.batch
        frames = [b["A"], b["B"]] + ([b["C"]] if cfg.reg_weight else [])
        tex, shape = model.encoder(torch.cat(frames))
        ta, tb, *tc = tex.split(n)
        sa, sb, *sc = shape.split(n)
        y_hat = model.decoder(b["B"], tb, model.manipulator(sa, sb, b["amp"]))
        if cfg.loss == "psnr":
            main = F.mse_loss(y_hat.detach(), b["Y"])  # reported; the loss is the per-sample log
            loss = per_sample_log_mse(y_hat, b["Y"], b["T"], cfg.teacher_weight)
        else:
            dist = F.mse_loss if cfg.loss == "mse" else F.l1_loss
            main = dist(y_hat, b["Y"])
            loss = main + cfg.teacher_weight * dist(y_hat, b["T"])
        if cfg.reg_weight:
            loss = loss + cfg.reg_weight * (F.l1_loss(tc[0], ta) + F.l1_loss(sc[0], sb))
        if not torch.isfinite(loss):
            raise MexError(f"step {step}: loss is {loss.item()}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{main.item():.4f}", lr=f"{opt.param_groups[0]['lr']:.1e}")
        if step % cfg.eval_every == 0:
            model.eval()
            with torch.no_grad():
                out, _ = model(val["A"], val["B"], val["amp"])
            model.train()
            v = psnr(out, val["Y"]).mean().item()
            history.append({"step": step, "elapsed_s": round(elapsed, 1), "loss": round(main.item(), 5),
                            "val_psnr": round(v, 3)})
            bar.write(f"step {step}: loss {main.item():.4f} val PSNR {v:.2f} dB ({elapsed:.0f} s)")
            save(last, model, kwargs, opt, step, elapsed, cfg, history)
            if v > best_psnr:  # a stop at any moment leaves the best validated weights
                best_psnr = v
                save(best, model, kwargs, opt, step, elapsed, cfg, history)
    bar.close()
    save(last, model, kwargs, opt, step, time.perf_counter() - t0, cfg, history)
    return last
