"""Rate-distortion helpers: PSNR, MS-SSIM and Bjøntegaard deltas.

PSNR is one line of NumPy. MS-SSIM and the Bjøntegaard deltas come from kept libraries,
imported when first called so that importing this module stays NumPy-only:

* MS-SSIM: ``pytorch_msssim.ms_ssim`` (what CompressAI reports), on float32 tensors.
* BD-rate and BD-PSNR: the ``bjontegaard`` package, with one of two interpolations of
  each curve (``method``):

  - ``"pchip"`` (the default, :data:`DEFAULT_BD_METHOD`): piecewise cubic Hermite
    interpolation through every point, the method of the video-coding common test
    conditions' spreadsheet (JCTVC-L1100, JVET-T2010);
  - ``"cubic"``: one least-squares cubic polynomial per curve (VCEG-M33, 2001), what
    every table written before 2026-12-07 used; it needs at least 4 points per curve.

Either way the log-rate (BD-rate) or the PSNR (BD-PSNR) of both curves is integrated
over the interval the curves share, and the mean difference is reported::

    ΔR = 10^( (∫ log10 r_test(D) − log10 r_ref(D) dD) / (D_hi − D_lo) ) − 1

A negative BD-rate means the test codec needs less rate for the same quality.
docs/training.md ("The metrics: kept libraries") says why pchip is the default and how far
the two methods differ on the shipped results.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgumentError

#: The interpolations :func:`bd_rate` and :func:`bd_psnr` offer, and the default.
BD_METHODS = ("pchip", "cubic")
DEFAULT_BD_METHOD = "pchip"
#: The fewest points per curve each method can interpolate: a cubic polynomial needs 4
#: (bjontegaard fits degree 3 whatever the count); pchip draws a line through 2.
_MIN_POINTS = {"pchip": 2, "cubic": 4}


def check_bd_method(method: str) -> str:
    """``method`` if it is one of :data:`BD_METHODS`, else an InvalidArgumentError."""
    if method not in BD_METHODS:
        raise InvalidArgumentError(f"unknown BD method {method!r}; choose from {list(BD_METHODS)}")
    return method


def min_bd_points(method: str) -> int:
    """The fewest points a curve needs for a BD measure with ``method``."""
    return _MIN_POINTS[check_bd_method(method)]


def _curve(rate, quality, name: str, method: str):
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.size != q.size:
        raise InvalidArgumentError(f"{name}: {r.size} rates but {q.size} quality values")
    need = _MIN_POINTS[method]
    if r.size < need:
        hint = " (method='pchip' takes 2 or more)" if method == "cubic" else ""
        raise InvalidArgumentError(
            f"{name}: the {method} BD measure needs at least {need} points, got {r.size}{hint}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise InvalidArgumentError(f"{name}: rates and quality values must be finite")
    if np.any(r <= 0):
        raise InvalidArgumentError(f"{name}: rates must be positive")
    return r, q


def _increasing(x, y, name: str, what: str):
    """(x, y) sorted by x, which must not repeat: the interpolators need increasing x."""
    if np.unique(x).size != x.size:
        raise InvalidArgumentError(f"{name}: repeated {what} cannot be interpolated")
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _check_overlap(x_a, x_b) -> None:
    lo, hi = max(x_a.min(), x_b.min()), min(x_a.max(), x_b.max())
    if not hi > lo:
        raise InvalidArgumentError(
            f"the curves do not overlap (ranges [{x_a.min():.3f}, {x_a.max():.3f}] and "
            f"[{x_b.min():.3f}, {x_b.max():.3f}]): add points so they share an interval")


def _bd(function: str, rate_ref, psnr_ref, rate_test, psnr_test, method: str) -> float:
    """bjontegaard.<function> over the two curves, each sorted along its integration axis
    (PSNR for bd_rate, rate for bd_psnr), point counts free, no overlap warning (the
    tables print the shared range instead)."""
    check_bd_method(method)
    r_a, d_a = _curve(rate_ref, psnr_ref, "reference curve", method)
    r_b, d_b = _curve(rate_test, psnr_test, "test curve", method)
    if function == "bd_rate":
        d_a, r_a = _increasing(d_a, r_a, "reference curve", "quality values")
        d_b, r_b = _increasing(d_b, r_b, "test curve", "quality values")
        _check_overlap(d_a, d_b)
    else:
        r_a, d_a = _increasing(r_a, d_a, "reference curve", "rates")
        r_b, d_b = _increasing(r_b, d_b, "test curve", "rates")
        _check_overlap(np.log(r_a), np.log(r_b))
    import bjontegaard
    value = getattr(bjontegaard, function)(r_a, d_a, r_b, d_b, method=method,
                                           require_matching_points=False, min_overlap=0)
    return float(value)


def bd_rate(rate_ref, psnr_ref, rate_test, psnr_test, method: str = DEFAULT_BD_METHOD) -> float:
    """Bjøntegaard delta rate of ``test`` against ``ref``, in percent (negative: ``test``
    needs less rate for the same PSNR); ``method`` is ``"pchip"`` or ``"cubic"``.

    >>> round(bd_rate([1, 2, 4, 8], [30, 33, 36, 39], [0.9, 1.8, 3.6, 7.2], [30, 33, 36, 39]), 6)
    -10.0
    """
    return _bd("bd_rate", rate_ref, psnr_ref, rate_test, psnr_test, method)


def bd_psnr(rate_ref, psnr_ref, rate_test, psnr_test, method: str = DEFAULT_BD_METHOD) -> float:
    """Bjøntegaard delta PSNR of ``test`` against ``ref``, in dB (positive: test is better),
    averaged over the shared log-rate interval; ``method`` as for :func:`bd_rate`."""
    return _bd("bd_psnr", rate_ref, psnr_ref, rate_test, psnr_test, method)


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


def ms_ssim(a, b, data_range: float = 1.0, weights=None) -> float:
    """Multi-scale SSIM (Wang et al. 2003) of two H×W or H×W×C images (uint8 arrays are
    scaled to [0, 1]), averaged over channels: ``pytorch_msssim.ms_ssim`` in float32, as
    CompressAI runs it.

    11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, 'valid' filtering, 2×2
    average pooling between scales (an odd side is zero-padded first), negative terms
    clipped to 0; ``weights`` (one per scale, finest first) default to the library's
    (0.0448, 0.2856, 0.3001, 0.2363, 0.1333). The library asks for both sides > 160 px
    whatever the number of scales.
    """
    x, y = _as_float_image(a, "a"), _as_float_image(b, "b")
    if x.shape != y.shape:
        raise InvalidArgumentError(f"image shapes differ: {x.shape} vs {y.shape}")
    scales = 5 if weights is None else len(weights)
    need = 10 * 2 ** max(4, scales - 1)
    if min(x.shape[:2]) <= need:
        raise InvalidArgumentError(
            f"MS-SSIM with {scales} scales needs both sides > {need} px, got {x.shape[:2]}")
    import torch
    from pytorch_msssim import ms_ssim as library_ms_ssim

    def nchw(v):
        return torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1), np.float32))[None]
    with torch.no_grad():
        value = library_ms_ssim(nchw(x), nchw(y), data_range=data_range,
                                weights=None if weights is None else list(weights))
    return float(value)
