"""Hypothesis strategies for codecs built on lic-core (imports Hypothesis; torch only on request).

Every strategy here returns a ``hypothesis.strategies.SearchStrategy``; shapes and dtypes
are in each docstring. Valid strategies make inputs lic-core accepts, hostile ones make
inputs it must refuse with a :class:`lic_core.LicError`, and :func:`damaged` /
:func:`damaged_bytes` spoil valid bytes the way storage and transport do. Drawn values
shrink towards the plain case: one small table, in-range symbols, a flat image, the
first damage operation.

Example::

    >>> from hypothesis import given, settings
    >>> from lic_core.testing import assert_roundtrip, coding_cases
    >>> @settings(max_examples=20)
    ... @given(coding_cases(max_size=50))
    ... def test_round_trip(case):
    ...     assert_roundtrip(*case)
    >>> test_round_trip()

Tables (docs/tables.md, docs/stream-format.md §1):
    :func:`cdf_tables`, :func:`table_sets`, :func:`hostile_cdf_tables` (and
    :data:`HOSTILE_KINDS`).
Symbols: :func:`symbols_and_indexes`, :func:`coding_cases`, :func:`bad_indexes`.
Gaussian parameters: :func:`scales`, :func:`means`, :func:`gaussian_params`.
Images: :func:`image_arrays`, :func:`pil_images`, :func:`images`.
.lic files (docs/format.md): :func:`lic_files`, :func:`lic_bytes`, :func:`model_files`.
Damage: :func:`damaged`, :func:`damaged_bytes` (and :data:`DAMAGE_OPS`).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from hypothesis import note, reject
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.strategies import SearchStrategy

from .. import coder, container
from .. import tables as _tables
from ..errors import InvalidArgumentError
from ..zoo.registry import QUALITIES
from ._names import STRATEGY_NAMES
from .checks import CdfTables, as_table_set
from .tiny_models import tiny_model

__all__ = list(STRATEGY_NAMES)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
#: int32 values a codec most often gets wrong: the ends, their neighbours, 0 and -1.
INT32_EXTREMES = (INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX)


def _note(text: str) -> None:
    # Recorded with a failing example (why a hostile input is hostile); outside a test
    # (``.example()`` at a prompt) there is nowhere to record it.
    try:
        note(text)
    except Exception:  # noqa: BLE001 - hypothesis raises InvalidArgument outside a test
        pass


def _shape_strategy(shape, default):
    """``shape`` (None, an int, a tuple or a strategy of tuples) as a strategy of tuples."""
    if shape is None:
        return default
    if isinstance(shape, SearchStrategy):
        return shape
    if isinstance(shape, (int, np.integer)):
        return st.just((int(shape),))
    return st.just(tuple(int(s) for s in shape))


# ----------------------------------------------------------------------------- tables

def _precision_strategy(precision) -> SearchStrategy:
    if precision is None:
        # Every precision, with the default (the one models use) drawn often.
        return st.one_of(st.just(coder.PRECISION), st.integers(1, coder.MAX_PRECISION))
    if isinstance(precision, SearchStrategy):
        return precision
    p = int(precision)
    if not 1 <= p <= coder.MAX_PRECISION:
        raise InvalidArgumentError(f"precision {p} is outside 1..{coder.MAX_PRECISION}")
    return st.just(p)


@st.composite
def _frequencies(draw, total: int, n_slots: int) -> np.ndarray:
    """n_slots frequencies >= 1 summing to ``total``: from drawn weights, or a run of
    frequency-1 slots beside one wide slot (the decoder's bucket search worst case)."""
    if n_slots == 1:
        return np.array([total], np.int64)
    if draw(st.booleans()):
        freq = np.ones(n_slots, np.int64)
        freq[draw(st.integers(0, n_slots - 1))] = total - (n_slots - 1)
        return freq
    weights = np.array(draw(st.lists(st.integers(1, 1000), min_size=n_slots, max_size=n_slots)),
                       np.int64)
    freq = 1 + (weights * (total - n_slots)) // weights.sum()
    freq[int(np.argmax(freq))] += total - int(freq.sum())
    return freq


@st.composite
def _cdf_tables(draw, precision, min_tables, max_tables, min_slots, max_slots) -> CdfTables:
    p = draw(_precision_strategy(precision))
    total = 1 << p
    n_tables = draw(st.integers(min_tables, max_tables))
    rows, offsets = [], []
    for _ in range(n_tables):
        # Slots include the escape (the last one): cdf_length = slots + 1.
        n_slots = draw(st.integers(min(min_slots, total), min(max_slots, total)))
        freq = draw(_frequencies(total, n_slots))
        rows.append(np.concatenate([[0], np.cumsum(freq)]))
        # offset + E - 1 must fit int32 (E = n_slots - 1 in-table values).
        top = INT32_MAX - max(n_slots - 2, 0)
        offsets.append(draw(st.one_of(st.integers(-64, 64), st.sampled_from([INT32_MIN, top]),
                                      st.integers(INT32_MIN, top))))
    lengths = np.array([len(r) for r in rows], np.int32)
    width = int(lengths.max()) + draw(st.integers(0, 3))
    # Entries past cdf_lengths[t] are ignored by every face: pad with zeros or with junk.
    pad = draw(st.one_of(st.just(0), st.integers(INT32_MIN, INT32_MAX)))
    cdfs = np.full((n_tables, width), pad, np.int64)
    for t, row in enumerate(rows):
        cdfs[t, :len(row)] = row
    return CdfTables(cdfs.astype(np.int32), lengths, np.array(offsets, np.int32), p)


def cdf_tables(*, precision=None, min_tables: int = 1, max_tables: int = 4, min_slots: int = 1,
               max_slots: int = 40) -> SearchStrategy[CdfTables]:
    """Valid table sets as arrays: :class:`~lic_core.testing.CdfTables` ``(cdfs, cdf_lengths,
    offsets, precision)``.

    * ``cdfs``: int32 ``[n_tables, max_len]``; ``cdf_lengths``, ``offsets``: int32 ``[n_tables]``;
      ``precision``: int (None: any of 1..16, 16 often; an int or a strategy: that).
    * ``n_tables`` in ``min_tables..max_tables``; each table has ``min_slots..max_slots``
      slots (at most ``2**precision``), the last one the escape, so ``cdf_lengths`` is
      ``2..max_slots + 1``; escape-only tables (one slot, ``[0, 2**p]``) included.
    * Frequencies from random weights, or runs of frequency-1 slots beside a wide one.
    * Offsets small, at ``INT32_MIN``, or anywhere up to the largest that keeps the table's
      values in int32; rows padded past their length with zeros or arbitrary int32 junk
      (which every face must ignore).

    Both faces accept them: ``t.bind()`` gives a :class:`lic_core.coder.TableSet`, and at
    precision 16 ``lic_core.ans`` takes ``*t.ans_args``.

    Example::

        >>> t = cdf_tables(precision=16, max_tables=2).example()
        >>> t.cdfs.dtype, t.cdfs.shape[0] == t.cdf_lengths.shape[0] <= 2, t.precision
        (dtype('int32'), True, 16)
    """
    if not 1 <= min_tables <= max_tables:
        raise InvalidArgumentError(f"need 1 <= min_tables <= max_tables, got {min_tables}, {max_tables}")
    if not 1 <= min_slots <= max_slots:
        raise InvalidArgumentError(f"need 1 <= min_slots <= max_slots, got {min_slots}, {max_slots}")
    return _cdf_tables(precision, min_tables, max_tables, min_slots, max_slots)


def table_sets(**kwargs) -> SearchStrategy:
    """Valid tables bound once: :class:`lic_core.coder.TableSet`. Same arguments as
    :func:`cdf_tables`; the arrays are on the result (``.cdfs``, ``.cdf_lengths``,
    ``.offsets``, ``.precision``).

    Example::

        >>> ts = table_sets(max_tables=3).example()
        >>> 1 <= ts.n_tables <= 3
        True
    """
    return cdf_tables(**kwargs).map(CdfTables.bind)


#: What :func:`hostile_cdf_tables` can spoil. Each kind names one defect of a table set
#: that is otherwise valid, so a refusal is the refusal of that defect.
HOSTILE_KINDS = (
    "non_monotone",      # cdf[k] > cdf[k+1] inside a row
    "zero_frequency",    # cdf[k] == cdf[k+1]: a slot of frequency 0
    "wrong_total",       # last entry != 2**precision, or tables of one precision declared another
    "nonzero_start",     # cdf[0] != 0
    "bad_length",        # cdf_lengths[t] < 2 or beyond the row (up to INT32_MAX and down to INT32_MIN)
    "length_mismatch",   # cdf_lengths or offsets with another count than cdfs has rows
    "wrong_dtype",       # floats, bools, complex, strings, objects, ragged lists
    "out_of_int32",      # int64 entries, lengths or offsets that do not fit int32
    "bad_precision",     # 0, negative, 17, 2**40, a float, a bool, a string, None
    "offset_overflow",   # offsets[t] + E_t - 1 > INT32_MAX: a table value past int32
    "bad_shape",         # 1-D or 3-D cdfs, zero tables, rows of fewer than 2 entries
    "huge",              # rows wider than 2**16 + 1 (no cdf of precision <= 16 can be)
)


def _spoil(draw, kind: str, base: CdfTables):
    """Apply defect ``kind`` to a valid ``base``; returns (CdfTables, description)."""
    cdfs = np.array(base.cdfs, np.int64)
    lengths = np.array(base.cdf_lengths, np.int64)
    offsets = np.array(base.offsets, np.int64)
    p = base.precision
    total = 1 << p
    n, width = cdfs.shape
    t = draw(st.integers(0, n - 1))
    L = int(lengths[t])
    i32 = (lambda a: a.astype(np.int32))

    if kind == "non_monotone":
        k = draw(st.integers(1, L - 2))
        cdfs[t, k] = cdfs[t, k + 1] + draw(st.integers(1, 1 << 20))
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), f"cdfs[{t}][{k}] > cdfs[{t}][{k + 1}]"
    if kind == "zero_frequency":
        k = draw(st.integers(1, L - 1))
        cdfs[t, k] = cdfs[t, k - 1]  # slot k-1 = [cdf[k-1], cdf[k]) is now empty
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), f"slot {k - 1} of table {t} is empty"
    if kind == "wrong_total":
        if draw(st.booleans()):
            other = draw(st.integers(1, coder.MAX_PRECISION).filter(lambda q: q != p))
            return CdfTables(i32(cdfs), i32(lengths), i32(offsets), other), \
                f"tables of precision {p} declared as {other}"
        delta = draw(st.integers(1, 1 << 20))
        cdfs[t, L - 1] = total + delta if draw(st.booleans()) else max(total - delta, INT32_MIN)
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), \
            f"cdfs[{t}][{L - 1}] = {cdfs[t, L - 1]}, not 2**{p}"
    if kind == "nonzero_start":
        cdfs[t, 0] = draw(st.one_of(st.integers(1, total - 1) if total > 1 else st.just(1),
                                    st.integers(INT32_MIN, -1)))
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), f"cdfs[{t}][0] = {cdfs[t, 0]}"
    if kind == "bad_length":
        lengths[t] = draw(st.one_of(st.sampled_from([1, 0, -1, width + 1, INT32_MAX, INT32_MIN]),
                                    st.integers(width + 1, INT32_MAX), st.integers(INT32_MIN, 1)))
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), f"cdf_lengths[{t}] = {lengths[t]}"
    if kind == "length_mismatch":
        count = draw(st.sampled_from([c for c in (0, n - 1, n + 1, 2 * n + 1) if c != n and c >= 0]))
        which = draw(st.sampled_from(["cdf_lengths", "offsets"]))
        arr = np.resize(lengths if which == "cdf_lengths" else offsets, count).astype(np.int32)
        if which == "cdf_lengths":
            return CdfTables(i32(cdfs), arr, i32(offsets), p), f"{count} cdf_lengths for {n} rows"
        return CdfTables(i32(cdfs), i32(lengths), arr, p), f"{count} offsets for {n} rows"
    if kind == "wrong_dtype":
        which = draw(st.sampled_from(["cdfs", "cdf_lengths", "offsets"]))
        how = draw(st.sampled_from(["float64", "float32", "bool", "complex", "str", "object_none",
                                    "ragged"]))
        arrays = {"cdfs": cdfs, "cdf_lengths": lengths, "offsets": offsets}
        a = arrays[which]
        if how == "ragged":
            bad: Any = [list(range(k + 1)) for k in range(max(2, a.shape[0]))] if a.ndim == 2 \
                else [[1, 2], [3]]
        elif how == "object_none":
            bad = np.full(a.shape, None, dtype=object)
        elif how == "str":
            bad = a.astype(str)
        else:
            bad = a.astype(how)
        arrays = {k: (bad if k == which else i32(v)) for k, v in arrays.items()}
        return CdfTables(arrays["cdfs"], arrays["cdf_lengths"], arrays["offsets"], p), \
            f"{which} given as {how}"
    if kind == "out_of_int32":
        which = draw(st.sampled_from(["cdfs", "cdf_lengths", "offsets"]))
        value = draw(st.one_of(st.sampled_from([2**31, -(2**31) - 1, 2**32, 2**62]),
                               st.integers(2**31, 2**63 - 1), st.integers(-(2**63), -(2**31) - 1)))
        if which == "cdfs":
            cdfs[t, draw(st.integers(0, width - 1))] = value
        elif which == "cdf_lengths":
            lengths[t] = value
        else:
            offsets[t] = value
        return CdfTables(cdfs, lengths, offsets, p), f"{which} holds {value} (int64, outside int32)"
    if kind == "bad_precision":
        bad_p = draw(st.one_of(st.sampled_from([0, -1, coder.MAX_PRECISION + 1, 2**31, 2**40,
                                                16.0, True, "16", None]),
                               st.integers(coder.MAX_PRECISION + 1, 2**64), st.integers(-(2**64), 0)))
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), bad_p), f"precision={bad_p!r}"
    if kind == "offset_overflow":
        E = L - 2  # base drawn with >= 3 slots, so E >= 2
        offsets[t] = draw(st.integers(INT32_MAX - E + 2, INT32_MAX))
        return CdfTables(i32(cdfs), i32(lengths), i32(offsets), p), \
            f"offsets[{t}] = {offsets[t]} puts value {E - 1} past INT32_MAX"
    if kind == "bad_shape":
        how = draw(st.sampled_from(["1d", "3d", "zero_tables", "narrow"]))
        if how == "1d":
            return CdfTables(i32(cdfs[t]), i32(lengths[t:t + 1]), i32(offsets[t:t + 1]), p), "1-D cdfs"
        if how == "3d":
            return CdfTables(i32(cdfs[None]), i32(lengths), i32(offsets), p), "3-D cdfs"
        if how == "zero_tables":
            return CdfTables(np.zeros((0, width), np.int32), np.zeros(0, np.int32),
                             np.zeros(0, np.int32), p), "no tables"
        w = draw(st.integers(0, 1))
        return CdfTables(np.zeros((n, w), np.int32), np.full(n, w, np.int32), i32(offsets), p), \
            f"rows of {w} entries"
    if kind == "huge":
        # One row of 2**16 + 2.. entries (256 KiB): refused by its width, before any row is
        # read. Bigger claims (2**24 tables) would cost the test itself the memory.
        big = (1 << coder.MAX_PRECISION) + 1 + draw(st.integers(1, 64))
        rows = np.zeros((n, big), np.int32)
        rows[:, :width] = cdfs
        return CdfTables(rows, i32(lengths), i32(offsets), p), f"rows of {big} entries"
    raise InvalidArgumentError(f"unknown hostile kind {kind!r}; known: {HOSTILE_KINDS}")


