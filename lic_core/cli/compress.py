"""``lic compress IN OUT.lic`` or ``lic compress IN... -o DIR``: images to .lic files.

Every check on the outputs runs before any work (common.check_outputs); the model is
loaded once for all the files; each file is written atomically (common.write_atomic).
Several files: one that fails is named on stderr and the rest go on (exit 1 at the end).
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from .common import (DEFAULT_QUALITY, MODEL_HELP, PROG, CommandError, canonical_model,
                     check_outputs, input_file, pick_quality, plan_outputs, quality_arg,
                     run_each, shipped_models, write_atomic)


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "compress", parents=parents, help="compress images to .lic files",
        description="Compress one image (IN OUT.lic) or several (IN... -o DIR, written as "
                    "DIR/<stem>.lic).")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="IN OUT: one image (PNG, JPEG, ...) to OUT; with -o: the images")
    p.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                   help="write each image to DIR/<stem>.lic (DIR is created if missing)")
    p.add_argument("-m", "--model", type=canonical_model, default="hyperprior", help=MODEL_HELP)
    p.add_argument("-q", "--quality", type=quality_arg, default=None,
                   help=f"zoo quality (default {DEFAULT_QUALITY}, or the nearest quality the "
                        "model ships, with a note)")
    p.add_argument("-e", "--effort", type=_effort_arg, default=None,
                   help="encoder effort 0..9 (default 0): higher searches longer for a "
                        "smaller file at the same quality; every level decodes the same way")
    p.set_defaults(run=run, parser=p)


def _effort_arg(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"effort must be an integer 0..9, got {text!r}") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"effort must be an integer 0..9, got {value}")
    return value


def _check_lic_name(out: str) -> None:
    """``lic compress a.png b.png`` would write .lic bytes into b.png: an OUT named like an
    image Pillow reads is a mistake (for several images, -o DIR), refused before any work."""
    from PIL import Image
    ext = Path(out).suffix.lower()
    if ext != ".lic" and ext in Image.registered_extensions():
        raise CommandError(f"{out}: compress writes a .lic file, not {ext}; name the output "
                           f"{Path(out).with_suffix('.lic').name}, or compress several images "
                           "with -o DIR")


def run(args) -> int:
    pairs = plan_outputs(args.parser, args.files, args.output_dir, ".lic")
    if args.output_dir is None:
        _check_lic_name(pairs[0][1])
    check_outputs(pairs, args.output_dir)
    if len(pairs) == 1:
        input_file(pairs[0][0])  # a typo or a folder is reported before torch loads
    from .. import api
    quality = pick_quality(args.model, args.quality, shipped_models())
    net = api.load_model(args.model, quality)  # once for every file
    if args.output_dir is not None:
        Path(args.output_dir).mkdir(exist_ok=True)

    def one(src, out, bar) -> None:
        t0 = time.perf_counter()
        rgb = _read_image(src, bar)
        progress = None
        if args.effort and not args.quiet:
            def progress(step, steps):  # one line, rewritten in place, on long searches
                if step in (0, steps) or step % 5 == 0:
                    bar.set_postfix_str(f"effort {args.effort}: step {step}/{steps}")
        data = api.compress(rgb, model=net, max_pixels=args.max_pixels, effort=args.effort,
                            progress=progress)
        write_atomic(out, data)
        if not args.quiet:
            h, w = rgb.shape[:2]
            bar.write(f"{out}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
                      f"({args.model} q{quality}{f' effort {args.effort}' if args.effort else ''}, {w}x{h}, "
                      f"{1000 * (time.perf_counter() - t0):.0f} ms)")

    return run_each(args, pairs, f"compress {args.model} q{quality}", "file", one)


def _read_image(src: str, bar):
    """The image as H×W×3 uint8; a lossy conversion (alpha) is one warning line each."""
    from .. import images
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", images.LossyConversionWarning)
        rgb = images.to_rgb_array(src)
    for w in caught:  # one line each, not Python's two-line warning format
        bar.write(f"{PROG}: warning: {src}: {w.message}", file=sys.stderr)
    return rgb
