"""Golden vectors pin the native stream format (docs/stream-format.md), byte for byte.

tests/fixtures/native_vectors.npz holds the table sets (integers) and the
expected streams; the symbols and indexes are regenerated here from an
integer-only hash, so the vectors need no float math and no RNG stream that
could change between NumPy versions. If a test here fails, the stream format
changed: that needs a new format version, not new vectors. (To write the
vectors for a NEW version: python tests/coding/test_coder_golden.py --write.)
"""
import hashlib
import os
import sys

import numpy as np
import pytest

from lic_core import coder

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                       "native_vectors.npz")

# The worked example of docs/stream-format.md.
DOC_TABLES = ([[0, 10, 60, 64]], [4], [-1], 6)
DOC_SYMBOLS, DOC_INDEXES = [0, 1, -1, 7], [0, 0, 0, 0]
DOC_STREAM_HEX = "6c010106048ab3cb60ba490c02"


def mix64(x):
    """splitmix64 finalizer on uint64 arrays (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def case_inputs(n, n_tables, seed, spreads):
    """Deterministic (symbols int32 [n], indexes int32 [n]) from integer math only.

    index = (h >> 32) mod n_tables; symbol = (sum of h's four low bytes - 510) *
    spreads[index] // 512, except 1 in 128 symbols which take h's low 32 bits as
    an int32 (escapes of every size, int32 extremes included).
    """
    with np.errstate(over="ignore"):
        h = mix64(np.arange(n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
    indexes = ((h >> np.uint64(32)) % np.uint64(n_tables)).astype(np.int32)
    byte_sum = sum(((h >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.int64) for k in range(4))
    symbols = (byte_sum - 510) * np.asarray(spreads, np.int64)[indexes] // 512
    wild = ((h >> np.uint64(48)) & np.uint64(0x7F)) == 0
    symbols[wild] = (h[wild] & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)
    return symbols.astype(np.int32), indexes


def integer_tables(spreads, precision):
    """Triangular-ish integer pmfs (no floats): freq(v) = 1 + max(0, w - |v - c|)^2, + escape."""
    rows, offsets = [], []
    total = 1 << precision
    for w in spreads:
        c = w
        weights = np.array([1 + max(0, w - abs(v - c)) ** 2 for v in range(2 * c + 1)] + [1], np.int64)
        freq = np.maximum(1, weights * total // weights.sum())
        freq[np.argmax(freq)] += total - freq.sum()
        rows.append(np.concatenate([[0], np.cumsum(freq)]))
        offsets.append(-c)
    width = max(len(r) for r in rows)
    cdfs = np.zeros((len(rows), width), np.int32)
    for t, r in enumerate(rows):
        cdfs[t, :len(r)] = r
    return cdfs, np.array([len(r) for r in rows], np.int32), np.array(offsets, np.int32)


# name -> (table set, n, seed, spreads for symbols)
TABLE_SETS = {
    "small": ([1, 2, 5], 10),        # spreads, precision
    "wide": ([3, 9, 20, 40, 80, 160, 200, 250], 16),
}
CASES = {
    "empty": ("small", 0, 1),
    "one": ("small", 1, 2),
    "small_1lane": ("small", 2000, 3),
    "wide_2lanes": ("wide", 25_000, 4),
    "wide_4lanes": ("wide", 50_000, 5),
    "wide_8lanes": ("wide", 100_000, 6),
}


def load():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def tables_from(vectors, name):
    return coder.TableSet(vectors[f"tables_{name}__cdfs"], vectors[f"tables_{name}__cdf_lengths"],
                          vectors[f"tables_{name}__offsets"],
                          precision=int(vectors[f"tables_{name}__precision"]))


def test_worked_example_of_the_spec():
    cdfs, lengths, offsets, precision = DOC_TABLES
    data = coder.encode(DOC_SYMBOLS, DOC_INDEXES, cdfs, lengths, offsets, precision=precision)
    assert data.hex() == DOC_STREAM_HEX
    assert coder.decode(bytes.fromhex(DOC_STREAM_HEX), DOC_INDEXES, cdfs, lengths, offsets,
                        precision=precision).tolist() == DOC_SYMBOLS


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_vector_encodes_and_decodes_byte_for_byte(case):
    vectors = load()
    table_name, n, seed = CASES[case]
    tables = tables_from(vectors, table_name)
    spreads, _ = TABLE_SETS[table_name]
    symbols, indexes = case_inputs(n, tables.n_tables, seed, spreads)
    expected = vectors[f"{case}__stream"].tobytes()
    assert hashlib.sha256(expected).hexdigest() == str(vectors[f"{case}__sha256"])
    assert coder.encode(symbols, indexes, tables) == expected
    np.testing.assert_array_equal(coder.decode(expected, indexes, tables), symbols)
    assert coder.stream_info(expected)["lanes"] == int(vectors[f"{case}__lanes"])


def test_golden_vectors_cover_every_lane_count_and_escapes():
    vectors = load()
    assert {int(vectors[f"{c}__lanes"]) for c in CASES} == {1, 2, 4, 8}
    symbols, _ = case_inputs(100_000, 8, 6, TABLE_SETS["wide"][0])
    assert symbols.min() < -(2**30) and symbols.max() > 2**30


def write():  # pragma: no cover - run by hand for a new format version only
    out = {}
    for name, (spreads, precision) in TABLE_SETS.items():
        cdfs, lengths, offsets = integer_tables(spreads, precision)
        out.update({f"tables_{name}__cdfs": cdfs, f"tables_{name}__cdf_lengths": lengths,
                    f"tables_{name}__offsets": offsets, f"tables_{name}__precision": np.int32(precision)})
    for case, (table_name, n, seed) in CASES.items():
        tables = coder.TableSet(out[f"tables_{table_name}__cdfs"], out[f"tables_{table_name}__cdf_lengths"],
                                out[f"tables_{table_name}__offsets"], precision=TABLE_SETS[table_name][1])
        symbols, indexes = case_inputs(n, tables.n_tables, seed, TABLE_SETS[table_name][0])
        data = coder.encode(symbols, indexes, tables)
        out[f"{case}__stream"] = np.frombuffer(data, np.uint8)
        out[f"{case}__sha256"] = np.array(hashlib.sha256(data).hexdigest())
        out[f"{case}__lanes"] = np.int32(coder.stream_info(data)["lanes"])
        print(case, len(data), coder.stream_info(data))
    np.savez_compressed(FIXTURE, **out)


if __name__ == "__main__" and "--write" in sys.argv:
    write()
