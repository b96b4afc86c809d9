"""Hardening of the coding faces (issue 13, points 2, 3, 7 and 16).

* Uninitialised objects (``Cls.__new__(Cls)``, a subclass that skips
  ``super().__init__()``, a failed ``__init__``) raise InvalidArgumentError from every
  method and property of every face instead of crashing the interpreter. Those checks
  run in a child interpreter, so a segfault fails a test instead of killing pytest.
* Every array argument of every face is read by value whatever its byte order
  (``'>i4'``, ``'>f4'``, ``'>f8'``) or alignment: the same numbers give the same
  bytes, tables and symbols.
* A decode call whose indexes do not match the stream fails before the indexes are
  copied (a zero-stride view of 2**28 entries costs nothing).
* docs/stream-format.md §5: a bit flip of a bare native stream can decode silently to
  other symbols (equal-width slots); inside a .lic file the payload CRC-32 refuses it.
"""
import pickle
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from lic_core import ans, coder, container, tables
from lic_core.errors import ContainerError, CorruptStreamError, LicError

# ---------------------------------------------------------------- shared inputs

# Native face: one table of precision 6 (slots -1, 0, then the escape).
N_CDFS = np.array([[0, 10, 60, 64], [0, 32, 63, 64]], dtype=np.int32)
N_LENGTHS = np.array([4, 4], dtype=np.int32)
N_OFFSETS = np.array([-1, 2], dtype=np.int32)  # 2, unlike -1 and 0, changes when byte-swapped
N_SYMBOLS = np.array([0, 1, -1, 7, 3, 0, -300, 2], dtype=np.int32)
N_INDEXES = np.array([0, 1, 0, 0, 1, 1, 0, 1], dtype=np.int32)

# CompressAI face: precision 16.
A_CDFS = np.array([[0, 30000, 60000, 65536, 0], [0, 1, 65535, 65536, 0]], dtype=np.int32)
A_LENGTHS = np.array([4, 4], dtype=np.int32)
A_OFFSETS = np.array([1, -2], dtype=np.int32)  # neither survives a byte swap
A_SYMBOLS = np.array([0, 1, 7, -3, 1, 0, 0, 40], dtype=np.int32)
A_INDEXES = np.array([0, 1, 0, 0, 1, 1, 0, 1], dtype=np.int32)


def big_endian(a):
    """The same values in the opposite byte order of this machine's (so '>' on x86)."""
    a = np.asarray(a)
    swapped = a.astype(a.dtype.newbyteorder("S"))
    assert not swapped.dtype.isnative and np.array_equal(swapped, a)
    return swapped


def misaligned(a):
    """The same int32 values in a C-contiguous buffer that starts one byte off alignment."""
    a = np.ascontiguousarray(a, dtype=np.int32)
    raw = bytearray(a.nbytes + 1)
    out = np.frombuffer(raw, dtype=np.int32, offset=1, count=a.size).reshape(a.shape)
    assert not out.flags.aligned
    out[...] = a
    return out


def native_tables():
    return coder.TableSet(N_CDFS, N_LENGTHS, N_OFFSETS, precision=6)


# ---------------------------------------------------------------- point 2: uninitialised objects

# Run in a child interpreter: each case prints its label before it runs, so a crash
# names the case that crashed.
_PRELUDE = textwrap.dedent("""
    import pickle
    import numpy as np
    from lic_core import ans, coder
    from lic_core.errors import InvalidArgumentError, LicError

    TS = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
    DATA = coder.encode([0, 1], [0, 0], TS)
    A = ([[0, 30000, 60000, 65536]], [4], [0])
    A_DATA = ans.RansEncoder().encode_with_indexes([0, 1], [0, 0], *A)

    def expect_refused(label, fn):
        print("start", label, flush=True)
        try:
            fn()
        except InvalidArgumentError as exc:
            assert "not initialised" in str(exc), str(exc)
            print("refused", label, flush=True)
        else:
            raise AssertionError(label + " did not raise")
""")


