"""``lic decompress IN.lic OUT.png`` or ``lic decompress IN.lic... -o DIR``: .lic files to
images; model and quality come from each header, the output format from the extension
(DIR/<stem>.png with -o).

Every check on the outputs (extension, folder, inputs overwritten, two inputs to one
output) runs before any decoding; each file is written atomically (common.write_atomic).
Several files: one that fails is named on stderr and the rest go on (exit 1 at the end).
"""
from __future__ import annotations

from pathlib import Path

from .. import container
from .common import (CommandError, check_outputs, encode_image, image_format, input_file,
                     plan_outputs, read_file, run_each, write_atomic)


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "decompress", parents=parents, help="decode .lic files to images",
        description="Decode one .lic file (IN OUT.png; the format from the extension) or "
                    "several (IN... -o DIR, written as DIR/<stem>.png).")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="IN OUT: one .lic file to OUT (.png, .bmp, ...); with -o: the .lic files")
    p.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                   help="write each file to DIR/<stem>.png (DIR is created if missing)")
    p.set_defaults(run=run, parser=p)


def run(args) -> int:
    pairs = plan_outputs(args.parser, args.files, args.output_dir, ".png")
    formats = {out: image_format(out) for _, out in pairs}
    check_outputs(pairs, args.output_dir)
    if len(pairs) == 1:
        input_file(pairs[0][0])
    from .. import api
    if args.output_dir is not None:
        Path(args.output_dir).mkdir(exist_ok=True)

    def one(src, out, bar) -> None:
        data = read_file(src)
        header = container.unpack(data, max_pixels=args.max_pixels)  # fail fast, before torch
        if header.quality == 0:
            raise CommandError(f"{src} was written by a {header.model} model with weights not "
                               "from the zoo (quality 0); decode it in Python with "
                               "lic_core.decompress(data, model=that_model)")
        # api.decompress keeps the models it loads (8), so each model loads once per run.
        rgb = api.decompress(data, max_pixels=args.max_pixels)
        write_atomic(out, encode_image(rgb, formats[out]))
        if not args.quiet:
            bar.write(f"{out}: {rgb.shape[1]}x{rgb.shape[0]} RGB from {header.model} "
                      f"q{header.quality}")

    return run_each(args, pairs, "decompress", "file", one)
