"""The ``lic`` command (also ``python -m lic_core``): the parser and the exit codes.
Decisions: docs/cli.md.

Each command is a module of this package: ``add_parser(sub, parents)`` declares its
arguments and ``run(args)`` does the work (compress, decompress, info, models,
analyze, demo, serve). The pass-through commands eval, train and bench own all their
arguments (``--help`` included): ``lic eval ARGS`` calls ``lic_core.cli.eval.main(ARGS)``,
imported only then.

Exit status: 0 ok, 2 usage error (argparse), 1 failure with a one-line
``lic: error: ...`` message (``--debug`` shows the traceback instead), 130 interrupted.
Progress bars (tqdm, on stderr) appear on work that takes more than a second;
``--quiet`` silences them and the informational output.

The commands are clients of the public API (``lic_core.api``, ``lic_core.images``,
``lic_core.container``, ``lic_core.analysis``, ``lic_core.zoo``) like any other program.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__
from . import analyze, compress, decompress, demo, info, models, serve
from .common import EXPECTED_ERRORS, PROG, CommandError, error_text, one_line, positive_int

__all__ = ["main", "build_parser", "COMMANDS", "PASS_THROUGH"]

#: the commands argparse parses, in the order ``lic --help`` lists them
COMMANDS = (compress, decompress, info, models, analyze, demo, serve)
#: name -> (module with main(argv), help): everything after the name is the module's
PASS_THROUGH = {
    "eval": ("lic_core.cli.eval", "rate-distortion evaluation (lic_core.cli.eval; args passed on)"),
    "train": ("lic_core.cli.train", "train a zoo model (lic_core.cli.train; args passed on)"),
    "bench": ("lic_core.cli.bench", "coder benchmark (bench/coder.py in a checkout; args passed on)"),
}


def build_parser() -> argparse.ArgumentParser:
    # Global flags go on the main parser and on every command, so that they are accepted
    # before or after the command name; SUPPRESS keeps a later default from erasing them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-Q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or informational output")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of a failure")
    common.add_argument("--max-pixels", type=positive_int, default=argparse.SUPPRESS,
                        help="refuse images whose size padded to multiples of 64 exceeds this many "
                             "pixels (what decoding allocates; default: $LIC_MAX_PIXELS or 2^24)")

    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common],
        description="lic-core: learned image compression with a compiled rANS coder.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub, [common])
    for command_parser in sub.choices.values():
        command_parser.set_defaults(parser=command_parser)  # for _parse's usage errors
    for name, (_, help_text) in PASS_THROUGH.items():
        sub.add_parser(name, help=help_text)  # for `lic --help`; main() dispatches before argparse
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; a usage error exits 2 with the usage of the command it
    concerns. (argparse reports an argument no parser knows with the top-level usage, which
    does not show the command's options.)"""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _split_pass_through(argv: list[str]):
    """``lic [--debug] {eval,train,bench} ARGS...`` -> (name, ARGS, flags before it); None
    for any other command line."""
    flags = []
    for i, token in enumerate(argv):
        if token in PASS_THROUGH:
            return token, argv[i + 1:], flags
        if not token.startswith("-"):
            return None
        flags.append(token)
    return None


def _run_pass_through(name: str, argv: list[str]) -> int:
    module = PASS_THROUGH[name][0]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise CommandError(f"{module} is not part of this installation") from None
        raise
    return int(mod.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = _split_pass_through(argv)
    debug = "--debug" in (passthrough[2] if passthrough else argv)
    try:
        if passthrough:
            name, rest, _ = passthrough
            return _run_pass_through(name, rest)
        args = _parse(argv)  # usage errors exit 2 here
        args.quiet = getattr(args, "quiet", False)
        args.max_pixels = getattr(args, "max_pixels", None)
        debug = getattr(args, "debug", False)
        return int(args.run(args) or 0)
    except BrokenPipeError:  # e.g. `lic info x.lic | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except EXPECTED_ERRORS as exc:
        if debug:
            raise
        # (a missing torch is named with the extra to install: common.error_text)
        print(f"{PROG}: error: {error_text(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, with a hint
        if debug:
            raise
        print(f"{PROG}: error: internal {type(exc).__name__}: {one_line(exc)} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
