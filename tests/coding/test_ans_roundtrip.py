"""lic_core.ans round-trips every int32 symbol, on any valid table set, in any call pattern."""
import array
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lic_core.ans import INITIAL_STATE_BYTES, BufferedRansEncoder, RansDecoder, RansEncoder
from lic_core.testing import assert_roundtrip, cdf_tables, symbols_and_indexes

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def coding_inputs(draw, max_size=60):
    """``(symbols, indexes, (cdfs, cdf_lengths, offsets))`` as the plain lists CompressAI
    passes, from lic_core.testing: tables of precision 16 (1..4 of them, escape-only ones,
    runs of frequency-1 slots, rows padded with zeros or junk past their length) and
    symbols for them (in-table, escapes at both edges, anywhere in int32 with the extremes).

    Built on the public strategies rather than replaced by them for one case they lack:
    lic_core.ans takes any int32 offset, also one whose table values pass INT32_MAX (it
    checks decoded values against int32, not offsets; docs/compat.md), which the native
    coder (and so cdf_tables, symbols_and_indexes) refuses. Half the time every offset moves
    anywhere in int32 and its symbols move with it (wrapping in int32), so in-table symbols
    stay in-table where they still fit."""
    tables = draw(cdf_tables(precision=16))
    symbols, indexes = draw(symbols_and_indexes(tables, max_size=max_size))
    offsets = tables.offsets.astype(np.int64)
    if draw(st.booleans()):
        moved = np.array(draw(st.lists(
            st.one_of(st.sampled_from([INT32_MIN, INT32_MAX]), st.integers(INT32_MIN, INT32_MAX)),
            min_size=offsets.size, max_size=offsets.size)), np.int64)
        shifted = symbols.astype(np.int64) + (moved - offsets)[indexes]
        symbols = (shifted - INT32_MIN) % 2**32 + INT32_MIN
        offsets = moved
    return (symbols.tolist(), indexes.tolist(),
            (tables.cdfs.tolist(), tables.cdf_lengths.tolist(), offsets.tolist()))


@FAST
@given(coding_inputs())
def test_every_int32_symbol_round_trips(inp):
    symbols, indexes, tabs = inp
    # RansEncoder/RansDecoder, BufferedRansEncoder in chunks, decode_stream then check_end
    # (the tables unbound: offsets the native coder refuses included).
    encoded = assert_roundtrip(symbols, indexes, tabs, faces=["ans"])["ans"]
    assert len(encoded) % 4 == 0 and len(encoded) >= 8
    assert RansDecoder().decode_with_indexes(encoded, indexes, *tabs) == symbols  # the list API


@FAST
@given(coding_inputs())
def test_arrays_and_lists_give_the_same_bytes(inp):
    symbols, indexes, (cdfs, lengths, offsets) = inp
    from_lists = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    arrays = (np.array(symbols, np.int64), np.array(indexes, np.uint16),
              np.array(cdfs, np.int32), np.array(lengths, np.int64), np.array(offsets, np.int32))
    assert RansEncoder().encode_with_indexes(*arrays) == from_lists
    tuples = (tuple(symbols), tuple(indexes), tuple(map(tuple, cdfs)), tuple(lengths), tuple(offsets))
    assert RansEncoder().encode_with_indexes(*tuples) == from_lists
    decoded = RansDecoder().decode_with_indexes_np(from_lists, arrays[1], *arrays[2:])
    assert decoded.dtype == np.int32 and decoded.tolist() == symbols


@FAST
@given(coding_inputs(), st.data())
def test_buffered_chunking_equals_one_call_and_streams_back(inp, data):
    symbols, indexes, tabs = inp
    cuts = sorted(data.draw(st.lists(st.integers(0, len(symbols)), max_size=5)))
    bounds = [0] + cuts + [len(symbols)]
    enc = BufferedRansEncoder()
    for a, b in zip(bounds[:-1], bounds[1:]):
        enc.encode_with_indexes(symbols[a:b], indexes[a:b], *tabs)
    encoded = enc.flush()
    assert encoded == RansEncoder().encode_with_indexes(symbols, indexes, *tabs)
    dec = RansDecoder()
    dec.set_stream(encoded)
    got = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        got += dec.decode_stream(indexes[a:b], *tabs)
    dec.check_end()
    assert got == symbols


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coding_inputs(max_size=20), coding_inputs(max_size=20))
def test_buffered_calls_may_use_different_table_sets(first, second):
    enc = BufferedRansEncoder()
    enc.encode_with_indexes(first[0], first[1], *first[2])
    enc.encode_with_indexes(second[0], second[1], *second[2])
    dec = RansDecoder()
    dec.set_stream(enc.flush())
    assert dec.decode_stream(first[1], *first[2]) == first[0]
    assert dec.decode_stream_np(second[1], *second[2]).tolist() == second[0]
    dec.check_end()


