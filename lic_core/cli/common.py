"""What the ``lic`` commands share: argument types, output helpers, file I/O and the one
exception a command raises to fail in one line.

Torch-free at import, like every command module: ``lic --help``, ``lic info`` and
``lic models`` never load torch.

Files (docs/cli.md, "Files"): every check on a command's outputs (the folder exists, the
extension names a format, no output is one of the inputs, no two inputs map to one
output, none exists unless -f) runs before any coding work, and every file is written
through :func:`write_atomic`, so a failed or interrupted run leaves the old file or the
new one, never part of one. Inputs are regular files (:func:`open_input`: no FIFO, device
or socket is read) or standard input as ``-``, and a .lic file is read no further than
its header accounts for (:func:`read_lic`).
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
import secrets
import struct
import sys
from pathlib import Path

from ..errors import LicError
from ..files import file_mode, open_regular, refuse_non_regular
from ..zoo.registry import DEFAULT_MODEL, DEFAULT_QUALITY, QUALITIES, REGISTRY, resolve

PROG = "lic"
#: canonical name -> aliases, from the zoo's registry (which imports without torch).
ALIASES = {spec.name: spec.aliases for spec in REGISTRY.values()}
#: The zoo's qualities; the container allows 0..255.
MAX_QUALITY = QUALITIES[-1]
# DEFAULT_MODEL (-m) and DEFAULT_QUALITY (-q) of compress and analyze: the registry's
MODEL_HELP = f"zoo model: {', '.join(ALIASES)} (or a CompressAI alias)"
#: standard input or output, in place of a file name (compress and decompress)
STDIO = "-"


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
        # the registry's range; what ships is narrower, and read only on this error path
        # (listing the weights costs NumPy's and safetensors' import)
        raise argparse.ArgumentTypeError(
            f"quality must be in 1..{MAX_QUALITY}, got {q}; the weights that ship: "
            f"{shipped_listing(shipped_models())}")
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


def add_threads_argument(parser) -> None:
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="torch threads for this run (default: torch's own choice, "
                             "one per core)")


@contextlib.contextmanager
def torch_threads(count: int | None, import_torch: bool = True):
    """The thread count of a run at ``count`` while the body runs (None: left as it is),
    then put back: the engine's (lic_core.coding.intnet's default, which the whole-file
    decoder uses) and torch's intra-op count. torch's setting is process-wide, and
    ``main`` may be called in a process that does other work (the joint model's
    one-thread scope nests inside: lic_core/models/threads.py).

    ``import_torch=False`` (lic decompress: files of integer synthesis never need torch)
    sets torch's count only if torch is imported already, and otherwise through
    OMP_NUM_THREADS, which torch reads when a later file of float synthesis imports it."""
    if count is None:
        yield
        return
    import os
    import sys

    from lic_core.coding import intnet
    engine_before = intnet.default_threads()
    intnet.set_default_threads(max(1, min(count, intnet.MAX_THREADS)))
    torch = sys.modules.get("torch")
    if torch is None and import_torch:
        import torch
    env_before = os.environ.get("OMP_NUM_THREADS")
    if torch is None:
        os.environ["OMP_NUM_THREADS"] = str(count)
        before = None
    else:
        before = torch.get_num_threads()
        torch.set_num_threads(count)
    try:
        yield
    finally:
        intnet.set_default_threads(engine_before)
        if before is not None:
            torch.set_num_threads(before)
        elif env_before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_before


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
                "tqdm": "tqdm", "matplotlib": "matplotlib", "pytorch_msssim": "pytorch-msssim",
                "bjontegaard": "bjontegaard"}


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

#: what follows the refusal of a path that is not a regular file
_REGULAR_HINT = f"; lic reads regular files, or standard input given as {STDIO}"


def input_file(path) -> Path:
    """``path`` if it names a regular file (symlinks followed); otherwise the error that
    says what it is: no such file, a symlink loop, a directory, a FIFO, a device (the
    checks of :mod:`lic_core.files`)."""
    refuse_non_regular(path, file_mode(path), CommandError, _REGULAR_HINT)
    return Path(path)


@contextlib.contextmanager
def open_input(path):
    """(binary file, size or None) for reading ``path``; ``-`` is standard input (size
    None, not closed). A non-regular file is refused before it is opened (a FIFO's open
    would wait for a writer; a device is never opened) and again on the open file, in
    case the name was swapped in between (:func:`lic_core.files.open_regular`)."""
    if str(path) == STDIO:
        yield sys.stdin.buffer, None
        return
    f, size = open_regular(path, CommandError, _REGULAR_HINT)
    with f:
        yield f, size


def read_at_most(f, count: int) -> bytes:
    """Up to ``count`` bytes of ``f``, fewer only at its end."""
    parts = []
    while count > 0:
        part = f.read(min(count, 1 << 20))
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


#: the .lic header's fixed part: magic, version (byte 8), G (11), S (12), size (docs/format.md)
_LIC_FIXED_BYTES = 24


def read_lic(path, max_pixels=None) -> bytes:
    """The bytes of the .lic file ``path`` (``-``: standard input), never more than its
    header accounts for: the fixed header, then the whole header its version and counts
    give (container.header_size), then the payload its stream lengths add up to. Bytes
    beyond that are refused without being read (a .lic file ends where its streams do), so
    /dev/zero behind a name or a pipe costs 24 bytes, not all memory. Anything else wrong
    is the container's to name: this returns what it read, and the caller parses it."""
    from .. import container
    from ..errors import ContainerError
    with open_input(path) as (f, size):
        data = read_at_most(f, _LIC_FIXED_BYTES)
        if len(data) < _LIC_FIXED_BYTES or not data.startswith(container.MAGIC):
            return data  # the container says what is wrong (magic, too short)
        version, groups, streams = data[8], data[11], data[12]
        hsize = container.header_size(groups, streams, version)
        data += read_at_most(f, hsize - len(data))
        if len(data) < hsize:
            return data  # a header cut short, or impossible counts: the container says which
        # the S stream lengths (u32) come just before the two CRC-32s that end the header
        lengths = struct.unpack_from(f"<{streams}I", data, hsize - 8 - 4 * streams)
        data += read_at_most(f, sum(lengths))
        extra = size - len(data) if size is not None else len(read_at_most(f, 1))
    if extra > 0:
        container.check_crcs(data, max_pixels=max_pixels)  # a fault in the header comes first
        follow = (f"{size - hsize} payload bytes follow" if size is not None
                  else "more than that follow")
        raise ContainerError(f"stream lengths: they sum to {sum(lengths)} bytes but {follow} "
                             f"the header (trailing bytes)")
    return data


