"""Properties of the native coder face, lic_core.coder (stream format: docs/stream-format.md)."""
import math
import pickle
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lic_core import coder
from lic_core.errors import (CorruptStreamError, IndexOutOfRangeError, InvalidArgumentError,
                             InvalidTableError, LicError, SymbolOutOfRangeError)
from lic_core.testing import assert_roundtrip, coding_cases

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# ---- helpers: tables built here so these tests need nothing but the coder ----

def quantize(pmf, precision):
    """pmf [n] (n <= 2**precision) -> cdf [n + 1]: every slot >= 1, remainder to the largest."""
    total = 1 << precision
    pmf = np.asarray(pmf, dtype=np.float64)
    freq = np.maximum(1, np.floor(pmf / pmf.sum() * total)).astype(np.int64)
    while freq.sum() > total:  # floors of 1 may overshoot: take back from the largest
        freq[np.argmax(freq)] -= freq.sum() - total
        freq = np.maximum(freq, 1)
    freq[np.argmax(freq)] += total - freq.sum()
    return np.concatenate([[0], np.cumsum(freq)]).astype(np.int32)


def make_tables(pmfs, offsets, precision):
    """List of pmfs (the last entry of each is the escape slot) -> TableSet."""
    cdfs = [quantize(p, precision) for p in pmfs]
    width = max(len(c) for c in cdfs)
    rows = np.zeros((len(cdfs), width), dtype=np.int32)
    for t, c in enumerate(cdfs):
        rows[t, :len(c)] = c
    lengths = np.array([len(c) for c in cdfs], dtype=np.int32)
    return coder.TableSet(rows, lengths, np.asarray(offsets, dtype=np.int32), precision=precision)


def gaussian_tables(scales, precision=16):
    pmfs, offsets = [], []
    for s in scales:
        c = max(1, math.ceil(s * 6.1))
        v = np.arange(-c, c + 1)
        cdf = 0.5 * np.array([math.erfc(-(x + 0.5) / (s * math.sqrt(2))) - math.erfc(-(x - 0.5) / (s * math.sqrt(2)))
                              for x in v])
        tail = max(1e-9, 1 - cdf.sum())
        pmfs.append(np.append(np.maximum(cdf, 1e-12), tail))
        offsets.append(-c)
    return make_tables(pmfs, offsets, precision)


def ideal_bits(tables, symbols, indexes):
    """-sum log2 p under the quantized tables, plus the escape bypass bits."""
    symbols = np.asarray(symbols, np.int64).ravel()
    indexes = np.asarray(indexes, np.int64).ravel()
    cdfs, lengths, offsets = tables.cdfs, tables.cdf_lengths, tables.offsets
    esc = lengths[indexes] - 2
    v = symbols - offsets[indexes]
    escaped = (v < 0) | (v >= esc)
    slot = np.where(escaped, esc, v)
    freq = cdfs[indexes, slot + 1].astype(np.int64) - cdfs[indexes, slot]
    bits = float(np.sum(tables.precision - np.log2(freq)))
    w = np.where(v < 0, -2 * v - 1, 2 * (v - esc))[escaped]
    bits += float(np.sum(6 + np.floor(np.log2(w + 1))))
    return bits


TINY = make_tables([[1, 4, 8, 4, 1, 0.5], [1, 1e-3], [2, 1]], [-2, 7, 0], precision=8)


# ---- round trips ------------------------------------------------------------------

# Cases from lic_core.testing (the generators codecs built on us fuzz with): 1..4 tables of
# any precision 1..16 (16 often) with up to 40 values and the escape each (escape-only tables
# and runs of frequency-1 slots included), offsets from small to both int32 ends; symbols in
# their table, escapes at its edges, and anywhere in int32 with the extremes.

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coding_cases(max_slots=41, max_size=400))
def test_any_int32_symbols_round_trip_with_any_valid_tables(case):
    # decode(encode()) gives the int32 symbols back, stream_info counts them, and the
    # streaming encoder and decoder in chunks agree (and lic_core.ans at precision 16).
    assert_roundtrip(*case)


@pytest.mark.parametrize("offset", [INT32_MIN, -1, 0, INT32_MAX - 5])
def test_int32_extremes_round_trip_at_every_offset(offset):
    tables = make_tables([[1, 2, 3, 4, 5, 0.1]], [offset], precision=12)
    symbols = np.array([INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1, 0, -1, 1,
                        offset, min(offset + 4, INT32_MAX), max(offset - 1, INT32_MIN)] * 3, dtype=np.int32)
    indexes = np.zeros_like(symbols)
    data = coder.encode(symbols, indexes, tables)
    np.testing.assert_array_equal(coder.decode(data, indexes, tables), symbols)


