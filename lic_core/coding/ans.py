"""CompressAI-compatible rANS coder: a drop-in for ``compressai.ans``.

Streams are byte-for-byte those of CompressAI 1.2.8 (format: docs/compat.md and
shared/compat/SPEC.md section 1), so either library decodes the other's output
wherever CompressAI itself works. NumPy only; torch is never imported.

The API mirrors CompressAI's::

    >>> from lic_core.ans import RansEncoder, RansDecoder
    >>> cdfs, cdf_lengths, offsets = [[0, 30000, 60000, 65536]], [4], [0]
    >>> data = RansEncoder().encode_with_indexes([0, 1, 7, -3], [0, 0, 0, 0],
    ...                                          cdfs, cdf_lengths, offsets)
    >>> RansDecoder().decode_with_indexes(data, [0, 0, 0, 0], cdfs, cdf_lengths, offsets)
    [0, 1, 7, -3]

Arguments (for every coding method):

* ``symbols``, ``indexes``: 1-D sequences of int32 (lists as CompressAI passes
  them, tuples, or integer NumPy arrays). ``indexes[i]`` picks the table of
  symbol ``i``.
* ``cdfs``: one row per table, a sequence of rows or a 2-D integer array. Row t
  is a cdf of precision 16: ``0 = cdf[0] < cdf[1] < ... < cdf[L_t - 1] = 65536``
  with ``L_t = cdf_lengths[t]``; entries past ``L_t`` are ignored (CompressAI
  passes zero-padded rows).
* ``offsets[t]``: the symbol of slot 0. Slots ``0 .. L_t - 3`` are symbols
  ``offsets[t] + s``; slot ``L_t - 2`` is the escape: any other int32 symbol
  is coded as the escape plus 4-bit bypass nibbles (Golomb-like, in the stream).

Differences from CompressAI, all where CompressAI crashes, hangs or reads out of
bounds (details in docs/compat.md):

* 0 symbols encode to the 8-byte initial state ``00 00 00 80 00 00 00 00``;
  1 symbol and two frequency-1 symbols work.
* Every int32 symbol round-trips. Escapes whose folded value is ``>= 2**28``
  are written with more nibbles, which CompressAI cannot encode (it loops) nor
  decode; streams without such escapes are identical to CompressAI's.
* Decoding is checked: bad tables, out-of-range indexes, truncated streams,
  over-long escapes and values outside int32 raise ``lic_core.errors``
  classes. ``decode_with_indexes`` also checks (``check_end=True``) that the
  stream ends exactly after the last symbol; pass ``check_end=False`` to
  decode only a prefix, as CompressAI allows. For streaming decoding call
  ``RansDecoder.check_end()`` after the last ``decode_stream``.
* Extras: ``decode_with_indexes_np`` and ``decode_stream_np`` return int32
  arrays instead of lists; ``encode_with_indexes_np`` is an alias of
  ``encode_with_indexes`` (the name some CompressAI forks use);
  ``BufferedRansEncoder.pending_items``.

Errors: ``InvalidArgumentError`` (wrong types or lengths),
``InvalidTableError`` (bad cdf, cdf_length or offset),
``IndexOutOfRangeError``, ``SymbolOutOfRangeError`` (a symbol outside int32),
``TruncatedStreamError`` / ``CorruptStreamError`` (the stream).

Threads: the GIL is released while coding, so different objects code in
parallel; calls on one object are serialised.
"""
from ._ans import (  # noqa: F401  (re-exported public API)
    BYPASS_BITS,
    PRECISION,
    BufferedRansEncoder,
    RansDecoder,
    RansEncoder,
)

__all__ = ["RansEncoder", "BufferedRansEncoder", "RansDecoder", "PRECISION", "BYPASS_BITS",
           "INITIAL_STATE_BYTES"]

#: What 0 symbols encode to: the initial state 2^31 as a little-endian uint64.
INITIAL_STATE_BYTES = (1 << 31).to_bytes(8, "little")
