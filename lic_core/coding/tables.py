"""CDF tables for the entropy coders: pmf quantisation, Gaussian/Laplace/logistic
table sets, the scale table and the scale -> table index rule. NumPy only.

A *table set* is what ``lic_core.coder`` and ``lic_core.ans`` consume, in
CompressAI's layout:

* ``cdfs``: int32 ``[n, max_len]``, row t = ``0 = cdf[0] < ... < cdf[L_t - 1] = 2**precision``,
  left-aligned and zero-padded;
* ``cdf_lengths``: int32 ``[n]``, ``L_t`` = number of slots (symbols plus the
  tail/escape slot, which is last) + 1;
* ``offsets``: int32 ``[n]``, the value coded by slot 0.

Two quantisers turn probabilities into integer frequencies ``f_i >= 1`` with
``sum f_i = 2**precision``:

* ``method="greedy"`` (default): the frequencies that minimise the expected code
  length ``-sum_i m_i log2(f_i / 2**precision)`` for ``m = pmf / sum(pmf)``,
  exactly (greedy unit moves on a concave objective; ties to the lowest index).
  Never longer than CompressAI's quantiser on the same pmf.
* ``method="compressai"``: CompressAI 1.2.8's ``pmf_to_quantized_cdf`` and
  ``GaussianConditional.update()`` tables, bit for bit.

Every float that decides an integer is computed by the engine's own
exp/log/erfc in plain IEEE double arithmetic (``csrc/lic/special.h``), so the
tables are identical on every machine. Decisions: ``docs/tables.md``.

``PRECISION`` (16) is the default ``precision`` of every builder here and the
precision of lic-core's models; ``MAX_PRECISION`` (16) is the largest accepted.
Both are read from the compiled engine (csrc/lic/lic.h), so they are the values
``lic_core.coder`` has. So are the other defaults: ``DEFAULT_TAIL_MASS`` (1e-9,
``LIC_DEFAULT_TAIL_MASS``) and the scale table's ``SCALE_TABLE_MIN``,
``SCALE_TABLE_MAX`` and ``SCALE_TABLE_LEVELS`` (0.11, 256, 64:
``LIC_SCALE_TABLE_*``), which C callers of the engine use too.

Example:

>>> import numpy as np
>>> from lic_core import tables
>>> table = tables.scale_table()                      # CompressAI's 64 scales
>>> cdfs, cdf_lengths, offsets = tables.gaussian_tables(table)
>>> cdfs.shape, int(cdf_lengths[0]), int(offsets[0])
((64, 3133), 5, -1)
>>> tables.scale_indexes(np.array([0.05, 0.11, 0.2, 1e9]), table).tolist()
[0, 0, 5, 63]
>>> tables.pmf_to_quantized_cdf([0.5, 0.25, 0.25], precision=4).tolist()
[0, 8, 12, 16]
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _tables
from ..errors import InvalidArgumentError

__all__ = [
    "scale_table", "gaussian_tables", "laplace_tables", "logistic_tables",
    "pmf_to_quantized_cdf", "pmfs_to_tables", "scale_indexes", "tail_multiplier",
    "METHODS", "FAMILIES", "PRECISION", "MAX_PRECISION", "DEFAULT_TAIL_MASS",
    "SCALE_TABLE_MIN", "SCALE_TABLE_MAX", "SCALE_TABLE_LEVELS",
]

METHODS = ("greedy", "compressai")
_QUANTIZER = {"greedy": 0, "compressai": 1}
FAMILIES = ("gaussian", "laplace", "logistic")
_FAMILY = {"gaussian": 0, "laplace": 1, "logistic": 2}
MAX_PRECISION: int = _tables.MAX_PRECISION
PRECISION: int = _tables.PRECISION
#: tail mass of the parametric tables unless told otherwise (LIC_DEFAULT_TAIL_MASS)
DEFAULT_TAIL_MASS: float = _tables.DEFAULT_TAIL_MASS
#: the default scale table, CompressAI's get_scale_table(): SCALE_TABLE_LEVELS scales
#: log-spaced from SCALE_TABLE_MIN to SCALE_TABLE_MAX (LIC_SCALE_TABLE_* in lic.h)
SCALE_TABLE_MIN: float = _tables.SCALE_TABLE_MIN
SCALE_TABLE_MAX: float = _tables.SCALE_TABLE_MAX
SCALE_TABLE_LEVELS: int = _tables.SCALE_TABLE_LEVELS


# ---------------------------------------------------------------- argument checks
def _real_array(x, name: str, dtype, ndim: int | None) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype``; it must hold real numbers
    (float, int or uint) and have ``ndim`` dimensions when ``ndim`` is given."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise InvalidArgumentError(f"{name} is not a numeric array: {exc}") from None
    if arr.dtype.kind not in "fiu":
        raise InvalidArgumentError(
            f"{name} must hold real numbers (float or int), got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgumentError(
            f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return np.asarray(arr, dtype=dtype, order="C")  # keeps 0-d shapes, unlike ascontiguousarray


def _int_array(x, name: str, ndim: int) -> np.ndarray:
    """``x`` as int32 [..]; integers only, each within the int32 range."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"{name} is not an integer array: {exc}") from None
    if arr.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise InvalidArgumentError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size and (arr.min() < -2**31 or arr.max() > 2**31 - 1):
        raise InvalidArgumentError(f"{name} has values outside the int32 range")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _precision(precision) -> int:
    if isinstance(precision, bool) or not isinstance(precision, numbers.Integral):
        raise InvalidArgumentError(f"precision must be an int, got {precision!r}")
    if not 1 <= int(precision) <= MAX_PRECISION:
        raise InvalidArgumentError(f"precision must be in 1..{MAX_PRECISION}, got {precision}")
    return int(precision)


