"""Assertions for codecs built on lic-core: lossless round trips and clean refusals.

NumPy only (no Hypothesis, no torch), so a codec can call these from any test runner.
The Hypothesis strategies that feed them live in :mod:`lic_core.testing.strategies`.

* :func:`assert_roundtrip` codes symbols with every face that can take the tables (the
  native coder, one-shot and chunked; the CompressAI-compatible ``lic_core.ans`` when the
  precision is its ``lic_core.ans.PRECISION``, 16 bits) and checks that each gives the
  symbols back.
* :func:`assert_refuses_cleanly` calls a function on damaged input and checks that it
  raises a :class:`lic_core.LicError` subclass, nothing else, within a time bound.
* :func:`assert_decodes_or_refuses` is the weaker contract of formats that cannot always
  tell damage from data (escape raw bits, the CompressAI stream): a result or a LicError.

Example::

    >>> from lic_core import coder
    >>> from lic_core.errors import CorruptStreamError
    >>> tables = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
    >>> streams = assert_roundtrip([0, 1, -1, 7], [0, 0, 0, 0], tables)
    >>> sorted(streams)
    ['coder']
    >>> err = assert_refuses_cleanly(coder.decode, streams["coder"][:-1], [0, 0, 0, 0], tables)
    >>> isinstance(err, CorruptStreamError)
    True
"""
from __future__ import annotations

import contextvars
import threading
import time
from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import InvalidArgumentError, LicError

__all__ = ["CdfTables", "Outcome", "assert_roundtrip", "assert_refuses_cleanly",
           "assert_decodes_or_refuses", "as_table_set", "DEFAULT_TIMEOUT"]

#: Seconds a refusal may take. Generous on purpose: every lic-core refusal of a
#: fuzz-sized input takes microseconds, so only a hang (or work proportional to a
#: claimed, never checked size) comes near it, even on a loaded two-core CI machine.
DEFAULT_TIMEOUT = 10.0

class CdfTables(NamedTuple):
    """A table set as plain arrays, in CompressAI's layout (docs/tables.md).

    * ``cdfs``: int32 ``[n_tables, max_len]``, row t holds ``cdf_lengths[t]`` entries
      ``0 = cdf[0] < ... < cdf[L_t - 1] = 2**precision``; entries past them are ignored;
    * ``cdf_lengths``: int32 ``[n_tables]``; ``offsets``: int32 ``[n_tables]``;
    * ``precision``: 1..16.

    The strategies' hostile variants reuse this type with any of the four fields wrong
    (a float array, a ragged list, a precision of 17), so do not assume the types above
    unless the tables came from a valid strategy.

    Example::

        >>> t = CdfTables(np.array([[0, 10, 60, 64]], np.int32), np.array([4], np.int32),
        ...               np.array([-1], np.int32), 6)
        >>> t.bind().n_tables
        1
    """

    cdfs: Any
    cdf_lengths: Any
    offsets: Any
    precision: Any = 16

    def bind(self):
        """A validated :class:`lic_core.coder.TableSet` (raises a LicError if invalid)."""
        from .. import coder
        return coder.TableSet(self.cdfs, self.cdf_lengths, self.offsets, precision=self.precision)

    @property
    def ans_args(self) -> tuple:
        """``(cdfs, cdf_lengths, offsets)``, the table arguments of ``lic_core.ans``."""
        return (self.cdfs, self.cdf_lengths, self.offsets)


class Outcome(NamedTuple):
    """What :func:`assert_decodes_or_refuses` saw: exactly one of the two is not None
    (``result`` may itself be None when the function returns None)."""

    result: Any
    error: LicError | None

    @property
    def refused(self) -> bool:
        return self.error is not None


def as_table_set(tables):
    """``tables`` (a TableSet, a :class:`CdfTables`, or a ``(cdfs, lengths, offsets[,
    precision])`` tuple) as a bound :class:`lic_core.coder.TableSet`."""
    from .. import coder
    if isinstance(tables, coder.TableSet):
        return tables
    if isinstance(tables, CdfTables):
        return tables.bind()
    if isinstance(tables, tuple) and len(tables) in (3, 4):
        return CdfTables(*tables).bind()
    raise InvalidArgumentError(
        "tables must be a coder.TableSet, a CdfTables or a (cdfs, cdf_lengths, offsets"
        f"[, precision]) tuple, got {type(tables).__name__}")


