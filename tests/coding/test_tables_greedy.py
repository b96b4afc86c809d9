"""The greedy quantiser (method="greedy"): valid CDFs, the exact minimum expected code
length, never worse than CompressAI's quantiser, deterministic and idempotent."""
import heapq
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lic_core import tables
from lic_core.errors import InvalidArgumentError

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def code_length_bits(pmf, cdf):
    """Expected code length -sum m_i log2(f_i / total) for m = pmf / sum(pmf)."""
    m = np.asarray(pmf, dtype=np.float64)
    m = m / m.sum()
    f = np.diff(np.asarray(cdf, dtype=np.int64))
    return float(-(m * np.log2(f / cdf[-1])).sum())


def reference_optimum(pmf, precision):
    """Independent optimum: start at f = 1 and give each of the remaining units to the
    symbol with the largest gain m_i ln((f_i+1)/f_i) (optimal for a separable concave
    objective). Slow (one heap step per unit): small precisions only."""
    m = np.asarray(pmf, dtype=np.float64)
    m = m / m.sum()
    f = [1] * len(m)
    heap = [(-mi * math.log1p(1.0), i) for i, mi in enumerate(m)]
    heapq.heapify(heap)
    for _ in range((1 << precision) - len(m)):
        _, i = heapq.heappop(heap)
        f[i] += 1
        heapq.heappush(heap, (-m[i] * math.log1p(1.0 / f[i]), i))
    return np.concatenate([[0], np.cumsum(f)])


def assert_valid_cdf(cdf, n, precision):
    assert cdf.dtype == np.int32
    assert cdf.shape == (n + 1,)
    assert cdf[0] == 0
    assert cdf[-1] == 1 << precision
    assert (np.diff(cdf) >= 1).all()  # strictly increasing: every symbol codable


# pmfs: mixtures of ordinary, tiny and zero masses (the hard cases for a quantiser).
mass = st.one_of(st.floats(0.0, 1.0), st.floats(0.0, 1e-6), st.just(0.0),
                 st.floats(1e-300, 1e-250))


@st.composite
def pmf_and_precision(draw, max_len=200, min_precision=1):
    precision = draw(st.integers(min_precision, 16))
    n = draw(st.integers(1, min(max_len, 1 << precision)))
    pmf = draw(st.lists(mass, min_size=n, max_size=n))
    assume(sum(pmf) > 0)
    return np.array(pmf), precision


@SETTINGS
@given(pmf_and_precision())
def test_greedy_cdf_is_valid(case):
    pmf, precision = case
    cdf = tables.pmf_to_quantized_cdf(pmf, precision)
    assert_valid_cdf(cdf, len(pmf), precision)


@SETTINGS
@given(pmf_and_precision(max_len=60))
def test_greedy_code_length_is_the_minimum(case):
    pmf, precision = case
    assume(precision <= 11)  # the reference spends one Python step per unit
    ours = code_length_bits(pmf, tables.pmf_to_quantized_cdf(pmf, precision))
    best = code_length_bits(pmf, reference_optimum(pmf, precision))
    assert ours <= best + 1e-9 * max(1.0, best)


@SETTINGS
@given(pmf_and_precision())
def test_greedy_is_never_longer_than_compressai(case):
    pmf, precision = case
    try:
        theirs = tables.pmf_to_quantized_cdf(pmf, precision, method="compressai")
    except InvalidArgumentError:
        assume(False)  # CompressAI's quantiser rejects it (all entries round to 0)
    ours = tables.pmf_to_quantized_cdf(pmf, precision)
    lo, hi = code_length_bits(pmf, ours), code_length_bits(pmf, theirs)
    assert lo <= hi + 1e-9 * max(1.0, hi)


@SETTINGS
@given(pmf_and_precision())
def test_greedy_is_idempotent_on_its_own_output(case):
    pmf, precision = case
    cdf = tables.pmf_to_quantized_cdf(pmf, precision)
    again = tables.pmf_to_quantized_cdf(np.diff(cdf) / float(1 << precision), precision)
    np.testing.assert_array_equal(again, cdf)


@SETTINGS
@given(pmf_and_precision(), st.floats(1e-3, 1e3))
def test_greedy_ignores_the_pmf_scale_up_to_rounding(case, factor):
    # m = pmf / sum(pmf): a power-of-two factor changes no bit of m.
    pmf, precision = case
    exponent = int(np.round(np.log2(factor)))
    scaled = pmf * 2.0 ** exponent
    # ... as long as no mass is (or becomes) subnormal: scaling those drops bits.
    tiny = np.finfo(np.float64).tiny
    assume(np.all((pmf == 0) | (pmf >= tiny)) and np.all((scaled == 0) | (scaled >= tiny)))
    assume(np.count_nonzero(scaled) == np.count_nonzero(pmf))
    np.testing.assert_array_equal(tables.pmf_to_quantized_cdf(scaled, precision),
                                  tables.pmf_to_quantized_cdf(pmf, precision))


