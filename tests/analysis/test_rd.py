"""Properties of lic_core.analysis.rd: Bjøntegaard deltas on curves with known answers
(both interpolations), PSNR, MS-SSIM. The libraries against stored results:
test_rd_libraries.py."""
import math

import numpy as np
import pytest

pytest.importorskip("bjontegaard")
pytest.importorskip("pytorch_msssim")

from lic_core.analysis import rd  # noqa: E402
from lic_core.errors import InvalidArgumentError, LicError  # noqa: E402

PSNR = np.array([28.0, 31.0, 34.0, 37.0, 40.0])


def log_rate_cubic(d):
    """An exactly cubic log-rate curve, so the cubic fit is exact."""
    t = (d - 34.0) / 6.0
    return 0.2 + 1.1 * t + 0.15 * t ** 2 - 0.05 * t ** 3


def log_rate_linear(d):
    """A straight log-rate curve, which pchip interpolates exactly (and the cubic too)."""
    return 0.2 + 0.18 * (d - 34.0)


#: for each method, a curve it reproduces exactly between any points sampled from it
EXACT = {"pchip": log_rate_linear, "cubic": log_rate_cubic}


@pytest.mark.parametrize("method", rd.BD_METHODS)
def test_ten_percent_less_rate_everywhere_gives_minus_ten(method):
    rate = np.exp(log_rate_cubic(PSNR))
    assert rd.bd_rate(rate, PSNR, 0.9 * rate, PSNR, method) == pytest.approx(-10.0, abs=1e-9)


@pytest.mark.parametrize("method", rd.BD_METHODS)
def test_bd_rate_is_antisymmetric_in_log_domain(method):
    rate = np.exp(log_rate_cubic(PSNR))
    forward = rd.bd_rate(rate, PSNR, 0.8 * rate, PSNR, method=method)
    backward = rd.bd_rate(0.8 * rate, PSNR, rate, PSNR, method=method)
    assert forward == pytest.approx(-20.0, abs=1e-9)
    assert backward == pytest.approx(25.0, abs=1e-9)  # 1/0.8 − 1


@pytest.mark.parametrize("method", rd.BD_METHODS)
def test_bd_rate_integrates_only_over_the_shared_psnr_range(method):
    # the test curve samples the same underlying curve at other PSNRs,
    # over a narrower range: the rate difference is still exactly 15%
    d_test = np.array([30.0, 32.5, 35.0, 37.5])
    rate_ref = np.exp(EXACT[method](PSNR))
    rate_test = 1.15 * np.exp(EXACT[method](d_test))
    assert rd.bd_rate(rate_ref, PSNR, rate_test, d_test, method) == pytest.approx(15.0, abs=1e-9)


@pytest.mark.parametrize("method", rd.BD_METHODS)
def test_bd_rate_of_varying_gap_is_the_geometric_mean_ratio(method):
    # log-rate gap grows linearly from 0 to 0.2 over [28, 40]: mean gap 0.1
    gap = 0.2 * (PSNR - 28.0) / 12.0
    rate = np.exp(EXACT[method](PSNR))
    got = rd.bd_rate(rate, PSNR, rate * np.exp(gap), PSNR, method)
    assert got == pytest.approx((math.exp(0.1) - 1) * 100, abs=1e-9)


def test_points_need_not_come_in_order():
    rate = np.exp(log_rate_cubic(PSNR))
    order = [3, 0, 4, 1, 2]
    for method in rd.BD_METHODS:
        assert rd.bd_rate(rate[order], PSNR[order], 0.9 * rate, PSNR, method) == \
            pytest.approx(-10.0, abs=1e-9)


def test_pchip_works_from_three_points_and_the_cubic_fit_asks_for_four():
    d = np.array([30.0, 34.0, 38.0])
    rate = np.exp(0.1 * d - 3 + 0.002 * (d - 34) ** 2)
    assert rd.bd_rate(rate, d, 1.3 * rate, d) == pytest.approx(30.0, abs=1e-9)
    assert rd.bd_rate(rate[:2], d[:2], 1.3 * rate[:2], d[:2]) == pytest.approx(30.0, abs=1e-9)
    with pytest.raises(InvalidArgumentError, match="at least 4 points.*pchip"):
        rd.bd_rate(rate, d, 1.3 * rate, d, method="cubic")