@pytest.mark.parametrize("precision", [1, 2, 8, 16])
def test_extreme_precisions_round_trip(precision):
    n_values = min(3, (1 << precision) - 1)
    tables = make_tables([[1.0] * (n_values + 1)], [0], precision)
    rng = np.random.default_rng(precision)
    symbols = rng.integers(-3, 6, 3000).astype(np.int32)
    indexes = np.zeros_like(symbols)
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols, indexes, tables), indexes, tables), symbols)


@pytest.mark.parametrize("precision", [12, 16])
def test_long_runs_of_frequency_one_slots_decode_exactly(precision):
    # 60 slots of frequency 1 share one decode bucket with the start of a huge
    # slot: the slot search must leave its linear scan for the binary search.
    total = 1 << precision
    freqs = [1] * 60 + [total - 60 - 3, 1, 1, 1]
    cdf = np.concatenate([[0], np.cumsum(freqs)]).astype(np.int32)
    tables = coder.TableSet([cdf], [len(cdf)], [-30], precision=precision)
    symbols = np.concatenate([np.arange(-31, 36), np.full(200, 30)]).astype(np.int32)
    np.random.default_rng(precision).shuffle(symbols)
    indexes = np.zeros_like(symbols)
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols, indexes, tables), indexes, tables), symbols)


def test_escape_only_table_codes_every_value_through_the_bypass():
    tables = coder.TableSet([[0, 1 << 16]], [2], [5])  # one slot: the escape
    symbols = np.array([5, 0, INT32_MIN, INT32_MAX, 6, 4], dtype=np.int32)
    indexes = np.zeros_like(symbols)
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols, indexes, tables), indexes, tables), symbols)


def test_escape_heavy_streams_round_trip_on_eight_lanes():
    # Mostly long escapes: the payload outgrows the encoder's one-word-per-symbol
    # first guess, so its buffer must grow mid-encode.
    rng = np.random.default_rng(7)
    n = 60_000
    symbols = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True).astype(np.int32)
    symbols[::9] = rng.integers(-3, 12, symbols[::9].size)
    indexes = rng.integers(0, 3, n).astype(np.int32)
    data = coder.encode(symbols, indexes, TINY)
    assert coder.stream_info(data)["lanes"] == 8 and len(data) > 4 * n
    np.testing.assert_array_equal(coder.decode(data, indexes, TINY), symbols)
    assert len(data) * 8 <= ideal_bits(TINY, symbols, indexes) * 1.001 + 16 * 8


def test_empty_and_one_symbol_inputs_round_trip():
    empty = coder.encode([], [], TINY)
    assert coder.stream_info(empty)["n_symbols"] == 0
    assert coder.decode(empty, [], TINY).shape == (0,)
    for symbol, index in [(0, 0), (INT32_MAX, 1), (INT32_MIN, 2), (7, 1)]:
        data = coder.encode([symbol], [index], TINY)
        assert coder.decode(data, [index], TINY).tolist() == [symbol]


def test_gaussian_workload_round_trips_on_eight_lanes():
    tables = gaussian_tables(np.exp(np.linspace(np.log(0.11), np.log(64), 64)))
    rng = np.random.default_rng(0)
    n = 300_000
    indexes = rng.integers(0, 64, n).astype(np.int32)
    scales = np.exp(np.linspace(np.log(0.11), np.log(64), 64))[indexes]
    symbols = np.round(rng.normal(0, 1, n) * scales).astype(np.int32)
    data = coder.encode(symbols, indexes, tables)
    assert coder.stream_info(data)["lanes"] == 8
    np.testing.assert_array_equal(coder.decode(data, indexes, tables), symbols)
    assert len(data) * 8 <= ideal_bits(tables, symbols, indexes) * 1.001 + 16 * 8


# ---- streaming ----------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coding_cases(max_slots=41, max_size=600), st.lists(st.integers(0, 600), max_size=8),
       st.lists(st.integers(0, 600), max_size=8))
