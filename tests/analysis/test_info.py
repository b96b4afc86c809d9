"""The sample-based estimators of lic_core.info, checked against closed-form cases."""
import math

import numpy as np
import pytest

from lic_core import InvalidArgumentError
from lic_core.analysis.info import (
    conditional_entropy, cross_entropy, entropy, ideal_bits, joint_entropy, mutual_information,
)


def test_entropy_of_a_uniform_sample_is_log2_of_the_alphabet():
    for m in (1, 2, 5, 256):
        x = np.tile(np.arange(m), 7)
        assert entropy(x) == pytest.approx(math.log2(m), abs=1e-12)


def test_entropy_of_a_constant_is_zero():
    assert entropy(np.full(100, 42)) == 0.0


def test_entropy_of_a_known_skewed_pmf():
    # p = (1/2, 1/4, 1/4) exactly -> H = 1.5 bits
    x = np.array([0, 0, 1, 2] * 25)
    assert entropy(x) == pytest.approx(1.5, abs=1e-12)


def test_entropy_in_nats_and_other_bases():
    x = np.arange(8)
    assert entropy(x, base=math.e) == pytest.approx(math.log(8))
    assert entropy(x, base=8) == pytest.approx(1.0)


def test_entropy_accepts_any_shape_and_labels():
    assert entropy(np.arange(16).reshape(2, 2, 4)) == pytest.approx(4.0)
    assert entropy(np.array(["a", "b", "a", "b"])) == pytest.approx(1.0)
    assert entropy([-3.5, 2.0]) == pytest.approx(1.0)


def test_miller_madow_adds_m_minus_one_over_2n_nats():
    x = np.array([0, 1, 2, 3] * 10)  # m = 4, N = 40
    assert entropy(x, correction="miller-madow") == pytest.approx(2.0 + 3 / 80 / math.log(2))


def test_miller_madow_reduces_the_bias_on_a_small_uniform_sample():
    rng = np.random.default_rng(0)
    trials = [rng.integers(0, 16, 64) for _ in range(400)]
    plug_in = np.mean([entropy(t) for t in trials])
    corrected = np.mean([entropy(t, correction="miller-madow") for t in trials])
    assert plug_in < corrected and abs(corrected - 4.0) < abs(plug_in - 4.0)


def test_independent_uniform_pairs():
    # Every (x, y) pair once: X, Y independent, uniform on 4 and 8 values.
    x, y = np.meshgrid(np.arange(4), np.arange(8), indexing="ij")
    assert joint_entropy(x, y) == pytest.approx(5.0)
    assert conditional_entropy(x, y) == pytest.approx(2.0)
    assert mutual_information(x, y) == pytest.approx(0.0, abs=1e-12)


def test_deterministic_pair_has_zero_conditional_entropy_and_full_information():
    x = np.arange(32) % 8
    y = (x * 3 + 1) % 8  # a bijection of x
    assert conditional_entropy(y, x) == pytest.approx(0.0, abs=1e-12)
    assert mutual_information(x, y) == pytest.approx(3.0)
    # A many-to-one function: H(f(X)|X) = 0 but H(X|f(X)) = 1 bit.
    f = x // 2
    assert conditional_entropy(f, x) == pytest.approx(0.0, abs=1e-12)
    assert conditional_entropy(x, f) == pytest.approx(1.0)
    assert mutual_information(x, f) == pytest.approx(2.0)


def test_plug_in_mutual_information_of_independent_samples_is_biased_up_and_mm_shrinks_it():
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 8, 200), rng.integers(0, 8, 200)
    plug_in = mutual_information(x, y)
    assert plug_in > 0.05
    assert mutual_information(x, y, correction="miller-madow") < plug_in


def test_cross_entropy_equals_entropy_under_the_empirical_pmf_and_exceeds_it_otherwise():
    x = np.array([0, 0, 1, 2] * 25)
    assert cross_entropy(x, [0.5, 0.25, 0.25]) == pytest.approx(entropy(x))
    # Uniform model: log2(3) bits each, the KL divergence above 1.5
    assert cross_entropy(x, np.full(3, 1 / 3)) == pytest.approx(math.log2(3))
    assert cross_entropy(x + 10, {10: 0.5, 11: 0.25, 12: 0.25}) == pytest.approx(1.5)
    assert cross_entropy(x - 1, [0.5, 0.25, 0.25], offset=-1) == pytest.approx(1.5)


def test_cross_entropy_is_infinite_where_the_model_gives_zero():
    assert cross_entropy([0, 5], [1.0]) == math.inf


def test_ideal_bits_is_minus_sum_log2():
    assert ideal_bits(np.array([0.5, 0.25, 1.0])) == pytest.approx(3.0)


@pytest.mark.parametrize("call", [
    lambda: entropy([]),
    lambda: entropy([1.0, float("nan")]),
    lambda: entropy([1, 2], base=1),
    lambda: entropy([1, 2], correction="jackknife"),
    lambda: joint_entropy([1, 2], [1]),
    lambda: cross_entropy([0, 1], [0.5, 0.6]),
    lambda: cross_entropy([0.5], [1.0]),
    lambda: ideal_bits([0.0, 1.0]),
])
def test_bad_input_is_an_invalid_argument(call):
    with pytest.raises(InvalidArgumentError):
        call()
