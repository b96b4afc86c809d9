"""What the zoo ships, without torch: which weight files hold which qualities, where
load() will read one, and a file's metadata (its header only).

``lic models``, ``lic info`` and the api's model cache ask these questions; answering
them must not cost torch's import (about a second). :mod:`lic_core.zoo.weights` loads
the tensors.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from lic_core.errors import WeightsError

from .registry import QUALITIES, REGISTRY, check_quality, resolve
from .release import release_dir, release_label, weights_dir

__all__ = ["weights_path", "variable_rate_qualities", "shipped_files", "list_models",
           "locate", "read_metadata"]

_FILE_RE = re.compile(r"^(?P<name>[a-z-]+)-q(?P<q>\d+)\.safetensors$")
_MULTI_RE = re.compile(r"^(?P<name>[a-z-]+)-q(?P<a>\d+)-(?P<b>\d+)\.safetensors$")


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
    variable-rate files the one listed later by name."""
    shipped: dict[str, dict[int, Path]] = {name: {} for name in REGISTRY}
    folder = weights_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return shipped
    single = []
    for path in sorted(folder.iterdir()):
        m = _MULTI_RE.match(path.name)
        if m and m["name"] in shipped:
            try:
                qualities = variable_rate_qualities(read_metadata(path))
            except WeightsError:
                # unreadable: list the qualities its name promises, so that load() of one
                # of them reads the file and raises WeightsError naming the problem
                qualities = [q for q in range(int(m["a"]), int(m["b"]) + 1) if q in QUALITIES]
            for q in qualities:
                shipped[m["name"]][q] = path
        m = _FILE_RE.match(path.name)
        if m and m["name"] in shipped and int(m["q"]) in QUALITIES:
            single.append((m["name"], int(m["q"]), path))
    for name, q, path in single:
        shipped[name][q] = path
    return shipped


def list_models() -> dict[str, list[int]]:
    """{canonical name: [qualities shipped]} for every family (empty list: none shipped)."""
    return {name: sorted(files) for name, files in shipped_files().items()}


def locate(name: str, quality: int, release: str | None = None) -> tuple[Path | None, Path | None]:
    """(file, folder) that :func:`load` reads for these arguments: ``folder`` is None when
    ``release`` is not installed, ``file`` None when the folder lacks the quality. The
    one place that decides it (the api's model cache keys on the same answer)."""
    spec = resolve(name)
    check_quality(quality)
    folder = weights_dir()
    if release is not None and release != release_label(folder):
        folder = release_dir(release)
        if folder is None:
            return None, None
    path = shipped_files(folder)[spec.name].get(quality)
    return (path if path is not None and path.is_file() else None), folder


def read_metadata(path) -> dict[str, str]:
    """The string metadata of a weight file: its header only, through safetensors' NumPy
    reader (no tensor is read, torch is not imported)."""
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="numpy") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file: {exc}") from exc
