"""Encoder effort levels: refine the latents for the image at hand (issue 14).

The analysis transforms give an amortised guess of the latents; an encoder that may
spend more time can do better for this one image by minimising the model's own
objective, rate + λ·255²·MSE, over y and z directly (Campos et al., "Content adaptive
optimization for neural image compression", 2019; Yang, Bamler & Mandt, "Improving
inference for neural image compression", NeurIPS 2020). The decoder does not change:
the refined y and z go through the family's ordinary encoder, which quantises them
exactly as it quantises g_a's output (the joint model's walk included), so every file
decodes with the decoder of effort 0.

Specification of the search (our own choices; docs/models.md, "Effort levels"):

* The gradient comes from the model's objective with rounding relaxed by stochastic
  Gumbel annealing (Yang et al. 2020): each element is a Gumbel-softmax mix of rounding
  down and up, the nearer neighbour the likelier, at a temperature that falls with the
  step (a deterministic soft rounding stalled at about half the gain here). The noise
  comes from a generator seeded with :data:`SEED`, so a search is repeatable.
* Adam (β = 0.9, 0.999) at a constant learning rate on y and z; effort E runs the first
  ``steps_for(model)[E]`` steps of one trajectory (:data:`STEPS`, or :data:`JOINT_STEPS`
  for the joint model; the temperature is a function of the step alone).
* Every :data:`CHECK_EVERY` steps and at each level's last step, the iterate is coded
  for real: the objective that picks the result is the file's own, :func:`coded_objective`
  (the streams' bits plus λ·255²·MSE of the decoded image rounded to 8 bits, both per
  image pixel). Effort E keeps the best iterate checked within its steps, the start
  (g_a's latents, effort 0) included, and effort E + 1 checks a superset of those, so a
  higher level never writes a file with a larger objective: nested by construction.
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

__all__ = ["EFFORTS", "DEFAULT_EFFORT", "STEPS", "JOINT_STEPS", "steps_for", "CHECK_EVERY", "LEARNING_RATE", "SEED",
           "check_effort", "quality_lambda", "refine", "refine_levels", "objective",
           "coded_objective"]

EFFORTS = range(10)
#: what compress() uses unless told: effort 0 keeps encoding as fast as decoding
#: (README, "Effort levels", has the measured trade-off)
DEFAULT_EFFORT = 0
#: Adam steps per level (nested: level E+1 continues level E's trajectory) for the
#: factorized and hyperprior families
STEPS = (0, 8, 16, 24, 32, 48, 64, 80, 104, 128)
#: the joint model's levels: a step costs it about 1.4 hyperprior steps (the context model
#: runs twice, forward and back), so three quarters of the steps keep effort 9 within a
#: minute on a Kodak image on 2 cores (bench/effort.py)
JOINT_STEPS = (0, 6, 12, 18, 24, 36, 48, 60, 78, 96)
#: steps between two real codings of the iterate (and at every level's last step)
CHECK_EVERY = 8
LEARNING_RATE = 0.015
#: the seed of the search's Gumbel noise
SEED = 0


def check_effort(effort) -> int:
    if isinstance(effort, bool) or not isinstance(effort, int) or effort not in EFFORTS:
        raise InvalidArgumentError(f"effort must be an integer in 0..9, got {effort!r}")
    return int(effort)


def steps_for(model) -> tuple[int, ...]:
    """The Adam steps of each level (0..9) for ``model``'s family."""
    return JOINT_STEPS if hasattr(model, "context_prediction") else STEPS


def quality_lambda(model) -> float:
    """The λ the refinement weighs distortion with: the model's quality's, or quality 4's
    (the middle of the range) for weights not from the zoo."""
    q = model.quality if model.quality in range(1, len(LAMBDAS) + 1) else 4
    return LAMBDAS[q - 1]


def hard_round(v: torch.Tensor, centre) -> torch.Tensor:
    """round(v − centre) + centre: what the encoder codes (no useful gradient)."""
    return torch.round(v - centre) + centre


def annealed_round(tau: float, generator: torch.Generator):
    """A differentiable, stochastic stand-in for hard_round at temperature τ: with
    u = v − centre and r = u − floor(u), floor(u) + w + centre, where (1 − w, w) is a
    Gumbel-softmax sample over rounding down and up with logits −atanh(r)/τ and
    −atanh(1 − r)/τ (Yang et al. 2020). As τ → 0 it tends to rounding to the nearer
    neighbour; at larger τ an element may try the farther one, which is how the search
    changes a rounding decision that a gradient alone cannot."""
    def rounding(v: torch.Tensor, centre) -> torch.Tensor:
        u = v - centre
        base = torch.floor(u).detach()
        r = (u - base).clamp(1e-4, 1 - 1e-4)
        logits = torch.stack((-torch.atanh(r), -torch.atanh(1 - r)), dim=-1) / tau
        # drawn on the CPU generator whatever the device, so the noise is the same
        uniform = torch.rand(logits.shape, generator=generator).clamp_(1e-10, 1.0)
        gumbel = -torch.log(-torch.log(uniform)).to(logits.device)
        # τ twice on purpose: the logits are scaled by 1/τ and the Gumbel-softmax sample
        # is drawn at temperature τ too (Yang et al.'s relaxed categorical at τ with
        # logits/τ), so the mix hardens as 1/τ² while τ falls
        up = torch.softmax((logits + gumbel) / tau, dim=-1)[..., 1]
        return base + up + centre
    return rounding


