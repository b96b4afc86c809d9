"""Parametric table sets (Gaussian, Laplace, logistic), the scale table and the scale -> index
rule: layout as specified, valid CDFs, optimal frequencies, pinned bits (determinism)."""
import hashlib
import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lic_core import tables
from lic_core.errors import InvalidArgumentError

BUILDERS = {"gaussian": tables.gaussian_tables, "laplace": tables.laplace_tables,
            "logistic": tables.logistic_tables}

# sha256 of cdfs, cdf_lengths, offsets (little-endian int32, in that order) of the
# default greedy tables: scale_table() at precision 16, tail mass 1e-9. These pin
# the bits: any machine, compiler or change that moves one CDF entry fails here.
GOLDEN_SHA256 = {
    "gaussian": "52eda55f812b1eb886d2b6a72676bdaa3c923569a6b9778e03214076b0b65ef3",
    "laplace": "a4e5951706f67dade121163b4da8d596ca01088c1b7d0a26fd361b3ec366a939",
    "logistic": "c374541ba69b7b749e6e17d779a9476814f89f213672cfb8e9e5888fea991b18",
}


def table_digest(cdfs, lengths, offsets):
    h = hashlib.sha256()
    for a in (cdfs, lengths, offsets):
        h.update(np.ascontiguousarray(a, dtype="<i4").tobytes())
    return h.hexdigest()


def two_sided_tail(family, x):
    """P(|X| > x) at scale 1, with Python's math module (an independent reference)."""
    if family == "gaussian":
        return math.erfc(x / math.sqrt(2.0))
    if family == "laplace":
        return math.exp(-x)
    return 2.0 / (1.0 + math.exp(x)) if x < 700 else 0.0


def reference_pmf(family, scale, c):
    e = [two_sided_tail(family, (k + 0.5) / float(scale)) for k in range(c + 1)]
    half = [1.0 - e[0]] + [0.5 * (e[d - 1] - e[d]) for d in range(1, c + 1)]
    return np.array(half[:0:-1] + half + [e[c]])


def code_length_bits(pmf, cdf):
    m = pmf / pmf.sum()
    f = np.diff(cdf.astype(np.int64))
    return float(-(m * np.log2(f / cdf[-1])).sum())


@pytest.fixture(scope="module")
def default_tables():
    table = tables.scale_table()
    return {name: build(table) for name, build in BUILDERS.items()}


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_default_tables_match_their_pinned_hash(default_tables, family):
    assert table_digest(*default_tables[family]) == GOLDEN_SHA256[family]


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_tables_have_the_specified_layout_and_valid_cdfs(default_tables, family):
    cdfs, lengths, offsets = default_tables[family]
    table = tables.scale_table()
    m = tables.tail_multiplier(1e-9, family)
    c = np.ceil(table * np.float32(m)).astype(np.int64)  # float32 product, as specified
    np.testing.assert_array_equal(offsets, -c)
    np.testing.assert_array_equal(lengths, 2 * c + 3)
    assert cdfs.dtype == lengths.dtype == offsets.dtype == np.int32
    assert cdfs.shape == (64, lengths.max())
    for t in range(64):
        row = cdfs[t, :lengths[t]]
        assert row[0] == 0 and row[-1] == 1 << 16
        assert (np.diff(row) >= 1).all()
        assert not cdfs[t, lengths[t]:].any()


def test_greedy_gaussian_layout_equals_compressai_layout(default_tables):
    _, lengths, offsets = default_tables["gaussian"]
    _, ref_lengths, ref_offsets = tables.gaussian_tables(tables.scale_table(), method="compressai")
    np.testing.assert_array_equal(lengths, ref_lengths)
    np.testing.assert_array_equal(offsets, ref_offsets)


