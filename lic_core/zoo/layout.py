"""Where the latent meets a zoo model's modules, as state-dict names, without its weights.

A model says where its latent y is made, read and modelled through
``latent_interface()`` (:class:`lic_core.zoo.base.LatentInterface`). Code that handles a
state dict rather than a model (the weights' checks and gain folding before a model is
built, widening and rescaling a trained state) needs the same names without one; it
reads them here instead of writing "g_a.6" or "h_s.4" itself:

* :func:`transform_ends`: g_a's last layer (it makes y) and g_s's first (it reads ŷ),
  which every family shares because every family builds g_a and g_s with
  :func:`lic_core.zoo.factorized.analysis_transform` and ``synthesis_transform``;
  computed from g_a as that function builds it, no model built (the weights' checks run
  before any model may be built);
* :func:`family_latent_interface`: a family's whole interface (its entropy readers and
  predictors too), read off a model built on torch's meta device.

Both build on the meta device, so they allocate no memory and draw no random numbers.
"""
from __future__ import annotations

import functools

import torch

from .base import LatentInterface
from .factorized import analysis_transform
from .registry import resolve

__all__ = ["transform_ends", "family_latent_interface"]


@functools.lru_cache(maxsize=None)
def transform_ends() -> LatentInterface:
    """The latent's side of the zoo's transforms: ``analysis_output`` is g_a's last layer,
    ``synthesis_input`` g_s's first, as state-dict prefixes ("g_a.6", "g_s.0"); every
    family's ``latent_interface()`` starts with these two."""
    with torch.device("meta"):
        g_a = analysis_transform(1, 1)
    return LatentInterface(analysis_output=f"g_a.{len(g_a) - 1}", synthesis_input="g_s.0")


@functools.lru_cache(maxsize=None)
def family_latent_interface(name: str) -> LatentInterface:
    """Family ``name``'s :class:`LatentInterface` (a canonical name or an alias), read off
    a model built on the meta device at the family's default size (module names do not
    depend on N and M)."""
    spec = resolve(name)
    n, m = spec.default_channels(None)
    with torch.device("meta"):
        model = spec.model_class()(N=n, M=m)
    return model.latent_interface()
