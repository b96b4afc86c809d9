"""One training run for every quality: per-quality channel gains on the latent.

A zoo model at quality q is g_s(Q(g_a(x))) with its own λ_q. On two CPU cores eight
separate runs each get an eighth of the steps, so instead one set of transforms is
trained for all qualities at once (the "gain unit" idea of Cui et al., CVPR 2021)::

    y' = g_a(x) · gain[q]          (one positive factor per latent channel)
    ŷ' = Q(y'),  x̂ = g_s(ŷ' · inv_gain[q])

h_a, h_s (and a context model) see y' and ŷ', so they are shared by all qualities too;
each training sample draws its own quality and is weighted by λ_q. Because the gains act
per channel between two convolutions they fold exactly into g_a's last layer (its weight
rows and bias) and g_s's first (its weight's input channels): :func:`fold` turns the
trained wrapper into an ordinary zoo model for one quality, whose file, tables and
streams are those of any other zoo model. Nothing of the wrapper reaches a user.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..models.entropy_models import TABLE_BUFFERS
from ..errors import InvalidArgumentError

#: state-dict keys of the gains (their presence marks a variable-rate file or checkpoint)
GAIN_KEYS = ("log_gain", "log_inv_gain")

#: the layers the gains fold into in every zoo family (and CompressAI's)
LAST_ANALYSIS = "g_a.6"
FIRST_SYNTHESIS = "g_s.0"


def fold_layers(model: nn.Module) -> tuple[str, str]:
    """State-dict prefixes of g_a's last and g_s's first layer, checked to be a Conv2d and a
    ConvTranspose2d on the M latent channels (what :func:`fold` can fold into)."""
    g_a, g_s = getattr(model, "g_a", None), getattr(model, "g_s", None)
    if not isinstance(g_a, nn.Sequential) or not isinstance(g_s, nn.Sequential):
        raise InvalidArgumentError("variable-rate training needs a model with g_a and g_s "
                                   "as nn.Sequential")
    last, first = g_a[-1], g_s[0]
    M = getattr(model, "M", None)
    if not (isinstance(last, nn.Conv2d) and isinstance(first, nn.ConvTranspose2d)
            and last.out_channels == first.in_channels == M):
        raise InvalidArgumentError(
            "variable-rate training folds its gains into g_a's last layer (a Conv2d with M "
            "outputs) and g_s's first (a ConvTranspose2d with M inputs); this model has "
            f"{type(last).__name__} and {type(first).__name__}")
    return f"g_a.{len(g_a) - 1}", "g_s.0"


def parse_qualities(text: str) -> tuple[int, ...]:
    """``"1-8"`` or ``"1,3,5"`` (or a mix) → sorted unique qualities in 1..8."""
    from .train import LAMBDAS
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
    the same reparametrisation as :func:`lic_core.train.rescale_latents`, so a model
    trained at λ_ref begins with a sensible rate at every quality.
    """

    def __init__(self, model: nn.Module, qualities, lambda_ref: float):
        super().__init__()
        from .train import lambda_for_quality
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

    def forward(self, x: torch.Tensor, q_index: torch.Tensor) -> dict:
        """The wrapped model's forward with sample i at quality ``qualities[q_index[i]]``."""
        q_index = torch.as_tensor(q_index, dtype=torch.long, device=x.device)
        if q_index.shape != (x.shape[0],):
            raise InvalidArgumentError(f"need one quality index per sample, got {tuple(q_index.shape)}")
        self._gain = self.log_gain[q_index].exp()[:, :, None, None]
        self._inv = self.log_inv_gain[q_index].exp()[:, :, None, None]
        try:
            return self.model(x)
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


def fold(state: dict, gain: torch.Tensor, inv_gain: torch.Tensor,
         last_analysis: str = LAST_ANALYSIS, first_synthesis: str = FIRST_SYNTHESIS,
         keep_tables: bool = False) -> dict:
    """A copy of ``state`` in which g_a's output is multiplied by ``gain`` and g_s's input
    by ``inv_gain`` (both of length M). Exact up to float rounding of the products.

    g_a's last layer is a Conv2d (weight M×C×k×k, bias M); g_s's first a ConvTranspose2d
    (weight M×C×k×k: input channels first). Coding tables are dropped (update() rebuilds
    them), or kept with ``keep_tables``: the gains change no entropy model, so a
    variable-rate file's tables are every quality's (how the zoo loads such a file)."""
    out = {k: v for k, v in state.items() if keep_tables or not k.endswith(TABLE_BUFFERS)}
    g = gain.detach().float().reshape(-1)
    ig = inv_gain.detach().float().reshape(-1)
    w, b, s = (f"{last_analysis}.weight", f"{last_analysis}.bias", f"{first_synthesis}.weight")
    for key, n in ((w, g), (b, g), (s, ig)):
        if key not in out or out[key].shape[0] != n.numel():
            raise InvalidArgumentError(f"cannot fold gains: {key} missing or not {n.numel()} channels")
    out[w] = out[w].float() * g[:, None, None, None]
    out[b] = out[b].float() * g
    out[s] = out[s].float() * ig[:, None, None, None]
    return out


def rate_distortion(out: dict, x: torch.Tensor, lambdas: torch.Tensor,
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
    per_sample = lambdas * 255 ** 2 * mse + bpp
    loss = (weights * per_sample).mean()
    psnr = 10 * math.log10(1.0 / max(mse.mean().item(), 1e-12))
    return {"loss": loss, "bpp": bpp.mean(), "mse": mse.mean(), "psnr": psnr}


def balance_weights(lambdas: torch.Tensor, lambda_ref: float) -> torch.Tensor:
    """√(λ_ref / λ): roughly equalises the loss magnitude across qualities. Measured on
    the zoo's models the per-sample loss runs from about 0.4 at q1 to about 4 at q8 (λ
    100× larger), close to √λ; the weights bring both to about 1."""
    return torch.sqrt(lambda_ref / lambdas)