def run_isolated(*parts):
    """Run the prelude and `parts` (each dedented) in a fresh interpreter; return its stdout lines."""
    code = _PRELUDE + "".join(textwrap.dedent(part) for part in parts)
    proc = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode} (negative: killed by that signal)\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}")
    return proc.stdout.splitlines()


def assert_all_refused(lines):
    started = [line.split(" ", 1)[1] for line in lines if line.startswith("start ")]
    refused = [line.split(" ", 1)[1] for line in lines if line.startswith("refused ")]
    assert started and started == refused, lines


# How each uninitialised object is made: Cls.__new__(Cls), and a subclass whose
# __init__ never calls the base class's.
_MAKERS = """
    def makers(cls):
        class Skips(cls):
            def __init__(self, *args, **kwargs):
                pass
        return {"__new__": lambda: cls.__new__(cls), "subclass": Skips}
"""


def test_an_uninitialised_table_set_raises_from_every_method_and_property():
    assert_all_refused(run_isolated(_MAKERS, """
        for how, make in makers(coder.TableSet).items():
            for name, use in {
                "n_tables": lambda t: t.n_tables,
                "precision": lambda t: t.precision,
                "cdfs": lambda t: t.cdfs,
                "cdf_lengths": lambda t: t.cdf_lengths,
                "offsets": lambda t: t.offsets,
                "repr": repr,
                "pickle": pickle.dumps,
                "encode": lambda t: coder.encode([0], [0], t),
                "decode": lambda t: coder.decode(DATA, [0, 0], t),
                "StreamEncoder": coder.StreamEncoder,
                "StreamDecoder": lambda t: coder.StreamDecoder(DATA, t),
            }.items():
                expect_refused(f"TableSet {how} {name}", lambda: use(make()))
    """))


def test_uninitialised_integer_networks_raise_from_every_method_and_property():
    """_intnet: a Net with no layers (Net(), Net.__new__, a subclass) used to answer
    macs() with 2**64 - 1 and its properties with 0/16/False; a Joint made without
    __init__ has no engine object. Every method and property refuses them by name."""
    assert_all_refused(run_isolated(_MAKERS, """
        from lic_core.coding import _intnet

        I16, I32, I64 = (np.zeros(4, t) for t in (np.int16, np.int32, np.int64))
        nets = dict(makers(_intnet.Net), constructor=_intnet.Net)
        for how, make in nets.items():
            for name, use in {
                "in_channels": lambda n: n.in_channels,
                "out_channels": lambda n: n.out_channels,
                "out_bits": lambda n: n.out_bits,
                "spatial": lambda n: n.spatial,
                "macs": lambda n: n.macs(4, 4),
                "output_shape": lambda n: n.output_shape(4, 4),
                "threads_used": lambda n: n.threads_used(4, 4, 2),
                "run": lambda n: n.run(I16, 2, 2),
                "Joint of it": lambda n: _intnet.Joint(n, n, I32, 0),
            }.items():
                expect_refused(f"Net {how} {name}", lambda: use(make()))
            repr(make())

        for how, make in makers(_intnet.Joint).items():
            for name, use in {
                "channels": lambda j: j.channels,
                "step": lambda j: j.step(I16, I16, 1, 1, I64),
                "commit": lambda j: j.commit(I16, 1, 1, I64, I32, I32),
                "decode": lambda j: j.decode(I16, 1, 1, DATA, TS, I64, I64),
                "encode": lambda j: j.encode(I16, np.zeros(4, np.float32), 1, 1, I64, I64),
            }.items():
                expect_refused(f"Joint {how} {name}", lambda: use(make()))
            repr(make())
    """))


def test_a_built_integer_network_refuses_macs_past_the_engines_limits():
    """macs() past the limits returned the engine's placeholder 2**64 - 1 as a count."""
    from lic_core.coding import intnet
    from lic_core.errors import LimitExceededError
    net = intnet.Network([intnet.Layer("conv", np.zeros((2, 3, 3, 3), np.int16),
                                       np.zeros(2, np.int32), np.zeros(2, np.uint8))])._net
    assert 0 < net.macs(4, 4) < 2 ** 20  # a count (of packed lanes), not a placeholder
    with pytest.raises(LimitExceededError):
        net.macs(2 ** 20, 2 ** 20)
    assert net.threads_used(2 ** 20, 2 ** 20, 8) == 1  # unchanged: no run, nothing to split