#: The base each kind needs: kinds that spoil a slot inside a row need room for it.
_MIN_SLOTS = {"non_monotone": 2, "zero_frequency": 2, "offset_overflow": 3}


@st.composite
def _hostile(draw, kinds, precision):
    p = draw(_precision_strategy(precision))
    # Only kinds whose defect fits a row at this precision (2**p slots at most).
    possible = [k for k in kinds if (1 << p) >= _MIN_SLOTS.get(k, 1)]
    if not possible:
        reject()
    kind = draw(st.sampled_from(possible))
    need = _MIN_SLOTS.get(kind, 1)
    base = draw(cdf_tables(precision=p, max_tables=3, min_slots=need, max_slots=12))
    spoilt, what = _spoil(draw, kind, base)
    _note(f"hostile tables ({kind}): {what}")
    return spoilt


def hostile_cdf_tables(*, kinds=None, precision=None) -> SearchStrategy[CdfTables]:
    """Table sets with exactly one defect, which ``lic_core.coder.TableSet`` must refuse
    with a LicError (InvalidTableError, InvalidArgumentError or LimitExceededError), fast.

    Returns :class:`~lic_core.testing.CdfTables` whose fields may be anything (a float
    array, a ragged list, a precision of ``"16"``): see :data:`HOSTILE_KINDS` for the
    defects; ``kinds`` picks some of them (default all). The defect is recorded with
    ``hypothesis.note`` so a failing example says what it was. Everything is small: the
    largest ("huge") is one row of 2**16 + 65 int32 entries.

    ``lic_core.ans`` refuses the other kinds too when the declared precision is 16, but
    cannot see ``bad_precision`` and ``wrong_total``'s change of precision (it has no
    precision argument), ``huge`` and junk from ``out_of_int32`` in a row's padding (it
    reads only ``cdf_lengths[t]`` entries of a row), nor ``offset_overflow`` (it checks
    decoded values against int32 instead; docs/compat.md).

    Example::

        >>> from lic_core.testing import assert_refuses_cleanly
        >>> bad = hostile_cdf_tables(kinds=["zero_frequency"]).example()
        >>> type(assert_refuses_cleanly(bad.bind)).__name__
        'InvalidTableError'
    """
    kinds = HOSTILE_KINDS if kinds is None else tuple(kinds)
    unknown = set(kinds) - set(HOSTILE_KINDS)
    if unknown or not kinds:
        raise InvalidArgumentError(f"kinds must be some of {HOSTILE_KINDS}, got {sorted(unknown) or kinds}")
    return _hostile(kinds, precision)


