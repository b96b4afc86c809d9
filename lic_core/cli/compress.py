"""``lic compress IN OUT.lic -m MODEL -q Q``: an image to a .lic file."""
from __future__ import annotations

import sys
import time
import warnings

from .common import MODEL_HELP, PROG, canonical_model, progress, quality_arg, say, write_file


def add_parser(sub, parents) -> None:
    p = sub.add_parser("compress", parents=parents, help="compress an image to a .lic file")
    p.add_argument("input", help="image file (PNG, JPEG, ...)")
    p.add_argument("output", help="output .lic file")
    p.add_argument("-m", "--model", type=canonical_model, default="hyperprior", help=MODEL_HELP)
    p.add_argument("-q", "--quality", type=quality_arg, default=3, help="zoo quality (default 3)")
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import api, images
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", images.LossyConversionWarning)
        rgb = images.to_rgb_array(args.input)
    for w in caught:  # one line each, not Python's two-line warning format
        print(f"{PROG}: warning: {args.input}: {w.message}", file=sys.stderr)
    with progress(args, 1, f"compress {args.model} q{args.quality}") as bar:
        data = api.compress(rgb, model=args.model, quality=args.quality, max_pixels=args.max_pixels)
        bar.update()
    write_file(args.output, data)
    h, w = rgb.shape[:2]
    say(args, f"{args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
              f"({args.model} q{args.quality}, {w}x{h}, {1000 * (time.perf_counter() - t0):.0f} ms)")
    return 0
