"""Per-quality latent gains folded into a model's weights.

A variable-rate model (lic_core.training.variable_rate; the zoo's ``-q<A>-<B>`` files) is
one model plus, per quality, a positive gain per latent channel: y' = g_a(x)·gain and
x̂ = g_s(ŷ'·inv_gain). The gains act per channel between two convolutions, so they fold
exactly into g_a's last layer (its weight rows and bias) and g_s's first (its weight's
input channels): the folded model is an ordinary one-quality model, whose tables and
streams are those of any other. Here because the zoo folds at load time
(:func:`lic_core.zoo.weights.fold_quality`) and the zoo must not import training.
"""
from __future__ import annotations

import torch
from torch import nn

from lic_core.errors import InvalidArgumentError
from lic_core.models.entropy_models import TABLE_BUFFERS

from .layout import transform_ends

__all__ = ["fold", "fold_layers"]


def fold_layers(model: nn.Module) -> tuple[str, str]:
    """State-dict prefixes of the layer that makes the latent and of g_s's first layer,
    from ``model.latent_interface()``, checked to be a Conv2d and a ConvTranspose2d on the
    M latent channels (what :func:`fold` can fold into)."""
    if not hasattr(model, "latent_interface"):
        raise InvalidArgumentError("variable-rate training needs a lic_core.zoo model")
    latent = model.latent_interface()
    modules = dict(model.named_modules())
    last, first = modules.get(latent.analysis_output), modules.get(latent.synthesis_input)
    M = getattr(model, "M", None)
    if not (isinstance(last, nn.Conv2d) and isinstance(first, nn.ConvTranspose2d)
            and last.out_channels == first.in_channels == M):
        raise InvalidArgumentError(
            "variable-rate training folds its gains into g_a's last layer (a Conv2d with M "
            "outputs) and g_s's first (a ConvTranspose2d with M inputs); this model has "
            f"{type(last).__name__} and {type(first).__name__}")
    return latent.analysis_output, latent.synthesis_input


def fold(state: dict, gain: torch.Tensor, inv_gain: torch.Tensor,
         last_analysis: str | None = None, first_synthesis: str | None = None,
         keep_tables: bool = False) -> dict:
    """A copy of ``state`` in which g_a's output is multiplied by ``gain`` and g_s's input
    by ``inv_gain`` (both of length M). Exact up to float rounding of the products. The
    two layers default to every zoo family's, so every zoo file's
    (:func:`lic_core.zoo.layout.transform_ends`).

    g_a's last layer is a Conv2d (weight M×C×k×k, bias M); g_s's first a ConvTranspose2d
    (weight M×C×k×k: input channels first). Coding tables are dropped (update() rebuilds
    them), or kept with ``keep_tables``: the gains change no entropy model, so a
    variable-rate file's tables are every quality's (how the zoo loads such a file)."""
    ends = transform_ends()
    last_analysis = ends.analysis_output if last_analysis is None else last_analysis
    first_synthesis = ends.synthesis_input if first_synthesis is None else first_synthesis
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