def test_uninitialised_stream_encoders_and_decoders_raise_from_every_method_and_property():
    assert_all_refused(run_isolated(_MAKERS, """
        for how, make in makers(coder.StreamEncoder).items():
            for name, use in {
                "encode": lambda e: e.encode([0], [0]),
                "flush": lambda e: e.flush(),
                "n_staged": lambda e: e.n_staged,
                "tables": lambda e: e.tables,
            }.items():
                expect_refused(f"StreamEncoder {how} {name}", lambda: use(make()))

        # A decoder is also unusable after its __init__ failed (a bad stream, caught).
        class FailedInit(coder.StreamDecoder):
            def __init__(self):
                try:
                    super().__init__(b"not a stream", TS)
                except LicError:
                    pass

        decoders = dict(makers(coder.StreamDecoder), failed_init=FailedInit)
        for how, make in decoders.items():
            for name, use in {
                "decode": lambda d: d.decode([0]),
                "finish": lambda d: d.finish(),
                "n_symbols": lambda d: d.n_symbols,
                "n_decoded": lambda d: d.n_decoded,
                "tables": lambda d: d.tables,
            }.items():
                expect_refused(f"StreamDecoder {how} {name}", lambda: use(make()))
    """))


def test_uninitialised_ans_objects_raise_from_every_method_and_property():
    assert_all_refused(run_isolated("""
        cases = {
            ans.RansEncoder: {
                "encode_with_indexes": lambda o: o.encode_with_indexes([0], [0], *A),
                "encode_with_indexes_np": lambda o: o.encode_with_indexes_np([0], [0], *A),
            },
            ans.BufferedRansEncoder: {
                "encode_with_indexes": lambda o: o.encode_with_indexes([0], [0], *A),
                "encode_with_indexes_np": lambda o: o.encode_with_indexes_np([0], [0], *A),
                "flush": lambda o: o.flush(),
                "pending_items": lambda o: o.pending_items,
            },
            ans.RansDecoder: {
                "decode_with_indexes": lambda o: o.decode_with_indexes(A_DATA, [0, 0], *A),
                "decode_with_indexes_np": lambda o: o.decode_with_indexes_np(A_DATA, [0, 0], *A),
                "set_stream": lambda o: o.set_stream(A_DATA),
                "decode_stream": lambda o: o.decode_stream([0], *A),
                "decode_stream_np": lambda o: o.decode_stream_np([0], *A),
                "check_end": lambda o: o.check_end(),
            },
        }
        for cls, methods in cases.items():
            for name, use in methods.items():
                expect_refused(f"{cls.__name__} {name}",
                               lambda: use(cls.__new__(cls)))
            repr(cls.__new__(cls))  # object's repr touches no C++ state: must not crash
    """))


def test_ans_subclasses_that_skip_init_and_foreign_selves_are_refused_without_a_crash():
    lines = run_isolated("""
        for cls in (ans.RansEncoder, ans.BufferedRansEncoder, ans.RansDecoder):
            class Skips(cls):
                def __init__(self):
                    pass
            try:
                Skips()
            except TypeError as exc:  # pybind11's metaclass refuses it
                print("refused", cls.__name__, "subclass", flush=True)
        # An unbound method called with an object of another type.
        for call in (lambda: ans.RansDecoder.check_end(42),
                     lambda: ans.RansEncoder.encode_with_indexes(ans.RansDecoder(), [0], [0], *A)):
            try:
                call()
            except InvalidArgumentError as exc:
                assert "called on a" in str(exc), str(exc)
                print("refused foreign self", flush=True)
    """)
    assert sum(line.startswith("refused") for line in lines) == 5, lines


