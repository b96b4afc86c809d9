"""Encoder effort levels: refine the latents for the image at hand (issue 14).

The analysis transforms give an amortised guess of the latents; an encoder that may
spend more time can do better for this one image by minimising the model's own
objective, rate + λ·255²·MSE, over y and z directly (Campos et al., "Content adaptive
optimization for neural image compression", 2019; Yang, Bamler & Mandt, "Improving
inference for neural image compression", NeurIPS 2020). The decoder does not change:
the refined y and z go through the family's ordinary encoder, which quantises them
exactly as it quantises g_a's output (the joint model's walk included), so every file
decodes with the decoder of effort 0.

Specification of the search (our own choices):

* Each step evaluates the model's own objective on what the encoder would code
  (round(y − μ) + μ, round(z − m) + m; the joint model's context sees round(y), as in
  training) and keeps the best iterate; the gradient comes from the same objective with
  rounding relaxed to a soft rounding whose temperature falls with the step (the
  straight-through estimator made the objective rise here).
* Adam (β = 0.9, 0.999) at a constant learning rate on y and z; effort E runs the first
  ``STEPS[E]`` steps of one trajectory and keeps the best iterate seen (including the
  start). Effort E + 1 continues the same trajectory, so its objective is never worse
  than effort E's: the levels are nested by construction.
* λ is the quality's training λ (:data:`lic_core.zoo.registry.LAMBDAS`); the distortion
  counts the image's own pixels, not the padding.

Deterministic on a given machine and torch configuration (same thread count); another
machine may refine to other latents, which is only another valid file.
"""
from __future__ import annotations

from typing import Callable

import torch

from lic_core.errors import InvalidArgumentError

from .registry import LAMBDAS

__all__ = ["EFFORTS", "DEFAULT_EFFORT", "STEPS", "LEARNING_RATE", "check_effort",
           "quality_lambda", "refine", "refine_levels", "objective"]

EFFORTS = range(10)
#: what compress() uses unless told: effort 0 keeps encoding as fast as decoding
#: (README, "Effort levels", has the measured trade-off)
DEFAULT_EFFORT = 0
#: Adam steps per level (nested: level E+1 continues level E's trajectory)
STEPS = (0, 4, 8, 14, 20, 30, 42, 56, 72, 90)
LEARNING_RATE = 0.003


def check_effort(effort) -> int:
    if isinstance(effort, bool) or not isinstance(effort, int) or effort not in EFFORTS:
        raise InvalidArgumentError(f"effort must be an integer in 0..9, got {effort!r}")
    return int(effort)


def quality_lambda(model) -> float:
    """The λ the refinement weighs distortion with: the model's quality's, or quality 4's
    (the middle of the range) for weights not from the zoo."""
    q = model.quality if model.quality in range(1, len(LAMBDAS) + 1) else 4
    return LAMBDAS[q - 1]


def hard_round(v: torch.Tensor, centre) -> torch.Tensor:
    """round(v − centre) + centre: what the encoder codes (no useful gradient)."""
    return torch.round(v - centre) + centre


def soft_round(tau: float):
    """A differentiable stand-in for hard_round: floor(u) + sigmoid((frac(u) − ½)/τ) for
    u = v − centre, which tends to rounding as τ → 0 (the annealed relaxation idea of
    Yang et al. 2020, made deterministic)."""
    def rounding(v: torch.Tensor, centre) -> torch.Tensor:
        u = v - centre
        base = torch.floor(u).detach()
        return base + torch.sigmoid((u - base - 0.5) / tau) + centre
    return rounding


def temperature(step: int) -> float:
    """τ at ``step``: from 0.5 down to 0.05, a function of the step alone (so the levels
    stay prefixes of one trajectory)."""
    return max(0.05, 0.5 * 0.93 ** step)


def _bottleneck_bits(eb, v: torch.Tensor) -> torch.Tensor:
    """−Σ log2 p(v) under an EntropyBottleneck, for v already quantised (N×C×H×W)."""
    values = v.permute(1, 0, 2, 3).reshape(eb.channels, 1, -1)
    p = eb._bounded_likelihood(eb._likelihood(values)[0])
    return -torch.log2(p).sum()