def test_family_multipliers_have_their_closed_forms():
    assert tables.tail_multiplier(1e-9, "laplace") == pytest.approx(-math.log(1e-9), rel=1e-15)
    assert tables.tail_multiplier(1e-9, "logistic") == pytest.approx(math.log(2e9 - 1), rel=1e-15)
    assert math.erfc(tables.tail_multiplier(1e-3) / math.sqrt(2)) == pytest.approx(1e-3, rel=1e-13)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_greedy_rows_are_optimal_for_the_family_pmf(default_tables, family):
    # The engine's own exp/erfc agree with libm to ~1e-16, so its rows must have the
    # minimum code length for the pmf computed here (to rounding).
    cdfs, lengths, offsets = default_tables[family]
    for t in range(0, 64, 3):
        c = -int(offsets[t])
        pmf = reference_pmf(family, tables.scale_table()[t], c)
        ours = code_length_bits(pmf, cdfs[t, :lengths[t]])
        best = code_length_bits(pmf, tables.pmf_to_quantized_cdf(pmf))
        assert ours <= best + 1e-9, (t, ours, best)


def test_greedy_gaussian_tables_are_never_longer_than_compressai(default_tables):
    cdfs, lengths, offsets = default_tables["gaussian"]
    ref, _, _ = tables.gaussian_tables(tables.scale_table(), method="compressai")
    saved = []
    for t in range(64):
        pmf = reference_pmf("gaussian", tables.scale_table()[t], -int(offsets[t]))
        ours = code_length_bits(pmf, cdfs[t, :lengths[t]])
        theirs = code_length_bits(pmf, ref[t, :lengths[t]])
        assert ours <= theirs + 1e-12
        saved.append(theirs - ours)
    assert max(saved) > 0  # the greedy really differs somewhere


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_a_table_does_not_depend_on_the_other_scales_in_the_call(default_tables, family):
    cdfs, lengths, offsets = default_tables[family]
    picks = [40, 3, 3, 63]
    sub, sub_lengths, sub_offsets = BUILDERS[family](tables.scale_table()[picks])
    np.testing.assert_array_equal(sub_lengths, lengths[picks])
    np.testing.assert_array_equal(sub_offsets, offsets[picks])
    np.testing.assert_array_equal(sub, cdfs[picks, :sub.shape[1]])


def test_tables_are_identical_when_built_in_parallel_threads(default_tables):
    results = [None] * 4

    def build(i):
        results[i] = tables.gaussian_tables(tables.scale_table())

    threads = [threading.Thread(target=build, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for r in results:
        for a, b in zip(r, default_tables["gaussian"]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("precision", [8, 12, 16])
def test_gaussian_tables_at_lower_precisions_are_valid(precision):
    table = tables.scale_table(0.11, 10.0, 16)
    for method in ("greedy", "compressai"):
        cdfs, lengths, _ = tables.gaussian_tables(table, precision=precision, method=method)
        for t in range(len(table)):
            row = cdfs[t, :lengths[t]]
            assert row[-1] == 1 << precision and (np.diff(row) >= 1).all()


def test_float64_scales_are_rounded_to_float32():
    a = tables.gaussian_tables(np.array([0.3, 2.5], dtype=np.float64))
    b = tables.gaussian_tables(np.array([0.3, 2.5], dtype=np.float32))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("scales, message", [
    ([0.0], "scales\\[0\\]"), ([1.0, -2.0], "scales\\[1\\]"), ([float("nan")], "finite"),
    ([float("inf")], "finite"), ([[1.0]], "1-dimensional"), (["x"], "real numbers"),
])
def test_bad_scales_raise(scales, message):
    with pytest.raises(InvalidArgumentError, match=message):
        tables.gaussian_tables(scales)


def test_scale_too_large_for_the_precision_raises():
    with pytest.raises(InvalidArgumentError, match="precision"):
        tables.gaussian_tables([100.0], precision=8)


@pytest.mark.parametrize("tail_mass", [0.0, 1.0, -1e-9, float("nan"), 1e-301])
def test_bad_tail_mass_raises(tail_mass):
    with pytest.raises(InvalidArgumentError, match="tail_mass"):
        tables.gaussian_tables([1.0], tail_mass=tail_mass)


def test_compressai_method_is_gaussian_only():
    with pytest.raises(InvalidArgumentError, match="Gaussian"):
        tables.logistic_tables([1.0], method="compressai")


# ---------------------------------------------------------------- scale table
@pytest.mark.parametrize("lo, hi, levels", [(0.11, 256.0, 64), (0.05, 20.0, 7), (1e-3, 1e3, 301)])
def test_scale_table_is_log_spaced_float32_from_min_to_max(lo, hi, levels):
    table = tables.scale_table(lo, hi, levels)
    assert table.dtype == np.float32 and table.shape == (levels,)
    assert (np.diff(table) > 0).all()
    np.testing.assert_allclose(table, np.exp(np.linspace(np.log(lo), np.log(hi), levels)),
                               rtol=1e-5)
    assert table[0] == np.float32(lo) or abs(table[0] / lo - 1) < 1e-6


@pytest.mark.parametrize("args", [(1.0, 1.0, 4), (2.0, 1.0, 4), (0.0, 1.0, 4), (0.1, 1.0, 1),
                                  (0.1, float("inf"), 4), (0.1, 1.0, 1 << 17),
                                  (1.0, 1.0 + 1e-7, 1000)])
def test_bad_scale_table_arguments_raise(args):
    with pytest.raises(InvalidArgumentError):
        tables.scale_table(*args)


# ---------------------------------------------------------------- scale -> index
def reference_indexes(scales, table):
    s = np.maximum(np.asarray(scales, dtype=np.float32), table[0])
    return np.searchsorted(table[:-1], s, side="left")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e6, width=32) | st.sampled_from(
    [float(v) for v in tables.scale_table()]) | st.just(float("inf")) | st.just(-float("inf")),
    min_size=0, max_size=50))
