"""``lic decompress IN.lic OUT.png``: a .lic file to an image; model and quality come
from the header, the output format from the extension."""
from __future__ import annotations

from pathlib import Path

from .. import container
from .common import CommandError, check_output_dir, progress, read_file, say


def add_parser(sub, parents) -> None:
    p = sub.add_parser("decompress", parents=parents, help="decode a .lic file to an image")
    p.add_argument("input", help=".lic file")
    p.add_argument("output", help="output image (format from the extension, e.g. .png)")
    p.set_defaults(run=run)


def run(args) -> int:
    from PIL import Image

    from .. import api
    if Path(args.output).suffix.lower() == ".lic":
        raise CommandError(f"{args.output}: decompress writes an image (.png, .bmp, ...), not .lic")
    data = read_file(args.input)
    header = container.unpack(data, max_pixels=args.max_pixels)  # fail fast, before torch loads
    if header.quality == 0:
        raise CommandError(f"{args.input} was written by a {header.model} model with weights not "
                           "from the zoo (quality 0); decode it in Python with "
                           "lic_core.decompress(data, model=that_model)")
    with progress(args, 1, f"decompress {header.model} q{header.quality}") as bar:
        rgb = api.decompress(data, max_pixels=args.max_pixels)
        bar.update()
    out = check_output_dir(args.output)
    try:
        Image.fromarray(rgb).save(out)  # H×W×3 uint8 is RGB
    except (KeyError, ValueError) as e:
        raise CommandError(f"{out}: cannot write this image format ({e})") from None
    say(args, f"{out}: {rgb.shape[1]}x{rgb.shape[0]} RGB from {header.model} q{header.quality}")
    return 0
