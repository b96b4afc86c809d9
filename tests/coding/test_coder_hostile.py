"""Hostile input to the native decoder: every malformed stream raises a LicError, fast.

A bounded Hypothesis fuzz (random bytes, truncations, bit flips, forged headers, any
damage to streams of any valid tables, hostile tables, indexes naming no table) over
one-shot and chunked decoding. Tables, symbols and damage come from lic_core.testing,
the strategies codecs built on us use, and refusals are checked by its
assert_refuses_cleanly: a LicError, nothing else, within a time bound. A crash would
kill the test process, a hang would trip that bound or the Hypothesis deadline.
"""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lic_core import coder
from lic_core.errors import (CorruptStreamError, IndexOutOfRangeError, InvalidArgumentError,
                             InvalidTableError, LicError, LimitExceededError, TruncatedStreamError,
                             UnsupportedFormatError)
from lic_core.testing import (assert_decodes_or_refuses, assert_refuses_cleanly, bad_indexes,
                              coding_cases, damaged, hostile_cdf_tables)

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

# Tables with a near-certain slot (cheap symbols), a wide one and an escape-only one.
TABLES = coder.TableSet(
    np.array([[0, 65530, 65533, 65536, 0, 0, 0, 0, 0],
              [0, 1000, 9000, 30000, 50000, 60000, 64000, 65535, 65536],
              [0, 65536, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int32),
    [4, 9, 2], [0, -3, 0])

RNG = np.random.default_rng(11)
N_SMALL = 300
INDEXES_SMALL = RNG.integers(0, 3, N_SMALL).astype(np.int32)
SYMBOLS_SMALL = RNG.integers(-5, 6, N_SMALL).astype(np.int32)
SYMBOLS_SMALL[::37] = np.iinfo(np.int32).min
VALID_SMALL = coder.encode(SYMBOLS_SMALL, INDEXES_SMALL, TABLES)

N_BIG = 30_000  # enough payload for a multi-lane stream
INDEXES_BIG = RNG.integers(1, 2, N_BIG).astype(np.int32)
SYMBOLS_BIG = RNG.integers(-3, 6, N_BIG).astype(np.int32)
VALID_BIG = coder.encode(SYMBOLS_BIG, INDEXES_BIG, TABLES)


def decode_chunked(data, indexes, tables=TABLES, cuts=(7, 100)):
    """StreamDecoder over ``indexes`` cut at ``cuts`` (clipped), then finish()."""
    dec = coder.StreamDecoder(data, tables)
    start, out = 0, []
    for cut in (*cuts, len(indexes)):
        end = max(start, min(cut, len(indexes)))
        out.append(dec.decode(indexes[start:end]))
        start = end
    dec.finish()
    return np.concatenate(out)


def decode_all_ways(data, indexes, cuts=(7, 100)):
    """One-shot and chunked decoding; both must refuse cleanly (a LicError, in time)."""
    assert_refuses_cleanly(coder.decode, data, indexes, TABLES)
    assert_refuses_cleanly(decode_chunked, data, indexes, TABLES, cuts)


def test_the_fixtures_are_valid_and_multi_lane():
    np.testing.assert_array_equal(coder.decode(VALID_SMALL, INDEXES_SMALL, TABLES), SYMBOLS_SMALL)
    np.testing.assert_array_equal(coder.decode(VALID_BIG, INDEXES_BIG, TABLES), SYMBOLS_BIG)
    assert coder.stream_info(VALID_BIG)["lanes"] > 1


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 400))
def test_random_bytes_raise_lic_error(data, n):
    decode_all_ways(data, np.zeros(n, np.int32))


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 4), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2000))
def test_random_payload_behind_a_valid_header_raises_lic_error(payload, varint_pad, lanes, n):
    # A plausible header (magic, version, lanes, precision 16, count) so the decoder gets past it.
    count = bytearray()
    v = n
    while v >= 0x80:
        count.append(0x80 | (v & 0x7F))
        v >>= 7
    count.append(v)
    # States above 2^31: a stream that decodes to its end must fail the final-state check.
    states = b"".join(int(2**31 + 12345 * (k + 1)).to_bytes(8, "little") for k in range(lanes))
    data = bytes([0x6C, 1, lanes, 16]) + bytes(count) + states + payload
    indexes = np.resize(np.arange(3, dtype=np.int32), n)
    decode_all_ways(data, indexes)


