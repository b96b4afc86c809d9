"""Fuzz target: the CompressAI-compatible decoder (``lic_core.ans.RansDecoder``).

CompressAI's own decoder reads out of bounds or loops on such inputs; ours must
not. For every input (a seed stream damaged by ``fuzzlib.mutate``, raw bytes, or
an intact stream decoded with damaged tables) this checks that:

* ``decode_with_indexes_np`` returns an int32 array of ``len(indexes)`` symbols or
  raises a ``LicError`` subclass (nothing else, no crash, no hang);
* streaming (``set_stream`` + ``decode_stream_np`` in fuzz-chosen chunks +
  ``check_end``) accepts exactly when the one-shot call does, with the same symbols;
* whatever the one-shot call accepts, ``check_end=False`` accepts too, identically;
* an intact seed with its own tables and indexes decodes to the encoded symbols,
  and any prefix of its indexes decodes (``check_end=False``) to the prefix.
"""
from __future__ import annotations

import sys

import numpy as np

from tests.fuzz import fuzzlib

with fuzzlib.instrumented():
    from lic_core import ans


def _tables(rows, offsets):
    max_len = max(len(r) for r in rows)
    cdfs = np.zeros((len(rows), max_len), dtype=np.int32)
    for t, r in enumerate(rows):
        cdfs[t, :len(r)] = r
    return cdfs, np.array([len(r) for r in rows], np.int32), np.array(offsets, np.int32)


def _table_sets():
    x = np.arange(-20, 21)
    peaked = fuzzlib.cdf_from_pmf(np.exp(-0.5 * (x / 0.7) ** 2) + 1e-12, 16)
    flat = fuzzlib.cdf_from_pmf(np.ones(9), 16)
    ones = np.array([0, 1, 2, (1 << 16) - 1, 1 << 16], dtype=np.int32)   # frequency-1 slots
    two = np.array([0, 1, 1 << 16], dtype=np.int32)                        # one value + escape
    laplace = [fuzzlib.cdf_from_pmf(np.exp(-np.abs(np.arange(-k, k + 1)) / (k / 3)), 16)
               for k in (1, 3, 30)]
    return [_tables([peaked, flat, ones, two], [-20, -4, -1, 0]),
            _tables(laplace, [-1, -3, -30])]


TABLE_SETS = _table_sets()


def _seeds():
    rng = np.random.default_rng(6)
    extremes = np.array([0, -1, 2**31 - 1, -2**31, 2**28, -2**28 - 5, 70000], np.int32)
    seeds = []
    for k, (cdfs, lengths, offsets) in enumerate(TABLE_SETS):
        for n in (0, 1, 2, 5, 64, 700):
            idx = rng.integers(0, len(lengths), n).astype(np.int32)
            sym = rng.integers(-4, 5, n).astype(np.int32)
            if n >= 5:
                where = rng.integers(0, n, max(1, n // 40))
                sym[where] = rng.choice(extremes, len(where))
            data = ans.RansEncoder().encode_with_indexes(sym, idx, cdfs, lengths, offsets)
            seeds.append((k, sym, idx, data))
    return seeds


SEEDS = _seeds()
STREAMS = [s[3] for s in SEEDS]


def _damage_tables(cur, tables):
    cdfs, lengths, offsets = (a.copy() for a in tables)
    what = cur.below(3)
    t = cur.below(len(lengths))
    if what == 0:
        value = (fuzzlib.INTERESTING_U32[cur.below(13)] - cur.below(3)) % (1 << 32)
        cdfs[t, cur.below(cdfs.shape[1])] = np.uint32(value).view(np.int32)
    elif what == 1:
        lengths[t] = cur.below(cdfs.shape[1] + 3) - 1
    else:
        offsets[t] = np.int32(np.uint32(fuzzlib.INTERESTING_U32[cur.below(13)]).view(np.int32))
    return cdfs, lengths, offsets


def _streaming(stream, idx, tables, cur):
    dec = ans.RansDecoder()
    dec.set_stream(stream)
    # One call even for 0 symbols: the one-shot call validates the tables then too.
    parts, pos = [dec.decode_stream_np(idx[:0], *tables)], 0
    while pos < len(idx):
        step = 1 + cur.below(len(idx) - pos)
        parts.append(dec.decode_stream_np(idx[pos:pos + step], *tables))
        pos += step
    dec.check_end()
    return np.concatenate(parts)



def one_input(data: bytes) -> None:
    cur = fuzzlib.Cursor(data)
    mode = cur.byte() % 4
    k, sym, idx, seed = SEEDS[cur.below(len(SEEDS))]
    tables = TABLE_SETS[k]
    intact = False
    if mode <= 1:                       # damaged stream
        stream = fuzzlib.mutate(seed, cur, STREAMS)
        intact = stream == seed
    elif mode == 2:                     # raw bytes, fuzz-chosen indexes
        hi = len(tables[1]) + (1 if cur.below(16) == 0 else 0)
        idx = np.array([cur.below(hi) for _ in range(cur.below(48))], np.int32)
        stream = cur.rest()
    else:                               # intact stream, damaged tables
        stream = seed
        tables = _damage_tables(cur, tables)

    dec = ans.RansDecoder()
    out, err = fuzzlib.attempt(dec.decode_with_indexes_np, stream, idx, *tables)
    streamed, s_err = fuzzlib.attempt(_streaming, stream, idx, tables, cur)
    loose, l_err = fuzzlib.attempt(dec.decode_with_indexes_np, stream, idx, *tables, check_end=False)
    assert (err is None) == (s_err is None), f"one-shot: {err!r}, streaming: {s_err!r}"
    if err is None:
        assert out.dtype == np.int32 and out.shape == (len(idx),)
        assert np.array_equal(out, streamed), "streaming and one-shot decodes differ"
        assert l_err is None and np.array_equal(out, loose), "check_end=False refused or differs"
    if intact:
        assert err is None and np.array_equal(out, sym), f"intact stream misdecoded: {err!r}"
        cut = cur.below(len(idx) + 1)
        prefix = dec.decode_with_indexes_np(stream, idx[:cut], *tables, check_end=False)
        assert np.array_equal(prefix, sym[:cut]), "prefix decode differs"
        fuzzlib.record("ok-exact")
    else:
        fuzzlib.record(type(err).__name__ if err is not None else
                       "ok-damaged" if mode <= 1 else "ok-other")


def seed_inputs():
    """One input per seed, intact: one mutation op, op 4 (extend) with nothing left to add."""
    return [bytes([0]) + i.to_bytes(2, "little") + b"\0\0\x04\0" for i in range(len(SEEDS))]


if __name__ == "__main__":
    sys.exit(fuzzlib.main(one_input, seed_inputs))
