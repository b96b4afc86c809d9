"""Training only part of a model: ``--freeze g_a,g_s`` and what follows from it.

With both transforms (and a variable-rate run's gains) frozen only the entropy models
learn, on the rate term, and the synthesis need not run at all: how the shipped joint
and factorized entropy models were fitted on the hyperprior's transforms.
"""
from __future__ import annotations

from torch import nn

from ..errors import InvalidArgumentError
from .variable_rate import GAIN_KEYS

#: what x̂ depends on: if none of these trains, the distortion cannot change
SYNTHESIS_PATH = ("g_a.", "g_s.", "gains.")


def module_path(name: str) -> str:
    """The name ``--freeze`` (and tools/graft_modules.py) match a parameter or tensor by: a
    VariableRate wrapper's model names are the zoo's under "model.", and "gains" names its
    per-quality gains (frozen with the transforms they belong to)."""
    short = name[len("model."):] if name.startswith("model.") else name
    return "gains." + short if short.startswith(GAIN_KEYS) else short


def freeze(model: nn.Module, prefixes) -> int:
    """Stop training parameters whose module path starts with one of ``prefixes`` (e.g.
    "g_a", "g_s", "gains"): no gradient, no optimiser state. Returns the number frozen."""
    prefixes = tuple(p.strip().rstrip(".") + "." for p in prefixes if p.strip())
    if not prefixes:
        raise InvalidArgumentError("--freeze needs module names such as g_a,g_s")
    count = 0
    for name, p in model.named_parameters():
        if module_path(name).startswith(prefixes):
            p.requires_grad_(False)
            count += 1
    if count == 0:
        raise InvalidArgumentError(f"--freeze {','.join(prefixes)} matches no parameter")
    return count


def synthesis_frozen(model: nn.Module) -> bool:
    """True when nothing x̂ depends on trains (g_a, g_s and any gains all frozen): then
    only the rate can change, and training forwards may skip g_s."""
    return not any(p.requires_grad for name, p in model.named_parameters()
                   if module_path(name).startswith(SYNTHESIS_PATH))