# ----------------------------------------------------------------------------- symbols

@st.composite
def _symbols_and_indexes(draw, lengths, offsets, shape, escapes):
    shp = draw(shape)
    n_tables = lengths.shape[0]
    indexes = draw(hnp.arrays(np.int32, shp, elements=st.integers(0, n_tables - 1)))
    # Per symbol a kind: 0..6 in the table, 7..8 just outside it (an escape near the
    # edges), 9 anywhere in int32 (extremes often). Kinds shrink to 0: in-table symbols.
    kinds = draw(hnp.arrays(np.int8, shp, elements=st.integers(0, 9 if escapes else 0)))
    units = draw(hnp.arrays(np.float64, shp, elements=st.floats(0, 1, exclude_max=True)))
    steps = draw(hnp.arrays(np.int64, shp, elements=st.integers(0, 33)))
    wild = draw(hnp.arrays(np.int64, shp, elements=st.one_of(
        st.sampled_from(INT32_EXTREMES), st.integers(INT32_MIN, INT32_MAX))))
    L = lengths[indexes].astype(np.int64)
    off = offsets[indexes].astype(np.int64)
    E = L - 2  # in-table values 0..E-1; an escape-only table (E = 0) escapes everything
    inside = off + np.floor(units * E).astype(np.int64)
    edge = np.where(steps % 2 == 1, off + E + steps // 2, off - 1 - steps // 2)
    symbols = np.where(kinds <= 6, inside, np.where(kinds <= 8, edge, wild))
    return np.clip(symbols, INT32_MIN, INT32_MAX).astype(np.int32), indexes


def _table_arrays(tables):
    ts = as_table_set(tables)  # validates a CdfTables once; a TableSet is used as is
    return np.asarray(ts.cdf_lengths, np.int64), np.asarray(ts.offsets, np.int64)


def symbols_and_indexes(tables, *, shape=None, min_size: int = 0, max_size: int = 400,
                        escapes: bool = True) -> SearchStrategy:
    """``(symbols, indexes)`` for ``tables``: two int32 arrays of one shape.

    * ``tables``: a TableSet, a :class:`~lic_core.testing.CdfTables`, a tuple, or a
      strategy of these (then each draw draws tables first).
    * ``shape``: None for 1-D of ``min_size..max_size`` symbols; an int, a tuple, or a
      strategy of tuples (``hypothesis.extra.numpy.array_shapes()``) for others.
    * ``indexes`` in ``[0, n_tables)``; ``symbols`` mostly inside their table, then escapes
      (``escapes=True``): just below ``offsets[t]`` and just above the last in-table
      value, and anywhere in int32 with :data:`INT32_EXTREMES` often. With
      ``escapes=False`` only in-table symbols (an escape-only table still escapes).

    Example::

        >>> from lic_core import coder
        >>> ts = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
        >>> s, i = symbols_and_indexes(ts, max_size=20).example()
        >>> s.dtype, i.dtype, s.shape == i.shape
        (dtype('int32'), dtype('int32'), True)
    """
    if isinstance(tables, SearchStrategy):
        return tables.flatmap(lambda t: symbols_and_indexes(
            t, shape=shape, min_size=min_size, max_size=max_size, escapes=escapes))
    lengths, offsets = _table_arrays(tables)
    default = st.integers(min_size, max_size).map(lambda n: (n,))
    return _symbols_and_indexes(lengths, offsets, _shape_strategy(shape, default), escapes)


@st.composite
def _coding_cases(draw, table_kwargs, sym_kwargs):
    ts = draw(table_sets(**table_kwargs))
    symbols, indexes = draw(symbols_and_indexes(ts, **sym_kwargs))
    return symbols, indexes, ts


def coding_cases(*, precision=None, max_tables: int = 4, max_slots: int = 40, shape=None,
                 min_size: int = 0, max_size: int = 400, escapes: bool = True) -> SearchStrategy:
    """``(symbols, indexes, tables)``: a valid table set (a bound
    :class:`lic_core.coder.TableSet`, from :func:`cdf_tables`) and symbols for it (from
    :func:`symbols_and_indexes`), in the argument order of
    :func:`~lic_core.testing.assert_roundtrip`. ``precision=16`` makes cases both faces
    code.

    Example::

        >>> from lic_core.testing import assert_roundtrip
        >>> sorted(assert_roundtrip(*coding_cases(precision=16, max_size=30).example()))
        ['ans', 'coder']
    """
    return _coding_cases(dict(precision=precision, max_tables=max_tables, max_slots=max_slots),
                         dict(shape=shape, min_size=min_size, max_size=max_size, escapes=escapes))


@st.composite
def _bad_indexes(draw, n_tables, min_size, max_size):
    n = draw(st.integers(max(1, min_size), max(1, max_size)))
    out = draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_tables - 1)))
    bad = draw(st.one_of(
        st.sampled_from([-1, n_tables, n_tables + 1, INT32_MAX, INT32_MIN, 2**31, -(2**31) - 1, 2**40]),
        st.integers(n_tables, 2**31 - 1), st.integers(INT32_MIN, -1)))
    out[draw(st.integers(0, n - 1))] = bad
    return out