def _gaussian_bits(gc, y_hat, scales, means) -> torch.Tensor:
    p = gc._bounded_likelihood(gc._likelihood(y_hat, scales, means))
    return -torch.log2(p).sum()


def objective(model, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor | None, lam: float,
              height: int, width: int, rounding=hard_round) -> tuple[torch.Tensor, float, float]:
    """(rate + λ·255²·MSE as a tensor, bits per pixel, MSE) of latents y, z for the padded
    image x whose first ``height`` × ``width`` pixels are the image, with ``rounding``
    standing for the encoder's quantisation (hard_round: the model's own objective)."""
    pixels = height * width
    if z is None:  # factorized: y's own density
        medians = model.entropy_bottleneck.medians().reshape(1, -1, 1, 1)
        y_hat = rounding(y, medians)
        bits = _bottleneck_bits(model.entropy_bottleneck, y_hat)
    else:
        eb, gc = model.entropy_bottleneck, model.gaussian_conditional
        z_hat = rounding(z, eb.medians().reshape(1, -1, 1, 1))
        bits = _bottleneck_bits(eb, z_hat)
        if hasattr(model, "context_prediction"):
            params = model.h_s(z_hat)
            ctx = model.context_prediction(rounding(y, 0.0))
            scales, means = model.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
        else:
            scales, means = model.gaussian_parameters(z_hat)
        y_hat = rounding(y, means if means is not None else 0.0)
        bits = bits + _gaussian_bits(gc, y_hat, scales, means)
    x_hat = model._transform(model.g_s, y_hat)[..., :height, :width]
    mse = torch.mean((x_hat - x[..., :height, :width]) ** 2)
    bpp = bits / pixels
    return bpp + lam * 255 ** 2 * mse, float(bpp.detach()), float(mse.detach())


def refine(model, x: torch.Tensor, effort: int, height: int, width: int,
           progress: Callable[[int, int], None] | None = None):
    """Latents (y, z or None) for the padded image ``x`` at ``effort`` (0: None, the
    encoder's own), and the objective's history [(step, loss)] of the iterates tried."""
    effort = check_effort(effort)
    if STEPS[effort] == 0:
        return None, []
    levels, history = refine_levels(model, x, effort, height, width, progress)
    return levels[effort], history


def refine_levels(model, x: torch.Tensor, effort: int, height: int, width: int,
                  progress: Callable[[int, int], None] | None = None):
    """The search of ``effort`` once, with the latents every level up to it would have
    chosen ({level: (y, z)}: the best iterate within that level's steps) and the history.
    ``refine(..., level)`` gives exactly ``refine_levels(..., effort)[0][level]``."""
    effort = check_effort(effort)
    steps = STEPS[effort]
    ends = {STEPS[level]: level for level in range(1, effort + 1)}
    chosen = {}
    lam = quality_lambda(model)
    with torch.no_grad():
        y0 = model.analysis(x)
        z0 = model.h_a(model.hyper_analysis_input(y0)) if hasattr(model, "h_a") else None
    y = y0.detach().clone().requires_grad_(True)
    z = z0.detach().clone().requires_grad_(True) if z0 is not None else None
    leaves = [t for t in (y, z) if t is not None]
    optimizer = torch.optim.Adam(leaves, lr=LEARNING_RATE)
    best, history = None, []
    for step in range(steps + 1):
        with torch.no_grad():  # the model's own objective, on what would be coded
            value = float(objective(model, x, y, z, lam, height, width)[0])
        history.append((step, value))
        if best is None or value < best[0]:
            best = (value, y.detach().clone(), z.detach().clone() if z is not None else None)
        if step in ends:
            chosen[ends[step]] = (best[1], best[2])
        if progress is not None:
            progress(step, steps)
        if step == steps:
            break
        with torch.enable_grad():
            loss, _, _ = objective(model, x, y, z, lam, height, width, soft_round(temperature(step)))
            grads = torch.autograd.grad(loss, leaves)
            for leaf, grad in zip(leaves, grads):
                leaf.grad = grad
            optimizer.step()
    y0 = y0.detach()
    chosen[0] = (y0, z0.detach() if z0 is not None else None)
    return chosen, history
