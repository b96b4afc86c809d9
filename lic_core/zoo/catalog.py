"""What the zoo ships, without torch: which weight files hold which qualities, where
load() will read one, and a file's metadata (its header only).

``lic models``, ``lic info`` and the api's model cache ask these questions; answering
them must not cost torch's import (about a second). :mod:`lic_core.zoo.weights` loads
the tensors, through :func:`read_weight_file`: every weight file is read only if it is a
regular file (a FIFO would block the read forever, a link to /dev/zero never end it), and
only as many bytes as its own safetensors header describes, checked against
:data:`MAX_HEADER_BYTES` and :data:`MAX_FILE_BYTES` before anything is read.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Mapping

from lic_core.errors import InvalidArgumentError, WeightsError

from .registry import QUALITIES, REGISTRY, check_quality, resolve
from .release import release_dir, release_files, release_label, release_manifest, weights_dir

__all__ = ["weights_path", "variable_rate_qualities", "shipped_files", "list_models",
           "locate", "read_metadata", "read_weight_file", "qualities_text",
           "MAX_HEADER_BYTES", "MAX_FILE_BYTES", "DECODER_SUFFIX", "decoder_file_name", "decoder_for",
           "locate_decoder", "parse_model_file_name"]

#: the longest safetensors header read (the JSON that lists the tensors): a zoo file's is
#: about 40 KB; 16 MiB lists some 150,000 tensors
MAX_HEADER_BYTES = 16 << 20
#: the largest weight file read: 2 GiB, 16 bytes per element of the largest model
#: lic-core builds (zoo.weights.MAX_STATE_ELEMENTS = 2^27, float32 in zoo files), so that
#: no file lic-core could load is refused while a file claiming more is, before its bytes
#: are read
MAX_FILE_BYTES = 1 << 31

_MODEL_FILE_RE = re.compile(r"^(?P<name>[a-z-]+)-q(?P<a>\d+)(?:-(?P<b>\d+))?\.safetensors$")


def parse_model_file_name(name: str) -> tuple[str, int, int | None] | None:
    """What a model file's name says, by the zoo's one naming rule: ``<family>-q<Q>.safetensors``
    (one quality) -> ``(family, Q, None)``; ``<family>-q<A>-<B>.safetensors`` (a variable-rate
    file, qualities A..B) -> ``(family, A, B)``; None for any other name (a decoder file,
    RELEASE.json). The family is not checked against the registry."""
    m = _MODEL_FILE_RE.match(name)
    if m is None:
        return None
    return m["name"], int(m["a"]), None if m["b"] is None else int(m["b"])


def weights_path(name: str, quality: int) -> Path:
    """The file that holds ``quality`` of ``name`` (a one-quality or a variable-rate file),
    or where a one-quality file for it would go."""
    spec = resolve(name)
    return shipped_files()[spec.name].get(quality) or weights_dir() / f"{spec.name}-q{quality}.safetensors"


def variable_rate_qualities(metadata: Mapping[str, str]) -> list[int]:
    """The qualities a variable-rate file's ``variable_rate`` metadata lists ([] if none)."""
    text = str(metadata.get("variable_rate", "")).strip()
    try:
        qualities = [int(part) for part in text.split(",")] if text else []
    except ValueError:
        raise WeightsError(f"variable_rate metadata must list qualities, got {text!r}") from None
    if any(q not in QUALITIES for q in qualities) or len(set(qualities)) != len(qualities):
        raise WeightsError(f"variable_rate metadata lists invalid qualities: {text!r}")
    return qualities


