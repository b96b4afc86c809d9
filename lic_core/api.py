"""Image-level API: ``compress(image) -> bytes`` and ``decompress(bytes) -> image``.

Images are 8-bit RGB. What is accepted, and how it is converted:

* a path (``str`` / ``os.PathLike``) to anything Pillow reads, a ``PIL.Image.Image``,
  or a NumPy ``uint8`` array of shape H×W×3;
* grayscale (Pillow modes ``1``, ``L``, ``P`` without transparency; arrays H×W or
  H×W×1) is replicated to three channels;
* an alpha channel (modes ``RGBA``, ``LA``, ``PA``, ``P`` with transparency; arrays
  H×W×4 or H×W×2) is **composited on white** and dropped, with a
  :class:`LossyConversionWarning`, because the .lic format stores RGB only;
* 16-bit and floating-point images (modes ``I``, ``I;16*``, ``F``; arrays of any
  dtype but uint8) are refused with :class:`InvalidArgumentError`: scaling them
  to 8 bits is a choice the caller should make.

``decompress`` reads the model and quality from the container header and loads
the matching zoo weights (or uses the ``model=`` it is given).
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np

from . import container
from .errors import InvalidArgumentError, LicError, WeightsError

__all__ = ["compress", "decompress", "to_rgb_array", "load_model", "sample_paths",
           "LossyConversionWarning"]

SAMPLES_DIR = Path(__file__).parent / "samples"


class LossyConversionWarning(UserWarning):
    """An input image was converted in a way that loses information (e.g. alpha dropped)."""


def sample_paths() -> list[Path]:
    """The bundled Kodak sample images (see lic_core/samples/README.md), sorted by name."""
    return sorted(SAMPLES_DIR.glob("*.png"))


# --------------------------------------------------------------------------- image input

def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """out = a·rgb + (1 − a)·255 with a = alpha/255, rounded to nearest: H×W×3 uint8."""
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _warn_alpha(what: str) -> None:
    warnings.warn(f"{what} has an alpha channel: composited on white and dropped "
                  "(.lic stores RGB only)", LossyConversionWarning, stacklevel=4)


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise InvalidArgumentError(
            f"image arrays must be uint8 (0..255), got {arr.dtype}; scale and cast it first")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InvalidArgumentError(
            f"image arrays must be HxWx3 (or HxW, HxWx1 gray, HxWx4 RGBA), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidArgumentError(f"image is empty: shape {arr.shape}")
    channels = arr.shape[2]
    if channels == 1:
        return np.repeat(arr, 3, axis=2)
    if channels == 2:
        _warn_alpha("the HxWx2 (gray + alpha) array")
        return np.repeat(_composite_on_white(arr[..., :1], arr[..., 1]), 3, axis=2)
    if channels == 4:
        _warn_alpha("the HxWx4 array")
        return _composite_on_white(arr[..., :3], arr[..., 3])
    return np.ascontiguousarray(arr)


def _from_pil(img) -> np.ndarray:
    from PIL import Image
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        raise InvalidArgumentError(
            f"Pillow mode {mode!r} (16-bit or float) is not supported; convert to 8-bit RGB first")
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"))
        _warn_alpha(f"the {img.mode} image")
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode != "RGB":
        img = img.convert("RGB")
    if not isinstance(img, Image.Image):  # pragma: no cover - convert always returns an Image
        raise InvalidArgumentError("could not convert the image to RGB")
    return np.asarray(img, dtype=np.uint8)


def to_rgb_array(image) -> np.ndarray:
    """Convert a path, PIL image or uint8 array to a contiguous H×W×3 uint8 array."""
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image, UnidentifiedImageError
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"no such image file: {path}")
        try:
            with Image.open(path) as img:
                img.load()
                return _from_pil(img)
        except UnidentifiedImageError:
            raise InvalidArgumentError(f"{path}: not an image Pillow can read") from None
    if isinstance(image, np.ndarray):
        return _from_array(image)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _from_pil(image)
    raise InvalidArgumentError(
        f"image must be a path, a PIL image or an HxWx3 uint8 array, got {type(image).__name__}")


def _to_tensor(rgb: np.ndarray):
    """H×W×3 uint8 → 1×3×H×W float32 tensor in [0, 1]."""
    import torch
    # np.require copies read-only arrays (e.g. np.asarray of a PIL image): torch wants writable.
    return torch.from_numpy(np.require(rgb, np.uint8, ["C", "W"])).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


def _to_uint8(x_hat) -> np.ndarray:
    """1×3×H×W float tensor → H×W×3 uint8, clamped to [0, 1] and rounded."""
    arr = x_hat.detach().clamp(0.0, 1.0).mul(255.0).round().to(dtype=__import__("torch").uint8)
    return np.ascontiguousarray(arr[0].permute(1, 2, 0).cpu().numpy())


# --------------------------------------------------------------------------- models

@functools.lru_cache(maxsize=8)
def _load_cached(name: str, quality: int):
    from . import zoo
    model = zoo.load(name, quality)
    model.eval()
    return model


def load_model(model, quality: int | None = None):
    """Resolve ``model``: a zoo name (loaded with trained weights, cached) or a model object."""
    if isinstance(model, str):
        if quality is None:
            raise InvalidArgumentError(f"a quality is needed to load zoo model {model!r}")
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
            raise InvalidArgumentError(f"quality must be an int, got {type(quality).__name__}")
        return _load_cached(model, int(quality))
    if hasattr(model, "compress") and hasattr(model, "decompress"):
        return model
    raise InvalidArgumentError(
        f"model must be a zoo name or a zoo model object, got {type(model).__name__}")


def _inference():
    import torch
    return torch.inference_mode()


# --------------------------------------------------------------------------- public API

def compress(image, model="hyperprior", quality: int = 3, *, max_pixels: int | None = None) -> bytes:
    """Compress ``image`` with zoo model ``model`` at ``quality``; returns .lic bytes.

    ``model`` may also be a model object (e.g. ``zoo.build(...)``), whose own
    quality is then recorded and ``quality`` is ignored. Images over
    ``max_pixels`` (default: $LIC_MAX_PIXELS or 2^24) raise LimitExceededError.
    """
    rgb = to_rgb_array(image)
    h, w = rgb.shape[:2]
    limit = container.max_pixels_limit(max_pixels)
    if h * w > limit:
        from .errors import LimitExceededError
        raise LimitExceededError(f"image of {h}x{w} pixels exceeds the limit of {limit} pixels")
    net = load_model(model, quality)
    with _inference():
        data = net.compress(_to_tensor(rgb))
    if not isinstance(data, (bytes, bytearray)):
        raise LicError(f"model {getattr(net, 'name', net)!r} returned {type(data).__name__}, not bytes")
    return bytes(data)


def decompress(data, *, model=None, max_pixels: int | None = None) -> np.ndarray:
    """Decode .lic bytes to an H×W×3 uint8 array.

    The header names model and quality; the zoo weights are loaded from them.
    A file with quality 0 (weights not from the zoo) needs ``model=`` (the model
    object that wrote it).
    """
    header = container.unpack(data, max_pixels=max_pixels)
    if model is None:
        if header.quality == 0:
            raise WeightsError(
                f"this file was written by a {header.model!r} model with weights not from the zoo "
                "(quality 0); pass model= the model that wrote it")
        net = load_model(header.model, header.quality)
    else:
        net = load_model(model)
    with _inference():
        x_hat = net.decompress(bytes(data))
    if isinstance(x_hat, dict):  # tolerate a CompressAI-style {"x_hat": ...} result
        x_hat = x_hat["x_hat"]
    out = _to_uint8(x_hat)
    if out.shape != (header.height, header.width, 3):
        raise LicError(f"decoder returned an image of shape {out.shape}, "
                       f"the header says {header.height}x{header.width}x3")
    return out
