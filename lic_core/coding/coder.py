"""Native rANS coder: NumPy symbols in, bytes out (the lic native stream format).

Symbol ``i`` is coded with table ``indexes[i]`` of a :class:`TableSet` given in
the CompressAI layout, so tables can be shared with :mod:`lic_core.ans`:

* ``cdfs`` int ``[n_tables, max_len]``: row ``t`` holds ``L_t = cdf_lengths[t]``
  entries, ``cdf[0] = 0 < cdf[1] < ... < cdf[L_t - 1] = 2**precision`` (every slot
  has frequency >= 1); padding past ``L_t`` is ignored.
* Table ``t`` has slots ``0 .. E_t`` with ``E_t = L_t - 2``; a symbol ``x`` maps to the
  value ``v = x - offsets[t]``. Values ``0 <= v < E_t`` are coded with probability
  ``(cdf[v+1] - cdf[v]) / 2**precision``; any other int32 value is coded as the
  escape slot ``E_t`` followed by a bypass code of 6 + floor(log2(w + 1)) bits
  (``w`` = 2(v - E_t) for v >= E_t, -2v - 1 for v < 0), so every int32 round-trips.

Shapes: ``symbols`` and ``indexes`` may have any shape but must have the same
one; both are read in C order, and ``decode`` returns an int32 array shaped like
``indexes``. Inputs may be lists or any integer NumPy array of any byte order
(converted once, by value; zero-copy when already C-contiguous, aligned,
native-order int32); floats raise InvalidArgumentError. A decode call whose
``indexes`` do not match the stream's symbol count fails before they are copied.

Guarantees: ``decode(encode(s, i, T), i, T) == s`` for every int32 array ``s``;
the same input gives the same bytes on every machine; decoding never reads
outside its input and raises a :class:`lic_core.LicError` subclass on a
truncated, corrupt or foreign stream (the stream's symbol count, lane states and
word count are all checked). The stream is within 0.1 % + 16 bytes of the ideal
``-sum(log2 p)`` under the tables (escape bits included). The GIL is released
while coding calls of 4096 symbols or more.

Example::

    >>> import numpy as np
    >>> from lic_core import coder
    >>> tables = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
    >>> data = coder.encode([0, 1, -1, 7], [0, 0, 0, 0], tables)
    >>> coder.decode(data, [0, 0, 0, 0], tables).tolist()
    [0, 1, -1, 7]

Precision: ``PRECISION`` (16) is the default of every ``precision=`` argument and
of lic-core's tables and models; ``MAX_PRECISION`` (16) is the largest the engine
codes. Both come from the compiled engine (``LIC_DEFAULT_PRECISION`` and
``LIC_MAX_PRECISION`` in csrc/lic/lic.h), the one place the number is defined.

The stream format is specified in docs/stream-format.md.
"""
from ._coder import MAX_PRECISION, PRECISION, StreamDecoder, StreamEncoder, TableSet, stream_info
from ._coder import decode as _decode
from ._coder import encode as _encode

__all__ = ["TableSet", "encode", "decode", "StreamEncoder", "StreamDecoder", "stream_info",
           "PRECISION", "MAX_PRECISION"]


def encode(symbols, indexes, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
    """Encode ``symbols`` (int, any shape) with tables ``indexes`` (same shape) -> bytes.

    ``cdfs`` is a :class:`TableSet` (then ``cdf_lengths``/``offsets``/``precision``
    come from it) or a raw ``[n_tables, max_len]`` cdf array validated for this
    call only (bind a TableSet once when coding many times).
    """
    return _encode(symbols, indexes, cdfs, cdf_lengths, offsets, precision=precision)


def decode(data, indexes, cdfs, cdf_lengths=None, offsets=None, *, precision=PRECISION):
    """Decode a stream made by :func:`encode` -> int32 array shaped like ``indexes``.

    ``indexes`` must be the ones used to encode; the stream's symbol count must
    equal ``indexes.size``. Raises CorruptStreamError (or a subclass) when the
    stream is truncated, corrupt, foreign or fails the end-of-stream check.
    """
    return _decode(data, indexes, cdfs, cdf_lengths, offsets, precision=precision)
