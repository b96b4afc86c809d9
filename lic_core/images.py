"""Image conversion, in one place: what ``compress`` accepts and how it becomes a tensor.

Images are 8-bit RGB. What :func:`to_rgb_array` accepts, and how it converts:

* a path (``str`` / ``os.PathLike``) to anything Pillow reads, a ``PIL.Image.Image``,
  or a NumPy ``uint8`` array of shape H×W×3;
* grayscale (Pillow modes ``1``, ``L``, ``P`` without transparency; arrays H×W or
  H×W×1) is replicated to three channels;
* an alpha channel (modes ``RGBA``, ``LA``, ``PA``, ``P`` with transparency; arrays
  H×W×4 or H×W×2) is **composited on white** and dropped, with a
  :class:`LossyConversionWarning`, because the .lic format stores RGB only;
* 16-bit and floating-point images (modes ``I``, ``I;16*``, ``F``; arrays of any
  dtype but uint8) are refused with :class:`InvalidArgumentError`: scaling them
  to 8 bits is a choice the caller should make. That includes **16-bit PNGs** of any
  colour type: Pillow opens a 16-bit RGB(A) PNG as 8-bit ``RGB``/``RGBA`` (keeping the
  high byte), so a path is checked by the bit depth in the file's IHDR chunk, and a
  PNG opened by Pillow but not yet loaded by the raw mode of its decoder;
* the **EXIF orientation** of a file or PIL image is applied as image viewers apply it
  (``PIL.ImageOps.exif_transpose``): a photo taken sideways is coded the way it is
  shown, since .lic has no orientation field to carry the tag;
* an **ICC colour profile** other than sRGB is dropped with a
  :class:`LossyConversionWarning` (the pixel values are kept; .lic stores no profile, and
  a decoder shows them as sRGB). An sRGB profile is dropped silently: sRGB is what a
  profile-less image is taken to be, so nothing changes;
* a path must name a regular file: a directory, a FIFO (reading it waits for a writer), a
  device or a socket is refused before it is opened (:mod:`lic_core.files`).

``max_pixels=`` (an int or a :class:`~lic_core.limits.Limits`) checks the image's size,
padded as the models pad it, against the pixel limit after its header is read and
before its pixels are decoded; None (the default) leaves that to the caller.
``notes=`` (a list) collects what was converted without loss that a program may want to
say (greyscale replicated to RGB): the ``lic`` program prints it once per run.

:func:`to_tensor` and :func:`to_uint8` are the two directions between that array and
the models' 1×3×H×W float tensors in [0, 1]. This module needs NumPy only; the two
tensor functions import torch when called. Used by :mod:`lic_core.api`, the ``lic``
program and :mod:`lic_core.analysis.info`.

Example::

    >>> import numpy as np
    >>> to_rgb_array(np.zeros((2, 3), np.uint8)).shape   # gray H×W → H×W×3
    (2, 3, 3)
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from .errors import InvalidArgumentError, LimitExceededError
from .files import open_regular
from .limits import Limits

__all__ = ["to_rgb_array", "to_tensor", "to_uint8", "sample_paths", "SAMPLES_DIR",
           "LossyConversionWarning"]

#: the bundled Kodak samples (lic_core/samples/README.md)
SAMPLES_DIR = Path(__file__).parent / "samples"


class LossyConversionWarning(UserWarning):
    """An input image was converted in a way that loses information (e.g. alpha dropped)."""


def sample_paths() -> list[Path]:
    """The bundled Kodak sample images (see lic_core/samples/README.md), sorted by name."""
    return sorted(SAMPLES_DIR.glob("*.png"))


# --------------------------------------------------------------------------- any image → H×W×3 uint8

def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """out = a·rgb + (1 − a)·255 with a = alpha/255, rounded to nearest: H×W×3 uint8."""
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _warn_alpha(what: str) -> None:
    # stacklevel 4: _warn_alpha, _from_array/_from_pil, to_rgb_array, then its caller
    warnings.warn(f"{what} has an alpha channel: composited on white and dropped "
                  "(.lic stores RGB only)", LossyConversionWarning, stacklevel=4)


def _greyscale_note(notes, what: str) -> None:
    if notes is not None:
        notes.append(f"{what} is greyscale: coded as RGB with three equal channels "
                     "(.lic stores RGB; it decodes to RGB)")


def _from_array(arr: np.ndarray, limits: Limits | None = None, notes=None) -> np.ndarray:
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
    if limits is not None:
        limits.check_image(arr.shape[0], arr.shape[1])
    channels = arr.shape[2]
    if channels == 1:
        _greyscale_note(notes, "the HxW array")
        return np.repeat(arr, 3, axis=2)
    if channels == 2:
        _warn_alpha("the HxWx2 (gray + alpha) array")
        return np.repeat(_composite_on_white(arr[..., :1], arr[..., 1]), 3, axis=2)
    if channels == 4:
        _warn_alpha("the HxWx4 array")
        return _composite_on_white(arr[..., :3], arr[..., 3])
    return np.ascontiguousarray(arr)


#: PNG signature, then the IHDR chunk: length, type, width, height, bit depth, colour type
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale + alpha", 6: "RGBA"}
#: how to make an 8-bit copy, named in the refusal
_TO_8_BIT = ("convert it to 8 bits per channel first, e.g. `magick IN.png -depth 8 OUT.png` "
             "(ImageMagick) or, in Python, scale the 16-bit values by 255/65535 and cast to uint8")


def _png_ihdr(head: bytes) -> tuple[int, str] | None:
    """(bit depth, colour type name) from the first 26 bytes of a PNG file, None if
    ``head`` does not start like a PNG (signature, then the IHDR chunk)."""
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], _PNG_COLOUR.get(head[25], f"colour type {head[25]}")


def _refuse_16_bit_png(what: str, colour: str) -> None:
    raise InvalidArgumentError(
        f"{what} is a 16-bit PNG ({colour}, 16 bits per channel): lic codes 8-bit images "
        f"and will not choose how to reduce it; {_TO_8_BIT}")


def _check_16_bit_pil(img) -> None:
    """A Pillow image that is about to drop the low byte of each sample: a PNG whose
    decoder reads 16-bit raw data into an 8-bit mode. Visible only before ``load()``
    (its ``tile`` is emptied after); a path is checked by its IHDR instead."""
    if getattr(img, "format", None) != "PNG":
        return
    for tile in getattr(img, "tile", None) or ():
        rawmode = tile[3] if isinstance(tile, tuple) and len(tile) > 3 else None
        if isinstance(rawmode, str) and ";16" in rawmode and not img.mode.startswith("I;16"):
            _refuse_16_bit_png("the image", img.mode)


#: the EXIF tag that says how a viewer turns the stored pixels to show them (1: as stored)
_EXIF_ORIENTATION = 0x0112
#: Pillow modes whose conversion to RGB only replicates one channel
_GREYSCALE_MODES = ("1", "L")


def _icc_description(profile: bytes) -> str | None:
    """The description an ICC profile gives itself, None if it cannot be read here
    (Pillow without littlecms, or not a profile)."""
    try:
        from PIL import ImageCms
        return ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.profile_description or None
    except Exception:  # ImportError, ImageCms.PyCMSError, OSError: an unreadable profile
        return None


def _warn_icc(img, what: str) -> None:
    """Warn that a profile other than sRGB is dropped (module docstring)."""
    profile = img.info.get("icc_profile")
    if not profile:
        return
    description = _icc_description(profile)
    if description is not None and "srgb" in description.lower():
        return
    name = f"an ICC colour profile ({description})" if description else "an ICC colour profile"
    # stacklevel 4: _warn_icc, _from_pil, to_rgb_array, then its caller
    warnings.warn(f"{what} has {name}: dropped, its pixel values kept as they are (.lic stores "
                  "no profile, so they will be shown as sRGB); convert it to sRGB first if its "
                  "colours matter", LossyConversionWarning, stacklevel=4)


def _exif_transposed(img):
    """``img`` turned as its EXIF orientation tag says a viewer shows it (unchanged, not
    copied, without the tag)."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: viewers show the pixels as stored
        return img
    if orientation not in range(2, 9):
        return img
    from PIL import ImageOps
    return ImageOps.exif_transpose(img)


