"""Grow a trained scale-hyperprior's latent width M without changing what it computes.

Why: at N64/M96 the shipped models stop improving near 33 dB on Kodak however many bits
they spend. That ceiling is the latent's dimension, not training: g_s(g_a(x)) without
any quantisation reaches 33.0 dB, and keeping the best 96 of the 768 values of each
16×16×3 block (a KLT fitted on the test images themselves) reaches 31.9 dB, 192 values
38.1 dB. More channels lift the ceiling; training them from scratch would throw away
every CPU hour spent on the 96 that exist. So the new channels are added the way
Net2Net widens a layer, starting switched off:

* g_a's last layer gets new output rows of zeros: the new latents are exactly 0 (small
  random rows were tried: times q8's gains they already rounded to ±1 and cost bits);
* g_s's first layer gets new input rows (random, at the old rows' scale): they only
  multiply those zeros, but they make the distortion gradient reach each new g_a row
  differently (straight-through rounding), which breaks the symmetry between them;
* h_a's first layer reads the new channels through zero weights: ẑ is unchanged;
* h_s's last layer predicts the new channels' scales from tiny weights and zero bias:
  after its ReLU and the scale bound (lic_core.tables.SCALE_TABLE_MIN, 0.11) a rounded 0
  costs almost nothing;
* per-quality gains of a variable-rate model start at the mean of the old channels'.

The new channels then grow where λ pays for them. Only the scale hyperprior's layout is handled (the joint and
factorized families are fitted on its transforms, docs/training.md).
"""
from __future__ import annotations

import torch

from ..models.entropy_models import TABLE_BUFFERS
from ..errors import InvalidArgumentError
from ..zoo.layout import family_latent_interface


def hyperprior_m_axes() -> tuple[tuple[str, int, str], ...]:
    """(state-dict key, axis along which it has M entries, how new entries start) of every
    tensor of a scale hyperprior with M entries, by the layers its LatentInterface names:
    the layer that makes y, g_s's first, h_a's first (the entropy reader), h_s's last (the
    predictor of y's scales), then the variable-rate wrapper's gains."""
    latent = family_latent_interface("hyperprior")
    (reader,), (predictor,) = latent.entropy_readers, latent.entropy_predictors
    return ((f"{latent.analysis_output}.weight", 0, "zero"),
            (f"{latent.analysis_output}.bias", 0, "zero"),
            (f"{latent.synthesis_input}.weight", 0, "like"),
            (f"{reader}.weight", 1, "zero"),
            (f"{predictor}.weight", 0, "tiny"),
            (f"{predictor}.bias", 0, "zero"),
            ("log_gain", 1, "mean"),
            ("log_inv_gain", 1, "mean"))


def widen_hyperprior(state: dict, M_new: int, seed: int = 0) -> dict:
    """A copy of a scale-hyperprior state dict (zoo keys, or a variable-rate wrapper's
    ``model.``-prefixed keys with its gains) with M_new latent channels. The first M old
    channels are kept bit for bit; coding tables are dropped (``update()`` rebuilds them).
    """
    axes = hyperprior_m_axes()
    makes_y = axes[0][0]  # the weight of the layer that makes y: one row per channel
    prefix = "model." if f"model.{makes_y}" in state else ""
    key = f"{prefix}{makes_y}"
    if key not in state:
        raise InvalidArgumentError(f"widen: not a scale-hyperprior state dict (no {makes_y})")
    M = state[key].shape[0]
    if M_new <= M:
        raise InvalidArgumentError(f"widen: M_new={M_new} must exceed the current M={M}")
    gen = torch.Generator().manual_seed(seed)
    out = {k: v for k, v in state.items() if not k.endswith(TABLE_BUFFERS)}
    extra = M_new - M
    for name, axis, how in axes:
        full = name if name.startswith("log_") else prefix + name
        if full not in out:
            if name.startswith("log_"):
                continue  # a single-quality model has no gains
            raise InvalidArgumentError(f"widen: {full} missing")
        old = out[full].float()
        if old.shape[axis] != M:
            raise InvalidArgumentError(f"widen: {full} has {old.shape[axis]} channels on axis "
                                       f"{axis}, expected M={M}")
        shape = list(old.shape)
        shape[axis] = extra
        std = old.std().item() if old.numel() > 1 else 0.0
        if how == "zero":
            new = torch.zeros(shape)
        elif how == "mean":
            new = old.mean(dim=axis, keepdim=True).expand(shape).clone()
        else:
            scale = {"like": 1.0, "tiny": 0.01}[how] * std
            new = torch.randn(shape, generator=gen) * scale
        out[full] = torch.cat([old, new], dim=axis).to(state[full].dtype)
    return out
