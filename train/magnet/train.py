"""Train MagNet on the synthetic data: ``python -m train.magnet train``.

Loss (Oh et al. 2018): L1(Y_hat, Y) + lambda * (L1(texture(C), texture(A)) + L1(shape(C), shape(B))),
lambda = 0.1, Adam. A flat loop: one synthetic batch per step generated on the training device, a
progress bar with loss and samples/s, an atomic checkpoint every ``ckpt_every`` steps (``last.pt``
in the run folder) and ``--resume`` from it. Mixed precision on CUDA (fp16 with loss scaling by
default: the shape difference of sub-pixel motion is small next to the shape values, and bf16's
8-bit mantissa rounds much of it away).
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
from mecore.nets.magnet import MagNet
from train.magnet.data import Synth, SynthConfig
from train.magnet.evaluate import psnr

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


@dataclass
class TrainConfig:
    out: Path = Path("runs/magnet")
    steps: int = 100_000
    minutes: float | None = None       # wall-clock budget; the LR schedule follows whichever ends first
    batch: int = 16
    size: int = 128
    lr: float = 1e-4                   # the paper's Adam learning rate
    warmup: int = 0                    # linear warm-up steps
    cosine: bool = False               # cosine decay to lr_min over the run (short budgets)
    lr_min: float = 1e-6
    reg_weight: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"            # auto: fp16 on CUDA, fp32 on CPU
    channels_last: bool = True         # CUDA only
    compile: bool = False
    ckpt_every: int = 500
    eval_every: int = 500
    resume: bool = False
    model: dict = field(default_factory=dict)  # MagNet constructor arguments

    def __post_init__(self):
        self.out = Path(self.out)
        if self.steps < 1 or self.batch < 1:
            raise MexError(f"steps={self.steps}, batch={self.batch}: both must be >= 1")
        if self.minutes is not None and self.minutes <= 0:
            raise MexError(f"--minutes {self.minutes}: must be > 0")
        if self.lr <= 0 or self.lr_min < 0:
            raise MexError(f"learning rate {self.lr} (min {self.lr_min}): must be > 0")
        if self.precision not in PRECISIONS + ("auto",):
            raise MexError(f"precision {self.precision!r}: expected auto or one of {', '.join(PRECISIONS)}")
        if self.size % 4:
            raise MexError(f"crop size {self.size}: must be a multiple of 4")


class LossModule(nn.Module):
    """One forward of the training objective; a module so ``torch.compile`` can take it whole."""

    def __init__(self, model: MagNet, reg_weight: float):
        super().__init__()
        self.model, self.reg_weight = model, reg_weight

    def forward(self, a, b, c, y, amp):
        n = a.shape[0]
        tex, shape = self.model.encoder(torch.cat([a, b, c]))  # one encoder call for the three frames
        ta, tb, tc = tex.split(n)
        sa, sb, sc = shape.split(n)
        y_hat = self.model.decoder(tb, self.model.manipulator(sa, sb, amp))
        main = F.l1_loss(y_hat.float(), y)
        reg = F.l1_loss(tc.float(), ta.float()) + F.l1_loss(sc.float(), sb.float())
        return main + self.reg_weight * reg, main.detach(), reg.detach()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MexError(f"--device {name}: no CUDA GPU is visible")
    return torch.device(name)


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    lr = cfg.lr
    if cfg.cosine:
        lr = cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    if cfg.warmup and step < cfg.warmup:
        lr *= (step + 1) / cfg.warmup
    return lr


def save_run(path: Path, model: MagNet, kwargs: dict, opt, scaler, synth: Synth, step: int,
             elapsed: float, cfg: TrainConfig, history: list) -> None:
    state = {"arch": "magnet", "kwargs": kwargs,
             "state_dict": {k: v.detach().float().cpu() for k, v in model.state_dict().items()},
             "optimizer": opt.state_dict(), "scaler": scaler.state_dict() if scaler else None,
             "synth_state": synth.state().cpu(), "step": step, "elapsed_s": elapsed,
             "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
             "history": history}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train(cfg: TrainConfig, progress_bar: bool = True) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    from tqdm import tqdm

    last = cfg.out / "last.pt"
    if cfg.resume and not last.is_file():
        raise MexError(f"{last}: no checkpoint to resume from")
    device = pick_device(cfg.device)
    cuda = device.type == "cuda"
    precision = cfg.precision if cfg.precision != "auto" else ("fp16" if cuda else "fp32")
    if precision in ("bf16", "fp16") and not cuda:
        raise MexError(f"precision {precision}: mixed precision needs CUDA; use fp32 on the CPU")
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.manual_seed(cfg.seed)
    kwargs = dict(cfg.model)
    model = MagNet(**kwargs).to(device)
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    synth = Synth(SynthConfig(size=cfg.size), seed=cfg.seed, device=device)
    val = Synth(SynthConfig(size=cfg.size, color_perturb_p=0.0), seed=cfg.seed + 7919, device=device,
                bank=synth.bank).batch(min(64, 4 * cfg.batch))
    cfg.out.mkdir(parents=True, exist_ok=True)
    step, elapsed, history = 0, 0.0, []
    if cfg.resume:
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        if scaler and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        try:
            synth.set_state(state["synth_state"])
        except (RuntimeError, ValueError):  # saved on another device type: continue with a fresh stream
            synth.gen.manual_seed(cfg.seed + state["step"])
        step, elapsed, history = state["step"], state["elapsed_s"], state.get("history", [])
    loss_fn = LossModule(model, cfg.reg_weight)
    if cfg.compile:
        loss_fn = torch.compile(loss_fn)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    budget = cfg.minutes * 60 if cfg.minutes else None
    fmt = torch.channels_last if cuda and cfg.channels_last else torch.contiguous_format

    def save() -> None:
        save_run(last, model, kwargs, opt, scaler, synth, step, elapsed, cfg, history)

    bar = tqdm(total=cfg.steps, initial=step, disable=not progress_bar, dynamic_ncols=True, desc="magnet")
    t0, seen, rate = time.perf_counter(), 0, 0.0
    start_elapsed = elapsed
    model.train()
    while step < cfg.steps and (budget is None or elapsed < budget):
        progress = max(step / cfg.steps, elapsed / budget if budget else 0.0)
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, step, progress)
        batch = synth.batch(cfg.batch)
        a, b, c, y = (batch[k].contiguous(memory_format=fmt) for k in "ABCY")
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss, main, reg = loss_fn(a, b, c, y, batch["amp"])
        if not torch.isfinite(loss):
            raise MexError(f"step {step}: loss is {loss.item()}; lower --lr or use --precision fp32")
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        step += 1
        seen += cfg.batch
        elapsed = start_elapsed + time.perf_counter() - t0
        if step % 20 == 0 or step == cfg.steps:
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{main.item():.4f}", reg=f"{reg.item():.4f}", sps=f"{rate:.0f}",
                            lr=f"{opt.param_groups[0]['lr']:.1e}")
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            with torch.no_grad():
                out, _ = model(val["A"].contiguous(memory_format=fmt), val["B"].contiguous(memory_format=fmt),
                               val["amp"])
            model.train()
            val_psnr = psnr(out, val["Y"]).mean().item()
            history.append({"step": step, "elapsed_s": round(elapsed, 1), "loss": round(main.item(), 5),
                            "val_psnr": round(val_psnr, 3), "samples_per_s": round(rate, 1)})
            bar.write(f"step {step}: loss {main.item():.4f} reg {reg.item():.4f} val PSNR {val_psnr:.2f} dB "
                      f"({rate:.0f} samples/s, {elapsed:.0f} s)")
        if step % cfg.ckpt_every == 0:
            save()
    bar.close()
    save()
    return last