def shipped_files(folder: Path | None = None) -> dict[str, dict[int, Path]]:
    """{canonical name: {quality: the file that holds it}} in ``folder`` (default: the
    current weights); a one-quality file wins over a variable-rate file, and of two
    variable-rate files the one listed later by name. A file the folder's manifest lists
    but another release folder stores (:func:`lic_core.zoo.release.release_files`) is
    given where it is stored."""
    shipped: dict[str, dict[int, Path]] = {name: {} for name in REGISTRY}
    folder = weights_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return shipped
    candidates = {path.name: path for path in folder.iterdir()}
    candidates.update(release_files(folder))
    single = []
    for name, path in sorted(candidates.items()):
        parsed = parse_model_file_name(name)
        if parsed is None or parsed[0] not in shipped:
            continue
        family, first, last = parsed
        if last is None:
            if first in QUALITIES:
                single.append((family, first, path))
            continue
        try:
            qualities = variable_rate_qualities(read_metadata(path))
        except WeightsError:
            # unreadable: list the qualities its name promises, so that load() of one
            # of them reads the file and raises WeightsError naming the problem
            qualities = [q for q in range(first, last + 1) if q in QUALITIES]
        for q in qualities:
            shipped[family][q] = path
    for name, q, path in single:
        shipped[name][q] = path
    return shipped


def list_models() -> dict[str, list[int]]:
    """{canonical name: [qualities shipped]} for every family (empty list: none shipped)."""
    return {name: sorted(files) for name, files in shipped_files().items()}


def _ranges(qualities) -> str:
    """[1, 2, 3, 4, 6] -> "1..4, 6": how messages list qualities."""
    parts, run = [], []
    for q in sorted(qualities):
        if run and q != run[-1] + 1:
            parts.append(run)
            run = []
        run.append(q)
    if run:
        parts.append(run)
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in parts)


def qualities_text(name: str, folder: Path | None = None) -> str:
    """What ``folder``'s release (default: the current weights) ships of family ``name``,
    as messages say it: "hyperprior ships qualities 1..8 in the weights release 'zoo-v4'"
    (the format and the registry define more qualities than any release ships)."""
    spec = resolve(name)
    folder = weights_dir() if folder is None else Path(folder)
    qualities = sorted(shipped_files(folder)[spec.name])
    label = release_label(folder)
    if not qualities:
        return f"the weights release {label!r} ships no {spec.name} weights"
    noun = "quality" if len(qualities) == 1 else "qualities"
    return f"{spec.name} ships {noun} {_ranges(qualities)} in the weights release {label!r}"


def locate(name: str, quality: int, release: str | None = None) -> tuple[Path | None, Path | None]:
    """(file, folder) that :func:`load` reads for these arguments: ``folder`` is None when
    ``release`` is not installed, ``file`` None when the folder lacks the quality. The
    one place that decides it (the api's model cache keys on the same answer). A file
    that the release's manifest lists is returned even when it is missing, so that
    loading it says so (zoo.release.verify_file) rather than that the quality is not
    shipped. A quality outside the registry's raises InvalidArgumentError naming what the
    release ships of that family; a release label that is not one (zoo.release.check_label)
    raises InvalidArgumentError."""
    spec = resolve(name)
    folder = weights_dir()
    if release is not None and release != release_label(folder):
        folder = release_dir(release)
        if folder is None:
            check_quality(quality)
            return None, None
    try:
        check_quality(quality)
    except InvalidArgumentError:
        raise InvalidArgumentError(f"quality must be an int that the zoo ships; "
                                   f"{qualities_text(spec.name, folder)}, got {quality!r}") from None
    path = shipped_files(folder)[spec.name].get(quality)
    if path is None:
        return None, folder
    manifest = release_manifest(folder)
    listed = manifest is not None and path.name in manifest["files"]
    return (path if listed or path.is_file() else None), folder


# --------------------------------------------------------------------------- decoder files

#: how a decoder weights file is named: its model file's stem, then this
#: (docs/format.md, "Decoder weights")
DECODER_SUFFIX = ".decoder.safetensors"


def decoder_file_name(model_file: str) -> str:
    """``hyperprior-q1-8.safetensors`` -> ``hyperprior-q1-8.decoder.safetensors``."""
    if not model_file.endswith(".safetensors") or model_file.endswith(DECODER_SUFFIX):
        raise InvalidArgumentError(f"{model_file!r} is not a model file name")
    return model_file[: -len(".safetensors")] + DECODER_SUFFIX


def decoder_for(folder: Path, model_file: Path) -> Path | None:
    """The decoder weights file of ``model_file`` in release ``folder``: the one its
    manifest lists (wherever it is stored, :func:`lic_core.zoo.release.release_files`), or
    in a folder without a manifest (one's own training output) the file beside it. None
    when the release has none: its files decode with the float synthesis."""
    name = decoder_file_name(Path(model_file).name)
    if release_manifest(folder) is not None:
        return release_files(folder).get(name)
    path = Path(folder) / name
    return path if path.is_file() else None


