"""What the ``lic`` commands share: argument types, output helpers, file I/O and the one
exception a command raises to fail in one line.

Torch-free at import, like every command module: ``lic --help``, ``lic info`` and
``lic models`` never load torch.

Files (docs/cli.md, "Files"): every check on a command's outputs (the folder exists, the
extension names a format, no output is one of the inputs, no two inputs map to one
output) runs before any coding work, and every file is written through
:func:`write_atomic`, so a failed or interrupted run leaves the old file or the new one,
never part of one.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import sys
from pathlib import Path

from ..errors import LicError
from ..zoo.registry import QUALITIES, REGISTRY, resolve

PROG = "lic"
#: canonical name -> aliases, from the zoo's registry (which imports without torch).
ALIASES = {spec.name: spec.aliases for spec in REGISTRY.values()}
#: The zoo's qualities; the container allows 0..255.
MAX_QUALITY = QUALITIES[-1]
#: the quality compress and analyze use when -q is not given
DEFAULT_QUALITY = 3
MODEL_HELP = f"zoo model: {', '.join(ALIASES)} (or a CompressAI alias)"


class CommandError(LicError):
    """A failure the CLI reports in one line (exit status 1)."""


# --------------------------------------------------------------------------- argument types

def canonical_model(name: str) -> str:
    try:
        return resolve(name).name
    except LicError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def model_list(text: str) -> list[str]:
    names = [canonical_model(t.strip()) for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of model names")
    return list(dict.fromkeys(names))


def quality_arg(text: str) -> int:
    try:
        q = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be an integer, got {text!r}") from None
    if not 1 <= q <= MAX_QUALITY:
        raise argparse.ArgumentTypeError(f"quality must be in 1..{MAX_QUALITY}, got {q}")
    return q


def quality_list(text: str) -> list[int]:
    return [quality_arg(t.strip()) for t in text.split(",") if t.strip()]


def _int_at_least(low: int, what: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v
    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer >= 0")


# --------------------------------------------------------------------------- output

def say(args, *parts) -> None:
    """Informational output: printed unless --quiet."""
    if not getattr(args, "quiet", False):
        print(*parts)


def note(text: str) -> None:
    """A one-line notice on stderr (printed with --quiet too: it says what was done
    differently from what was asked, like a warning)."""
    print(f"{PROG}: note: {text}", file=sys.stderr)


class _NoBar:
    """What :func:`progress` returns when no bar is shown: the same methods, doing nothing
    (and without importing tqdm, 40 ms of a short command's start)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    @staticmethod
    def write(text: str, file=None) -> None:  # tqdm.write's signature: stdout by default
        print(text, file=sys.stdout if file is None else file)


def progress(args, total: int, desc: str, unit: str = "step"):
    """A tqdm bar on stderr that appears after one second and vanishes when done; none
    with --quiet or when stderr is not a terminal (a log file gets no bar redraws).
    Print lines through its ``write`` while it runs, so they do not tear the bar."""
    if getattr(args, "quiet", False) or not _is_tty(sys.stderr):
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr,
                mininterval=0.5, delay=1.0)


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_agg():
    """matplotlib.pyplot with the file-only Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# --------------------------------------------------------------------------- errors

def one_line(exc: BaseException) -> str:
    """An exception's message on one line (OSError as "file: reason")."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError):
        text = f"missing key {text}"
    return " ".join(text.split())


#: The modules of lic-core's ``[models]`` extra (pyproject.toml), by import name, with the
#: name a user knows each by. ``pip install lic-core`` installs NumPy alone, so a command
#: that needs any of them must name the extra, not only the module.
MODELS_EXTRA = {"torch": "PyTorch", "safetensors": "safetensors", "PIL": "Pillow",
                "tqdm": "tqdm", "matplotlib": "matplotlib"}


def missing_extra(exc: BaseException) -> str | None:
    """The package of the [models] extra that ``exc`` says is not installed ("Pillow" for
    "No module named 'PIL'", also for a submodule such as 'PIL.Image'), else None.

    Only when the package itself is absent: a submodule missing from a package that did
    import (an older Pillow without some plugin) is another problem, reported as it is.
    lic_core's own MissingDependencyError already says what to install."""
    if not isinstance(exc, ModuleNotFoundError) or isinstance(exc, LicError):
        return None
    top = (exc.name or "").split(".")[0]
    if top not in MODELS_EXTRA or sys.modules.get(top) is not None:
        return None
    return MODELS_EXTRA[top]


