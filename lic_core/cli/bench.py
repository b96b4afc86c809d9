"""``lic bench ARGS``: runs ``bench/coder.py`` of the source checkout next to the package
(everything after ``bench`` is its own); an installation without one says so (exit 1)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .common import CommandError


def main(argv: list[str]) -> int:
    script = Path(__file__).resolve().parents[2] / "bench" / "coder.py"
    if not script.is_file():
        raise CommandError(f"{script} not found: `lic bench` runs bench/coder.py from a source "
                           "checkout (pip install -e .), and this installation has none")
    return subprocess.call([sys.executable, str(script), *argv])
