"""``lic compress IN [OUT.lic]`` or ``lic compress IN... -o DIR``: images to .lic files.

IN alone writes beside it under its own name with ``.lic`` (photo.png -> photo.lic);
``-`` is standard input (IN) or standard output (OUT, and the default for IN ``-``).
An output that exists is refused unless ``-f``. Every check on the outputs runs before
any work (common.check_outputs); the model is loaded once for all the files; each file
is written atomically (common.write_atomic). Several files: one that fails is named on
stderr and the rest go on (exit 1 at the end).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from pathlib import Path

from .. import container
from .common import (DEFAULT_MODEL, DEFAULT_QUALITY, MAX_QUALITY, MODEL_HELP, PROG, STDIO,
                     CommandError, add_output_arguments, add_threads_argument, canonical_model,
                     check_outputs, message_stream, open_input, pick_quality, plan_outputs,
                     quality_arg, read_at_most, read_image_bytes, refuse_terminal_output, run_each,
                     shipped_listing, shipped_models, torch_threads, write_output)


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "compress", parents=parents, add_help=False, help="compress images to .lic files",
        description="Compress one image (IN [OUT.lic]; without OUT, IN's name with .lic, "
                    f"beside it; {STDIO} is standard input or output) or several (IN... -o DIR, "
                    "written as DIR/<stem>.lic). An existing output is refused unless -f.")
    p.add_argument("-h", "--help", action=_HelpWithShippedQualities,
                   help="show this help message, with the qualities that ship, and exit")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=f"IN [OUT]: one image (PNG, JPEG, ...; {STDIO}: standard input) to OUT "
                        f"(default IN's name with .lic; {STDIO}: standard output); with -o: "
                        "the images")
    add_output_arguments(p, ".lic")
    p.add_argument("-m", "--model", type=canonical_model, default=DEFAULT_MODEL,
                   help=f"{MODEL_HELP}; default {DEFAULT_MODEL}")
    p.add_argument("-q", "--quality", type=quality_arg, default=None,
                   help=f"quality 1..{MAX_QUALITY}, of which each model ships those listed "
                        f"below; default {DEFAULT_QUALITY}, or the nearest quality the model "
                        "ships, with a note")
    p.add_argument("-e", "--effort", type=_effort_arg, default=None,
                   help="encoder effort 0..9 (default 0): higher searches longer for a "
                        "smaller file at the same quality; every level decodes the same way")
    add_threads_argument(p)
    p.set_defaults(run=run, parser=p)


class _HelpWithShippedQualities(argparse.Action):
    """``-h``: argparse's help, closed by the qualities whose weights ship. Read from the
    zoo only when help is asked for: listing the weights imports NumPy and safetensors,
    which no other parse of the command line should pay for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = (
            f"Qualities whose weights ship: {shipped_listing(shipped_models())} (`lic models`). "
            f"Defaults: -m {DEFAULT_MODEL} -q {DEFAULT_QUALITY}; without -q, a model that does "
            f"not ship quality {DEFAULT_QUALITY} uses its nearest shipped quality (the higher "
            f"on a tie) and says so. -q takes 1..{MAX_QUALITY}, the qualities the zoo "
            "defines; one whose weights do not ship is refused, naming those that do.")
        parser.print_help()
        parser.exit()


def _effort_arg(text: str) -> int:
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


def _refuse_lic(src: str, head: bytes) -> None:
    """A .lic file given to compress would be decoded and coded again, losing quality
    twice without a word: refused, by its magic, whatever its name."""
    if head.startswith(container.MAGIC):
        name = "standard input" if src == STDIO else src
        hint = f" `{PROG} decompress {src}`" if src != STDIO else f" `{PROG} decompress`"
        raise CommandError(f"{name}: is a .lic file already; compress takes images (PNG, JPEG, "
                           f"...); to code it again, decode it first with{hint}")


def _refuse_lic_input(src: str) -> None:
    """Also the input checks (no such file, a folder, a FIFO) before torch loads."""
    with open_input(src) as (f, _):
        _refuse_lic(src, read_at_most(f, len(container.MAGIC)))


def run(args) -> int:
    pairs = plan_outputs(args.parser, args.files, args.output_dir, ".lic")
    if args.output_dir is None:
        _check_lic_name(pairs[0][1])
    if len(pairs) == 1 and pairs[0][0] != STDIO:
        _refuse_lic_input(pairs[0][0])  # a typo, a folder or a .lic file, before torch loads
    check_outputs(pairs, args.output_dir, force=args.force)
    refuse_terminal_output(pairs, ".lic bytes")
    quality = pick_quality(args.model, args.quality, shipped_models())
    from .. import api
    messages = message_stream(pairs)
    noted = []  # the lossless conversions noted once per run (greyscale)
    with torch_threads(args.threads):
        net = api.load_model(args.model, quality)  # once for every file
        if args.output_dir is not None:
            Path(args.output_dir).mkdir(parents=True, exist_ok=True)

        def one(src, out, bar) -> None:
            t0 = time.perf_counter()
            rgb = _read_image(src, bar, args.max_pixels, noted)
            progress = None
            if args.effort and not args.quiet:
                def progress(step, steps):  # one line, rewritten in place, on long searches
                    if step in (0, steps) or step % 5 == 0:
                        bar.set_postfix_str(f"effort {args.effort}: step {step}/{steps}")
            data = api.compress(rgb, model=net, max_pixels=args.max_pixels, effort=args.effort,
                                progress=progress)
            write_output(out, data, force=args.force)
            if not args.quiet:
                h, w = rgb.shape[:2]
                effort = f" effort {args.effort}" if args.effort else ""
                bar.write(f"{'standard output' if out == STDIO else out}: {len(data)} bytes, "
                          f"{8 * len(data) / (h * w):.4f} bpp ({args.model} q{quality}{effort}, "
                          f"{w}x{h}, {1000 * (time.perf_counter() - t0):.0f} ms)", file=messages)

        return run_each(args, pairs, f"compress {args.model} q{quality}", "file", one)


def _read_image(src: str, bar, max_pixels, noted: list):
    """The image as H×W×3 uint8, its size checked against the pixel limit before its
    pixels are decoded. A lossy conversion (alpha, a colour profile) is one warning line
    each; a lossless one (greyscale) one note line, the first time in the run."""
    from .. import images
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", images.LossyConversionWarning)
        if src == STDIO:
            rgb = images.to_rgb_array(_open_stdin_image(max_pixels), max_pixels=max_pixels,
                                      notes=notes)
        else:
            _refuse_lic_input(src)
            rgb = images.to_rgb_array(src, max_pixels=max_pixels, notes=notes)
    name = "standard input" if src == STDIO else src
    for w in caught:  # one line each, not Python's two-line warning format
        bar.write(f"{PROG}: warning: {name}: {w.message}", file=sys.stderr)
    for text in notes:
        if not noted:
            noted.append(text)
            bar.write(f"{PROG}: note: {text if name in text else f'{name}: {text}'}",
                      file=sys.stderr)
    return rgb


def _open_stdin_image(max_pixels):
    """Standard input as a PIL image (header read, pixels not yet decoded), bounded."""
    from PIL import Image, UnidentifiedImageError

    from ..errors import InvalidArgumentError, LimitExceededError
    data = read_image_bytes(sys.stdin.buffer, max_pixels)
    _refuse_lic(STDIO, data)
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidArgumentError("standard input: not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise LimitExceededError(f"standard input: {e}") from None
