"""A toy codec built on lic-core: a float array with per-element Gaussian parameters → bytes.

The pattern of a learned codec's conditional stream, without the networks: the encoder
and the decoder both know ``scales`` and ``means`` (in a real codec the hyperprior
derives them from side information), the encoder quantises ``values`` around the means,
and lic-core's native coder codes the integers with the Gaussian table of each
element's scale::

    symbols = round(values - means)               int32, any shape
    indexes = tables.scale_indexes(scales, SCALE_TABLE)
    data    = coder.encode(symbols, indexes, TABLES)

and back: ``decode(data, scales, means) = coder.decode(data, indexes, TABLES) + means``,
so ``decode(encode(v, s, m), s, m) == float32(quantize(v, m) + m)`` exactly, for every
finite input whose symbols fit int32 (escapes carry the values far outside a table).

Errors are lic-core's: non-finite values or means and symbols outside int32 raise
``InvalidArgumentError`` / ``SymbolOutOfRangeError``, a NaN scale ``InvalidArgumentError``,
and a damaged stream a ``CorruptStreamError``, unless the damage is of the few kinds a
bare stream cannot notice (an escape's raw bits, a move between two slots of equal
width: docs/stream-format.md §5); a real codec frames its streams with a checksum, as
the .lic container does. test_toy_codec.py fuzzes all of it with
``lic_core.testing``.

Example::

    >>> import numpy as np
    >>> v = np.array([0.2, -3.7, 1e6], np.float32)
    >>> s = np.array([0.5, 2.0, 8.0], np.float32)
    >>> m = np.zeros(3, np.float32)
    >>> decode(encode(v, s, m), s, m).tolist()
    [0.0, -4.0, 1000000.0]
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from lic_core import coder, tables
from lic_core.errors import InvalidArgumentError, SymbolOutOfRangeError

__all__ = ["encode", "decode", "quantize", "table_set", "SCALE_TABLE"]

#: CompressAI's 64 scales (0.11 .. 256), the ones lic-core's models use.
SCALE_TABLE = tables.scale_table()


@lru_cache(maxsize=None)
def table_set() -> coder.TableSet:
    """The 64 Gaussian tables, validated and bound once (0.5 ms), then shared by every call."""
    return coder.TableSet(*tables.gaussian_tables(SCALE_TABLE))


def _finite(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0])
        raise InvalidArgumentError(f"{name}[{bad}] (C order) is {arr.reshape(-1)[bad]}; it must be finite")
    return arr


def quantize(values, means) -> np.ndarray:
    """``round(values - means)`` as int32 (halves to even, as NumPy rounds); refuses
    non-finite input and results outside int32."""
    q = np.rint(_finite("values", values) - _finite("means", means))
    if q.size and (q.min() < -(2**31) or q.max() > 2**31 - 1):
        raise SymbolOutOfRangeError("a quantised value does not fit int32, the coder's symbol type")
    return q.astype(np.int32)


def _indexes(scales, shape) -> np.ndarray:
    scales = np.asarray(scales)
    if scales.shape != tuple(shape):
        raise InvalidArgumentError(f"scales has shape {scales.shape}, the values {tuple(shape)}")
    return tables.scale_indexes(scales, SCALE_TABLE)  # NaN → InvalidArgumentError


def encode(values, scales, means) -> bytes:
    """float arrays of one shape → one native lic stream (bytes)."""
    symbols = quantize(values, means)
    means_shape = np.shape(means)
    if means_shape != symbols.shape:
        raise InvalidArgumentError(f"means has shape {means_shape}, the values {symbols.shape}")
    return coder.encode(symbols, _indexes(scales, symbols.shape), table_set())


def decode(data, scales, means) -> np.ndarray:
    """A stream from :func:`encode` with the same scales and means → float32 values
    ``symbols + means`` shaped like ``scales``."""
    means = _finite("means", means)
    indexes = _indexes(scales, means.shape)
    symbols = coder.decode(data, indexes, table_set())
    return (symbols.astype(np.float64) + means).astype(np.float32)
