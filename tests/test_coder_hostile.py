"""Hostile input to the native decoder: every malformed stream raises a LicError, fast.

A bounded Hypothesis fuzz (random bytes, truncations, bit flips, forged headers)
over one-shot and chunked decoding. A crash would kill the test process, a hang
would trip the Hypothesis deadline.
"""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lic_core import coder
from lic_core.errors import (CorruptStreamError, LicError, LimitExceededError, TruncatedStreamError,
                             UnsupportedFormatError)

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


def decode_all_ways(data, indexes, cuts=(7, 100)):
    """One-shot and chunked decoding; both must raise a LicError."""
    with pytest.raises(LicError):
        coder.decode(data, indexes, TABLES)
    with pytest.raises(LicError):
        dec = coder.StreamDecoder(data, TABLES)
        start = 0
        for cut in (*cuts, len(indexes)):
            dec.decode(indexes[start:max(start, min(cut, len(indexes)))])
            start = max(start, min(cut, len(indexes)))
        dec.finish()


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
    flips = data.draw(st.lists(st.integers(0, 8 * len(valid) - 1), min_size=1, max_size=3, unique=True))
    corrupted = bytearray(valid)
    for bit in flips:
        corrupted[bit // 8] ^= 1 << (bit % 8)
    try:
        out = coder.decode(bytes(corrupted), indexes, TABLES)
    except LicError:
        with pytest.raises(LicError):  # chunked decoding agrees
            dec = coder.StreamDecoder(bytes(corrupted), TABLES)
            dec.decode(indexes[:1])
            dec.decode(indexes[1:len(indexes) // 2])
            dec.decode(indexes[len(indexes) // 2:])
            dec.finish()
        return
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
