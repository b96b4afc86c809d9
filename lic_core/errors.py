"""Exceptions of lic-core: one hierarchy, mapped from the engine's status enum.

The numbers mirror ``csrc/lic/status.h``; this module is the only place that
turns a status code into a Python exception, so every face raises the same
classes with the same meaning.
"""

__all__ = [
    "LicError", "InvalidArgumentError", "InvalidTableError", "IndexOutOfRangeError",
    "CorruptStreamError", "TruncatedStreamError", "UnsupportedFormatError",
    "LimitExceededError", "SymbolOutOfRangeError", "ContainerError", "WeightsError",
    "raise_for_status",
]


class LicError(Exception):
    """Base class of every error lic-core raises on bad input."""


class InvalidArgumentError(LicError, ValueError):
    """A caller-side mistake: wrong shapes, dtypes, sizes or parameters."""


class InvalidTableError(LicError, ValueError):
    """A CDF table is not monotone, has the wrong total or is too short."""


class IndexOutOfRangeError(LicError, IndexError):
    """A table index names no table of the table set."""


class CorruptStreamError(LicError):
    """The compressed stream is inconsistent: corrupt, or not produced by this coder."""


class TruncatedStreamError(CorruptStreamError):
    """The compressed stream ended before everything was decoded."""


class UnsupportedFormatError(CorruptStreamError):
    """The stream or file has a version, lane count or precision we do not read."""


class LimitExceededError(LicError):
    """A size limit was exceeded (pixels, symbols, escape length)."""


class SymbolOutOfRangeError(LicError, ValueError):
    """A symbol cannot be represented in the requested stream format."""


class ContainerError(CorruptStreamError):
    """A .lic container could not be parsed."""


class WeightsError(LicError):
    """A weight file is missing, malformed or inconsistent with its model."""


class MissingDependencyError(LicError, ImportError):
    """An optional dependency the models need (torch) is not installed. Both a LicError
    (lic-core could not do what was asked) and an ImportError (what it is)."""


# Engine status codes (csrc/lic/status.h) -> exception classes. Append only.
_STATUS_TO_ERROR = {
    1: InvalidArgumentError,
    2: InvalidTableError,
    3: IndexOutOfRangeError,
    4: CorruptStreamError,
    5: TruncatedStreamError,
    6: UnsupportedFormatError,
    7: MemoryError,
    8: LimitExceededError,
    9: SymbolOutOfRangeError,
    10: ContainerError,
    11: WeightsError,
}


def raise_for_status(status: int, context: str = "") -> None:
    """Raise the exception for an engine status code (no-op for 0 = LIC_OK)."""
    if status == 0:
        return
    cls = _STATUS_TO_ERROR.get(status, LicError)
    msg = context or f"engine returned status {status}"
    raise cls(msg)
