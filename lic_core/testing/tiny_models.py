"""Tiny zoo models with seeded random weights, for tests (torch, imported when one is built).

A test that needs a real model (one that compresses and decompresses, writes weight
files, converts to the integer path) but not trained weights builds it here, so that
lic-core's suite, its fuzz harnesses and a downstream codec's tests share one recipe
instead of each seeding, building, scaling and updating a model of its own.

Example (needs torch)::

    >>> from lic_core.testing import LIVELY, tiny_model
    >>> model = tiny_model("hyperprior", gains=LIVELY)             # doctest: +SKIP
    >>> data = model.compress(x)                                   # doctest: +SKIP
"""
from __future__ import annotations

from functools import lru_cache

__all__ = ["tiny_model", "LIVELY"]

#: ``tiny_model(gains=LIVELY)``: factors on the last convolution of each transform that
#: make a random init code something. Unscaled, g_a's outputs round to 0 and every
#: stream codes zeros; with these, ŷ and ẑ carry non-zero symbols (some escape their
#: tables), and the scales h_s predicts spread over the scale table instead of all
#: selecting its first entry. A transform the family lacks is skipped.
LIVELY = {"g_a": 60.0, "h_a": 30.0, "h_s": 40.0, "entropy_parameters": 20.0}


def tiny_model(name: str, seed: int = 0, *, N: int = 8, M: int = 12,
               gains: dict[str, float] | None = None, fresh: bool = False):
    """The zoo model ``name`` with ``N`` and ``M`` channels (default 8 and 12), seeded
    random weights and coding tables (``update(force=True)``), in eval mode. Needs torch;
    torch's global random state is left as it was.

    ``gains`` ({transform: factor}, e.g. :data:`LIVELY`) multiplies the weight of the last
    (transposed) convolution of each transform the family has (``g_a`` makes ŷ, ``h_a``
    ẑ, ``h_s`` the scales and means, ``entropy_parameters`` the joint model's), before
    the tables are built: a random init alone codes only zeros.

    The model is built once per process for each set of arguments and shared: do not
    change it. ``fresh=True`` builds a new one the caller owns (to convert, save, train or
    otherwise modify), with the same weights.

    Example (needs torch)::

        >>> tiny_model("hyperprior").name      # doctest: +SKIP
        'hyperprior'
    """
    key = (name, int(seed), int(N), int(M), tuple(sorted((gains or {}).items())))
    if fresh:
        return _build(*key)
    return _shared(*key)


@lru_cache(maxsize=None)
def _shared(name, seed, N, M, gains):
    return _build(name, seed, N, M, gains)


def _build(name, seed, N, M, gains):
    import torch

    from .. import container, zoo
    from ..zoo.base import last_convolution
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1000 * seed + container.MODEL_IDS.get(name, 0))
        model = zoo.build(name, N=N, M=M)
    with torch.no_grad():
        for transform, factor in gains:
            layers = getattr(model, transform, None)
            if isinstance(layers, torch.nn.ModuleList):  # one stack per channel group
                for i, stack in enumerate(layers):
                    model.get_submodule(last_convolution(f"{transform}.{i}", stack)).weight.mul_(factor)
            elif layers is not None:
                model.get_submodule(last_convolution(transform, layers)).weight.mul_(factor)
    model.update(force=True)  # a fresh model has no coding tables yet
    return model.eval()