def temperature(step: int) -> float:
    """τ at ``step``: from 0.5 down to 0.1 (reached at step 107), a function of the step
    alone (so the levels stay prefixes of one trajectory). The joint model's effort 9
    stops at step 96, at τ ≈ 0.12."""
    return max(0.1, 0.5 * 0.985 ** step)


def _bottleneck_bits(eb, v: torch.Tensor) -> torch.Tensor:
    """−Σ log2 p(v) under an EntropyBottleneck, for v already quantised (N×C×H×W)."""
    values = v.permute(1, 0, 2, 3).reshape(eb.channels, 1, -1)
    p = eb._bounded_likelihood(eb._likelihood(values)[0])
    return -torch.log2(p).sum()


def _gaussian_bits(gc, y_hat, scales, means) -> torch.Tensor:
    p = gc._bounded_likelihood(gc._likelihood(y_hat, scales, means))
    return -torch.log2(p).sum()


def _context_parameters(model, params: torch.Tensor, y: torch.Tensor, rounding):
    """The joint model's (scales, means) for y given h_s's ``params``. The encoder's walk
    feeds the context the coded ŷ = round(y − μ) + μ, μ from the context itself; one
    fixed-point step stands for it: μ₁ from the context of round(y), then the context of
    rounding(y) around μ₁. (Reading rounding(y) around 0, as training does, steered the
    search away from what the file codes.)"""
    with torch.no_grad():
        ctx = model.context_prediction(torch.round(y))
        means = model.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)[1]
    ctx = model.context_prediction(rounding(y, means))
    return model.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)


def objective(model, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor | None, lam: float,
              height: int, width: int, rounding=hard_round) -> tuple[torch.Tensor, float, float]:
    """(rate + λ·255²·MSE as a tensor, bits per pixel, MSE) of latents y, z for the padded
    image x whose first ``height`` × ``width`` pixels are the image, with ``rounding``
    standing for the encoder's quantisation: the model's own estimate, which the search
    differentiates (:func:`coded_objective` has the file's)."""
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
            scales, means = _context_parameters(model, params, y, rounding)
        elif hasattr(model, "parameters_for"):  # the space-channel model's groups
            scales, means, _ = model.parameters_for(y, model.h_s(z_hat), rounding)
        else:
            scales, means = model.gaussian_parameters(z_hat)
        y_hat = rounding(y, means if means is not None else 0.0)
        bits = bits + _gaussian_bits(gc, y_hat, scales, means)
    x_hat = model._transform(model.g_s, y_hat)[..., :height, :width]
    mse = torch.mean((x_hat - x[..., :height, :width]) ** 2)
    bpp = bits / pixels
    return bpp + lam * 255 ** 2 * mse, float(bpp.detach()), float(mse.detach())


@torch.no_grad()
def coded_objective(model, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor | None,
                    lam: float, height: int, width: int) -> tuple[float, float, float]:
    """(rate + λ·255²·MSE, bits per pixel, MSE) of the file the encoder writes from
    latents y, z for the padded image x: the streams' bits (the container's header, the
    same for every level, left out) and the decoded image rounded to 8 bits, as a PNG
    of it would hold, against the image's own pixels."""
    streams, _, y_hat = model._encode(x, "native", (y, z))
    bpp = 8 * sum(len(s) for s in streams) / (height * width)
    x_hat = model.synthesize(y_hat)[..., :height, :width]
    mse = float(torch.mean((torch.round(x_hat * 255) / 255 - x[..., :height, :width]) ** 2))
    return bpp + lam * 255 ** 2 * mse, bpp, mse


def refine(model, x: torch.Tensor, effort: int, height: int, width: int,
           progress: Callable[[int, int], None] | None = None):
    """Latents (y, z or None) for the padded image ``x`` at ``effort`` (0: None, the
    encoder's own), and the coded objective of the iterates checked [(step, value)]."""
    effort = check_effort(effort)
    if steps_for(model)[effort] == 0:
        return None, []
    levels, history = refine_levels(model, x, effort, height, width, progress)
    return levels[effort], history


def refine_levels(model, x: torch.Tensor, effort: int, height: int, width: int,
                  progress: Callable[[int, int], None] | None = None):
    """The search of ``effort`` once, with the latents every level up to it would have
    chosen ({level: (y, z)}: the best iterate checked within that level's steps) and the
    coded objective of every iterate checked [(step, value)].
    ``refine(..., level)`` gives exactly ``refine_levels(..., effort)[0][level]``."""
    effort = check_effort(effort)
    schedule = steps_for(model)
    steps = schedule[effort]
    ends = {schedule[level]: level for level in range(effort + 1)}
    chosen = {}
    lam = quality_lambda(model)
    with torch.no_grad():
        y0 = model.analysis(x)
        z0 = model.h_a(model.hyper_analysis_input(y0)) if hasattr(model, "h_a") else None
    y = y0.detach().clone().requires_grad_(True)
    z = z0.detach().clone().requires_grad_(True) if z0 is not None else None
    leaves = [t for t in (y, z) if t is not None]
    optimizer = torch.optim.Adam(leaves, lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    best, history = None, []
    for step in range(steps + 1):
        if step % CHECK_EVERY == 0 or step in ends:
            value = coded_objective(model, x, y.detach(), z.detach() if z is not None else None,
                                    lam, height, width)[0]
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
            rounding = annealed_round(temperature(step), generator)
            loss, _, _ = objective(model, x, y, z, lam, height, width, rounding)
            grads = torch.autograd.grad(loss, leaves)
            for leaf, grad in zip(leaves, grads):
                leaf.grad = grad
            optimizer.step()
    return chosen, history