def test_large_calls_with_decode_index_match_small_calls():
    # >= 32 symbols per table switches the decoder to its bucket index; the
    # symbols must not depend on that choice. Tables from wide to freq-1 slots.
    rng = np.random.default_rng(7)
    rows, lengths = [], []
    for width in (3, 40, 600, 5000):
        cuts = np.sort(rng.choice(np.arange(1, 65536), size=width, replace=False))
        rows.append([0] + cuts.tolist() + [65536])
        lengths.append(width + 2)
    rows.append([0] + list(range(1, 2000)) + [65536])  # 1999 freq-1 slots in a few buckets
    lengths.append(2001)
    width = max(lengths)
    cdfs = np.array([r + [0] * (width - len(r)) for r in rows], np.int32)
    offsets = np.array([-1, -20, -300, -2500, -5], np.int32)
    n = 20000
    indexes = rng.integers(0, len(rows), n).astype(np.int32)
    symbols = (rng.integers(-100, 5100, n) - 50).astype(np.int32)
    encoded = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    whole = RansDecoder().decode_with_indexes_np(encoded, indexes, cdfs, lengths, offsets)
    dec = RansDecoder()
    dec.set_stream(encoded)
    pieces = [dec.decode_stream_np(indexes[a:a + 50], cdfs, lengths, offsets) for a in range(0, n, 50)]
    dec.check_end()
    assert np.array_equal(whole, symbols) and np.array_equal(np.concatenate(pieces), symbols)


TINY = ([[0, 30000, 60000, 65536]], [4], [0])
FREQ1 = ([[0, 32766, 32767, 65535, 65536]], [5], [0])


def test_zero_symbols_encode_to_the_initial_state():
    assert INITIAL_STATE_BYTES == bytes.fromhex("0000008000000000")
    assert RansEncoder().encode_with_indexes([], [], *TINY) == INITIAL_STATE_BYTES
    enc = BufferedRansEncoder()
    assert enc.flush() == INITIAL_STATE_BYTES  # CompressAI: segfault
    enc.encode_with_indexes([], [], *TINY)
    assert enc.flush() == INITIAL_STATE_BYTES
    assert RansDecoder().decode_with_indexes(INITIAL_STATE_BYTES, [], *TINY) == []
    assert RansEncoder().encode_with_indexes([], [], [], [], []) == INITIAL_STATE_BYTES


@pytest.mark.parametrize("symbols,tabs", [
    ([0], TINY), ([1], TINY), ([2], TINY), ([7], TINY),  # one symbol: CompressAI aborts in-table
    ([1, 3], FREQ1), ([3], FREQ1), ([3, 3, 1, 1], FREQ1),  # frequency-1 symbols: CompressAI aborts
])
def test_inputs_that_crash_compressai_round_trip(symbols, tabs):
    encoded = RansEncoder().encode_with_indexes(symbols, [0] * len(symbols), *tabs)
    assert RansDecoder().decode_with_indexes(encoded, [0] * len(symbols), *tabs) == symbols


def test_escapes_beyond_compressai_limit_round_trip():
    # raw >= 2**28 hangs CompressAI; we write more nibbles. int32 extremes with
    # extreme offsets give the largest raws (about 2**33).
    tabs = ([[0, 30000, 60000, 65536]] * 3, [4, 4, 4], [0, INT32_MIN, INT32_MAX])
    symbols = [2**27 + 2, -2**27 - 1, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MIN, INT32_MAX]
    indexes = [0, 0, 0, 0, 1, 1, 2, 2]
    encoded = RansEncoder().encode_with_indexes(symbols, indexes, *tabs)
    assert RansDecoder().decode_with_indexes(encoded, indexes, *tabs) == symbols