def test_initialised_objects_still_work_after_the_checks():
    ts = native_tables()
    assert ts.n_tables == 2 and ts.precision == 6
    assert repr(ts) == "TableSet(n_tables=2, max_len=4, precision=6)"
    assert pickle.loads(pickle.dumps(ts)).cdfs.tolist() == N_CDFS.tolist()
    enc = coder.StreamEncoder(ts)
    assert enc.tables is ts and enc.n_staged == 0
    enc.encode(N_SYMBOLS, N_INDEXES)
    data = enc.flush()
    dec = coder.StreamDecoder(data, ts)
    assert dec.tables is ts and dec.n_symbols == N_SYMBOLS.size and dec.n_decoded == 0
    np.testing.assert_array_equal(dec.decode(N_INDEXES), N_SYMBOLS)
    dec.finish()
    buffered = ans.BufferedRansEncoder()
    buffered.encode_with_indexes(A_SYMBOLS, A_INDEXES, A_CDFS, A_LENGTHS, A_OFFSETS)
    assert buffered.pending_items > 0
    stream = buffered.flush()
    assert ans.RansDecoder().decode_with_indexes(
        stream, A_INDEXES, A_CDFS, A_LENGTHS, A_OFFSETS) == A_SYMBOLS.tolist()


# ---------------------------------------------------------------- point 3: byte order

NATIVE_ARGS = dict(symbols=N_SYMBOLS, indexes=N_INDEXES, cdfs=N_CDFS, cdf_lengths=N_LENGTHS,
                   offsets=N_OFFSETS)
NATIVE_BYTES = coder.encode(N_SYMBOLS, N_INDEXES, N_CDFS, N_LENGTHS, N_OFFSETS, precision=6)


def _with(args, name, convert):
    out = dict(args)
    out[name] = convert(out[name])
    return out


@pytest.mark.parametrize("convert", [big_endian, misaligned,
                                     lambda a: big_endian(np.asarray(a, dtype=np.int64))],
                         ids=[">i4", "misaligned", ">i8"])
@pytest.mark.parametrize("name", list(NATIVE_ARGS))
def test_the_native_coder_reads_every_array_by_value(name, convert):
    a = _with(NATIVE_ARGS, name, convert)
    tables_ = (a["cdfs"], a["cdf_lengths"], a["offsets"])
    assert coder.encode(a["symbols"], a["indexes"], *tables_, precision=6) == NATIVE_BYTES
    np.testing.assert_array_equal(
        coder.decode(NATIVE_BYTES, a["indexes"], *tables_, precision=6), N_SYMBOLS)
    ts = coder.TableSet(*tables_, precision=6)
    for mine, ref in ((ts.cdfs, N_CDFS), (ts.cdf_lengths, N_LENGTHS), (ts.offsets, N_OFFSETS)):
        assert mine.dtype == np.int32 and mine.dtype.isnative
        np.testing.assert_array_equal(mine, ref)
    enc = coder.StreamEncoder(ts)
    half = N_SYMBOLS.size // 2
    enc.encode(a["symbols"][:half], a["indexes"][:half])
    enc.encode(a["symbols"][half:], a["indexes"][half:])
    assert enc.flush() == NATIVE_BYTES
    dec = coder.StreamDecoder(NATIVE_BYTES, ts)
    np.testing.assert_array_equal(np.concatenate([dec.decode(a["indexes"][:half]),
                                                  dec.decode(a["indexes"][half:])]), N_SYMBOLS)
    dec.finish()


def test_big_endian_symbols_are_not_reinterpreted():
    # The example: these came back as 16777216, 33554432, 50331648.
    ts = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
    symbols = np.array([1, 2, 3], ">i4")
    data = coder.encode(symbols, np.zeros(3, ">i4"), ts)
    assert data == coder.encode([1, 2, 3], [0, 0, 0], ts)
    assert coder.decode(data, np.zeros(3, ">i4"), ts).tolist() == [1, 2, 3]


ANS_ARGS = dict(symbols=A_SYMBOLS, indexes=A_INDEXES, cdfs=A_CDFS, cdf_lengths=A_LENGTHS,
                offsets=A_OFFSETS)