def locate_decoder(name: str, quality: int, release: str | None = None) -> tuple[Path | None, Path | None]:
    """(decoder file, folder) for ``name`` at ``quality`` in ``release`` (None: the current
    weights), as :func:`locate` finds the model file: what decodes a file of integer
    synthesis without torch. The decoder file is None when the release ships none for
    that model file (or lacks the quality); the folder None when the release is not
    installed."""
    path, folder = locate(name, quality, release)
    if folder is None or path is None:
        return None, folder
    return decoder_for(folder, path), folder


# --------------------------------------------------------------------------- reading

def _read_exact(f, count: int, path) -> bytes:
    chunks, left = [], count
    while left > 0:
        chunk = f.read(min(left, 1 << 30))
        if not chunk:
            raise WeightsError(f"{path}: not a readable safetensors file: it ended "
                               f"{left} bytes early (changed while being read?)")
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "folder")):
        if test(mode):
            return kind
    return "special file"


def read_weight_file(path, header_only: bool = False) -> tuple[bytes | None, dict]:
    """(the file's bytes, its parsed safetensors header) of a weight file, or (None, header)
    with ``header_only``. Torch-free; the one reader of weight files (load, load_file,
    read_metadata).

    Refused with WeightsError, before the bytes are read: anything but a regular file
    (checked on the opened file, opened without blocking: a FIFO, a device such as
    /dev/zero behind a link, a folder); a header longer than MAX_HEADER_BYTES or than the
    file; a header that is not a safetensors one; a file whose header describes more than
    MAX_FILE_BYTES, or another size than the file has. Then exactly the described bytes
    are read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable safetensors file: {exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise WeightsError(f"{path}: is a {_file_kind(st.st_mode)}, not a regular file; "
                               f"weight files are read from regular files only")
        f = os.fdopen(fd, "rb", buffering=0)
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError):
            raise WeightsError(f"{path}: not a readable safetensors file: {exc}") from exc
        raise
    with f:
        size = st.st_size
        if size < 8:
            raise WeightsError(f"{path}: not a readable safetensors file: {size} bytes, "
                               f"shorter than the 8-byte header length")
        prefix = _read_exact(f, 8, path)
        length = int.from_bytes(prefix, "little")
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise WeightsError(f"{path}: not a readable safetensors file: a {length}-byte "
                               f"header (the file has {size} bytes; at most "
                               f"{MAX_HEADER_BYTES} are read)")
        raw = _read_exact(f, length, path)
        header = _parse_header(raw, path)
        end = max((e["data_offsets"][1] for k, e in header.items() if k != "__metadata__"),
                  default=0)
        total = 8 + length + end
        if total > MAX_FILE_BYTES:
            raise WeightsError(f"{path}: its header describes {total} bytes, more than the "
                               f"{MAX_FILE_BYTES} a weight file may have")
        if total != size:
            raise WeightsError(f"{path}: not a readable safetensors file: it has {size} "
                               f"bytes, its header describes {total}")
        if header_only:
            return None, header
        return prefix + raw + _read_exact(f, end, path), header


def _parse_header(raw: bytes, path) -> dict:
    """A safetensors header: {name: {"dtype", "shape", "data_offsets": [begin, end]}} and
    an optional "__metadata__" of strings; WeightsError for anything else."""
    def bad(why: str):
        return WeightsError(f"{path}: not a readable safetensors file: {why}")
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(f"its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(
                    isinstance(v, str) for v in entry.values()):
                raise bad("__metadata__ must map names to strings")
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) and 0 <= o for o in offsets)
                and offsets[0] <= offsets[1]):
            raise bad(f"tensor {key!r} has no valid data_offsets")
    return header


def read_metadata(path) -> dict[str, str]:
    """The string metadata of a weight file: its header only (:func:`read_weight_file`;
    no tensor is read, torch is not imported)."""
    _, header = read_weight_file(path, header_only=True)
    return dict(header.get("__metadata__") or {})
