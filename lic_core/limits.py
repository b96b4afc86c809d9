"""The size limit of every encode and decode, resolved once per call and passed down.

One number, ``max_pixels``, bounds the image a call may work on. It counts the pixels
the models actually process: the image *padded* to a multiple of the stride, because
that, not H x W, is what g_a, g_s and the latents are allocated for. A 1 x 65536 image
has 65536 pixels but is padded to 64 x 65536 (4 Mi pixels); counting H x W let such a
file, inside the limit, decode for minutes and reach 12.7 GB.

* ``.lic`` files (``container.pack``/``unpack``, a model's ``compress``/``decompress``,
  ``lic_core.compress``/``decompress``) pad by ``MAX_PAD_MULTIPLE`` = 64, the largest
  stride of any family: the container cannot know how a reader pads, and a file must be
  accepted or refused the same whichever model reads it.
* CompressAI's layout (``compress_strings``/``decompress_strings``) has no image size:
  the image is the latent times the model's stride, so the bound on a latent of h x w is
  h * w * stride^2 <= max_pixels (:meth:`Limits.check_latent`).

Resolution, once, at the outermost entry point: the caller's ``max_pixels=``, else
``$LIC_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`. The result is a frozen
:class:`Limits`; every function that takes ``max_pixels=`` also takes a ``Limits`` and
uses it as is, so the api hands the one resolved value to the container and the model
and nothing below re-reads the environment.

Torch-free and NumPy-free: the container (the bottom layer) imports it.

Example::

    >>> Limits.resolve(4096).check_image(64, 64)          # 64 x 64 pads to itself
    >>> Limits.resolve(4096).padded_pixels(1, 65)         # 1 x 65 pads to 64 x 128
    8192
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InvalidArgumentError, LimitExceededError

__all__ = ["Limits", "DEFAULT_MAX_PIXELS", "MAX_PAD_MULTIPLE", "ENV_VAR", "padded_side"]

#: 2^24 pixels (16.7 MP, e.g. 4096 x 4096; a multiple of 64 on both sides, so the padding
#: rule costs such images nothing). Decoding costs up to ~1 KB of memory per processed
#: pixel at the largest default channel counts (N=192, M=320: measured in
#: docs/reliability.md), so a hostile header's legitimate demand stays near 16 GB.
DEFAULT_MAX_PIXELS = 1 << 24
#: Models pad each image side up to a multiple of their total stride, at most 64.
MAX_PAD_MULTIPLE = 64
ENV_VAR = "LIC_MAX_PIXELS"
#: How a refusal says to raise the limit: every way there is, since the same message
#: reaches Python callers, the ``lic`` command line and anyone who set the variable.
_RAISE_IT = f"raise it with max_pixels= (Python), --max-pixels (lic) or ${ENV_VAR}"


def padded_side(side: int, multiple: int = MAX_PAD_MULTIPLE) -> int:
    """``side`` rounded up to a multiple of ``multiple`` (what a model pads it to)."""
    return -(-side // multiple) * multiple


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{what} must be a positive int, got {value!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """The resolved limit of one call: ``max_pixels`` processed (padded) pixels."""

    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self):
        _positive_int(self.max_pixels, "max_pixels")

    @classmethod
    def resolve(cls, max_pixels: "int | Limits | None" = None) -> "Limits":
        """``max_pixels`` as given (an int, or a Limits already resolved by a caller
        above), else ``$LIC_MAX_PIXELS``, else the default. Read once per call chain."""
        if isinstance(max_pixels, Limits):
            return max_pixels
        if max_pixels is not None:
            return cls(_positive_int(max_pixels, "max_pixels"))
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            return cls()
        try:
            value = int(env)
        except ValueError:
            raise InvalidArgumentError(f"{ENV_VAR} must be an integer, got {env!r}") from None
        if value < 1:
            raise InvalidArgumentError(f"{ENV_VAR} must be positive, got {value}")
        return cls(value)

    @staticmethod
    def padded_pixels(height: int, width: int, multiple: int = MAX_PAD_MULTIPLE) -> int:
        """Pixels a model processes for a height x width image padded to ``multiple``."""
        return padded_side(height, multiple) * padded_side(width, multiple)

    def check_image(self, height: int, width: int, *, multiple: int = MAX_PAD_MULTIPLE,
                    field: str = "image") -> None:
        """LimitExceededError unless the padded image fits; call it before allocating
        anything proportional to the image. ``field`` starts the message (the container
        names its header field there)."""
        area = self.padded_pixels(height, width, multiple)
        if area > self.max_pixels:
            raise LimitExceededError(
                f"{field}: a {width}x{height} image (width x height) is processed padded to "
                f"{padded_side(width, multiple)}x{padded_side(height, multiple)} = {area} "
                f"pixels, which exceeds the limit of {self.max_pixels} pixels ({_RAISE_IT})")

    def max_latent_area(self, stride: int) -> int:
        """Largest h * w of a latent whose image (h * stride) x (w * stride) fits."""
        return self.max_pixels // (stride * stride)

    def check_latent(self, height: int, width: int, stride: int, *, count: int = 1,
                     field: str = "shape") -> None:
        """LimitExceededError unless ``count`` images decoded from an h x w latent of a
        model with total stride ``stride`` fit together (CompressAI's layout, where the
        latent is all there is to say how large the images are)."""
        area = count * height * width * stride * stride
        if area > self.max_pixels:
            raise LimitExceededError(
                f"{field}: {count} image(s) from a {width}x{height} latent (width x height) are "
                f"{width * stride}x{height * stride} pixels each, {area} in all, which exceeds "
                f"the limit of {self.max_pixels} pixels ({_RAISE_IT})")