ANS_BYTES = ans.RansEncoder().encode_with_indexes(A_SYMBOLS, A_INDEXES, A_CDFS, A_LENGTHS, A_OFFSETS)


def _rows_of(convert):
    return lambda cdfs: [convert(row) for row in cdfs]


@pytest.mark.parametrize("name,convert", [
    *((name, convert) for name in ANS_ARGS for convert in (big_endian, misaligned)),
    ("cdfs", _rows_of(big_endian)),  # CompressAI passes cdfs as a list of rows
])
def test_the_compressai_coder_reads_every_array_by_value(name, convert):
    a = _with(ANS_ARGS, name, convert)
    tables_ = (a["cdfs"], a["cdf_lengths"], a["offsets"])
    for encode in (ans.RansEncoder().encode_with_indexes, ans.RansEncoder().encode_with_indexes_np):
        assert encode(a["symbols"], a["indexes"], *tables_) == ANS_BYTES
    buffered = ans.BufferedRansEncoder()
    buffered.encode_with_indexes(a["symbols"], a["indexes"], *tables_)
    assert buffered.flush() == ANS_BYTES
    decoder = ans.RansDecoder()
    assert decoder.decode_with_indexes(ANS_BYTES, a["indexes"], *tables_) == A_SYMBOLS.tolist()
    np.testing.assert_array_equal(decoder.decode_with_indexes_np(ANS_BYTES, a["indexes"], *tables_),
                                  A_SYMBOLS)
    decoder.set_stream(ANS_BYTES)
    half = A_SYMBOLS.size // 2
    assert decoder.decode_stream(a["indexes"][:half], *tables_) == A_SYMBOLS[:half].tolist()
    np.testing.assert_array_equal(decoder.decode_stream_np(a["indexes"][half:], *tables_),
                                  A_SYMBOLS[half:])
    decoder.check_end()


@pytest.mark.parametrize("dtype", [">f4", ">f8"])
def test_the_table_builders_read_every_float_array_by_value(dtype):
    scale_table = tables.scale_table()
    scales = np.array([0.05, 0.11, 0.2, 1.0, 17.5, 1e9], dtype=np.float32)
    expected = tables.scale_indexes(scales, scale_table)
    assert not np.array(0, dtype).dtype.isnative
    for s, t in ((scales.astype(dtype), scale_table), (scales, scale_table.astype(dtype)),
                 (scales.astype(dtype), scale_table.astype(dtype))):
        np.testing.assert_array_equal(tables.scale_indexes(s, t), expected)
    for build in (tables.gaussian_tables, tables.laplace_tables, tables.logistic_tables):
        some = scale_table[::9]
        for mine, ref in zip(build(some.astype(dtype)), build(some)):
            np.testing.assert_array_equal(mine, ref)
    pmf = np.array([0.5, 0.25, 0.125, 0.125])
    np.testing.assert_array_equal(tables.pmf_to_quantized_cdf(pmf.astype(dtype), precision=8),
                                  tables.pmf_to_quantized_cdf(pmf, precision=8))
    pmfs = np.array([[0.5, 0.25, 0.25, 0.0], [0.1, 0.2, 0.3, 0.4]])
    lengths, offsets = np.array([3, 4], np.int32), np.array([-1, -2], np.int32)
    ref = tables.pmfs_to_tables(pmfs, lengths, offsets, precision=8)
    for args in ((pmfs.astype(dtype), lengths, offsets),
                 (pmfs, big_endian(lengths), big_endian(offsets)),
                 (pmfs.astype(dtype), big_endian(lengths.astype(np.int64)), big_endian(offsets))):
        for mine, r in zip(tables.pmfs_to_tables(*args, precision=8), ref):
            assert mine.dtype.isnative
            np.testing.assert_array_equal(mine, r)


# ---------------------------------------------------------------- point 7: size checks before copies

@pytest.mark.parametrize("call", [
    "decode", "decode_int64", "stream_decoder", "encode_symbols", "encode_indexes",
    "stream_encoder", "table_set"])
