"""``lic eval ARGS``: rate-distortion evaluation against JPEG, WebP and AVIF.

A pass-through command: everything after ``eval`` is parsed here (``--help``
included), and the work is done by the library :mod:`lic_core.analysis.evaluate`.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    from ..analysis.rd import BD_METHODS, DEFAULT_BD_METHOD  # NumPy only: --help stays fast
    p = argparse.ArgumentParser(
        prog="lic eval", description="Rate-distortion evaluation of zoo models against JPEG, WebP and AVIF.")
    p.add_argument("directory", nargs="?", default=None,
                   help="image folder, searched recursively (default: the 3 Kodak samples that "
                        "ship with lic-core, lic_core/samples; the project's measurements use "
                        "../shared/data/kodak-dev, 12 images, where a checkout has it)")
    p.add_argument("--models", nargs="*", default=["factorized", "hyperprior", "joint"],
                   help="zoo names, or .safetensors files (each file is one point)")
    p.add_argument("--qualities", nargs="*", type=int, default=None,
                   help="qualities to evaluate (default: every shipped one)")
    p.add_argument("--baselines", nargs="*", default=["jpeg", "webp", "avif"])
    p.add_argument("--reference", nargs="*", default=[],
                   help="zoo models to compare against like baselines, e.g. hyperprior@zoo-v3 "
                        "(an older release's weights)")
    p.add_argument("--out", default="rd-results", help="output folder")
    p.add_argument("--limit", type=int, default=None, help="use the first N images only")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--effort", nargs="*", type=int, default=[0],
                   help="encoder effort levels 0..9 to evaluate each model at (default 0); "
                        "results above 0 are named '<model>-e<effort>'")
    p.add_argument("--bd-method", choices=BD_METHODS, default=DEFAULT_BD_METHOD,
                   help=f"the Bjøntegaard interpolation of each RD curve (default "
                        f"{DEFAULT_BD_METHOD}): pchip, the video-coding common test "
                        "conditions' piecewise cubic, or cubic, one cubic polynomial per "
                        "curve (VCEG-M33; 4 points a curve at least); the BD table and "
                        "bd_rate.json name it")
    return p.parse_args(argv)


def image_folder(directory: str | None) -> str:
    """The folder to evaluate: ``directory``, or the bundled samples when none is given,
    so that ``lic eval`` works in any installation. A folder that does not exist is
    refused naming what to pass."""
    from ..errors import InvalidArgumentError
    from ..images import SAMPLES_DIR
    if directory is None:
        return str(SAMPLES_DIR)
    if not os.path.isdir(directory):
        raise InvalidArgumentError(
            f"image folder not found: {directory}; pass a folder of images (PNG, JPEG, ...; "
            "in the project's checkout, ../shared/data/kodak-dev), or no folder for the 3 "
            f"bundled samples ({SAMPLES_DIR})")
    return directory


def main(argv=None) -> int:
    args = parse_args(argv)
    bad = [e for e in args.effort if not 0 <= e <= 9]
    if bad:
        raise SystemExit(f"lic eval: error: --effort takes levels 0..9, got {bad}")
    from ..analysis import evaluate
    folder, files, images = evaluate.load_images(image_folder(args.directory), args.limit)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)  # fail before the work, not after it
    baselines = []
    for codec in args.baselines:
        r = evaluate.evaluate_baseline(images, codec)
        r["baseline"] = True
        baselines.append(r)
        print(f"{codec}: {len(r['results']['bpp'])} points", file=sys.stderr)
    for spec in args.reference:
        r = evaluate.evaluate_model(images, spec, args.qualities or evaluate.shipped_qualities(spec))
        r["baseline"] = True
        baselines.append(r)
        print(f"{spec}: done", file=sys.stderr)
    models = []
    weight_files = [spec for spec in args.models if spec.endswith(".safetensors")]
    for spec in args.models:
        if spec in weight_files:
            continue
        qualities = args.qualities or evaluate.shipped_qualities(spec)
        for effort in args.effort:
            models.append(evaluate.evaluate_model(images, spec, qualities, effort=effort))
            print(f"{spec} effort {effort}: done", file=sys.stderr)
    models += evaluate.evaluate_weight_files(images, weight_files)
    md, png = evaluate.write_report(args.out, models, baselines, files, folder, args.bd_method)
    print(md)
    print(f"plot: {png}")
    return 0