def bad_indexes(n_tables: int, *, min_size: int = 1, max_size: int = 50) -> SearchStrategy:
    """int64 ``[n]`` table indexes with at least one naming no table of ``n_tables``
    (negative, ``n_tables`` and above, beyond int32): every coder must raise
    ``IndexOutOfRangeError``.

    Example::

        >>> i = bad_indexes(3).example()
        >>> bool(((i < 0) | (i >= 3)).any())
        True
    """
    return _bad_indexes(int(n_tables), min_size, max_size)


# ----------------------------------------------------------------------------- Gaussian

def _f32(x: float) -> float:
    return float(np.float32(x))


def _scale_elements(table: np.ndarray, allow_infinity: bool) -> SearchStrategy:
    lo, hi = float(table[0]), float(table[-1])
    edges = [0.0, _f32(1e-45), float(np.finfo(np.float32).tiny), _f32(lo / 2)]
    for v in {float(table[0]), float(table[1]), float(table[len(table) // 2]), float(table[-2]),
              float(table[-1])}:
        f = np.float32(v)
        edges += [float(f), float(np.nextafter(f, np.float32(0))), float(np.nextafter(f, np.float32(np.inf)))]
    edges += [_f32(hi * 2), _f32(1e30), float(np.finfo(np.float32).max)]
    if allow_infinity:
        edges.append(math.inf)
    # Log-uniform over a range wider than the table, so both clamps are exercised.
    body = st.floats(math.log(lo / 4), math.log(hi * 4)).map(lambda x: _f32(math.exp(x)))
    return st.one_of(body, st.sampled_from(sorted(set(edges))), st.sampled_from([float(v) for v in table]))


def scales(shape=None, *, table=None, allow_infinity: bool = False) -> SearchStrategy:
    """float32 Gaussian scales of ``shape`` (None: 1-D, 0..64; int, tuple or strategy).

    Values are log-uniform over ``[table[0]/4, 4 table[-1]]`` (``table`` defaults to
    ``lic_core.tables.scale_table()``), every table value, the float32 neighbours of its
    first, second, middle, last-but-one and last value (the edges of
    ``scale_indexes``' float32 comparisons), 0, the smallest subnormal and normal, and
    values far above the table up to FLT_MAX (``+inf`` too with ``allow_infinity``).
    All are accepted by ``tables.scale_indexes`` (NaN is not, so never drawn).

    Example::

        >>> from lic_core import tables
        >>> s = scales(100).example()
        >>> idx = tables.scale_indexes(s, tables.scale_table())
        >>> s.dtype, idx.shape
        (dtype('float32'), (100,))
    """
    table = np.asarray(_tables.scale_table() if table is None else table, np.float32)
    default = st.integers(0, 64).map(lambda n: (n,))
    return hnp.arrays(np.float32, _shape_strategy(shape, default),
                      elements=_scale_elements(table, allow_infinity))


def means(shape=None, *, bound: float = 1e4) -> SearchStrategy:
    """float32 Gaussian means of ``shape`` (None: 1-D, 0..64) in ``[-bound, bound]``:
    arbitrary floats, half-integers (ties of ``round(y - mean)``), ±0 and tiny values.

    Example::

        >>> m = means((2, 3)).example()
        >>> m.shape, m.dtype
        ((2, 3), dtype('float32'))
    """
    bound = float(bound)
    halves = st.integers(-min(int(bound), 2**22), min(int(bound), 2**22) - 1).map(lambda k: k + 0.5)
    elements = st.one_of(st.floats(-bound, bound, width=32), halves,
                         st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.5, -1.5, _f32(1e-30), _f32(-1e-30)]))
    default = st.integers(0, 64).map(lambda n: (n,))
    return hnp.arrays(np.float32, _shape_strategy(shape, default), elements=elements)


