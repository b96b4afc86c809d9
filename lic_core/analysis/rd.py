"""Rate-distortion helpers: PSNR, MS-SSIM and Bjøntegaard deltas (NumPy only).

Bjøntegaard (VCEG-M33, 2001): fit each curve's log-rate as a polynomial of
PSNR (cubic when a curve has at least 4 points), integrate both fits over the
PSNR interval the two curves share, and turn the mean log-rate difference
into a percentage::

    ΔR = exp( (∫ r_test(D) − r_ref(D) dD) / (D_hi − D_lo) ) − 1,   r = ln(rate)

A negative BD-rate means the test codec needs less rate for the same quality.
BD-PSNR swaps the roles: PSNR as a polynomial of log-rate, averaged over the
shared log-rate interval, in dB.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgumentError

# Wang, Simoncelli & Bovik (2003): per-scale exponents, finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _curve(rate, quality, name: str):
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.size != q.size:
        raise InvalidArgumentError(f"{name}: {r.size} rates but {q.size} quality values")
    if r.size < 2:
        raise InvalidArgumentError(f"{name}: a BD measure needs at least 2 points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise InvalidArgumentError(f"{name}: rates and quality values must be finite")
    if np.any(r <= 0):
        raise InvalidArgumentError(f"{name}: rates must be positive")
    if np.unique(q).size != q.size:
        raise InvalidArgumentError(f"{name}: repeated quality values cannot be fitted")
    return r, q


def _mean_over_overlap(x_a, y_a, x_b, y_b) -> float:
    """Mean of fit_b(x) − fit_a(x) over the x-range both curves cover."""
    lo = max(x_a.min(), x_b.min())
    hi = min(x_a.max(), x_b.max())
    if not hi > lo:
        raise InvalidArgumentError(
            f"the curves do not overlap (ranges [{x_a.min():.3f}, {x_a.max():.3f}] and "
            f"[{x_b.min():.3f}, {x_b.max():.3f}]): add points so they share an interval")
    integrals = []
    for x, y in ((x_a, y_a), (x_b, y_b)):
        degree = min(3, x.size - 1)
        poly = np.polynomial.Polynomial.fit(x, y, degree)
        antider = poly.integ()
        integrals.append(antider(hi) - antider(lo))
    return (integrals[1] - integrals[0]) / (hi - lo)


def bd_rate(rate_ref, psnr_ref, rate_test, psnr_test) -> float:
    """Bjøntegaard delta rate of ``test`` against ``ref``, in percent.

    >>> round(bd_rate([1, 2, 4, 8], [30, 33, 36, 39], [0.9, 1.8, 3.6, 7.2], [30, 33, 36, 39]), 6)
    -10.0
    """
    r_a, d_a = _curve(rate_ref, psnr_ref, "reference curve")
    r_b, d_b = _curve(rate_test, psnr_test, "test curve")
    mean_log_diff = _mean_over_overlap(d_a, np.log(r_a), d_b, np.log(r_b))
    return (math.exp(mean_log_diff) - 1.0) * 100.0


def bd_psnr(rate_ref, psnr_ref, rate_test, psnr_test) -> float:
    """Bjøntegaard delta PSNR of ``test`` against ``ref``, in dB (positive: test is better)."""
    r_a, d_a = _curve(rate_ref, psnr_ref, "reference curve")
    r_b, d_b = _curve(rate_test, psnr_test, "test curve")
    return _mean_over_overlap(np.log(r_a), d_a, np.log(r_b), d_b)


# --------------------------------------------------------------------------- image metrics


def _as_float_image(img, name):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise InvalidArgumentError(f"{name} must be H×W or H×W×C, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    return a.astype(np.float64)


def psnr(a, b, data_range: float = 1.0) -> float:
    """PSNR in dB of two images (uint8 arrays are scaled to [0, 1])."""
    x, y = _as_float_image(a, "a"), _as_float_image(b, "b")
    if x.shape != y.shape:
        raise InvalidArgumentError(f"image shapes differ: {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    if mse == 0:
        return float("inf")
    return 10.0 * math.log10(data_range ** 2 / mse)


def _gaussian_kernel(size=11, sigma=1.5):
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(t ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(img, g):
    """Separable 'valid' Gaussian filter of an H×W×C array."""
    k = g.size
    h, w, _ = img.shape
    rows = sum(g[i] * img[i:h - k + 1 + i] for i in range(k))
    return sum(g[j] * rows[:, j:w - k + 1 + j] for j in range(k))


def _ssim_terms(x, y, g, data_range):
    """Per-channel mean luminance·contrast·structure (ssim) and contrast·structure (cs)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x ** 2
    syy = _filter_valid(y * y, g) - mu_y ** 2
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    cs_map = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (lum * cs_map).mean(axis=(0, 1)), cs_map.mean(axis=(0, 1))


def _halve(img):
    """2×2 average pooling (odd trailing row/column dropped)."""
    h, w, _ = img.shape
    img = img[: h - h % 2, : w - w % 2]
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def ms_ssim(a, b, data_range: float = 1.0, weights=MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM (Wang et al. 2003) of two H×W×C images, averaged over channels.

    11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, 'valid' filtering,
    2×2 average pooling between scales. With S = len(weights) scales::

        MS-SSIM = Π_{j<S} cs_j^{w_j} · ssim_S^{w_S}      (negative terms clipped to 0)

    The smaller image side must exceed 10·2^(S−1) (160 px for 5 scales).
    """
    x, y = _as_float_image(a, "a"), _as_float_image(b, "b")
    if x.shape != y.shape:
        raise InvalidArgumentError(f"image shapes differ: {x.shape} vs {y.shape}")
    scales = len(weights)
    need = 10 * 2 ** (scales - 1)
    if min(x.shape[:2]) <= need:
        raise InvalidArgumentError(
            f"MS-SSIM with {scales} scales needs both sides > {need} px, got {x.shape[:2]}")
    g = _gaussian_kernel()
    w = np.asarray(weights, dtype=np.float64)
    per_scale = []
    for j in range(scales):
        ssim_c, cs_c = _ssim_terms(x, y, g, data_range)
        per_scale.append(ssim_c if j == scales - 1 else cs_c)
        if j < scales - 1:
            x, y = _halve(x), _halve(y)
    stack = np.maximum(np.stack(per_scale), 0.0)  # S × C
    per_channel = np.prod(stack ** w[:, None], axis=0)
    return float(per_channel.mean())
