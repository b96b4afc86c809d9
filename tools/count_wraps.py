"""Count the wrapped accumulator sums of a model's integer networks on real and hostile
images: how often the 32-bit accumulator of docs/integer.md wraps for what an encoder
can actually feed them.

    python tools/count_wraps.py [--models hyperprior joint] [--quality 4] [--images DIR]
                                [--scales 1 4 16]

A wrapped sum is the specified result (the accumulator is defined modulo 2^32), so
encoder and decoder agree on it and the file still decodes; it only spends bits, as a
wrong scale would. The conversion keeps the calibrated sums within 2^31 with a factor of
4 in hand, but a bound for every int16 input cannot be had: propagated through h_s's
three layers, even symbols of 0 allow a sum past 2^31 in the worst case. So this
measures instead. Every sum of h_s is computed exactly in float64 (its terms are
integers below 2^53) from the integer tensors the release ships, for the ẑ symbols the
encoder writes for each image (the first images of --images, 256x384 crops), for a
uniform-noise image and a one-pixel checkerboard (the hardest inputs 8-bit pixels
make), and for those symbols multiplied by each --scales factor (latents no encoder of
these weights produces, to show the margin).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]


def h_s_sums(model, z_symbols: np.ndarray) -> tuple[int, int]:
    """(wrapped sums, all sums) of h_s on ẑ's symbols (N x h x w)."""
    prior = model.integer
    x = (z_symbols.astype(np.float64) * 2.0 ** int(prior.z_frac[0])
         + prior.z_offset.numpy().astype(np.float64)[:, None, None])
    x = torch.from_numpy(np.clip(x, -32768, 32767))[None]
    wrapped = total = 0
    for plan in prior.plans["h_s"]:
        layer = prior.layers[plan.name.replace(".", "_")]
        w = torch.from_numpy(layer.weight.numpy().astype(np.float64))
        b = torch.from_numpy(layer.bias.numpy().astype(np.float64))
        k = w.shape[2]
        if plan.kind == "deconv":
            acc = F.conv_transpose2d(x, w, b, stride=2, padding=(k - 1) // 2, output_padding=1)
        else:
            acc = F.conv2d(x, w, b, padding=(k - 1) // 2)
        wrapped += int((acc.abs() >= 2 ** 31).sum())
        total += acc.numel()
        acc = torch.remainder(acc + 2 ** 31, 2 ** 32) - 2 ** 31  # the specified wrap
        s = torch.from_numpy(layer.shift.numpy().astype(np.float64)).reshape(1, -1, 1, 1)
        r = torch.floor((acc + torch.where(s > 0, 2.0 ** (s - 1), torch.zeros_like(s))) / 2.0 ** s)
        if plan.act == "relu":
            r = r.clamp(min=0)
        elif plan.act == "leaky":
            r = torch.where(r >= 0, r, torch.floor(41 * r / 4096))
        x = r.clamp(-(2 ** (plan.out_bits - 1)), 2 ** (plan.out_bits - 1) - 1)
    return wrapped, total


def images(folder: Path, count: int) -> dict[str, np.ndarray]:
    from PIL import Image
    out = {}
    for path in sorted(folder.glob("*.png"))[:count]:
        with Image.open(path) as im:
            out[path.name] = np.asarray(im.convert("RGB"))[:256, :384]
    rng = np.random.default_rng(0)
    out["uniform noise"] = rng.integers(0, 256, (256, 384, 3), dtype=np.uint8)
    out["checkerboard"] = np.repeat(((np.indices((256, 384)).sum(0) % 2) * 255).astype(np.uint8)[..., None], 3, 2)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["hyperprior", "joint"])
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "kodak-dev")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    from lic_core import zoo
    from lic_core.api import to_tensor
    for name in args.models:
        model = zoo.load(name, args.quality)
        for label, image in images(args.images, args.count).items():
            x = model.pad(to_tensor(image))
            z = model.h_a(model.hyper_analysis_input(model.analysis(x)))
            symbols = np.asarray(model.entropy_bottleneck.symbols_and_indexes(z)[0][0])
            for scale in args.scales:
                wrapped, total = h_s_sums(model, symbols * scale)
                print(f"{name} q{args.quality} {label}: ẑ symbols x{scale} (largest |s| "
                      f"{int(np.abs(symbols).max()) * scale}): {wrapped} of {total} sums wrapped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