def _from_pil(img, limits: Limits | None = None, notes=None, what: str = "the image") -> np.ndarray:
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        raise InvalidArgumentError(
            f"Pillow mode {mode!r} (16-bit or float) is not supported; {_TO_8_BIT}")
    _check_16_bit_pil(img)
    if limits is not None:  # before load(): the header's size, not the decoded pixels
        limits.check_image(img.height, img.width)
    _warn_icc(img, what)
    img = _exif_transposed(img)
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"))
        _warn_alpha(f"the {img.mode} image")
        if mode in ("LA", "La"):
            _greyscale_note(notes, what)
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode in _GREYSCALE_MODES:
        _greyscale_note(notes, what)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def to_rgb_array(image, *, max_pixels: "int | Limits | None" = None, notes=None) -> np.ndarray:
    """Convert a path, PIL image or uint8 array to a contiguous H×W×3 uint8 array
    (the rules, ``max_pixels`` and ``notes`` are in this module's docstring)."""
    limits = None if max_pixels is None else Limits.resolve(max_pixels)
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image, UnidentifiedImageError
        path = Path(image)
        f, _ = open_regular(path, InvalidArgumentError, "; give an image file")
        with f:
            png = _png_ihdr(f.read(26))
            if png is not None and png[0] == 16:
                _refuse_16_bit_png(str(path), png[1])
            f.seek(0)
            try:
                with Image.open(f) as img:
                    if limits is not None:
                        limits.check_image(img.height, img.width)
                    img.load()
                    return _from_pil(img, notes=notes, what=str(path))
            except UnidentifiedImageError:
                raise InvalidArgumentError(f"{path}: not an image Pillow can read") from None
            except Image.DecompressionBombError as e:
                raise LimitExceededError(f"{path}: {e}") from None
    if isinstance(image, np.ndarray):
        return _from_array(image, limits, notes)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _from_pil(image, limits, notes)
    raise InvalidArgumentError(
        f"image must be a path, a PIL image or an HxWx3 uint8 array, got {type(image).__name__}")


# --------------------------------------------------------------------------- array ↔ tensor

def to_tensor(rgb: np.ndarray):
    """H×W×3 uint8 → 1×3×H×W float32 tensor, x = rgb / 255 in [0, 1]."""
    import torch
    # np.require copies read-only arrays (e.g. np.asarray of a PIL image): torch wants writable.
    arr = np.require(rgb, np.uint8, ["C", "W"])
    # divided in place: the float copy is new, and a second one costs 200 MB at 16 MP
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_uint8(x_hat) -> np.ndarray:
    """1×3×H×W float tensor → H×W×3 uint8: round(255 · clamp(x̂, 0, 1))."""
    import torch
    # one float copy (the clamp's), scaled and rounded in place: a 16 MP float path
    # decode held two more 200 MB float copies here beside x̂ (issue 21 point 5)
    arr = x_hat.detach().clamp(0.0, 1.0)
    arr = arr.mul_(255.0).round_().to(dtype=torch.uint8)
    return np.ascontiguousarray(arr[0].permute(1, 2, 0).cpu().numpy())