def read_image_bytes(f, max_pixels=None) -> bytes:
    """An image file from a stream with no size (standard input), bounded before it is
    read: 4 bytes (8-bit RGBA, the widest sample layout compress accepts) per pixel of
    the pixel limit, plus 64 MiB for headers, metadata and a compressor's worst case."""
    from ..limits import Limits
    bound = 4 * Limits.resolve(max_pixels).max_pixels + (64 << 20)
    data = read_at_most(f, bound + 1)
    if len(data) > bound:
        raise CommandError(f"standard input: more than {bound} bytes, more than any 8-bit image "
                           f"within the pixel limit can take (--max-pixels raises it)")
    return data


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
        key = _file_id(out) if str(out) != STDIO else None
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


def _name_max(folder: Path) -> int:
    """The longest file name ``folder``'s file system takes, in bytes (255 where unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return 255


def temporary_name(path: Path, token: str) -> str:
    """``.NAME.TOKEN.tmp``, hidden and beside ``path``, with NAME shortened (whole
    characters, from the end) when the whole would pass the folder's name limit: a legal
    255-byte output name must not fail for its temporary name's 14 bytes."""
    name, tail = path.name, f".{token}.tmp"
    room = _name_max(path.parent) - len(os.fsencode("." + tail))
    while name and len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}{tail}"


