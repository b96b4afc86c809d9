"""One training run for every quality: per-quality channel gains on the latent.

A zoo model at quality q is g_s(Q(g_a(x))) with its own λ_q. On two CPU cores eight
separate runs each get an eighth of the steps, so instead one set of transforms is
trained for all qualities at once (the "gain unit" idea of Cui et al., CVPR 2021)::

    y' = g_a(x) · gain[q]          (one positive factor per latent channel)
    ŷ' = Q(y'),  x̂ = g_s(ŷ' · inv_gain[q])

h_a, h_s (and a context model) see y' and ŷ', so they are shared by all qualities too;
each training sample draws its own quality and is weighted by λ_q. Because the gains act
per channel between two convolutions they fold exactly into g_a's last layer (its weight
rows and bias) and g_s's first (its weight's input channels): :mod:`lic_core.zoo.gains`
turns the trained wrapper into an ordinary zoo model for one quality, whose file, tables
and streams are those of any other zoo model. Nothing of the wrapper reaches a user.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InvalidArgumentError
from ..zoo.gains import fold, fold_layers
from .objective import LAMBDAS, lambda_for_quality
from .options import TrainingOptions

#: state-dict keys of the gains (their presence marks a variable-rate file or checkpoint)
GAIN_KEYS = ("log_gain", "log_inv_gain")


def parse_qualities(text: str) -> tuple[int, ...]:
    """``"1-10"`` or ``"1,3,5"`` (or a mix) → sorted unique qualities in 1..len(LAMBDAS)."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise InvalidArgumentError(f"qualities must look like 1-8 or 1,3,5; got {text!r}") from None
        if not 1 <= a <= b <= len(LAMBDAS):
            raise InvalidArgumentError(f"qualities must lie in 1..{len(LAMBDAS)}, got {part!r}")
        out.update(range(a, b + 1))
    if len(out) < 2:
        raise InvalidArgumentError(f"variable-rate training needs at least two qualities, got {text!r}")
    return tuple(sorted(out))


class VariableRate(nn.Module):
    """A zoo model plus per-quality gains; ``forward(x, q_index)`` with one index per sample.

    ``gain`` and ``inv_gain`` are stored as logarithms so they stay positive. They start
    at √(λ_q / λ_ref) and its inverse: the high-rate optimum of the quantisation step,
    the same reparametrisation as :func:`.warm_start.rescale_latents`, so a model
    trained at λ_ref begins with a sensible rate at every quality.
    """

    def __init__(self, model: nn.Module, qualities, lambda_ref: float):
        super().__init__()
        self.fold_keys = fold_layers(model)
        self.model = model
        self.qualities = tuple(int(q) for q in qualities)
        self.lambdas = tuple(lambda_for_quality(q) for q in self.qualities)
        self.lambda_ref = float(lambda_ref)
        M = model.M
        start = torch.tensor([0.5 * math.log(lam / lambda_ref) for lam in self.lambdas])
        self.log_gain = nn.Parameter(start[:, None].repeat(1, M).clone())
        self.log_inv_gain = nn.Parameter(-start[:, None].repeat(1, M).clone())
        self._gain = self._inv = None
        # hooks rather than new layers: the model's state-dict keys stay the zoo's
        model.g_a.register_forward_hook(self._apply_gain)
        model.g_s.register_forward_pre_hook(self._apply_inv_gain)

    def _apply_gain(self, module, inputs, output):
        return output if self._gain is None else output * self._gain

    def _apply_inv_gain(self, module, inputs):
        return inputs if self._inv is None else (inputs[0] * self._inv,) + tuple(inputs[1:])

    def forward(self, x: torch.Tensor, q_index: torch.Tensor,
                options: TrainingOptions | None = None) -> dict:
        """The wrapped model's forward with sample i at quality ``qualities[q_index[i]]``;
        ``options`` go to it unchanged (it applies them in training mode only)."""
        q_index = torch.as_tensor(q_index, dtype=torch.long, device=x.device)
        if q_index.shape != (x.shape[0],):
            raise InvalidArgumentError(f"need one quality index per sample, got {tuple(q_index.shape)}")
        self._gain = self.log_gain[q_index].exp()[:, :, None, None]
        self._inv = self.log_inv_gain[q_index].exp()[:, :, None, None]
        try:
            return self.model(x, options)
        finally:
            self._gain = self._inv = None

    def aux_loss(self) -> torch.Tensor:
        return self.model.aux_loss()

    def lambda_tensor(self, q_index: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.lambdas, dtype=torch.float32, device=q_index.device)[q_index]

    def gains(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain, inv_gain), qualities×M float32: exp of the learned logarithms, computed
        once in float64 and rounded (what a variable-rate zoo file stores)."""
        return tuple(g.detach().double().exp().float() for g in (self.log_gain, self.log_inv_gain))

    def folded_state(self, quality: int) -> dict:
        """The wrapped model's state dict with quality ``quality``'s gains folded in: the
        same products as ``zoo.load`` of the variable-rate file makes."""
        if quality not in self.qualities:
            raise InvalidArgumentError(f"quality {quality} was not trained; trained: {list(self.qualities)}")
        i = self.qualities.index(quality)
        gain, inv_gain = self.gains()
        return fold(self.model.state_dict(), gain[i], inv_gain[i], *self.fold_keys)


def zoo_model(model: nn.Module) -> nn.Module:
    """The zoo model a run trains: ``model`` itself, or the one a VariableRate wraps."""
    return model.model if isinstance(model, VariableRate) else model