def test_scale_indexes_pick_the_first_table_scale_at_least_the_scale(scales):
    table = tables.scale_table()
    out = tables.scale_indexes(np.array(scales, dtype=np.float32), table)
    np.testing.assert_array_equal(out, reference_indexes(scales, table))
    for s, i in zip(scales, out):  # the rule in words
        bounded = max(np.float32(s), table[0])
        assert i == 63 or table[i] >= bounded
        assert i == 0 or table[i - 1] < bounded


def test_scale_indexes_keep_the_shape():
    scales = np.full((2, 3, 4), 1.0)
    out = tables.scale_indexes(scales, tables.scale_table())
    assert out.shape == (2, 3, 4) and out.dtype == np.int32
    assert tables.scale_indexes(np.float32(0.2), tables.scale_table()).shape == ()


def test_scale_indexes_reject_nan_with_its_position():
    with pytest.raises(InvalidArgumentError, match="scales\\[2\\] is NaN"):
        tables.scale_indexes([1.0, 2.0, float("nan")], tables.scale_table())


@pytest.mark.parametrize("table", [[1.0, 1.0, 2.0], [2.0, 1.0], [0.0, 1.0], [], [[1.0, 2.0]],
                                   [1.0, float("nan")]])
def test_scale_indexes_reject_bad_tables(table):
    with pytest.raises(InvalidArgumentError):
        tables.scale_indexes([1.0], table)


def test_module_docstring_examples_run():
    import doctest
    result = doctest.testmod(tables)
    assert result.attempted >= 5 and result.failed == 0


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(BUILDERS)), st.sampled_from(["greedy", "compressai"]),
       st.lists(st.floats(float(np.float32(1e-38)), 3000.0, width=32), min_size=1, max_size=4),
       st.integers(1, 16), st.floats(1e-300, 0.999))
def test_any_parameters_give_valid_tables_or_a_clear_error(family, method, scales, precision,
                                                           tail_mass):
    try:
        cdfs, lengths, offsets = BUILDERS[family](scales, precision=precision,
                                                  tail_mass=tail_mass, method=method)
    except InvalidArgumentError as exc:
        assert str(exc)  # a message, e.g. the table does not fit the precision
        return
    assert (lengths == 2 * -offsets + 3).all()
    for t in range(len(scales)):
        row = cdfs[t, :lengths[t]]
        assert row[0] == 0 and row[-1] == 1 << precision and (np.diff(row) >= 1).all()