def write_atomic(path, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over
    ``path`` (os.replace: atomic within one file system). A run that fails or is
    interrupted leaves the previous file, or none, never a part-written one; only a
    killed process can leave its hidden ``.NAME.*.tmp`` file behind (NAME shortened to
    fit the name limit). An existing symlink at ``path`` is replaced by the file, not
    written through. ``overwrite=False``: a file that appeared at ``path`` meanwhile is
    kept and this raises FileExistsError (the temporary file is hard-linked to the name,
    which fails if the name exists; where hard links are not supported, checked just
    before the rename)."""
    path = Path(path)
    while True:
        tmp = path.parent / temporary_name(path, secrets.token_hex(4))
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
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_no_replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _rename_no_replace(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # atomic, and fails if ``path`` exists
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "appeared during the run; kept (-f overwrites)",
                              str(path)) from None
    except OSError:  # no hard links here (FAT, some network file systems)
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "appeared during the run; kept (-f overwrites)",
                                  str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_output(path, data: bytes, *, force: bool = False) -> None:
    """``data`` to the output ``path``: standard output for ``-``, else
    :func:`write_atomic`, replacing an existing file only with ``force``."""
    if str(path) == STDIO:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_atomic(path, data, overwrite=force)


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

def default_output(src: str, suffix: str) -> str:
    """Where one input goes when no output is named: beside it with ``suffix`` for its
    extension (photo.png -> photo.lic, photo.lic -> photo.png); standard input goes to
    standard output."""
    return STDIO if src == STDIO else str(Path(src).with_suffix(suffix))


def plan_outputs(parser, files: list[str], output_dir: str | None, suffix: str):
    """[(input, output)] for ``IN``, ``IN OUT`` or ``IN... -o DIR`` (outputs
    DIR/<stem><suffix>); ``-`` is standard input or output.

    Usage errors (exit 2): three or more files without -o, ``-`` with -o. ``DIR`` and
    its missing parents are created when the run starts."""
    if output_dir is None:
        if len(files) == 1:
            return [(files[0], default_output(files[0], suffix))]
        if len(files) > 2:
            parser.error(f"{len(files)} files and no -o: {parser.prog} IN [OUT] converts one "
                         "file; for several give the folder to write to with -o DIR")
        return [(files[0], files[1])]
    if STDIO in files:
        parser.error(f"{STDIO} (standard input) has no name to write under -o DIR: "
                     f"{parser.prog} {STDIO} OUT")
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{output_dir}: -o needs a directory, and this is a file")
    return [(src, str(folder / (Path(src).stem + suffix))) for src in files]


def _check_can_make(folder: str) -> None:
    """NotADirectoryError unless ``folder`` and its missing parents can be created: its
    nearest existing ancestor must be a folder."""
    for ancestor in (Path(folder).absolute(), *Path(folder).absolute().parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(f"{ancestor}: is a file, so -o {folder} cannot be made")
            return


def refuse_existing_outputs(outputs) -> None:
    """CommandError naming the outputs that exist already (a file, a folder, a symlink,
    even a dangling one): without -f/--force nothing is overwritten. Checked before any
    work; write_output checks again when it writes."""
    existing = [str(out) for out in outputs if str(out) != STDIO and os.path.lexists(out)]
    if not existing:
        return
    shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
    verb = "exists" if len(existing) == 1 else "exist"
    raise CommandError(f"{shown}: already {verb}; add -f (--force) to overwrite, or name "
                       "another output")


def check_outputs(pairs, output_dir: str | None, *, force: bool = False) -> None:
    """Every check on the outputs, before any work: folders, no input overwritten, no two
    inputs to one output, and, without ``force``, no existing file overwritten."""
    if output_dir is None:
        for _, out in pairs:
            if out != STDIO:
                check_output_dir(out)
    else:
        _check_can_make(output_dir)
        for _, out in pairs:
            if Path(out).is_dir():
                raise IsADirectoryError(f"{out}: is a directory; it cannot be an output")
    refuse_shared_outputs([(src, out) for src, out in pairs if out != STDIO])
    refuse_overwriting_inputs([out for _, out in pairs], [src for src, _ in pairs if src != STDIO])
    if not force:
        refuse_existing_outputs(out for _, out in pairs)


def add_output_arguments(parser, suffix: str) -> None:
    """-o DIR and -f, as compress and decompress take them."""
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                        help=f"write each input to DIR/<stem>{suffix} (DIR and any missing "
                             "parent folders are created)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite outputs that exist (by default an existing output is "
                             "refused before any work)")


def message_stream(pairs):
    """Where a command's informational lines go: stderr when an output is standard
    output (they would corrupt the data), else stdout."""
    return sys.stderr if any(out == STDIO for _, out in pairs) else sys.stdout


def refuse_terminal_output(pairs, what: str) -> None:
    """CommandError if ``what`` would be written to standard output that is a terminal."""
    if any(out == STDIO for _, out in pairs) and _is_tty(sys.stdout):
        raise CommandError(f"standard output is a terminal; refusing to write {what} to it: "
                           "redirect it (> FILE) or name an output file")


def named(src, exc: BaseException) -> str:
    """``exc``'s one-line text, starting with the input's name unless it names it already."""
    text = error_text(exc)
    name = "standard input" if str(src) == STDIO else str(src)
    return text if name in text else f"{name}: {text}"


def run_each(args, pairs, what: str, unit: str, work) -> int:
    """``work(src, out, bar)`` for each pair, under one progress bar over the files.

    A file that fails is named on stderr with the reason (one file: the run's one-line
    error, exit 1; several: the others go on and the exit status is 1 if any failed). A
    missing module (the [models] extra), Ctrl-C or a bug (an unexpected exception type)
    stops the run, since every other file would fail the same way. ``--debug`` re-raises
    the first failure as it is."""
    debug = getattr(args, "debug", False)
    if len(pairs) == 1:
        src, out = pairs[0]
        with progress(args, 1, what, unit) as bar:
            try:
                work(src, out, bar)
            except ImportError:
                raise
            except EXPECTED_ERRORS as exc:
                if debug:
                    raise
                raise CommandError(named(src, exc)) from None
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
                if debug:
                    raise
                failed += 1
                bar.write(f"{PROG}: error: {named(src, exc)}", file=sys.stderr)
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
    """"1..8" for a run of three or more, else "1, 2, 4, 6, 8"; "none" for none."""
    qualities = sorted(qualities)
    if not qualities:
        return "none"
    if len(qualities) >= 3 and qualities == list(range(qualities[0], qualities[-1] + 1)):
        return f"{qualities[0]}..{qualities[-1]}"
    return ", ".join(map(str, qualities))


def shipped_listing(shipped: dict) -> str:
    """"factorized 1, 2, 4, 6, 8; hyperprior 1..8; ...; mean-scale none": the qualities
    whose weights ship, per model, those with none last."""
    order = sorted(shipped, key=lambda name: not shipped[name])
    return "; ".join(f"{name} {_listing(shipped[name])}" for name in order)


def nearest_quality(quality: int, shipped: list[int]) -> int:
    """The shipped quality nearest to ``quality``; on a tie the higher one (never a worse
    picture than asked for because of a tie; docs/cli.md)."""
    return min(shipped, key=lambda s: (abs(s - quality), -s))


def pick_quality(name: str, quality: int | None, shipped: dict, *, random_init: bool = False) -> int:
    """The quality to load for ``name``: ``quality`` as given when its weights ship
    (CommandError naming the shipped ones if not), or, when -q was not given,
    DEFAULT_QUALITY or else the nearest shipped quality, with a note on stderr. A model with
    no weights at all is refused with what works instead: ``--random-init`` where the
    command has it (``random_init=True``), else the models that ship and the commands
    that run this one untrained."""
    available = shipped.get(name) or []
    if not available:
        if random_init:
            hint = "add --random-init to run it with untrained weights"
        else:
            trained = {n: qs for n, qs in shipped.items() if qs}
            hint = (f"the models that ship, with their qualities: {shipped_listing(trained)}. "
                    if trained else "")
            hint += (f"To see {name} run untrained: `lic demo --models {name}` or "
                     f"`lic analyze IMAGE -m {name} --random-init`")
        raise CommandError(f"no trained weights ship for {name}; {hint}")
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
