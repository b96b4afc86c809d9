"""lic-core: learned image compression around a compiled, checked rANS coder.

Importing ``lic_core`` needs NumPy only. The coder faces (``lic_core.coder``,
``lic_core.tables``, ``lic_core.ans``) never import torch; the image-level API
(``compress``/``decompress``), the entropy models and the zoo load torch on
first use.
"""
from .errors import (  # noqa: F401
    ContainerError, CorruptStreamError, IndexOutOfRangeError, InvalidArgumentError,
    InvalidTableError, LicError, LimitExceededError, SymbolOutOfRangeError,
    TruncatedStreamError, UnsupportedFormatError, WeightsError,
)

__version__ = "0.1.0"


def compress(image, model="hyperprior", quality=3, **kwargs):
    """Compress an image (path, PIL image or HxWx3 uint8 array) to .lic bytes."""
    from .api import compress as _compress
    return _compress(image, model=model, quality=quality, **kwargs)


def decompress(data, **kwargs):
    """Decode .lic bytes to an HxWx3 uint8 NumPy array."""
    from .api import decompress as _decompress
    return _decompress(data, **kwargs)


def _register_pillow_plugin():
    # Registers the .lic reader with Pillow if Pillow is importable; decoding
    # itself imports torch lazily, so this costs nothing for coder-only users.
    try:
        from . import pillow_plugin  # noqa: F401
    except ImportError:
        pass


_register_pillow_plugin()