def test_a_mismatched_call_fails_before_copying_a_huge_zero_stride_array(call):
    ts = native_tables()
    data = coder.encode(N_SYMBOLS, N_INDEXES, ts)
    huge = np.broadcast_to(np.int32(0), (1 << 28,))  # 1 GiB once materialised, 4 bytes now
    small = np.zeros(3, np.int32)
    calls = {
        "decode": lambda: coder.decode(data, huge, ts),
        "decode_int64": lambda: coder.decode(data, np.broadcast_to(np.int64(0), (1 << 28,)), ts),
        "stream_decoder": lambda: coder.StreamDecoder(data, ts).decode(huge),
        "encode_symbols": lambda: coder.encode(huge, small, ts),
        "encode_indexes": lambda: coder.encode(small, huge, ts),
        "stream_encoder": lambda: coder.StreamEncoder(ts).encode(small, huge),
        "table_set": lambda: coder.TableSet(np.broadcast_to(np.int32(0), (1 << 26, 4)), small),
    }
    tracemalloc.start()
    try:
        with pytest.raises(LicError) as info:
            calls[call]()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak} bytes allocated before refusing: {info.value}"
    if call.startswith(("decode", "stream_decoder")):
        assert isinstance(info.value, CorruptStreamError)
        assert "268435456" in str(info.value)


# ---------------------------------------------------------------- point 16: what a bit flip can do

def _flip(data, bit):
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _slot(values, freqs):
    """The slot a value is coded in: itself when in range, else the escape (the last slot)."""
    escape = freqs.size - 1
    return np.where((values >= 0) & (values < escape), values, escape)


def test_a_bare_stream_can_decode_a_flipped_bit_silently_but_a_lic_file_refuses_it():
    # The case: the default Gaussian table 15 (scale ~0.70) gives -5, -4, 4, 5
    # and its escape frequency 1 each. Symbols stay in -5..5 (no escapes), so the only
    # silent damage possible is a move between equal-width slots (docs/stream-format.md §5).
    cdfs, lengths, offsets = tables.gaussian_tables(tables.scale_table())
    ts = coder.TableSet(cdfs, lengths, offsets)
    t = 15
    freqs = np.diff(cdfs[t, :lengths[t]])
    assert offsets[t] == -5 and freqs[[0, 1, 9, 10]].tolist() == [1, 1, 1, 1]
    symbols = np.tile(np.array([-5, -4, 0, 4, 5, -1, 1, -4, 5, 0], np.int32), 6)
    indexes = np.full(symbols.size, t, np.int32)
    data = coder.encode(symbols, indexes, ts)
    payload_start = coder.stream_info(data)["header_bytes"]

    silent = []
    for bit in range(8 * payload_start, 8 * len(data)):
        try:
            out = coder.decode(_flip(data, bit), indexes, ts)
        except LicError:
            continue
        changed = np.flatnonzero(out != symbols)
        assert changed.size, "every stream bit is used: a flip must change something"
        slot_in, slot_out = _slot(symbols[changed] - offsets[t], freqs), _slot(out[changed] - offsets[t], freqs)
        # Silent only between slots of equal width: the state after the symbol is the same.
        # Not into the escape (also width 1 here): its raw bits would change the state.
        np.testing.assert_array_equal(freqs[slot_in], freqs[slot_out])
        assert (slot_out < freqs.size - 1).all()
        silent.append(bit)
    assert silent, "expected at least one silent payload flip (see docs/stream-format.md §5)"

    # The same damage in a .lic file: the payload CRC-32 covers every stream.
    f = container.LicFile(model="factorized", quality=1, height=16, width=16,
                          latent_shapes=((1, 1),), streams=(data,), weights_fingerprint=1)
    packed = container.pack(f)
    assert container.unpack(packed).streams == (data,)
    stream_start = len(packed) - len(data)
    for bit in silent:
        with pytest.raises(ContainerError, match="payload CRC"):
            container.unpack(_flip(packed, 8 * stream_start + bit))
