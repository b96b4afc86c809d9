"""What the CLI tests share besides the ``lic`` fixture (tests/cli/conftest.py)."""
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
#: a format-1 hyperprior file, written before format 2 (decodes with zoo-v3)
FIXTURE_LIC = REPO / "tests" / "fixtures" / "container_v1_hyperprior.lic"
#: the one quality the tiny zoo's weights ship (tests/conftest.py, tiny_zoo)
QUALITY = 2


def png(path, size=(40, 24), seed=0, mode="RGB", **save):
    """A PNG of seeded random pixels, ``size`` = (width, height), RGB or L; ``save`` goes
    to Pillow's save. Returns ``path``."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(path, **save)
    return path


def error_lines(err):
    """The ``lic: error: ...`` lines of a standard error text."""
    return [line for line in err.splitlines() if line.startswith("lic: error: ")]
