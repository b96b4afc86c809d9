"""Image folders: which files are images, how one is read, and where the project's data
sets are by default.

The defaults (``../shared/data/<name>`` beside a source checkout) serve training and
benchmarks only, and every caller lets a flag override them; nothing that compresses or
decompresses reads them. Imports without torch.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from .errors import InvalidArgumentError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp", ".tif", ".tiff")


def repo_root() -> str:
    """The checkout this package lives in (this file is lic_core/datasets.py)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_folder(name: str) -> str | None:
    """``../shared/data/<name>`` relative to the repository, if it exists."""
    path = os.path.normpath(os.path.join(repo_root(), "..", "shared", "data", name))
    return path if os.path.isdir(path) else None


def list_images(folder: str) -> list[str]:
    """Every image file under ``folder`` (recursively), sorted; an error if there is none."""
    if not folder or not os.path.isdir(folder):
        raise InvalidArgumentError(f"image folder not found: {folder!r}")
    files = sorted(f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise InvalidArgumentError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder!r}")
    return files


def load_rgb(path: str) -> np.ndarray:
    """Decode an image file to an H×W×3 uint8 array."""
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def calibration_crops(folder, count: int, size: int = 256) -> list[np.ndarray]:
    """The crops a release's integer networks are calibrated on: the first ``count``
    images of ``folder`` (.png, .jpg, .jpeg directly inside it, in name order), each
    centre-cropped to ``size`` x ``size``, as H x W x 3 float32 in [0, 1]. Deterministic,
    so a conversion repeats exactly (tools/make_integer_release.py,
    tools/make_decoder_release.py); release time only."""
    from pathlib import Path
    from PIL import Image
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    out = []
    for path in paths[:count]:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        h, w = a.shape[:2]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        out.append(np.ascontiguousarray(a[top:top + size, left:left + size]))
    if not out:
        raise InvalidArgumentError(f"no images in {folder}")
    return out