def test_an_unknown_method_is_refused():
    rate = np.exp(log_rate_cubic(PSNR))
    with pytest.raises(InvalidArgumentError, match="unknown BD method 'akima'"):
        rd.bd_rate(rate, PSNR, rate, PSNR, method="akima")


@pytest.mark.parametrize("method", rd.BD_METHODS)
def test_bd_psnr_of_a_half_db_shift(method):
    rate = np.exp(log_rate_cubic(PSNR))
    assert rd.bd_psnr(rate, PSNR, rate, PSNR + 0.5, method) == pytest.approx(0.5, abs=1e-9)


def test_disjoint_curves_raise_a_clear_error():
    with pytest.raises(InvalidArgumentError, match="do not overlap"):
        rd.bd_rate([1, 2, 3], [20, 21, 22], [1, 2, 3], [30, 31, 32])
    with pytest.raises(InvalidArgumentError, match="do not overlap"):
        rd.bd_psnr([1, 2, 3], [20, 21, 22], [5, 6, 7], [30, 31, 32])


@pytest.mark.parametrize("rate,psnr", [
    ([1.0], [30.0]),                 # one point
    ([1.0, 2.0], [30.0]),            # length mismatch
    ([1.0, -2.0], [30.0, 32.0]),     # negative rate
    ([1.0, 2.0], [30.0, float("nan")]),
    ([1.0, 2.0], [30.0, 30.0]),      # repeated quality
])
def test_bad_curves_raise_lic_errors(rate, psnr):
    with pytest.raises(LicError):
        rd.bd_rate(rate, psnr, [1.0, 2.0, 4.0], [29.0, 31.0, 33.0])


def test_repeated_rates_cannot_give_a_bd_psnr():
    with pytest.raises(InvalidArgumentError, match="repeated rates"):
        rd.bd_psnr([1.0, 1.0, 2.0], [30.0, 31.0, 33.0], [1.0, 2.0, 4.0], [29.0, 31.0, 33.0])


def test_psnr_of_uint8_images():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 1/48 on [0, 1]
    assert rd.psnr(a, b) == pytest.approx(10 * math.log10(48))
    assert rd.psnr(a, a) == float("inf")


def _textured(seed, shape=(192, 200, 3)):
    rng = np.random.default_rng(seed)
    base = rng.random((shape[0] // 8, shape[1] // 8, 3))
    img = np.kron(base, np.ones((8, 8, 1)))[: shape[0], : shape[1]]
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def test_ms_ssim_is_one_for_identical_images_and_symmetric():
    a = _textured(0)
    rng = np.random.default_rng(1)
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    assert rd.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert rd.ms_ssim(a, b) == pytest.approx(rd.ms_ssim(b, a), abs=1e-12)


def test_ms_ssim_decreases_with_noise():
    a = _textured(2)
    rng = np.random.default_rng(3)
    values = [rd.ms_ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8))
              for s in (2, 8, 32)]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0


def test_single_scale_ms_ssim_matches_direct_ssim_formula():
    # one scale with weight 1 is plain SSIM: check against a direct evaluation on a
    # constant-plus-offset pair (σ = 0, so SSIM is luminance only); the library wants
    # sides > 160 px whatever the number of scales. In float32, E[x²] − E[x]² of a flat
    # image is off by ~1e-8, which against C2 = 9e-4 leaves the contrast term 3e-5 from 1
    # (docs/training.md): still below the tables' fourth decimal.
    a = np.full((168, 170, 1), 0.4)
    b = np.full((168, 170, 1), 0.6)
    c1 = 0.01 ** 2
    expected = (2 * 0.4 * 0.6 + c1) / (0.4 ** 2 + 0.6 ** 2 + c1)
    assert rd.ms_ssim(a, b, weights=(1.0,)) == pytest.approx(expected, abs=5e-5)


def test_ms_ssim_rejects_images_too_small_for_five_scales():
    a = np.zeros((100, 300, 3), np.uint8)
    with pytest.raises(InvalidArgumentError, match="160"):
        rd.ms_ssim(a, a)
    with pytest.raises(InvalidArgumentError, match="160"):  # the library's floor
        rd.ms_ssim(a, a, weights=(0.5, 0.5))
    with pytest.raises(InvalidArgumentError, match="shapes differ"):
        rd.ms_ssim(np.zeros((200, 200, 3)), np.zeros((200, 201, 3)))
