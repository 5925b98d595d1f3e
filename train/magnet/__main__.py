"""``python -m train.magnet {import,train,distill,eval,export,motion,split,export-fast,quantize}`` — see docs/magnifier.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mecore.errors import MexError, run_cli

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MEX_SHARED", REPO.parent / "shared"))
DEFAULT_FAST = REPO / "engines" / "fast_magnifier.pt"
DEFAULT_VIDEO = Path(os.environ.get("MEX_FACE_VIDEO", SHARED / "media" / "face.mp4"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.magnet", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    imp = sub.add_parser("import", help="convert public-layout MagNet weights into a project checkpoint")
    imp.add_argument("--weights", required=True, type=Path)
    imp.add_argument("--out", required=True, type=Path)

    tr = sub.add_parser("train", help="train on synthetic data (progress bar, checkpoints, --resume)")
    tr.add_argument("--out", type=Path, default=Path("runs/magnet"), help="run folder (last.pt)")
    tr.add_argument("--steps", type=int, default=100_000)
    tr.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    tr.add_argument("--batch", type=int, default=16)
    tr.add_argument("--size", type=int, default=128, help="crop size")
    tr.add_argument("--lr", type=float, default=1e-4)
    tr.add_argument("--warmup", type=int, default=0)
    tr.add_argument("--cosine", action="store_true", help="cosine LR decay over the run")
    tr.add_argument("--precision", default="auto", choices=["auto", "fp32", "tf32", "bf16", "fp16"])
    tr.add_argument("--compile", action="store_true", help="torch.compile the training step")
    tr.add_argument("--no-channels-last", action="store_true")
    tr.add_argument("--ckpt-every", type=int, default=500)
    tr.add_argument("--eval-every", type=int, default=500)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    di = sub.add_parser("distill", help="train the fast magnifier (FastMagNet) on a CPU budget, MagNet as teacher")
    di.add_argument("--out", type=Path, default=Path("runs/fastmag"))
    di.add_argument("--teacher", type=Path, default=REPO / "engines" / "magnifier.pt")
    di.add_argument("--minutes", type=float, default=25.0)
    di.add_argument("--pool", type=int, default=3000, help="cached synthetic samples (with teacher output)")
    di.add_argument("--size", type=int, default=64)
    di.add_argument("--batch", type=int, default=16)
    di.add_argument("--lr", type=float, default=5e-4)
    di.add_argument("--teacher-weight", type=float, default=0.5)
    di.add_argument("--threads", type=int, default=1)
    di.add_argument("--seed", type=int, default=1)
    di.add_argument("--loss", default="mse", choices=["mse", "l1", "psnr"],
                    help="psnr: per-sample log MSE, the mean PSNR the evaluation reports")
    di.add_argument("--warmup", type=int, default=200)
    di.add_argument("--lr-min", type=float, default=1e-5)
    di.add_argument("--grad-clip", type=float, default=1.0,
                    help="gradient-norm clip (the psnr loss's gradients are about 20x the mse loss's)")
    di.add_argument("--reg-weight", type=float, default=0.0, help="MagNet's texture/shape regulariser weight")
    di.add_argument("--eval-every", type=int, default=250)
    di.add_argument("--init", type=Path, default=None, help="start from a previous distill run's last.pt")
    di.add_argument("--quiet", action="store_true")

    ev = sub.add_parser("eval", help="PSNR/SSIM table on the held-out synthetic test set + picture strip")
    ev.add_argument("--weights", type=Path, default=REPO / "engines" / "magnifier.pt",
                    help="project-trained weights (default engines/magnifier.pt)")
    ev.add_argument("--reference", type=Path, default=None, help="reference weights (public layout)")
    ev.add_argument("--fast", default=str(DEFAULT_FAST),
                    help="fast magnifier weights (default engines/fast_magnifier.pt, when present; '' for none)")
    ev.add_argument("--n", type=int, default=256)
    ev.add_argument("--size", type=int, default=128)
    ev.add_argument("--seed", type=int, default=20180908)
    ev.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ev.add_argument("--out-json", type=Path, default=None, help="also write the JSON result here")
    ev.add_argument("--strip", type=Path, default=Path("runs/magnet/face_strip.png"))
    ev.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ev.add_argument("--no-strip", action="store_true")
    ev.add_argument("--threads", type=int, default=None)

    ex = sub.add_parser("export", help="checkpoint -> engines/magnifier.onnx + magnifier.pt (parity-checked)")
    ex.add_argument("--checkpoint", required=True, type=Path)
    ex.add_argument("--engines-dir", type=Path, default=REPO / "engines")
    ex.add_argument("--metrics", type=Path, default=None, help="JSON from `eval --out-json` to embed")
    mo = sub.add_parser("motion", help="magnifier checkpoint -> engines/motion.onnx + motion.pt only (the "
                        "classifier's cut-down magnifier, for engines folders exported without it)")
    mo.add_argument("--checkpoint", type=Path, default=REPO / "engines" / "magnifier.pt")
    mo.add_argument("--engines-dir", type=Path, default=REPO / "engines")
    sp = sub.add_parser("split", help="magnifier checkpoint -> engines/magnifier_{encoder,decoder}.{onnx,pt} "
                        "(the same weights, cut for whole-video magnification)")
    sp.add_argument("--checkpoint", type=Path, default=REPO / "engines" / "magnifier.pt")
    sp.add_argument("--engines-dir", type=Path, default=REPO / "engines")
    ef = sub.add_parser("export-fast", help="distill run -> engines/fast_magnifier{,_encoder,_decoder}.{onnx,pt}")
    ef.add_argument("--checkpoint", type=Path, default=Path("runs/fastmag/last.pt"))
    ef.add_argument("--engines-dir", type=Path, default=REPO / "engines")
    ef.add_argument("--metrics", type=Path, default=None, help="JSON from `eval --out-json` to embed")
    qu = sub.add_parser("quantize", help="engines/fast_magnifier_decoder.onnx -> fast_magnifier_int8_decoder.onnx "
                        "(ONNX Runtime static INT8, scored on the test set before publishing)")
    qu.add_argument("--engines-dir", type=Path, default=REPO / "engines")
    qu.add_argument("--calib", type=int, default=24, help="synthetic calibration samples")
    qu.add_argument("--test-n", type=int, default=256, help="held-out test samples scored")
    return p


def _eval(args) -> None:
    import torch

    from train.magnet.evaluate import evaluate, format_table, picture_strip
    from train.magnet.importer import load_magnet

    if args.threads:
        torch.set_num_threads(args.threads)
    models = {}
    if args.reference:
        models["reference weights (public MagNet)"] = load_magnet(args.reference)
    if args.weights:
        models[f"project-trained ({args.weights.name})"] = load_magnet(args.weights)
    fast = Path(args.fast) if args.fast else None
    if fast is not None and (fast.is_file() or fast != DEFAULT_FAST):  # the default only when published
        from train.magnet.export_split import load_fastmag

        models[f"fast magnifier ({fast.name})"] = load_fastmag(fast)[0]
    if args.n < 1:
        raise MexError(f"--n {args.n}: need at least one test sample")
    result = evaluate(models, n=args.n, size=args.size, seed=args.seed)
    if not args.no_strip and models:
        if not args.video.is_file():
            raise MexError(f"{args.video}: video not found (give --video or --no-strip)")
        result["strip"] = str(picture_strip(models, args.video, args.strip))
    if args.out_json:
        from mecore.atomic import write_json

        write_json(args.out_json, result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
        t = result["test_set"]
        print(f"test set: {t['n']} samples {t['size']}x{t['size']}, seed {t['seed']}, alpha {t['alpha']}; "
              f"EVM lambda_c picked on a validation seed: {t['evm_lambda_c']}")
        if "strip" in result:
            print(f"picture strip: {result['strip']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> None:
        if args.cmd == "import":
            from train.magnet.importer import import_weights

            out = import_weights(args.weights, args.out)
            print(f"wrote {out}")
        elif args.cmd == "train":
            from train.magnet.train import TrainConfig, train

            cfg = TrainConfig(out=args.out, steps=args.steps, minutes=args.minutes, batch=args.batch,
                              size=args.size, lr=args.lr, warmup=args.warmup, cosine=args.cosine,
                              precision=args.precision, compile=args.compile,
                              channels_last=not args.no_channels_last, ckpt_every=args.ckpt_every,
                              eval_every=args.eval_every, device=args.device, seed=args.seed, resume=args.resume)
            last = train(cfg, progress_bar=not args.quiet)
            print(f"checkpoint: {last}")
        elif args.cmd == "distill":
            from train.magnet.distill import DistillConfig, distill

            cfg = DistillConfig(out=args.out, teacher=args.teacher, minutes=args.minutes, pool=args.pool,
                                size=args.size, batch=args.batch, lr=args.lr, teacher_weight=args.teacher_weight,
                                threads=args.threads, seed=args.seed, init=args.init,
                                reg_weight=args.reg_weight, eval_every=args.eval_every, loss=args.loss,
                                warmup=args.warmup, lr_min=args.lr_min,
                                grad_clip=args.grad_clip)
            print(f"checkpoint: {distill(cfg, progress_bar=not args.quiet)}")
        elif args.cmd == "eval":
            _eval(args)
        elif args.cmd == "export":
            from train.magnet.export import export

            summary = export(args.checkpoint, args.engines_dir, args.metrics)
            print(json.dumps(summary))
        elif args.cmd == "split":
            from train.magnet.export_split import export_split

            print(json.dumps(export_split(args.checkpoint, args.engines_dir)))
        elif args.cmd == "export-fast":
            from train.magnet.export_split import export_fast

            print(json.dumps(export_fast(args.checkpoint, args.engines_dir, args.metrics)))
        elif args.cmd == "quantize":
            from train.magnet.quantize import quantize

            if min(args.calib, args.test_n) < 1:
                raise MexError(f"--calib {args.calib} --test-n {args.test_n}: need at least one sample each")
            print(json.dumps(quantize(args.engines_dir, args.calib, test_n=args.test_n)))
        elif args.cmd == "motion":
            from train.magnet.export import export_motion

            print(json.dumps(export_motion(args.checkpoint, args.engines_dir)))

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
