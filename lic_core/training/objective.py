"""What training minimises: λ per quality and the rate-distortion loss.

Loss (Ballé et al.; the λ scale of CompressAI's zoo)::

    L = λ · 255² · MSE(x, x̂) + bpp,    bpp = Σ_k Σ −log₂ p(ŷ_k) / (B·H·W)

A variable-rate run (:mod:`.variable_rate`) gives each sample its own λ and weight:
:func:`rate_distortion_per_sample`. Nothing here imports the rest of training, so every
other module can import it.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..zoo.registry import LAMBDAS  # λ of each quality has one home, the zoo's registry


def lambda_for_quality(quality: int) -> float:
    """λ of ``quality`` (1..10); raises InvalidArgumentError otherwise."""
    if not isinstance(quality, (int, np.integer)) or not 1 <= quality <= len(LAMBDAS):
        raise InvalidArgumentError(
            f"quality must be an integer in 1..{len(LAMBDAS)}, got {quality!r}")
    return LAMBDAS[int(quality) - 1]


def psnr(mse: float) -> float:
    """dB on the [0, 1] scale (MSE floored so that a perfect batch gives 120 dB, not inf)."""
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def rate_distortion(out: dict, x: torch.Tensor, lmbda: float) -> dict:
    """The loss of one forward pass at one λ.

    ``out`` is a model's forward output ({"x_hat": B×3×H×W or None, "likelihoods":
    {name: tensor}}); returns loss, bpp, mse (on the [0, 1] scale) and psnr (dB, on the
    batch MSE). With x̂ None (synthesis skipped: frozen transforms) the rate is the loss.
    """
    n, _, h, w = x.shape
    bpp = sum(torch.log(lik).sum() for lik in out["likelihoods"].values()) / (-math.log(2) * n * h * w)
    if out["x_hat"] is None:
        return {"loss": bpp, "bpp": bpp, "mse": torch.full((), math.nan), "psnr": math.nan}
    mse = torch.mean((out["x_hat"] - x) ** 2)
    loss = lmbda * 255 ** 2 * mse + bpp
    return {"loss": loss, "bpp": bpp, "mse": mse, "psnr": psnr(mse.item())}


def rate_distortion_per_sample(out: dict, x: torch.Tensor, lambdas: torch.Tensor,
                               weights: torch.Tensor) -> dict:
    """Per-sample loss λ_i·255²·MSE_i + bpp_i, weighted by ``weights`` and averaged.

    Scaling a quality's term leaves the rate-distortion trade-off within that quality
    alone (λ does that); since the parameters are shared, the weights set how much each
    quality counts. They keep the high-λ samples, whose loss is ~10× larger, from
    drowning the low ones; in a rate-only fit they make each quality's relative rate
    count alike (BD-rate compares relative rates), where an unweighted mean would spend
    the entropy model on q8's bits."""
    n, _, h, w = x.shape
    bits = sum(torch.log(lik).reshape(n, -1).sum(1) for lik in out["likelihoods"].values())
    bpp = bits / (-math.log(2) * h * w)
    if out["x_hat"] is None:  # synthesis skipped (frozen transforms and gains): rate only
        loss = (weights * bpp).mean()
        return {"loss": loss, "bpp": bpp.mean(), "mse": torch.full((), math.nan), "psnr": math.nan}
    mse = ((out["x_hat"] - x) ** 2).reshape(n, -1).mean(1)
    loss = (weights * (lambdas * 255 ** 2 * mse + bpp)).mean()
    return {"loss": loss, "bpp": bpp.mean(), "mse": mse.mean(), "psnr": psnr(mse.mean().item())}


def balance_weights(lambdas: torch.Tensor, lambda_ref: float) -> torch.Tensor:
    """√(λ_ref / λ): roughly equalises the loss magnitude across qualities. Measured on
    the zoo's models the per-sample loss runs from about 0.4 at q1 to about 4 at q8 (λ
    100× larger), close to √λ; the weights bring both to about 1."""
    return torch.sqrt(lambda_ref / lambdas)