def test_any_chunking_encodes_and_decodes_like_one_call(case, enc_cuts, dec_cuts):
    symbols, indexes, tables = case
    n = len(symbols)
    one_call = coder.encode(symbols, indexes, tables)

    enc = coder.StreamEncoder(tables)
    bounds = sorted({0, n, *(c % (n + 1) for c in enc_cuts)})
    for a, b in zip(bounds, bounds[1:]):
        enc.encode(symbols[a:b], indexes[a:b])
    assert enc.flush() == one_call
    assert enc.flush() == coder.encode([], [], tables)  # flushed encoder is empty and reusable

    dec = coder.StreamDecoder(one_call, tables)
    bounds = sorted({0, n, *(c % (n + 1) for c in dec_cuts)})
    parts = [dec.decode(indexes[a:b]) for a, b in zip(bounds, bounds[1:])]
    dec.finish()
    got = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    np.testing.assert_array_equal(got, symbols)


def test_autoregressive_pattern_many_small_chunks():
    rng = np.random.default_rng(1)
    steps, per_step = 300, 192
    indexes = rng.integers(0, 3, (steps, per_step)).astype(np.int32)
    symbols = rng.integers(-3, 12, (steps, per_step)).astype(np.int32)
    enc = coder.StreamEncoder(TINY)
    for k in range(steps):
        enc.encode(symbols[k], indexes[k])
    data = enc.flush()
    dec = coder.StreamDecoder(data, TINY)
    out = np.stack([dec.decode(indexes[k]) for k in range(steps)])
    dec.finish()
    np.testing.assert_array_equal(out, symbols)
    assert dec.n_decoded == dec.n_symbols == steps * per_step


def test_stream_decoder_finish_requires_every_symbol():
    data = coder.encode([1, 2, 3], [0, 0, 0], TINY)
    dec = coder.StreamDecoder(data, TINY)
    dec.decode([0, 0])
    with pytest.raises(CorruptStreamError, match="only 2 of the stream's 3 symbols"):
        dec.finish()
    with pytest.raises(CorruptStreamError, match="requested"):
        dec.decode([0, 0])
    assert dec.decode([0]).tolist() == [3]
    dec.finish()


# ---- size ------------------------------------------------------------------------

@pytest.mark.parametrize("n,scale_hi,precision", [(50, 4, 16), (3000, 8, 16), (40_000, 30, 14),
                                                  (120_000, 64, 16), (400_000, 64, 12)])
