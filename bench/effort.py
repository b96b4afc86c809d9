"""Encode and decode time per encoder effort level, on one Kodak image.

    python bench/effort.py [--image PATH] [--models factorized hyperprior joint]
                           [--quality 4] [--efforts 0 1 ... 9] [--threads 2] [--json out.json]

For each shipped family at one quality and each effort level (lic_core.zoo.effort):
the file's bytes and bpp, PSNR of the decoded image, the file's objective
R + λ·255²·MSE (the whole file's bits, header included, and the 8-bit decoded image),
encode seconds and decode seconds (one run each: effort 9 takes tens of seconds).
Every file is decoded and checked against the encoder's reconstruction. Figures are
measured on the machine that runs this script.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"


def load_image(path: Path) -> torch.Tensor:
    from PIL import Image
    with Image.open(path) as im:
        array = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def main(argv=None) -> int:
    from lic_core import zoo
    from lic_core.zoo import effort as effort_levels
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--models", nargs="+", default=["factorized", "hyperprior", "joint"])
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--efforts", nargs="+", type=int, default=list(effort_levels.EFFORTS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = load_image(args.image)
    h, w = x.shape[-2:]
    print(f"effort benchmark: {args.image.name} {w}x{h}, quality {args.quality}, "
          f"{args.threads} torch threads, one run per level; measured on this machine "
          f"({os.uname().machine}, torch {torch.__version__})")
    print(f"{'model':<11}{'effort':>7}{'steps':>6}{'bytes':>9}{'bpp':>8}{'PSNR':>8}{'R+λD':>9}"
          f"{'enc s':>8}{'dec s':>8}")
    rows = []
    for name in args.models:
        model = zoo.load(name, args.quality)
        lam = effort_levels.quality_lambda(model)
        for level in args.efforts:
            t0 = time.perf_counter()
            data, x_hat = model.compress(x, return_x_hat=True, effort=level)
            t1 = time.perf_counter()
            decoded = model.decompress(data)
            t2 = time.perf_counter()
            if not torch.equal(decoded, x_hat):
                raise SystemExit(f"{name} effort {level}: decoded image != encoder's reconstruction")
            q = (decoded * 255).round() / 255
            mse = float(((q - x) ** 2).mean())
            bpp = 8 * len(data) / (h * w)
            row = {"model": name, "effort": level, "steps": effort_levels.steps_for(model)[level],
                   "bytes": len(data), "bpp": bpp, "psnr": 10 * np.log10(1 / mse),
                   "objective": bpp + lam * 255 ** 2 * mse, "encode_s": t1 - t0, "decode_s": t2 - t1}
            rows.append(row)
            print(f"{name:<11}{level:>7}{row['steps']:>6}{len(data):>9}{bpp:>8.4f}{row['psnr']:>8.2f}"
                  f"{row['objective']:>9.4f}{row['encode_s']:>8.2f}{row['decode_s']:>8.3f}", flush=True)
    result = {"image": str(args.image), "quality": args.quality, "threads": args.threads,
              "machine": os.uname().machine, "torch": torch.__version__, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