def error_text(exc: BaseException) -> str:
    """What ``lic: error: `` is followed by for an expected failure."""
    package = missing_extra(exc)
    if package:
        from ..api import INSTALL_HINT
        return (f"this command needs {package}, which this installation lacks "
                f"({one_line(exc)}); it comes with lic-core's [models] extra: {INSTALL_HINT}")
    kind = "" if isinstance(exc, (LicError, OSError)) else f"{type(exc).__name__}: "
    return kind + one_line(exc)


#: what a command reports and survives per file; anything else is a bug and stops it
EXPECTED_ERRORS = (LicError, OSError, ValueError, ImportError, RuntimeError, KeyError)


# --------------------------------------------------------------------------- files

def input_file(path) -> Path:
    """``path`` if it names an existing file; otherwise the error that says what it is."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not a file")
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return p


def read_file(path) -> bytes:
    return input_file(path).read_bytes()


def check_output_dir(path) -> Path:
    """``path`` if it can be written as a file: its folder exists and it is not a folder."""
    p = Path(path)
    if not p.parent.is_dir():
        raise FileNotFoundError(f"{p.parent}: output directory does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give a file name (or -o DIR)")
    return p


def _file_id(path):
    """(device, inode) of the file ``path`` names, following symlinks; None if none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def refuse_overwriting_inputs(outputs, inputs) -> None:
    """CommandError if an output names one of the inputs: the same path, a symlink to it
    or a hard link (same device and inode). Checked before any work."""
    ids = {}
    for path in inputs:
        key = _file_id(path)
        if key is not None:
            ids.setdefault(key, path)
    for out in outputs:
        key = _file_id(out)
        if key is not None and key in ids:
            raise CommandError(f"{out}: is the input {ids[key]} (the same file); "
                               "refusing to overwrite an input")


def refuse_shared_outputs(pairs) -> None:
    """CommandError if two inputs would be written to the same output file (e.g.
    a/x.png and b/x.png, or x.png and x.jpg, both to DIR/x.lic). Checked before any work."""
    seen = {}
    for src, out in pairs:
        key = os.path.normcase(os.path.abspath(out))
        if key in seen:
            raise CommandError(f"{seen[key]} and {src} would both be written to {out}; "
                               "rename one or convert them in separate runs")
        seen[key] = src


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over
    ``path`` (os.replace: atomic within one file system). A run that fails or is
    interrupted leaves the previous file, or none, never a part-written one; only a
    killed process can leave its hidden ``.NAME.*.tmp`` file behind. An existing symlink
    at ``path`` is replaced by the file, not written through."""
    path = Path(path)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            # 0o666 and the umask: the permissions an ordinary open() would give
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_file(path, data: bytes) -> None:
    write_atomic(check_output_dir(path), data)


def image_format(path) -> str:
    """The Pillow format that writes ``path``'s extension, or CommandError saying which
    extensions work. Checked before decoding, not after."""
    from PIL import Image
    ext = Path(path).suffix.lower()
    if ext == ".lic":
        raise CommandError(f"{path}: decompress writes an image (.png, .bmp, ...), not .lic")
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise CommandError(f"{path}: {'unknown image extension ' + repr(ext) if ext else 'no extension'}"
                           "; name the output .png (lossless), .bmp, .tif, .webp or .jpg")
    return fmt


def encode_image(rgb, fmt: str) -> bytes:
    """An H×W×3 uint8 array as the bytes of an image file in Pillow format ``fmt``."""
    from PIL import Image
    buf = io.BytesIO()
    try:
        Image.fromarray(rgb).save(buf, format=fmt)  # H×W×3 uint8 is RGB
    except (KeyError, ValueError, OSError) as e:
        raise CommandError(f"cannot write this image as {fmt} ({e})") from None
    return buf.getvalue()


def savefig_atomic(fig, path, **kwargs) -> None:
    """matplotlib's savefig through :func:`write_atomic` (PNG from the extension)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    write_atomic(path, buf.getvalue())


# --------------------------------------------------------------------------- several files

