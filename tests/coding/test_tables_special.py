"""The engine's own exp/log/log1p/erfc (csrc/lic/special.h), used instead of libm so that
tables are identical everywhere: accurate to a few ulp against mpmath, and the vectorised
erfc returns exactly the scalar erfc's bits."""
import numpy as np
import pytest

from lic_core.coding import _tables

mpmath = pytest.importorskip("mpmath")  # ships with sympy, a torch dependency

EXP, LOG, ERFC, LOG1P, ERFC_SORTED, ERFC_INV, EXP_NONPOS = range(7)


def special(fn, x):
    return _tables._special(fn, np.ascontiguousarray(x, dtype=np.float64))


def max_relative_error(values, reference, x):
    mpmath.mp.dps = 40
    worst = 0.0
    for v, xi in zip(values, x):
        ref = reference(mpmath.mpf(float(xi)))
        if abs(ref) < mpmath.mpf("1e-300"):
            continue
        worst = max(worst, float(abs((mpmath.mpf(float(v)) - ref) / ref)))
    return worst


rng = np.random.default_rng(2024)


def test_exp_is_accurate_to_a_few_ulp():
    x = np.concatenate([rng.uniform(-708, 709, 400), rng.uniform(-1, 1, 400)])
    assert max_relative_error(special(EXP, x), mpmath.exp, x) < 4e-16


def test_log_is_accurate_to_a_few_ulp():
    x = np.exp(rng.uniform(-700, 700, 400))
    assert max_relative_error(special(LOG, x), mpmath.log, x) < 4e-16


def test_log1p_on_the_unit_interval_is_accurate():
    x = np.concatenate([1.0 / np.arange(1, 65537, 97), rng.uniform(0, 1, 200)])
    assert max_relative_error(special(LOG1P, x), mpmath.log1p, x) < 8e-16


def test_erfc_is_accurate_over_its_whole_range():
    x = np.concatenate([rng.uniform(-3, 26.5, 800), [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 26.4]])
    assert max_relative_error(special(ERFC, x), mpmath.erfc, x) < 2e-15


def test_erfc_edges_and_underflow():
    out = special(ERFC, [0.0, -30.0, 26.5, 40.0, np.inf, -np.inf, np.nan])
    assert out[:6].tolist() == [1.0, 2.0, 0.0, 0.0, 0.0, 2.0]
    assert np.isnan(out[6])


def test_vectorised_erfc_returns_the_scalar_bits():
    x = np.sort(np.concatenate([rng.uniform(0, 30, 5000), [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 26.5]]))
    np.testing.assert_array_equal(special(ERFC_SORTED, x).view(np.uint64),
                                  special(ERFC, x).view(np.uint64))


def test_vectorised_exp_returns_the_scalar_bits():
    y = np.concatenate([-rng.uniform(0, 800, 3000), [0.0, -0.0, -708.0, -708.0001, -1e300]])
    np.testing.assert_array_equal(special(EXP_NONPOS, y).view(np.uint64),
                                  special(EXP, y).view(np.uint64))


def test_erfc_inverse_inverts_erfc():
    q = 10.0 ** rng.uniform(-300, 0, 200)
    x = special(ERFC_INV, q)
    mpmath.mp.dps = 40
    for xi, qi in zip(x, q):
        assert abs(mpmath.erfc(mpmath.mpf(float(xi))) / qi - 1) < 1e-12


def test_special_hook_rejects_bad_function_numbers():
    from lic_core.errors import InvalidArgumentError
    with pytest.raises(InvalidArgumentError):
        special(99, [1.0])
    with pytest.raises(InvalidArgumentError):
        special(ERFC_SORTED, [2.0, 1.0])