def _quantizer(method) -> int:
    if method not in _QUANTIZER:
        raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
    return _QUANTIZER[method]


def _real_scalar(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- scale table
def scale_table(min: float = SCALE_TABLE_MIN, max: float = SCALE_TABLE_MAX,
                levels: int = SCALE_TABLE_LEVELS) -> np.ndarray:
    """``levels`` log-spaced scales from ``min`` to ``max``, float32 ``[levels]``.

    ``x = float32 linspace(float32(ln min), float32(ln max), levels)`` (torch's
    float32 linspace: a float32 step, the first half counted up from the start and
    the second half down from the end, each value rounded once), then
    ``float32(exp(x))`` with the engine's exp. The default equals CompressAI's
    ``get_scale_table()`` bit for bit.
    """
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral):
        raise InvalidArgumentError(f"levels must be an int, got {levels!r}")
    return _tables.scale_table(_real_scalar(min, "min"), _real_scalar(max, "max"), int(levels))


def scale_indexes(scales, scale_table) -> np.ndarray:
    """Table index per scale, int32 with the shape of ``scales``.

    In float32: ``s' = max(s, scale_table[0])``; the index is the first ``t`` with
    ``scale_table[t] >= s'``, or ``len(scale_table) - 1`` if there is none. This is
    CompressAI's ``build_indexes`` (which lower-bounds by ``scale_bound``, equal to
    ``scale_table[0]`` in its default), so an encoder and a decoder that share the
    table agree. ``scale_table`` must be finite, > 0 and strictly increasing; a
    NaN scale raises :class:`InvalidArgumentError`; ``+inf`` maps to the last table.
    """
    s = _real_array(scales, "scales", np.float32, None)
    table = _real_array(scale_table, "scale_table", np.float32, 1)
    out = _tables.scale_indexes(s.reshape(-1), table)
    return out.reshape(s.shape)


# ---------------------------------------------------------------- pmf quantisation
def pmf_to_quantized_cdf(pmf, precision: int = PRECISION, *, method: str = "greedy") -> np.ndarray:
    """Quantise one pmf to a CDF, int32 ``[len(pmf) + 1]``.

    ``pmf``: 1-D, finite, >= 0, not all zero, at most ``2**precision`` entries
    (include the tail slot yourself if you want one). The result starts at 0, ends
    at ``2**precision`` and is strictly increasing (every entry gets >= 1).
    ``method="greedy"`` normalises the pmf itself; ``method="compressai"`` casts
    to float32 first and expects probabilities, as CompressAI does.
    """
    p = _real_array(pmf, "pmf", np.float64, 1)
    return _tables.pmf_to_quantized_cdf(p, _precision(precision), _quantizer(method))