@pytest.mark.parametrize("valid,indexes", [(VALID_SMALL, INDEXES_SMALL), (VALID_BIG, INDEXES_BIG)])
def test_every_truncation_raises_lic_error(valid, indexes):
    step = max(1, len(valid) // 300)
    for cut in range(0, len(valid), step):
        with pytest.raises(LicError):
            coder.decode(valid[:cut], indexes, TABLES)


@pytest.mark.parametrize("valid,indexes", [(VALID_SMALL, INDEXES_SMALL), (VALID_BIG, INDEXES_BIG)])
def test_trailing_garbage_raises_corrupt_stream(valid, indexes):
    for extra in (b"\x00\x00\x00\x00", b"\x01", b"\xff" * 8):
        with pytest.raises(CorruptStreamError):
            coder.decode(valid + extra, indexes, TABLES)


def escaped(symbols, indexes):
    lengths, offsets = TABLES.cdf_lengths[indexes], TABLES.offsets[indexes]
    v = symbols.astype(np.int64) - offsets
    return (v < 0) | (v >= lengths - 2)


@FUZZ
@given(st.data())
def test_bit_flips_raise_lic_error_unless_they_only_hit_raw_escape_bits(data):
    # The final-state check covers everything arithmetic-coded. Escape payload
    # bits are stored raw (freq-1 items leave no trace in the state), so a flip
    # there may decode to another escaped value: the documented exception
    # (docs/stream-format.md), which the .lic container's CRC32 covers.
    valid, indexes, symbols = data.draw(st.sampled_from(
        [(VALID_SMALL, INDEXES_SMALL, SYMBOLS_SMALL), (VALID_BIG, INDEXES_BIG, SYMBOLS_BIG)]))
    corrupted = damaged(valid, data.draw, ops=["flip"], max_ops=3)  # 1..3 flipped bits
    outcome = assert_decodes_or_refuses(coder.decode, corrupted, indexes, TABLES)
    if outcome.refused:  # chunked decoding agrees
        assert_refuses_cleanly(decode_chunked, corrupted, indexes, TABLES, (1, len(indexes) // 2))
        return
    out = outcome.result
    changed = out != symbols
    assert changed.any(), "a flip that changes nothing is impossible: every stream bit is used"
    assert escaped(symbols, indexes)[changed].all() and escaped(out, indexes)[changed].all()


def test_escape_payload_flips_are_the_only_silent_ones():
    # Deterministic companion of the fuzz: flip every bit of the small stream.
    silent = 0
    for bit in range(8 * len(VALID_SMALL)):
        corrupted = bytearray(VALID_SMALL)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        try:
            out = coder.decode(bytes(corrupted), INDEXES_SMALL, TABLES)
        except LicError:
            continue
        silent += 1
        changed = out != SYMBOLS_SMALL
        assert escaped(SYMBOLS_SMALL, INDEXES_SMALL)[changed].all()
    # At most one silent flip per raw bit: 6 length bits + floor(log2(w + 1)) payload bits per escape.
    esc = escaped(SYMBOLS_SMALL, INDEXES_SMALL)
    v = SYMBOLS_SMALL.astype(np.int64)[esc] - TABLES.offsets[INDEXES_SMALL][esc]
    w = np.where(v < 0, -2 * v - 1, 2 * (v - (TABLES.cdf_lengths[INDEXES_SMALL][esc] - 2)))
    raw_bits = int(np.sum(6 + np.floor(np.log2(w + 1))))
    assert 0 < silent <= raw_bits, (silent, raw_bits)


def test_foreign_headers_are_unsupported():
    body = VALID_SMALL[4:]
    for header, match in [(b"\x00\x01\x01\x08", "not a native lic stream"),
                          (b"\x6C\x02\x01\x08", "version 2"),
                          (b"\x6C\x01\x03\x08", "3 lanes"),
                          (b"\x6C\x01\x01\x11", "precision 17"),
                          (b"\x6C\x01\x01\x0C", "precision 12 differs")]:
        with pytest.raises(UnsupportedFormatError, match=match):
            coder.decode(header + body, INDEXES_SMALL, TABLES)


def test_a_claimed_count_the_bytes_cannot_hold_is_refused_before_any_work():
    # 2^47 symbols claimed by a 17-byte stream: refused at open, without decoding.
    n = 2**47
    count = bytearray()
    while n >= 0x80:
        count.append(0x80 | (n & 0x7F))
        n >>= 7
    count.append(n)
    forged = bytes([0x6C, 1, 1, 16]) + bytes(count) + (2**31).to_bytes(8, "little")
    with pytest.raises(LimitExceededError, match="can hold at most"):
        coder.StreamDecoder(forged, TABLES)
    assert coder.stream_info(forged)["n_symbols"] == 2**47  # the header itself parses


def test_non_minimal_or_overlong_counts_are_corrupt():
    state = (2**31).to_bytes(8, "little")
    with pytest.raises(CorruptStreamError, match="minimally"):
        coder.stream_info(bytes([0x6C, 1, 1, 16, 0x80, 0x00]) + state)
    with pytest.raises(CorruptStreamError, match="longer than"):
        coder.stream_info(bytes([0x6C, 1, 1, 16]) + b"\xff" * 8 + state)
    with pytest.raises(TruncatedStreamError):
        coder.stream_info(bytes([0x6C, 1, 1, 16, 0x80]))


def test_a_failed_stream_decoder_keeps_failing():
    dec = coder.StreamDecoder(VALID_SMALL[:-8], TABLES)
    with pytest.raises(LicError) as first:
        dec.decode(INDEXES_SMALL)
    with pytest.raises(type(first.value), match=re.escape(str(first.value))):
        dec.decode(INDEXES_SMALL[:1])
    with pytest.raises(type(first.value)):
        dec.finish()


# ---- any tables, any damage (lic_core.testing strategies) -------------------------------

def escaped_in(ts, symbols, indexes):
    v = symbols.astype(np.int64) - ts.offsets[indexes]
    return (v < 0) | (v >= ts.cdf_lengths[indexes] - 2)


def slot_widths(ts, symbols, indexes):
    """Frequency of the slot each symbol is coded in (the escape slot for an escape)."""
    escape = ts.cdf_lengths[indexes] - 2
    v = symbols.astype(np.int64) - ts.offsets[indexes]
    slot = np.where((v >= 0) & (v < escape), v, escape)
    return ts.cdfs[indexes, slot + 1] - ts.cdfs[indexes, slot]


def silent_changes_are_explained(ts, symbols, out, indexes):
    """The damage that can decode silently (docs/stream-format.md §5): raw escape bits
    (an escape read as another escape), or a move between two non-escape slots of equal
    width, which leaves the state as the encoder had it."""
    changed = out != symbols
    esc_in, esc_out = escaped_in(ts, symbols, indexes), escaped_in(ts, out, indexes)
    equal_width = slot_widths(ts, symbols, indexes) == slot_widths(ts, out, indexes)
    return ((esc_in & esc_out) | (~esc_in & ~esc_out & equal_width))[changed].all()


@FUZZ
@given(coding_cases(max_size=300), st.data())
def test_any_damage_to_a_stream_of_any_tables_is_refused_or_changes_only_escapes(case, data):
    # Truncation, insertion, deletion, boundary overwrites, splices and flips, on streams
    # of every precision, lane count and escape mix the strategies make. The silent cases
    # are the documented ones (docs/stream-format.md §5): raw escape bits, and moves
    # between equal-width slots, which any table may have.
    symbols, indexes, ts = case
    valid = coder.encode(symbols, indexes, ts)
    corrupted = damaged(valid, data.draw)
    outcome = assert_decodes_or_refuses(coder.decode, corrupted, indexes, ts)
    if outcome.refused:  # chunked decoding agrees
        assert_refuses_cleanly(decode_chunked, corrupted, indexes, ts, (1, len(indexes) // 2))
        return
    assert silent_changes_are_explained(ts, symbols, outcome.result, indexes)
    np.testing.assert_array_equal(decode_chunked(corrupted, indexes, ts), outcome.result)


@FUZZ
@given(hostile_cdf_tables())
def test_hostile_tables_are_refused_at_every_entry_point(bad):
    # Each table set has one defect (lic_core.testing.HOSTILE_KINDS); every face that
    # takes raw tables validates them before any work.
    refusals = (InvalidTableError, InvalidArgumentError, LimitExceededError)
    raw = (bad.cdfs, bad.cdf_lengths, bad.offsets)
    assert_refuses_cleanly(bad.bind, expected=refusals)
    assert_refuses_cleanly(coder.encode, [0], [0], *raw, precision=bad.precision, expected=refusals)
    assert_refuses_cleanly(coder.StreamEncoder, *raw, precision=bad.precision, expected=refusals)
    # Decoders may look at the stream's header and count before the tables: any LicError.
    assert_refuses_cleanly(coder.decode, VALID_SMALL, [0], *raw, precision=bad.precision)
    assert_refuses_cleanly(coder.StreamDecoder, VALID_SMALL, *raw, precision=bad.precision)


@FUZZ
@given(bad_indexes(TABLES.n_tables, max_size=N_SMALL))
def test_indexes_naming_no_table_are_refused(indexes):
    assert_refuses_cleanly(coder.encode, np.zeros(indexes.shape, np.int32), indexes, TABLES,
                           expected=IndexOutOfRangeError)
    # Decoding checks each index as it reaches it, and a wrong (but valid) index before it
    # would already derail the stream: keep the right indexes wherever the drawn one is valid.
    padded = INDEXES_SMALL.astype(np.int64)
    bad = (indexes < 0) | (indexes >= TABLES.n_tables)
    padded[:len(indexes)][bad] = indexes[bad]
    assert_refuses_cleanly(coder.decode, VALID_SMALL, padded, TABLES, expected=IndexOutOfRangeError)
    assert_refuses_cleanly(decode_chunked, VALID_SMALL, padded, TABLES,
                           expected=IndexOutOfRangeError)