def _first_difference(got: np.ndarray, want: np.ndarray) -> str:
    """'symbol 17: got 3, expected -2 (table 4)'-style text for an assertion message."""
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
    k = int(bad[0])
    return (f"{bad.size} of {want.size} symbols differ; the first is symbol {k} "
            f"(C order): got {int(got.reshape(-1)[k])}, expected {int(want.reshape(-1)[k])}")


def _check_equal(face: str, got, want: np.ndarray) -> None:
    got = np.asarray(got)
    if got.shape != want.shape or not np.array_equal(got, want):
        raise AssertionError(f"{face} did not round-trip: {_first_difference(got, want)}")
    if got.dtype != np.int32:  # every decoder returns int32 symbols
        raise AssertionError(f"{face} returned {got.dtype} symbols, expected int32")


def _int_array(values) -> np.ndarray:
    """``values`` as an array; an empty list or tuple (float64 to NumPy) as int32, since
    it holds no symbol or index of any other type."""
    out = np.asarray(values)
    if out.size == 0 and not isinstance(values, np.ndarray) and out.dtype.kind == "f":
        out = out.astype(np.int32)
    return out


def _cuts(n: int, chunks: int) -> list[int]:
    """Chunk bounds 0 = b_0 <= ... <= b_k = n: an empty chunk first (a legal call the
    decoders must handle), then uneven pieces, so call boundaries land everywhere."""
    if n == 0:
        return [0, 0]
    inner = sorted({max(0, min(n, (n * (i * i)) // (chunks * chunks))) for i in range(1, chunks)})
    return [0, 0, *inner, n]


def assert_roundtrip(symbols, indexes, tables, *, faces=None, chunks: int = 4) -> dict[str, bytes]:
    """Check that every face codes ``symbols`` with ``tables`` and gives them back.

    Args:
        symbols: int array-like, any shape, values in int32 (escapes included).
        indexes: int array-like, the shape of ``symbols``, values in ``[0, n_tables)``.
        tables: a :class:`lic_core.coder.TableSet`, a :class:`CdfTables`, or a
            ``(cdfs, cdf_lengths, offsets[, precision])`` tuple.
        faces: ``None`` for every face that can code the tables: ``"coder"`` always,
            ``"ans"`` when the precision is ``lic_core.ans.PRECISION`` (16, the
            CompressAI format's only one); or an iterable naming them (asking for
            ``"ans"`` at another precision raises InvalidArgumentError). With ``"ans"``
            alone, a :class:`CdfTables` or tuple goes to ``lic_core.ans`` as it is,
            unbound: that face validates tables itself and accepts some the native
            coder refuses (offsets whose table values pass ``INT32_MAX``: it checks
            decoded values against int32 instead; docs/compat.md).
        chunks: how many pieces the streaming paths split the input into.

    What is checked, per face (decoders must return int32):

    * ``coder``: ``decode(encode(s, i, T), i, T) == s`` (int32, shaped like ``indexes``);
      ``stream_info`` counts ``s.size`` symbols; a :class:`~lic_core.coder.StreamEncoder`
      fed in chunks writes the same bytes; a :class:`~lic_core.coder.StreamDecoder` read
      in chunks gives ``s`` and ``finish()`` accepts the end.
    * ``ans`` (flattened in C order, as CompressAI's 1-D lists): ``RansEncoder`` /
      ``RansDecoder`` round trip; ``BufferedRansEncoder`` fed in chunks writes the same
      bytes; ``decode_stream`` in chunks then ``check_end()``.

    Returns ``{face: stream bytes}`` for the faces checked (reuse them to test damage).
    Raises AssertionError naming the face and the first differing symbol; a LicError from
    an encoder means the input itself was invalid and propagates unchanged.

    Example::

        >>> from lic_core import tables
        >>> t = tables.gaussian_tables(tables.scale_table())
        >>> out = assert_roundtrip([0, 3, -2**31, 2**31 - 1], [0, 10, 20, 63], t)
        >>> sorted(out)
        ['ans', 'coder']
    """
    from .. import ans, coder
    if faces is not None:
        faces = tuple(faces)
        unknown = set(faces) - {"coder", "ans"}
        if unknown:
            raise InvalidArgumentError(f"faces must name 'coder' and/or 'ans', got {sorted(unknown)}")
    if faces is not None and set(faces) == {"ans"} and isinstance(tables, tuple) \
            and len(tables) in (3, 4):  # a CdfTables or a tuple, for lic_core.ans alone
        raw = CdfTables(*tables)
        ts, args, precision = None, raw.ans_args, raw.precision
    else:
        ts = as_table_set(tables)
        args, precision = (ts.cdfs, ts.cdf_lengths, ts.offsets), ts.precision
    if faces is None:
        faces = ("coder", "ans") if precision == ans.PRECISION else ("coder",)
    if "ans" in faces and precision != ans.PRECISION:
        raise InvalidArgumentError(
            f"the ans face codes precision {ans.PRECISION} only; these tables have {precision}")
    symbols, indexes = _int_array(symbols), _int_array(indexes)
    # The expected output: the symbols as int32 (what decode returns). Values outside
    # int32, floats or a shape unlike indexes' are left as they are: the encoders refuse
    # them with a LicError, which propagates.
    want = symbols
    if symbols.dtype.kind in "iu" and (symbols.size == 0 or (
            int(symbols.min()) >= -2**31 and int(symbols.max()) <= 2**31 - 1)):
        want = symbols.astype(np.int32)
    out: dict[str, bytes] = {}

    if "coder" in faces:
        data = coder.encode(symbols, indexes, ts)
        _check_equal("coder.decode", coder.decode(data, indexes, ts), want)
        n = coder.stream_info(data)["n_symbols"]
        if n != want.size:
            raise AssertionError(f"coder.stream_info counts {n} symbols, expected {want.size}")
        flat_s, flat_i = want.reshape(-1), indexes.reshape(-1)
        bounds = _cuts(flat_s.size, chunks)
        enc = coder.StreamEncoder(ts)
        for a, b in zip(bounds[:-1], bounds[1:]):
            enc.encode(flat_s[a:b], flat_i[a:b])
        if enc.flush() != data:
            raise AssertionError("coder.StreamEncoder fed in chunks wrote other bytes than coder.encode")
        dec = coder.StreamDecoder(data, ts)
        pieces = [dec.decode(flat_i[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        dec.finish()
        _check_equal("coder.StreamDecoder", np.concatenate(pieces).reshape(want.shape), want)
        out["coder"] = data

    if "ans" in faces:
        flat_s, flat_i = want.reshape(-1), indexes.reshape(-1)
        data = ans.RansEncoder().encode_with_indexes(flat_s, flat_i, *args)  # refuses bad input
        _check_equal("ans.RansDecoder", ans.RansDecoder().decode_with_indexes_np(data, flat_i, *args),
                     flat_s)
        bounds = _cuts(flat_s.size, chunks)
        benc = ans.BufferedRansEncoder()
        for a, b in zip(bounds[:-1], bounds[1:]):
            benc.encode_with_indexes(flat_s[a:b], flat_i[a:b], *args)
        if benc.flush() != data:
            raise AssertionError("ans.BufferedRansEncoder fed in chunks wrote other bytes than RansEncoder")
        dec = ans.RansDecoder()
        dec.set_stream(data)
        pieces = [dec.decode_stream_np(flat_i[a:b], *args) for a, b in zip(bounds[:-1], bounds[1:])]
        dec.check_end()
        _check_equal("ans.RansDecoder.decode_stream", np.concatenate(pieces), flat_s)
        out["ans"] = data
    return out


def _call_with_time_bound(fn: Callable, args, kwargs, timeout: float):
    """Run fn(*args, **kwargs) in a worker thread; (returned, value_or_exception, seconds).

    Why a thread: a hang in Python code, or in native code that releases the GIL (the
    coder does for calls of >= 4096 symbols), then fails the test after ``timeout``
    instead of stalling the run. The worker runs in a copy of the caller's context, so
    contextvars (numpy.errstate, decimal) carry over; thread-local state (torch's grad
    mode) does not. A native loop that holds the GIL forever cannot be interrupted from
    inside the process: run the suite under a watchdog (pytest-timeout,
    faulthandler_timeout) for that."""
    ctx = contextvars.copy_context()
    box: list = []

    def work():
        try:
            box.append((True, ctx.run(fn, *args, **kwargs)))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            box.append((False, exc))

    start = time.perf_counter()
    worker = threading.Thread(target=work, name="lic_core.testing call", daemon=True)
    worker.start()
    worker.join(timeout)
    elapsed = time.perf_counter() - start
    if worker.is_alive() or not box:
        name = _name(fn)
        raise AssertionError(f"{name} did not return within {timeout:g} s: a hang, or work "
                             "proportional to a size the input claims but never holds")
    returned, value = box[0]
    return returned, value, elapsed


def _name(fn) -> str:
    """A readable name for messages (pybind11 methods have a machine-made __qualname__)."""
    qual = getattr(fn, "__qualname__", "")
    if qual and "pybind11" not in qual:
        return qual
    return getattr(fn, "__name__", None) or repr(fn)


def _summary(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _check_refusal(fn, exc: BaseException, expected) -> None:
    name = _name(fn)
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        raise exc
    if not isinstance(exc, LicError):
        raise AssertionError(
            f"{name} raised {type(exc).__name__}: {exc}; damaged or invalid input must raise a "
            "lic_core.LicError subclass") from exc
    if not isinstance(exc, expected):
        names = ", ".join(e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,)))
        raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}; expected {names}") from exc
    if not str(exc).strip():
        raise AssertionError(f"{name} raised {type(exc).__name__} with an empty message; "
                             "a refusal must say what was wrong") from exc


def assert_refuses_cleanly(fn: Callable, *args, timeout: float = DEFAULT_TIMEOUT,
                           expected=LicError, **kwargs) -> LicError:
    """Check that ``fn(*args, **kwargs)`` refuses its input cleanly; return the exception.

    Clean means: it raises an instance of ``expected`` (a :class:`lic_core.LicError`
    subclass or a tuple of them; default any LicError) with a non-empty message, and it
    does so within ``timeout`` seconds. Any other exception (``ValueError``,
    ``IndexError``, ``MemoryError``, ``SystemError``...), a normal return, or a call
    still running after ``timeout`` fails with AssertionError. ``timeout`` and
    ``expected`` are this function's; every other keyword goes to ``fn``.

    The call runs in a worker thread (see :data:`DEFAULT_TIMEOUT` and the limits in
    docs/testing.md: a native loop holding the GIL forever cannot be interrupted).

    Example::

        >>> from lic_core import coder
        >>> from lic_core.errors import InvalidTableError
        >>> err = assert_refuses_cleanly(coder.TableSet, [[0, 5, 5, 64]], precision=6)
        >>> type(err).__name__
        'InvalidTableError'
    """
    if not (isinstance(expected, type) and issubclass(expected, LicError)) and not (
            isinstance(expected, tuple) and expected
            and all(isinstance(e, type) and issubclass(e, LicError) for e in expected)):
        raise InvalidArgumentError(f"expected must be LicError subclasses, got {expected!r}")
    returned, value, _ = _call_with_time_bound(fn, args, kwargs, timeout)
    if returned:
        name = _name(fn)
        raise AssertionError(f"{name} accepted the input and returned {_summary(value)}; "
                             f"expected a {getattr(expected, '__name__', 'LicError')}")
    _check_refusal(fn, value, expected)
    return value


def assert_decodes_or_refuses(fn: Callable, *args, timeout: float = DEFAULT_TIMEOUT,
                              **kwargs) -> Outcome:
    """Check the weaker contract of damaged input: ``fn(*args, **kwargs)`` either returns
    or raises a :class:`lic_core.LicError`, within ``timeout`` seconds; never another
    exception, never a hang. Returns an :class:`Outcome` so the caller can check the
    result (its shape, its range) when there is one.

    For formats that cannot detect every damage: a bare native stream has no checksum,
    so damage that only moves a symbol between two slots of equal width, or changes an
    escape's raw bits, decodes to other symbols (docs/stream-format.md §5); the
    CompressAI format has no header or end check at all (docs/compat.md). A .lic file's
    CRC-32s catch both: use :func:`assert_refuses_cleanly` there.

    Example::

        >>> from lic_core import coder
        >>> t = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
        >>> assert_decodes_or_refuses(coder.decode, b"junk", [0], t).refused
        True
    """
    returned, value, _ = _call_with_time_bound(fn, args, kwargs, timeout)
    if returned:
        return Outcome(value, None)
    _check_refusal(fn, value, LicError)
    return Outcome(None, value)
