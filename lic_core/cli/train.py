"""``lic train ARGS`` (also ``python -m lic_core.cli.train``): train a zoo model.

A pass-through command: everything after ``train`` is parsed here (``--help`` included);
the work is done by the library :mod:`lic_core.training`. Runs unchanged under
``torchrun --nproc_per_node K`` (gloo on CPU, nccl on GPU)::

    python -m lic_core.cli.train --arch hyperprior --quality 4 --N 64 --M 96 \\
        --steps 20000 --lr 1e-3 --out lic_core/zoo/weights/hyperprior-q4.safetensors

Torch-free at import, like every command module.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import InvalidArgumentError


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="lic train", description="Train a lic-core zoo model.")
    p.add_argument("--arch", required=True, help="factorized, hyperprior, mean-scale or joint")
    p.add_argument("--quality", type=int, default=None,
                   help="1..10, selects λ (with --qualities: the reference λ of the gains' start)")
    p.add_argument("--qualities", default=None,
                   help="variable-rate training of one model for several qualities, e.g. 1-8: "
                        "per-quality latent gains, folded into one zoo file per quality at export "
                        "(--out must then contain {q})")
    p.add_argument("--lambda", dest="lmbda", type=float, default=None, help="override λ")
    p.add_argument("--N", type=int, default=None)
    p.add_argument("--M", type=int, default=None)
    p.add_argument("--data", default=None, help="training image folder (default ../shared/data/train)")
    p.add_argument("--val", default=None, help="validation folder (default ../shared/data/kodak-dev)")
    p.add_argument("--no-val", action="store_true")
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget; the LR schedule follows whichever of steps/time ends first")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--aux-lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--final-fraction", type=float, default=0.05)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--val-every", type=int, default=2000)
    p.add_argument("--ckpt-every", type=float, default=300.0, help="seconds between checkpoints")
    p.add_argument("--checkpoint", default=None, help="checkpoint path (torch.save of tensors, weights_only)")
    p.add_argument("--resume", default=None, help="resume from this checkpoint")
    p.add_argument("--init", default=None, help="safetensors to copy matching tensors from")
    p.add_argument("--freeze", default=None,
                   help="comma-separated module prefixes not to train, e.g. g_a,g_s")
    p.add_argument("--no-rescale", action="store_true",
                   help="with --init at another λ: do not rescale the latents by sqrt(λ/λ_init)")
    p.add_argument("--out", default=None, help="export safetensors here at the end")
    p.add_argument("--log-file", dest="log", default=None, help="JSON-lines log file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--bf16", action="store_true",
                   help="run g_a and g_s under bfloat16 autocast in training (about 2x faster on "
                        "CPUs with AVX512-BF16; entropy models, loss and exports stay float32)")
    p.add_argument("--half", default="",
                   help="module prefixes stored as float16 in the exported file, e.g. g_a,g_s "
                        "(how the zoo ships its transforms)")
    p.add_argument("--quantization", choices=("mixed", "noise"), default="mixed",
                   help="what g_s, h_s and the context model see in training: 'mixed' "
                        "(default) the rounded values with a straight-through gradient, "
                        "'noise' the uniform-noise proxy (CompressAI's forward); the rate "
                        "term always uses the noise proxy")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _rates(args) -> tuple[tuple[int, ...] | None, float]:
    """(the qualities of a variable-rate run or None, the run's λ); fills in args.quality."""
    from ..training.objective import lambda_for_quality
    from ..training.variable_rate import parse_qualities
    qualities = None
    if args.qualities:
        qualities = parse_qualities(args.qualities)
        if args.out and "{q}" not in args.out:
            raise InvalidArgumentError("with --qualities, --out must contain {q} (one file per quality)")
        if args.quality is None:
            args.quality = qualities[len(qualities) // 2]
    if args.quality is None:
        raise InvalidArgumentError("--quality is required (or --qualities for a variable-rate run)")
    return qualities, args.lmbda if args.lmbda is not None else lambda_for_quality(args.quality)


def _metadata(args, lmbda: float, data: str, trainer, result: dict, world: int) -> dict:
    """What an exported file records about the run that made it."""
    from .. import __version__
    from ..training.data import repo_root
    return {
        "architecture": args.arch, "quality": args.quality, "N": args.N, "M": args.M,
        "lambda": lmbda, "steps": trainer.step, "crop": args.crop, "batch": args.batch * world,
        "data": os.path.relpath(data, repo_root()), "lic_core_version": __version__,
        "quantization": args.quantization,
        "lr": args.lr, "lr_schedule": f"warmup {args.warmup} then cosine to x{args.final_fraction}",
        "train_seconds": round(trainer.elapsed, 1),
        "train_precision": "bfloat16 autocast in g_a, g_s" if args.bf16 else "float32",
        "init": os.path.basename(args.init) if args.init else "",
        "val_bpp": result.get("val_bpp", ""), "val_psnr": result.get("val_psnr", ""),
        "world_size": world,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from .. import zoo
    from ..training import distributed
    from ..training.data import CropSampler, default_folder
    from ..training.export import export_run
    from ..training.freeze import freeze
    from ..training.trainer import TrainConfig, Trainer
    from ..training.warm_start import start_model

    qualities, lmbda = _rates(args)
    rank, world = distributed.start()
    if args.threads:
        torch.set_num_threads(args.threads)
    elif world > 1 and not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(args.seed)  # the same initialisation on every rank
    data = args.data or default_folder("train")
    if data is None:
        raise InvalidArgumentError("no --data folder given and ../shared/data/train does not exist")
    val = None if args.no_val else (args.val or default_folder("kodak-dev"))

    start = start_model(zoo.build(args.arch, quality=args.quality, N=args.N, M=args.M), lmbda,
                        qualities, init=args.init, rescale=not args.no_rescale)
    if args.init and rank == 0:
        print(f"--init: copied {start.copied} tensors, skipped {start.skipped}, latent gain "
              f"{start.gain:.4f}", file=sys.stderr)
    if args.freeze:
        frozen = freeze(start.model, args.freeze.split(","))
        if rank == 0:
            print(f"--freeze: {frozen} tensors fixed", file=sys.stderr)

    cfg = TrainConfig(lmbda=start.lmbda, steps=args.steps, batch=args.batch, crop=args.crop,
                      lr=args.lr, aux_lr=args.aux_lr, warmup=args.warmup,
                      final_fraction=args.final_fraction, max_minutes=args.max_minutes,
                      clip=args.clip, val_every=args.val_every, ckpt_every_s=args.ckpt_every,
                      seed=args.seed, channels_last=args.channels_last, bf16=args.bf16,
                      quantization=args.quantization, quiet=args.quiet, qualities=qualities,
                      lambda_ref=start.lmbda)
    sampler = CropSampler(data, args.crop, seed=args.seed * 1000 + rank)  # each rank its crops
    trainer = Trainer(start.model, sampler, cfg, val_folder=val, checkpoint=args.checkpoint,
                      log=args.log)
    if args.resume:
        trainer.resume(args.resume)
    t0 = time.time()
    result = trainer.run()
    if world > 1:
        in_sync = distributed.replicas_identical(start.model)
        trainer.log.write({"step": trainer.step, "world_size": world, "replicas_identical": in_sync})
        if not in_sync:
            raise RuntimeError("replicas diverged: parameters differ between ranks")
    if rank == 0 and args.out:
        export_run(start.model, args.out, _metadata(args, start.lmbda, data, trainer, result, world),
                   start.init_meta, result, gain=start.gain, frozen=args.freeze,
                   init_name=os.path.basename(args.init) if args.init else "",
                   half=[p for p in args.half.split(",") if p.strip()])
        print(f"exported {args.out} after {trainer.step} steps ({time.time() - t0:.0f} s)",
              file=sys.stderr)
    distributed.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
