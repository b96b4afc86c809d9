"""``lic decompress IN.lic [OUT.png]`` or ``lic decompress IN.lic... -o DIR``: .lic files
to images; model and quality come from each header, the output format from the extension
(DIR/<stem>.png with -o).

IN alone writes beside it under its own name with ``.png`` (photo.lic -> photo.png);
``-`` is standard input (IN) or standard output (OUT, PNG; the default for IN ``-``). An
output that exists is refused unless ``-f``: a default name can land on the original
photo. Every check on the outputs (extension, folder, inputs overwritten, two inputs to
one output, existing files) runs before any decoding; each file is read no further than
its header accounts for (common.read_lic) and written atomically (common.write_atomic).
Several files: one that fails is named on stderr and the rest go on (exit 1 at the end).
"""
from __future__ import annotations

from pathlib import Path

from .. import codec
from .common import (STDIO, CommandError, add_output_arguments, add_threads_argument,
                     check_outputs, encode_image, image_format, input_file, message_stream,
                     plan_outputs, read_lic, refuse_terminal_output, run_each, torch_threads,
                     write_output)


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "decompress", parents=parents, help="decode .lic files to images",
        description="Decode one .lic file (IN [OUT.png]; the format from the extension; "
                    f"without OUT, IN's name with .png, beside it; {STDIO} is standard input "
                    "or output, PNG) or several (IN... -o DIR, written as DIR/<stem>.png). An "
                    "existing output is refused unless -f.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=f"IN [OUT]: one .lic file ({STDIO}: standard input) to OUT (.png, .bmp, "
                        f"...; default IN's name with .png; {STDIO}: standard output, PNG); "
                        "with -o: the .lic files")
    add_output_arguments(p, ".png")
    add_threads_argument(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> int:
    pairs = plan_outputs(args.parser, args.files, args.output_dir, ".png")
    formats = {out: "PNG" if out == STDIO else image_format(out) for _, out in pairs}
    check_outputs(pairs, args.output_dir, force=args.force)
    if len(pairs) == 1 and pairs[0][0] != STDIO:
        input_file(pairs[0][0])
    refuse_terminal_output(pairs, "image bytes")
    if args.output_dir is not None:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    messages = message_stream(pairs)

    def one(src, out, bar) -> None:
        data = read_lic(src, args.max_pixels)
        # the one parse of the file (codec.read_header: the container), before torch
        header = codec.read_header(data, max_pixels=args.max_pixels)
        if header.quality == 0:
            raise CommandError(f"written by a {header.model} model with weights not from the "
                               "zoo (quality 0); decode it in Python with "
                               "lic_core.decompress(data, model=that_model)")
        # the codec keeps the models it loads (8), so each model loads once per run
        rgb = codec.decode(data, max_pixels=args.max_pixels, header=header)
        write_output(out, encode_image(rgb, formats[out]), force=args.force)
        if not args.quiet:
            bar.write(f"{'standard output' if out == STDIO else out}: {rgb.shape[1]}x"
                      f"{rgb.shape[0]} RGB from {header.model} q{header.quality}", file=messages)

    with torch_threads(args.threads, import_torch=False):
        return run_each(args, pairs, "decompress", "file", one)