def plan_outputs(parser, files: list[str], output_dir: str | None, suffix: str):
    """[(input, output)] for ``IN OUT`` or ``IN... -o DIR`` (outputs DIR/<stem><suffix>).

    Usage errors (exit 2): one file without -o, several without -o. ``DIR`` is created
    when the run starts (like ``--out`` of demo and analyze)."""
    if output_dir is None:
        if len(files) == 1:
            parser.error(f"missing the output file: {parser.prog} IN OUT, or IN... -o DIR")
        if len(files) > 2:
            parser.error(f"{len(files)} files and no -o: {parser.prog} IN OUT converts one "
                         "file; for several give the folder to write to with -o DIR")
        return [(files[0], files[1])]
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{output_dir}: -o needs a directory, and this is a file")
    return [(src, str(folder / (Path(src).stem + suffix))) for src in files]


def check_outputs(pairs, output_dir: str | None) -> None:
    """Every check on the outputs, before any work: folders, no input overwritten, no two
    inputs to one output."""
    if output_dir is None:
        for _, out in pairs:
            check_output_dir(out)
    else:
        parent = Path(output_dir).resolve().parent
        if not parent.is_dir():
            raise FileNotFoundError(f"{parent}: does not exist, so -o {output_dir} cannot be made")
        for _, out in pairs:
            if Path(out).is_dir():
                raise IsADirectoryError(f"{out}: is a directory; it cannot be an output")
    refuse_shared_outputs(pairs)
    refuse_overwriting_inputs([out for _, out in pairs], [src for src, _ in pairs])


def run_each(args, pairs, what: str, unit: str, work) -> int:
    """``work(src, out, bar)`` for each pair, under one progress bar over the files.

    One file: a failure propagates (main reports it in one line). Several: a file that
    fails is named on stderr with the reason and the others go on; the exit status is 1
    if any failed. A missing module (the [models] extra), Ctrl-C or a bug (an unexpected
    exception type) stops the run, since every other file would fail the same way."""
    if len(pairs) == 1:
        with progress(args, 1, what, unit) as bar:
            work(*pairs[0], bar)
            bar.update()
        return 0
    failed = 0
    with progress(args, len(pairs), what, unit) as bar:
        for src, out in pairs:
            try:
                work(src, out, bar)
            except ImportError:
                raise
            except EXPECTED_ERRORS as exc:
                if getattr(args, "debug", False):
                    raise
                failed += 1
                text = error_text(exc)
                bar.write(f"{PROG}: error: {text if str(src) in text else f'{src}: {text}'}",
                          file=sys.stderr)
            bar.update()
    if failed:
        print(f"{PROG}: error: {failed} of {len(pairs)} files failed (named above)",
              file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- models

def shipped_models() -> dict:
    """{canonical: [qualities with trained weights]} from the zoo (empty lists if none ship)."""
    from .. import zoo
    shipped = zoo.list_models()
    return {name: sorted(shipped.get(name, [])) for name in ALIASES}


def _listing(qualities) -> str:
    return ", ".join(map(str, qualities))


def nearest_quality(quality: int, shipped: list[int]) -> int:
    """The shipped quality nearest to ``quality``; on a tie the higher one (never a worse
    picture than asked for because of a tie; docs/cli.md)."""
    return min(shipped, key=lambda s: (abs(s - quality), -s))


def pick_quality(name: str, quality: int | None, shipped: dict) -> int:
    """The quality to load for ``name``: ``quality`` as given when its weights ship
    (CommandError naming the shipped ones if not), or, when -q was not given, the
    default 3 or else the nearest shipped quality, with a note on stderr."""
    available = shipped.get(name) or []
    if not available:
        raise CommandError(f"no trained weights ship for {name} (`lic models` lists what "
                           "ships; --random-init runs it untrained where offered)")
    if quality is not None:
        if quality not in available:
            below = [q for q in available if q < quality]
            above = [q for q in available if q > quality]
            nearest = " or ".join(f"-q {q}" for q in (below[-1:] + above[:1]))
            raise CommandError(f"no trained weights for {name} quality {quality}; {name} ships "
                               f"qualities {_listing(available)} (nearest: {nearest})")
        return quality
    if DEFAULT_QUALITY in available:
        return DEFAULT_QUALITY
    chosen = nearest_quality(DEFAULT_QUALITY, available)
    note(f"{name} ships qualities {_listing(available)}, not the default {DEFAULT_QUALITY}; "
         f"using quality {chosen} (choose one with -q)")
    return chosen


def model_for(name: str, quality: int | None, random_init: bool):
    """(model, "trained") with the zoo's weights, or, asked for explicitly,
    (a seeded random-init model, "random-init")."""
    from .. import api
    if random_init:
        return api.random_model(name, seed=0), "random-init"
    return api.load_model(name, quality), "trained"