def test_size_is_within_a_tenth_of_a_percent_and_16_bytes_of_ideal(n, scale_hi, precision):
    scales = np.exp(np.linspace(np.log(0.11), np.log(scale_hi), 16))
    tables = gaussian_tables(scales, precision)
    rng = np.random.default_rng(n)
    indexes = rng.integers(0, 16, n).astype(np.int32)
    symbols = np.round(rng.normal(0, 1, n) * scales[indexes]).astype(np.int32)
    symbols[:: max(1, n // 20)] = 10**6  # a few escapes too
    data = coder.encode(symbols, indexes, tables)
    ideal = ideal_bits(tables, symbols, indexes)
    assert len(data) * 8 <= ideal * 1.001 + 16 * 8, (len(data), ideal / 8, coder.stream_info(data))
    assert len(data) * 8 >= ideal - 64  # sanity: cannot beat the model by more than the state slack


def test_lane_count_grows_with_the_payload():
    tables = gaussian_tables([20.0])
    rng = np.random.default_rng(2)
    lanes = []
    for n in [10, 25_000, 200_000]:
        symbols = np.round(rng.normal(0, 20, n)).astype(np.int32)
        lanes.append(coder.stream_info(coder.encode(symbols, np.zeros(n, np.int32), tables))["lanes"])
    assert lanes == [1, 2, 8]


# ---- API: inputs, shapes, errors ----------------------------------------------------

def test_table_set_properties_and_pickle():
    assert (TINY.n_tables, TINY.precision) == (3, 8)
    clone = pickle.loads(pickle.dumps(TINY))
    data = coder.encode([1, 2], [0, 2], TINY)
    assert coder.encode([1, 2], [0, 2], clone) == data
    with pytest.raises(AttributeError):
        TINY.precision = 4


def test_raw_tables_and_table_set_give_the_same_bytes():
    args = (TINY.cdfs.tolist(), TINY.cdf_lengths.tolist(), TINY.offsets.tolist())
    data = coder.encode([0, 9, -4], [0, 1, 2], *args, precision=8)
    assert data == coder.encode([0, 9, -4], [0, 1, 2], TINY)
    assert coder.decode(data, [0, 1, 2], *args, precision=8).tolist() == [0, 9, -4]


def test_any_integer_dtype_and_layout_is_accepted():
    symbols = np.array([[0, 1, 2], [3, -1, 5]])
    indexes = np.array([[0, 0, 2], [0, 1, 2]])
    ref = coder.encode(symbols.astype(np.int32).ravel(), indexes.astype(np.int32).ravel(), TINY)
    for sd, idt in [(np.int64, np.uint8), (np.int16, np.int64), (np.int8, np.uint32)]:
        assert coder.encode(symbols.astype(sd), indexes.astype(idt), TINY) == ref
    assert coder.encode(symbols.T.copy().T, indexes, TINY) == ref  # C order even for F-ordered input
    assert coder.encode(symbols.tolist(), indexes.tolist(), TINY) == ref
    out = coder.decode(ref, indexes, TINY)
    assert out.shape == (2, 3) and out.dtype == np.int32
    np.testing.assert_array_equal(out, symbols)
    view = np.arange(12, dtype=np.int32)[::2]  # non-contiguous
    assert coder.decode(coder.encode(view, np.zeros(6, np.int32), TINY), np.zeros(6, np.int64), TINY).tolist() == \
        view.tolist()


def test_bad_arguments_raise_errors_that_name_the_problem():
    with pytest.raises(InvalidArgumentError, match=r"symbols has shape \(3,\) but indexes has shape \(2,\)"):
        coder.encode([1, 2, 3], [0, 0], TINY)
    with pytest.raises(InvalidArgumentError, match="must hold integers"):
        coder.encode(np.array([1.0, 2.0]), [0, 0], TINY)
    with pytest.raises(InvalidArgumentError, match="must hold integers"):
        coder.decode(coder.encode([1], [0], TINY), np.array([0.0]), TINY)
    with pytest.raises(IndexOutOfRangeError, match=r"indexes\[17\] = 70 but the table set has 3 tables"):
        coder.encode(np.zeros(20, np.int32), [0] * 17 + [70, 0, 0], TINY)
    with pytest.raises(IndexOutOfRangeError, match=r"indexes\[1\] = -1"):
        coder.encode([0, 0], [0, -1], TINY)
    with pytest.raises(IndexOutOfRangeError, match=r"indexes\[0\] = 5000000000"):
        coder.encode([0], np.array([5_000_000_000]), TINY)
    with pytest.raises(SymbolOutOfRangeError, match=r"symbols\[1\] = 2147483648 does not fit int32"):
        coder.encode(np.array([0, 2**31]), [0, 0], TINY)
    with pytest.raises(IndexOutOfRangeError, match=r"indexes\[2\] = 3"):
        coder.decode(coder.encode([1, 1, 1], [0, 0, 0], TINY), [0, 0, 3], TINY)
    with pytest.raises(InvalidArgumentError, match="come from the TableSet"):
        coder.encode([1], [0], TINY, [6, 3, 3])
    with pytest.raises(InvalidArgumentError, match="precision=12 differs"):
        coder.encode([1], [0], TINY, precision=12)
    with pytest.raises(InvalidArgumentError, match="bytes-like"):
        coder.decode("not bytes", [0], TINY)
    enc = coder.StreamEncoder(TINY)
    with pytest.raises(IndexOutOfRangeError):
        enc.encode([1, 2], [0, 9])
    assert enc.n_staged == 0  # nothing staged on error


@pytest.mark.parametrize("cdfs,lengths,offsets,precision,match", [
    ([[0, 10, 10, 256]], None, None, 8, r"cdfs\[0\]\[2\] = 10 is not above cdfs\[0\]\[1\] = 10"),
    ([[0, 10, 20, 255]], None, None, 8, r"cdfs\[0\]\[3\] = 255 but the last entry must be 2\^precision = 256"),
    ([[1, 10, 20, 256]], None, None, 8, r"cdfs\[0\]\[0\] = 1 but a cdf must start at 0"),
    ([[0, 256, 0, 0], [0, 5, 4, 256]], [2, 4], None, 8, r"cdfs\[1\]\[2\] = 4"),
    ([[0, 256, 0]], [1], None, 8, r"cdf_lengths\[0\] = 1 is outside 2..3"),
    ([[0, 256, 0]], [4], None, 8, r"cdf_lengths\[0\] = 4 is outside 2..3"),
    ([[0, 100, 200, 256]], None, [2**31 - 1], 8, r"offsets\[0\] = 2147483647 puts table values past INT32_MAX"),
    ([[0, 100, 256]], None, [2**31 - 1], 8, None),  # its only in-table value is INT32_MAX itself
    ([[0, 3, 4]], None, None, 2, None),
])
def test_invalid_tables_are_rejected_naming_table_and_position(cdfs, lengths, offsets, precision, match):
    if match is None:
        tables = coder.TableSet(cdfs, lengths, offsets, precision=precision)
        symbols = [INT32_MAX, INT32_MIN, 0, (offsets or [0])[0]]
        assert coder.decode(coder.encode(symbols, [0] * 4, tables), [0] * 4, tables).tolist() == symbols
        return
    with pytest.raises(InvalidTableError, match=match):
        coder.TableSet(cdfs, lengths, offsets, precision=precision)


def test_table_set_argument_checks_name_the_entry():
    with pytest.raises(InvalidTableError, match=r"cdfs\[0\]\[1\] = 4294967296 does not fit int32"):
        coder.TableSet(np.array([[0, 2**32, 1 << 16]]))
    with pytest.raises(InvalidTableError, match=r"offsets\[1\] = -4294967296"):
        coder.TableSet([[0, 1 << 16], [0, 1 << 16]], None, np.array([0, -(2**32)]))
    with pytest.raises(SymbolOutOfRangeError, match=r"symbols\[1\]\[0\] = -2147483649"):
        coder.encode(np.array([[0], [-(2**31) - 1]]), [[0], [0]], TINY)


def test_table_set_argument_checks():
    with pytest.raises(InvalidArgumentError, match="precision 17 is outside 1..16"):
        coder.TableSet([[0, 1 << 16]], precision=17)
    with pytest.raises(InvalidArgumentError, match="2-D"):
        coder.TableSet([0, 1 << 16])
    with pytest.raises(InvalidArgumentError, match="cdf_lengths has 2 entries but cdfs has 1 rows"):
        coder.TableSet([[0, 1 << 16]], [2, 2])
    with pytest.raises(InvalidTableError, match="empty"):
        coder.TableSet(np.zeros((0, 4), np.int32))


def test_decoding_with_other_tables_fails_the_integrity_check():
    rng = np.random.default_rng(3)
    symbols = rng.integers(-2, 3, 5000).astype(np.int32)
    indexes = np.zeros_like(symbols)
    data = coder.encode(symbols, indexes, TINY)
    other = make_tables([[1, 5, 8, 4, 1, 0.5], [1, 1e-3], [2, 1]], [-2, 7, 0], precision=8)
    with pytest.raises(CorruptStreamError):
        coder.decode(data, indexes, other)
    with pytest.raises(CorruptStreamError, match="holds 5000 symbols but 4999"):
        coder.decode(data, indexes[1:], TINY)


def test_stream_info_reports_the_header():
    data = coder.encode([1, 2, 3], [0, 0, 0], TINY)
    info = coder.stream_info(data)
    assert info == dict(version=1, lanes=1, precision=8, n_symbols=3, header_bytes=13,
                        n_words=(len(data) - 13) // 4)
    assert data[:4] == bytes([0x6C, 1, 1, 8])


def test_threads_coding_at_once_give_each_its_own_bytes():
    # That they really run at once (the GIL released) is tests/coding/test_gil_release.py's claim.
    rng = np.random.default_rng(4)
    jobs = [(rng.integers(-3, 12, 50_000).astype(np.int32), rng.integers(0, 3, 50_000).astype(np.int32))
            for _ in range(4)]
    expected = [coder.encode(s, i, TINY) for s, i in jobs]
    results = [None] * len(jobs)

    def work(k):
        s, i = jobs[k]
        data = coder.encode(s, i, TINY)
        results[k] = (data, coder.decode(data, i, TINY))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (s, _) in enumerate(jobs):
        assert results[k][0] == expected[k]
        np.testing.assert_array_equal(results[k][1], s)


def test_lic_errors_are_lic_error_subclasses():
    with pytest.raises(LicError):
        coder.decode(b"\x00" * 20, [0], TINY)


def test_table_set_from_lic_core_tables_when_available():
    import lic_core.tables as tables_mod  # a broken build must fail here, not skip
    cdfs, lengths, offsets = tables_mod.gaussian_tables(tables_mod.scale_table(), precision=16)
    ts = coder.TableSet(cdfs, lengths, offsets, precision=16)
    rng = np.random.default_rng(5)
    indexes = rng.integers(0, ts.n_tables, 20_000).astype(np.int32)
    symbols = rng.integers(-40, 40, 20_000).astype(np.int32)
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols, indexes, ts), indexes, ts), symbols)


def test_module_docstring_example_runs():
    import doctest
    result = doctest.testmod(coder, raise_on_error=False)
    assert result.attempted >= 3 and result.failed == 0
