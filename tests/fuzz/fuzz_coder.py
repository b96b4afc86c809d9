"""Fuzz target: the native coder's decoders (``lic_core.coder``).

Checks, for every input (a seed stream damaged by ``fuzzlib.mutate``, or raw bytes
with fuzz-chosen indexes and table set):

* ``coder.decode`` either returns an int32 array shaped like ``indexes`` or raises a
  ``LicError`` subclass: never another exception, a crash, a hang or a huge
  allocation (libFuzzer's -timeout and -rss_limit_mb catch the last two);
* ``coder.StreamDecoder`` fed the same indexes in fuzz-chosen chunks, then
  ``finish()``, accepts exactly when the one-shot decode accepts, with the same
  symbols (the streaming and one-shot paths cannot disagree on any stream);
* ``coder.stream_info`` either raises ``LicError`` or describes the bytes exactly
  (``header_bytes + 4 * n_words == len(stream)``);
* an undamaged seed with its own indexes decodes to exactly the encoded symbols.
"""
from __future__ import annotations

import sys

import numpy as np

from tests.fuzz import fuzzlib

with fuzzlib.instrumented():
    from lic_core import coder


def _table_set(rows, offsets, precision):
    max_len = max(len(r) for r in rows)
    cdfs = np.zeros((len(rows), max_len), dtype=np.int32)
    for t, r in enumerate(rows):
        cdfs[t, :len(r)] = r
    return coder.TableSet(cdfs, [len(r) for r in rows], offsets, precision=precision)


def _table_sets():
    """Three table sets: the docstring's tiny one, a mixed precision-16 set
    (peaked, flat, all-escape, frequency-1 slots), and a precision-12 Laplace set."""
    tiny = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
    x = np.arange(-20, 21)
    mixed = _table_set([
        fuzzlib.cdf_from_pmf(np.exp(-0.5 * (x / 0.7) ** 2) + 1e-12, 16),   # very peaked
        fuzzlib.cdf_from_pmf(np.ones(9), 16),                                # flat
        np.array([0, 1 << 16], dtype=np.int32),                       # escape only
        np.array([0, 1, 2, (1 << 16) - 1, 1 << 16], dtype=np.int32),  # frequency-1 slots
    ], [-20, -4, 0, -1], 16)
    laplace = _table_set([fuzzlib.cdf_from_pmf(np.exp(-np.abs(np.arange(-k, k + 1)) / (k / 3)), 12)
                          for k in (1, 3, 8, 30)], [-1, -3, -8, -30], 12)
    return [tiny, mixed, laplace]


def _seeds():
    rng = np.random.default_rng(20261125)
    extremes = np.array([0, -1, 1, 2**31 - 1, -2**31, 2**30, -2**30, 12345, -98765], np.int32)
    seeds = []
    for k, ts in enumerate(TABLE_SETS):
        for n in (0, 1, 2, 3, 17, 200, 3000):
            idx = rng.integers(0, ts.n_tables, n).astype(np.int32)
            sym = rng.integers(-3, 4, n).astype(np.int32)
            if n >= 3:  # a few escapes, including the int32 extremes
                where = rng.integers(0, n, max(1, n // 50))
                sym[where] = rng.choice(extremes, len(where))
            seeds.append((k, sym, idx, coder.encode(sym, idx, ts)))
    return seeds


TABLE_SETS = _table_sets()
SEEDS = _seeds()
STREAMS = [s[3] for s in SEEDS]


def _indexes_from(cur, n_tables, n):
    # 1 in 16 inputs names a table that does not exist.
    hi = n_tables + (1 if cur.below(16) == 0 else 0)
    return np.array([cur.below(hi) for _ in range(n)], dtype=np.int32)


def _decode_streaming(stream, indexes, ts, cur):
    dec = coder.StreamDecoder(stream, ts)
    parts, pos = [], 0
    while pos < len(indexes):
        step = 1 + cur.below(len(indexes) - pos)
        parts.append(dec.decode(indexes[pos:pos + step]))
        pos += step
    dec.finish()
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)



def one_input(data: bytes) -> None:
    cur = fuzzlib.Cursor(data)
    mode = cur.byte() % 4
    expected, damaged = None, False
    if mode < 3:
        k, sym, idx, seed = SEEDS[cur.below(len(SEEDS))]
        ts = TABLE_SETS[k]
        stream = fuzzlib.mutate(seed, cur, STREAMS) if cur.below(8) else seed
        if cur.below(8) == 0:  # wrong count or wrong tables for a (possibly intact) stream
            idx = _indexes_from(cur, ts.n_tables, max(0, len(idx) + cur.below(5) - 2))
        elif stream == seed:
            expected = sym
        damaged = stream != seed
    else:
        ts = TABLE_SETS[cur.below(len(TABLE_SETS))]
        idx = _indexes_from(cur, ts.n_tables, cur.below(64))
        stream = cur.rest()

    info, info_err = fuzzlib.attempt(coder.stream_info, stream)
    if info is not None:
        assert info["header_bytes"] + 4 * info["n_words"] == len(stream), (info, len(stream))

    out, err = fuzzlib.attempt(coder.decode, stream, idx, ts)
    streamed, s_err = fuzzlib.attempt(_decode_streaming, stream, idx, ts, cur)
    assert (err is None) == (s_err is None), f"one-shot: {err!r}, streaming: {s_err!r}"
    if err is None:
        assert out.dtype == np.int32 and out.shape == idx.shape
        assert np.array_equal(out, streamed), "streaming and one-shot decodes differ"
    if expected is not None:
        assert err is None, f"an intact stream was refused: {err!r}"
        assert np.array_equal(out, expected), "an intact stream decoded to other symbols"
        fuzzlib.record("ok-exact")
    else:
        # "ok-damaged": a damaged seed decoded without error (the native format has no
        # checksum; the container's CRC-32 is what catches such damage in files).
        fuzzlib.record(type(err).__name__ if err is not None else
                       "ok-damaged" if damaged else "ok-other")


def seed_inputs():
    """One input per seed that keeps it intact (keep choice 0, then "same indexes")."""
    return [bytes([0]) + i.to_bytes(2, "little") + b"\0\0\x01\0" for i in range(len(SEEDS))]


if __name__ == "__main__":
    sys.exit(fuzzlib.main(one_input, seed_inputs))