@SETTINGS
@given(st.lists(pmf_and_precision(max_len=40, min_precision=6), min_size=1, max_size=6))
def test_batch_rows_equal_single_pmf_calls(cases):
    precision = min(p for _, p in cases)
    pmfs = [pmf for pmf, _ in cases]
    assume(all(len(p) <= 1 << precision for p in pmfs))
    width = max(len(p) for p in pmfs) + 3
    rows = np.full((len(pmfs), width), 7.0)  # garbage past each row's length is ignored
    for i, p in enumerate(pmfs):
        rows[i, :len(p)] = p
    lengths = np.array([len(p) for p in pmfs])
    offsets = np.arange(len(pmfs)) - 5
    cdfs, cdf_lengths, offs = tables.pmfs_to_tables(rows, lengths, offsets, precision)
    assert cdfs.shape == (len(pmfs), lengths.max() + 1)
    np.testing.assert_array_equal(cdf_lengths, lengths + 1)
    np.testing.assert_array_equal(offs, offsets)
    for i, p in enumerate(pmfs):
        np.testing.assert_array_equal(cdfs[i, :len(p) + 1], tables.pmf_to_quantized_cdf(p, precision))
        assert not cdfs[i, len(p) + 1:].any()


def test_greedy_is_deterministic_across_calls_and_dtypes():
    rng = np.random.default_rng(7)
    pmf = rng.random(3000) ** 8
    first = tables.pmf_to_quantized_cdf(pmf)
    for _ in range(3):
        np.testing.assert_array_equal(tables.pmf_to_quantized_cdf(pmf.tolist()), first)
    np.testing.assert_array_equal(
        tables.pmf_to_quantized_cdf(pmf.astype(np.float32)),
        tables.pmf_to_quantized_cdf(pmf.astype(np.float32).astype(np.float64)))


def test_greedy_breaks_ties_toward_the_lowest_index():
    # 3 equal masses, 2^2 units: one symbol gets 2, and it is the first.
    assert tables.pmf_to_quantized_cdf([1, 1, 1], 2).tolist() == [0, 2, 3, 4]
    # A uniform pmf over 2^p symbols leaves no choice.
    assert tables.pmf_to_quantized_cdf(np.ones(16), 4).tolist() == list(range(17))


def test_greedy_gives_zero_mass_symbols_exactly_one_unit():
    cdf = tables.pmf_to_quantized_cdf([0.0, 0.7, 0.0, 0.3, 0.0], 16)
    assert np.diff(cdf)[[0, 2, 4]].tolist() == [1, 1, 1]


def test_precision_one_two_symbols():
    assert tables.pmf_to_quantized_cdf([0.999, 0.001], 1).tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", ["greedy", "compressai"])
@pytest.mark.parametrize("bad, message", [
    ([0.5, -0.1], "negative"),
    ([0.5, float("nan")], "NaN"),
    ([0.5, float("inf")], "infinite"),
    ([0.0, 0.0], "all zeros"),
    ([], "empty"),
])
def test_bad_pmfs_raise_invalid_argument(method, bad, message):
    with pytest.raises(InvalidArgumentError, match=message):
        tables.pmf_to_quantized_cdf(bad, 16, method=method)


def test_too_many_symbols_for_the_precision_raise():
    with pytest.raises(InvalidArgumentError, match="at most 2\\^4"):
        tables.pmf_to_quantized_cdf(np.ones(17), 4)


@pytest.mark.parametrize("precision", [0, 17, -1, 2.0, True, "16"])
def test_bad_precisions_raise(precision):
    with pytest.raises(InvalidArgumentError, match="precision"):
        tables.pmf_to_quantized_cdf([0.5, 0.5], precision)


@pytest.mark.parametrize("pmf", [["a", "b"], [[0.5], [0.25, 0.25]], [[0.5, 0.5]], [1 + 2j]])
def test_wrong_dtype_or_shape_raises(pmf):
    with pytest.raises(InvalidArgumentError):
        tables.pmf_to_quantized_cdf(pmf)


def test_unknown_method_raises():
    with pytest.raises(InvalidArgumentError, match="method"):
        tables.pmf_to_quantized_cdf([0.5, 0.5], method="optimal")


def test_compressai_method_rejects_what_compressai_cannot_represent():
    with pytest.raises(InvalidArgumentError, match="rounds to 0"):
        tables.pmf_to_quantized_cdf([1e-9, 1e-9], 16, method="compressai")
    with pytest.raises(InvalidArgumentError, match="32 bits|float32"):
        tables.pmf_to_quantized_cdf([1e30, 1.0], 16, method="compressai")


def test_batch_argument_errors():
    rows = np.full((2, 3), 0.25)
    with pytest.raises(InvalidArgumentError, match="rows"):
        tables.pmfs_to_tables(rows, [3], [0, 0])
    with pytest.raises(InvalidArgumentError, match="lengths\\[1\\]"):
        tables.pmfs_to_tables(rows, [3, 4], [0, 0])
    with pytest.raises(InvalidArgumentError, match="lengths\\[0\\]"):
        tables.pmfs_to_tables(rows, [0, 3], [0, 0])
    with pytest.raises(InvalidArgumentError, match="integers"):
        tables.pmfs_to_tables(rows, [3.0, 3.0], [0, 0])
    with pytest.raises(InvalidArgumentError, match="row 1"):
        tables.pmfs_to_tables(np.array([[0.5, 0.5], [0.0, 0.0]]), [2, 2], [0, 0])
