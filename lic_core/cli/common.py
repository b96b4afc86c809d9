"""What the ``lic`` commands share: argument types, output helpers, file I/O and the one
exception a command raises to fail in one line.

Torch-free at import, like every command module: ``lic --help``, ``lic info`` and
``lic models`` never load torch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import LicError
from ..zoo.registry import QUALITIES, REGISTRY, resolve

PROG = "lic"
#: canonical name -> aliases, from the zoo's registry (which imports without torch).
ALIASES = {spec.name: spec.aliases for spec in REGISTRY.values()}
#: The zoo's qualities; the container allows 0..255.
MAX_QUALITY = QUALITIES[-1]
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


def progress(args, total: int, desc: str):
    """A tqdm bar on stderr that appears after one second and vanishes when done."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr,
                disable=getattr(args, "quiet", False), mininterval=0.5, delay=1.0)


def use_agg():
    """matplotlib.pyplot with the file-only Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# --------------------------------------------------------------------------- files

def read_file(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    return p.read_bytes()


def check_output_dir(path) -> Path:
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise FileNotFoundError(f"{p.parent}: output directory does not exist")
    return p


def write_file(path: str, data: bytes) -> None:
    check_output_dir(path).write_bytes(data)


# --------------------------------------------------------------------------- models

def shipped_models() -> dict:
    """{canonical: [qualities with trained weights]} from the zoo (empty lists if none ship)."""
    from .. import zoo
    shipped = zoo.list_models()
    return {name: sorted(shipped.get(name, [])) for name in ALIASES}


def model_for(name: str, quality: int | None, random_init: bool):
    """(model, "trained") with the zoo's weights, or, asked for explicitly,
    (a seeded random-init model, "random-init")."""
    from .. import api
    if random_init:
        return api.random_model(name, seed=0), "random-init"
    return api.load_model(name, quality), "trained"
