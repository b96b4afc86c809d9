"""lic-core: learned image compression around a compiled, checked rANS coder.

Importing ``lic_core`` needs NumPy only. The coder faces (``lic_core.coder``,
``lic_core.tables``, ``lic_core.ans``) never import torch; the image-level API
(``compress``/``decompress``), the entropy models and the zoo load torch on
first use. Without torch (``pip install -e .``), ``compress``/``decompress`` raise
``lic_core.errors.MissingDependencyError`` naming the extra to install, never a bare
"No module named 'torch'".
"""
from .errors import (  # noqa: F401
    ContainerError, CorruptStreamError, IndexOutOfRangeError, InvalidArgumentError,
    InvalidTableError, LicError, LimitExceededError, MissingDependencyError,
    SymbolOutOfRangeError, TruncatedStreamError, UnsupportedFormatError, WeightsError,
)

__version__ = "0.1.0"


def get_include() -> str:
    """The folder holding the engine's C headers (``lic/lic.h``), for another project's
    extension: ``include_dirs=[lic_core.get_include()]`` (see lic_core/_build_info.py)."""
    from ._build_info import get_include as _get_include
    return _get_include()


def get_library_dir() -> str:
    """The folder holding the engine's static library (``liblic.a``) lic-core ships:
    ``library_dirs=[lic_core.get_library_dir()], libraries=["lic", "stdc++", "m", "pthread"]``."""
    from ._build_info import get_library_dir as _get_library_dir
    return _get_library_dir()


# lic_core.compress and lic_core.decompress are lic_core.api's functions themselves (their
# signatures and docstrings, not a **kwargs wrapper), bound on first use so that importing
# lic_core stays cheap; api.compress raises MissingDependencyError when torch is missing.
_API = ("compress", "decompress")


def __getattr__(name):
    if name in _API:
        from . import api
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lic_core' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


def _register_pillow_plugin():
    # Registers the .lic reader with Pillow if Pillow is importable; decoding
    # itself imports torch lazily, so this costs nothing for coder-only users.
    try:
        from . import pillow_plugin  # noqa: F401
    except ImportError:
        pass


_register_pillow_plugin()