@st.composite
def _gaussian_params(draw, shape, table, bound):
    shp = draw(shape)
    return draw(scales(shp, table=table)), draw(means(shp, bound=bound))


def gaussian_params(shape=None, *, table=None, bound: float = 1e4) -> SearchStrategy:
    """``(scales, means)``: two float32 arrays of one shape (None: 1..3 dimensions of up to
    8 each), from :func:`scales` and :func:`means`.

    Example::

        >>> s, m = gaussian_params().example()
        >>> s.shape == m.shape
        True
    """
    default = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=8)
    return _gaussian_params(_shape_strategy(shape, default), table, bound)


# ----------------------------------------------------------------------------- images

#: Array image layouts: None is H×W (gray), an int is H×W×C.
IMAGE_CHANNELS = (None, 1, 2, 3, 4)
#: Pillow modes :func:`pil_images` draws by default, and how many array channels each has.
PIL_MODES = ("L", "RGB", "RGBA", "P")
_MODE_CHANNELS = {"L": None, "LA": 2, "RGB": 3, "RGBA": 4, "P": None, "1": None}
_PATTERNS = ("flat", "noise", "gradient", "checker", "extremes")


def _pixels(draw, h: int, w: int, c: int | None) -> np.ndarray:
    """uint8 pixels of one drawn pattern. Noise comes from a drawn seed: Hypothesis'
    buffer would be too small for a 64×64×4 image drawn byte by byte."""
    shape = (h, w) if c is None else (h, w, c)
    pattern = draw(st.sampled_from(_PATTERNS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if pattern == "flat":
        return np.full(shape, draw(st.integers(0, 255)), np.uint8)
    if pattern == "noise":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if pattern == "extremes":
        return rng.choice(np.array([0, 255], np.uint8), shape)
    yy, xx = np.mgrid[0:h, 0:w]
    if pattern == "gradient":
        base = (yy * draw(st.integers(0, 16)) + xx * draw(st.integers(0, 16))) % 256
    else:
        k = draw(st.integers(1, 8))
        base = ((yy // k + xx // k) % 2) * 255
    base = base.astype(np.uint8)
    return base if c is None else np.repeat(base[..., None], c, axis=2)


@st.composite
def _image_arrays(draw, min_side, max_side, channels, layouts):
    h, w = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    arr = _pixels(draw, h, w, draw(st.sampled_from(channels)))
    layout = draw(st.sampled_from(layouts))
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "reversed":  # a view with negative strides, as a flip makes
        return np.ascontiguousarray(arr[::-1])[::-1]
    return arr


def image_arrays(*, min_side: int = 1, max_side: int = 64, channels=IMAGE_CHANNELS,
                 layouts=("C", "F", "reversed")) -> SearchStrategy:
    """uint8 images: ``[H, W]`` (channels None) or ``[H, W, C]``, C in ``channels``
    (default 1, 2, 3, 4: gray, gray+alpha, RGB, RGBA), sides ``min_side..max_side``
    (1×N and N×1 included). Pixels: flat, noise, gradients, checkerboards or only 0/255.
    ``layouts``: C-contiguous, Fortran order, or a negative-stride view.

    Everything ``lic_core.compress`` accepts (docs/cli.md; alpha is composited on white
    with a ``LossyConversionWarning``).

    Example::

        >>> a = image_arrays(channels=[3], max_side=8).example()
        >>> a.dtype, a.ndim, a.shape[2]
        (dtype('uint8'), 3, 3)
    """
    if not 1 <= min_side <= max_side:
        raise InvalidArgumentError(f"need 1 <= min_side <= max_side, got {min_side}, {max_side}")
    return _image_arrays(min_side, max_side, tuple(channels), tuple(layouts))


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("pil_images() needs Pillow: pip install pillow") from None
    return Image


@st.composite
def _pil_images(draw, min_side, max_side, modes):
    Image = _pil()
    mode = draw(st.sampled_from(modes))
    h, w = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    arr = _pixels(draw, h, w, _MODE_CHANNELS[mode])
    if mode == "1":
        return Image.frombytes("L", (w, h), arr.tobytes()).convert("1")
    img = Image.frombytes(mode, (w, h), arr.tobytes())
    if mode == "P":
        palette = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 256, 768, dtype=np.uint8)
        img.putpalette(palette.tobytes())
        if draw(st.booleans()):  # a transparent palette entry: an alpha channel in disguise
            img.info["transparency"] = draw(st.integers(0, 255))
    return img


def pil_images(*, min_side: int = 1, max_side: int = 64, modes=PIL_MODES) -> SearchStrategy:
    """``PIL.Image.Image`` of a mode in ``modes`` (default L, RGB, RGBA, P; LA and 1 also
    work), sides ``min_side..max_side``; P images get a random palette and sometimes a
    transparent entry. Needs Pillow (ImportError naming it otherwise).

    Example::

        >>> img = pil_images(modes=["P"], max_side=4).example()
        >>> img.mode
        'P'
    """
    unknown = set(modes) - set(_MODE_CHANNELS)
    if unknown:
        raise InvalidArgumentError(f"modes must be some of {sorted(_MODE_CHANNELS)}, got {sorted(unknown)}")
    _pil()
    return _pil_images(min_side, max_side, tuple(modes))


def images(*, min_side: int = 1, max_side: int = 64) -> SearchStrategy:
    """Any image ``lic_core.compress`` takes: :func:`image_arrays` of every layout and,
    when Pillow is installed, :func:`pil_images` of modes L, RGB, RGBA and P.

    Example::

        >>> from lic_core.images import to_rgb_array
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")   # alpha is dropped with a warning
        ...     to_rgb_array(images(max_side=4).example()).shape[2]
        3
    """
    arrays = image_arrays(min_side=min_side, max_side=max_side)
    try:
        _pil()
    except ImportError:
        return arrays
    return st.one_of(arrays, pil_images(min_side=min_side, max_side=max_side))


# ----------------------------------------------------------------------------- .lic files

_LABEL_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.-"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@st.composite
def _lic_files(draw, models, versions, max_side, streams):
    model = draw(st.sampled_from(models))
    version = draw(st.sampled_from(versions))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    if draw(st.booleans()):
        # As the zoo writes them: ŷ at stride 16, then ẑ at stride 64 (not for factorized).
        shapes = [(_ceil_div(h, 16), _ceil_div(w, 16))]
        if model != "factorized":
            shapes.append((_ceil_div(h, 64), _ceil_div(w, 64)))
        n_streams = len(shapes)
    else:  # anything the header allows
        hb, wb = container.latent_bound(h), container.latent_bound(w)
        shapes = draw(st.lists(st.tuples(st.integers(1, hb), st.integers(1, wb)),
                               min_size=1, max_size=container.MAX_GROUPS))
        n_streams = draw(st.integers(1, container.MAX_STREAMS))
    fingerprint, release, path = 0, "", container.FLOAT_PATH
    if version >= 2:
        # never 0: versions 2 and 3 refuse it (docs/format.md, "Weights identity")
        fingerprint = draw(st.one_of(st.just(1), st.integers(1, 2**64 - 1)))
        label = st.text(_LABEL_ALPHABET, min_size=1, max_size=container.RELEASE_LABEL_BYTES)
        release = draw(st.one_of(st.just(""), st.just("zoo-v3"), label))
    if version >= 3:  # the probability path byte; older versions are always the float path
        path = draw(st.sampled_from(sorted(container.PROBABILITY_PATHS)))
    return container.LicFile(
        model=model, quality=draw(st.one_of(st.just(0), st.sampled_from(QUALITIES), st.integers(0, 255))),
        height=h, width=w, latent_shapes=tuple(shapes),
        streams=tuple(draw(streams) for _ in range(n_streams)),
        weights_fingerprint=fingerprint, weights_release=release, probability_path=path,
        version=version)


def lic_files(*, models=None, versions=None, max_side: int = 256, streams=None,
              real: bool = False) -> SearchStrategy:
    """Header-valid :class:`lic_core.container.LicFile` objects of every family.

    * ``models``: canonical names (default all of ``container.MODEL_IDS``);
      ``versions``: format versions (default all of ``container.READABLE_VERSIONS``,
      1..3; version 1 files have no weights fields, only version 3 files have a
      probability path, drawn from ``container.PROBABILITY_PATHS``); image sides
      ``1..max_side`` (up to 4096 stays within the default pixel limit).
    * Latent shapes either as the zoo writes them (ŷ at stride 16, ẑ at 64) or anything
      the header allows (1..8 groups within the image padded to 64, 1..16 streams).
    * ``streams``: a strategy for one stream's bytes (default ``st.binary(max_size=64)``):
      the container frames them and never looks inside, so they need not decode.
    * ``real=True`` also draws files a model really wrote (:func:`model_files`; needs
      torch, and ``deadline=None``: the first draw builds the models).

    ``container.pack`` accepts every one and ``unpack(pack(f)) == f``.

    Example::

        >>> from lic_core import container
        >>> f = lic_files().example()
        >>> container.unpack(container.pack(f)) == f
        True
    """
    models = tuple(container.MODEL_IDS) if models is None else tuple(models)
    versions = tuple(container.READABLE_VERSIONS) if versions is None else tuple(versions)
    streams = st.binary(max_size=64) if streams is None else streams
    synthetic = _lic_files(models, versions, max_side, streams)
    if not real:
        return synthetic
    return st.one_of(synthetic, model_files(models=models).map(lambda m: container.unpack(m.data)))


def lic_bytes(**kwargs) -> SearchStrategy:
    """Packed .lic files (``bytes``): :func:`lic_files` through ``container.pack``; same
    arguments. Damage them with :func:`damaged_bytes`.

    Example::

        >>> from lic_core import container
        >>> data = lic_bytes(models=["joint"]).example()
        >>> container.unpack(data).model
        'joint'
    """
    return lic_files(**kwargs).map(container.pack)


class ModelFile(NamedTuple):
    """A .lic file a tiny model wrote: ``data`` (bytes), the ``model`` that decodes it
    (``lic_core.decompress(data, model=model)``), and the ``image`` (H×W×3 uint8) it holds."""

    data: bytes
    model: Any
    image: np.ndarray


@st.composite
def _model_files(draw, models, min_side, max_side):
    import lic_core
    model = tiny_model(draw(st.sampled_from(models)))
    image = draw(image_arrays(min_side=min_side, max_side=max_side, channels=[3], layouts=["C"]))
    return ModelFile(lic_core.compress(image, model=model), model, image)


def model_files(*, models=None, min_side: int = 1, max_side: int = 48) -> SearchStrategy:
    """:class:`ModelFile` ``(data, model, image)``: real .lic files written by
    :func:`tiny_model` s of the given families (default all four) from
    :func:`image_arrays` RGB images. Needs torch (ImportError when a draw is made
    without it); use ``deadline=None`` since the first draw builds the models.

    Example (needs torch)::

        >>> import lic_core
        >>> f = model_files(models=["factorized"], max_side=16).example()   # doctest: +SKIP
        >>> lic_core.decompress(f.data, model=f.model).shape == f.image.shape   # doctest: +SKIP
        True
    """
    models = tuple(container.MODEL_IDS) if models is None else tuple(models)
    return _model_files(models, min_side, max_side)


# ----------------------------------------------------------------------------- damage

#: What :func:`damaged` does to bytes (each draw applies 1..max_ops of them).
DAMAGE_OPS = (
    "flip",       # flip one bit
    "truncate",   # cut the tail off
    "insert",     # insert 1..16 random bytes anywhere
    "delete",     # delete 1..16 bytes
    "overwrite",  # write over bytes: a boundary value (0x00, 0xFF, 0x7F, 0x80; or a 32-bit
                  # one) or 1..8 random bytes (any value a header field can hold)
    "splice",     # head of this one + tail of `other` (or of itself, shifted)
)
_BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_BOUNDARY_U32 = (0, 1, 0x7F, 0x80, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def damaged(data, draw, *, ops=DAMAGE_OPS, max_ops: int = 3, other=None) -> bytes:
    """``data`` damaged by 1..``max_ops`` operations of :data:`DAMAGE_OPS` (``ops`` picks
    some), choices made with ``draw``: the ``draw`` of an ``@st.composite`` function or
    ``data.draw`` of ``st.data()``. ``other`` (bytes or a list of bytes) is what
    "splice" takes tails from (default ``data`` itself). The result always differs from
    ``data``.

    Example::

        >>> from hypothesis import given, settings, strategies as st
        >>> from lic_core import coder
        >>> t = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)
        >>> good = coder.encode([0, 1, -1, 7], [0] * 4, t)
        >>> @given(st.data())
        ... @settings(max_examples=20)
        ... def test_damage(d):
        ...     bad = damaged(good, d.draw)
        ...     assert bad != good
        >>> test_damage()
    """
    ops = tuple(ops)
    unknown = set(ops) - set(DAMAGE_OPS)
    if unknown or not ops:
        raise InvalidArgumentError(f"ops must be some of {DAMAGE_OPS}, got {sorted(unknown) or ops}")
    original = bytes(data)
    if other is None:
        donors = [original]
    elif isinstance(other, (bytes, bytearray, memoryview)):
        donors = [bytes(other)]
    else:
        donors = [bytes(o) for o in other]
    out = bytearray(original)
    for _ in range(draw(st.integers(1, max(1, max_ops)))):
        op = draw(st.sampled_from(ops))
        n = len(out)
        if op == "flip" and n:
            bit = draw(st.integers(0, 8 * n - 1))
            out[bit // 8] ^= 1 << (bit % 8)
        elif op == "truncate" and n:
            del out[draw(st.integers(0, n - 1)):]
        elif op == "insert":
            pos = draw(st.integers(0, n))
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            a = draw(st.integers(0, n - 1))
            del out[a:draw(st.integers(a + 1, min(n, a + 16)))]
        elif op == "overwrite" and n:
            pos = draw(st.integers(0, n - 1))
            how = draw(st.sampled_from(["byte", "u32", "random"]))
            if how == "u32" and n - pos >= 4:
                out[pos:pos + 4] = draw(st.sampled_from(_BOUNDARY_U32)).to_bytes(4, "little")
            elif how == "random":  # any value, e.g. every model id or quality a header byte can hold
                chunk = draw(st.binary(min_size=1, max_size=min(8, n - pos)))
                out[pos:pos + len(chunk)] = chunk
            else:
                out[pos] = draw(st.sampled_from(_BOUNDARY_BYTES))
        elif op == "splice":
            donor = draw(st.sampled_from(donors))
            head = draw(st.integers(0, n))
            tail = draw(st.integers(0, len(donor)))
            out = out[:head] + bytearray(donor[tail:])
    if bytes(out) == original:  # e.g. a splice that put the same bytes back
        if out:
            bit = draw(st.integers(0, 8 * len(out) - 1))
            out[bit // 8] ^= 1 << (bit % 8)
        else:
            out = bytearray(draw(st.binary(min_size=1, max_size=4)))
    return bytes(out)


@st.composite
def _damaged_bytes(draw, data, kwargs):
    if isinstance(data, SearchStrategy):
        data = draw(data)
    return damaged(data, draw, **kwargs)


def damaged_bytes(data, **kwargs) -> SearchStrategy:
    """A strategy of ``bytes``: ``data`` (bytes, or a strategy of bytes drawn first)
    after :func:`damaged`; the keyword arguments are :func:`damaged`'s.

    Example::

        >>> from lic_core import container
        >>> from lic_core.testing import assert_refuses_cleanly
        >>> bad = damaged_bytes(lic_bytes(), ops=["truncate"]).example()
        >>> type(assert_refuses_cleanly(container.unpack, bad)).__name__
        'ContainerError'
    """
    return _damaged_bytes(data, kwargs)