def pmfs_to_tables(pmfs, lengths, offsets, precision: int = PRECISION, *, method: str = "greedy"):
    """Quantise a batch of pmfs into a table set (for ``EntropyBottleneck.update()``).

    ``pmfs``: float ``[n, width]``; row r holds ``lengths[r]`` entries, its symbols
    followed by its tail slot (entries past ``lengths[r]`` are ignored).
    ``lengths``: int ``[n]``, 1 <= ``lengths[r]`` <= width. ``offsets``: int ``[n]``,
    passed through.

    Returns ``(cdfs int32 [n, max(lengths) + 1], cdf_lengths int32 [n] = lengths + 1,
    offsets int32 [n])``. With CompressAI's names: ``lengths = pmf_length + 1`` gives
    ``cdf_length = pmf_length + 2``.
    """
    p = _real_array(pmfs, "pmfs", np.float64, 2)
    lens = _int_array(lengths, "lengths", 1)
    offs = _int_array(offsets, "offsets", 1)
    if lens.shape[0] != p.shape[0] or offs.shape[0] != p.shape[0]:
        raise InvalidArgumentError(
            f"pmfs has {p.shape[0]} rows but lengths has {lens.shape[0]} and offsets "
            f"{offs.shape[0]} entries")
    cdfs, cdf_lengths = _tables.pmfs_to_cdfs(p, lens, _precision(precision), _quantizer(method))
    return cdfs, cdf_lengths, offs.copy()


# ---------------------------------------------------------------- parametric tables
def _parametric_tables(family: str, scale_table, precision, tail_mass, method):
    table = _real_array(scale_table, "scale_table", np.float32, 1)
    return _tables.parametric_tables(_FAMILY[family], table, _precision(precision),
                                     _real_scalar(tail_mass, "tail_mass"), _quantizer(method))


def gaussian_tables(scale_table, *, precision: int = PRECISION,
                    tail_mass: float = DEFAULT_TAIL_MASS, method: str = "greedy"):
    """One table per scale of a zero-mean Gaussian, ``(cdfs, cdf_lengths, offsets)``.

    For scale s (float32, finite, > 0), with ``m = -Phi^-1(tail_mass / 2)``:
    ``c = ceil(float32(s * float32(m)))``, ``offset = -c``, 2c+1 symbols ``-c..c``
    then the tail slot, ``cdf_length = 2c + 3``. Symbol v has mass
    ``Phi((v + 1/2)/s) - Phi((v - 1/2)/s)``; the tail slot has ``2 Phi(-(c + 1/2)/s)``.
    ``cdfs`` is int32 ``[n, max(cdf_lengths)]``. ``method="compressai"`` reproduces
    CompressAI 1.2.8's float32 probabilities and quantiser bit for bit.
    """
    return _parametric_tables("gaussian", scale_table, precision, tail_mass, method)


def laplace_tables(scale_table, *, precision: int = PRECISION,
                   tail_mass: float = DEFAULT_TAIL_MASS, method: str = "greedy"):
    """Like :func:`gaussian_tables` for a zero-mean Laplace with scale b = s
    (density ``exp(-|x|/b) / 2b``; ``m = -ln(tail_mass)``). Greedy method only."""
    return _parametric_tables("laplace", scale_table, precision, tail_mass, method)


def logistic_tables(scale_table, *, precision: int = PRECISION,
                    tail_mass: float = DEFAULT_TAIL_MASS, method: str = "greedy"):
    """Like :func:`gaussian_tables` for a zero-mean logistic with scale s
    (CDF ``sigmoid(x / s)``; ``m = ln(2 / tail_mass - 1)``). Greedy method only."""
    return _parametric_tables("logistic", scale_table, precision, tail_mass, method)


def tail_multiplier(tail_mass: float = DEFAULT_TAIL_MASS, family: str = "gaussian") -> float:
    """``m`` with ``P(|X| > m) = tail_mass`` at scale 1 (Gaussian: ``-Phi^-1(tail_mass/2)``,
    about 6.1094102 for 1e-9), computed by the engine's deterministic functions."""
    if family not in _FAMILY:
        raise InvalidArgumentError(f"family must be one of {FAMILIES}, got {family!r}")
    return _tables.tail_multiplier(_FAMILY[family], _real_scalar(tail_mass, "tail_mass"))