def reference_encode(symbols, indexes, cdfs, lengths, offsets):
    """SPEC.md section 1 in plain Python ints: the oracle for arbitrary inputs."""
    items = []  # (start, freq, precision) in decode order
    for sym, t in zip(symbols, indexes):
        cdf, escape, v = cdfs[t], lengths[t] - 2, sym - offsets[t]
        slot = v if 0 <= v < escape else escape
        items.append((cdf[slot], cdf[slot + 1] - cdf[slot], 16))
        if slot == escape:
            raw = 2 * (v - escape) if v >= escape else -2 * v - 1
            n = (raw.bit_length() + 3) // 4
            counts = [15] * (n // 15) + [n % 15]
            items += [(c, 1, 4) for c in counts] + [((raw >> (4 * j)) & 15, 1, 4) for j in range(n)]
    x, words = 2**31, []
    for start, freq, prec in reversed(items):
        if x >= freq << (63 - prec):
            words.append(x & 0xFFFFFFFF)
            x >>= 32
        x = (x // freq << prec) + x % freq + start
    return x.to_bytes(8, "little") + b"".join(w.to_bytes(4, "little") for w in reversed(words))


@FAST
@given(coding_inputs())
def test_bytes_equal_the_spec_reference_model(inp):
    symbols, indexes, tabs = inp
    assert RansEncoder().encode_with_indexes(symbols, indexes, *tabs) == reference_encode(symbols, indexes, *tabs)


def test_escapes_at_and_beyond_the_compressai_limit_follow_the_spec():
    # raw = 2**28 - 2 is the largest escape CompressAI writes (7 nibbles);
    # raw = 2**28 (8 nibbles) and the int32 extremes (9) extend the same rule.
    tabs = ([[0, 30000, 60000, 65536]] * 2, [4, 4], [0, INT32_MIN])
    for symbols, indexes in [([2**27 + 1], [0]), ([2**27 + 2], [0]), ([INT32_MAX, INT32_MIN], [1, 1]),
                             ([INT32_MIN, -2**27 - 1], [0, 0])]:
        assert RansEncoder().encode_with_indexes(symbols, indexes, *tabs) == reference_encode(
            symbols, indexes, *tabs)


def test_threads_coding_at_once_give_the_same_bytes():
    # The GIL's release is tests/coding/test_gil_release.py's claim; this one is about the bytes.
    rng = np.random.default_rng(3)
    cdfs, lengths, offsets = [[0, 1000, 30000, 64000, 65536]], [5], [-1]
    symbols = rng.integers(-3, 5, 200_000).astype(np.int32)
    indexes = np.zeros_like(symbols)
    reference = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    results, decoded = [None] * 4, [None] * 4

    def work(k):
        results[k] = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
        decoded[k] = RansDecoder().decode_with_indexes_np(results[k], indexes, cdfs, lengths, offsets)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == reference for r in results)
    assert all(np.array_equal(d, symbols) for d in decoded)


def test_strided_reversed_and_byteswapped_arrays_give_the_same_bytes():
    cdfs = np.array([[0, 30000, 60000, 65536, 0], [0, 1, 65535, 65536, 0]], np.int32)
    symbols, indexes = np.array([5, 1, 2, 0, -3, 9, 1, 0]), np.array([0, 1, 0, 1, 0, 1, 0, 1])
    reference = RansEncoder().encode_with_indexes(symbols.tolist(), indexes.tolist(), cdfs.tolist(), [4, 4], [0, -1])
    spread = np.zeros(16, np.int64)
    spread[::2] = symbols
    variants = [
        (spread[::2], indexes[::-1].copy()[::-1], np.asfortranarray(cdfs), np.array([4, 4], ">u2"), [0, -1]),
        (symbols.astype(">i4"), indexes.astype(np.uint8), cdfs.astype(np.int64), (4, 4), np.array([0, -1], ">i8")),
        (symbols, 1 - indexes, cdfs[::-1], [4, 4], [-1, 0]),  # rows in reverse order
        (array.array("i", symbols.tolist()), memoryview(indexes.astype(np.int32)), cdfs, [4, 4], [0, -1]),
        ((int(v) for v in symbols), indexes.tolist(), [list(r) for r in cdfs], [4, 4], [0, -1]),
    ]
    for args in variants:
        assert RansEncoder().encode_with_indexes(*args) == reference


def test_module_docstring_example_runs():
    import doctest

    import lic_core.ans
    result = doctest.testmod(lic_core.ans)
    assert result.attempted >= 2 and result.failed == 0


def test_np_named_encoders_are_aliases():
    symbols, indexes = np.array([3, -9, 0], np.int32), np.zeros(3, np.int32)
    reference = RansEncoder().encode_with_indexes(symbols, indexes, *TINY)
    assert RansEncoder().encode_with_indexes_np(symbols, indexes, *TINY) == reference
    enc = BufferedRansEncoder()
    enc.encode_with_indexes_np(symbols, indexes, *TINY)
    assert enc.flush() == reference


def test_torch_tensors_are_accepted_like_arrays():
    torch = pytest.importorskip("torch")
    cdfs = torch.tensor([[0, 30000, 60000, 65536, 0], [0, 1, 65535, 65536, 0]], dtype=torch.int32)
    symbols, indexes = torch.tensor([5, 1, 2, -7]), torch.tensor([0, 1, 0, 1])
    lengths, offsets = torch.tensor([4, 4]), torch.tensor([0, -1])
    encoded = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    assert encoded == RansEncoder().encode_with_indexes([5, 1, 2, -7], [0, 1, 0, 1], cdfs.tolist(), [4, 4], [0, -1])
    assert RansDecoder().decode_with_indexes(encoded, indexes, cdfs, lengths, offsets) == [5, 1, 2, -7]


def test_decode_accepts_bytes_like_inputs():
    encoded = RansEncoder().encode_with_indexes([0, 1, 2, 9], [0] * 4, *TINY)
    for form in (encoded, bytearray(encoded), memoryview(encoded), np.frombuffer(encoded, np.uint8)):
        assert RansDecoder().decode_with_indexes(form, [0] * 4, *TINY) == [0, 1, 2, 9]


def test_prefix_decoding_needs_check_end_false():
    encoded = RansEncoder().encode_with_indexes([0, 1, 2, 9], [0] * 4, *TINY)
    assert RansDecoder().decode_with_indexes(encoded, [0, 0], *TINY, check_end=False) == [0, 1]
