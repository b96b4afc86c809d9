"""Loading CompressAI 1.2.8 checkpoints (SPEC §6).

Our state-dict keys equal CompressAI's, so a current checkpoint loads as is. Older ones
need CompressAI's renames, applied here in one pass:

* a leading ``module.`` (DataParallel) is dropped;
* ``entropy_bottleneck._matrices.K`` / ``_biases.K`` / ``_factors.K`` (oldest form) and
  ``_matrixK`` / ``_biasK`` / ``_factorK`` become ``matrices.K`` / ``biases.K`` / ``factors.K``;
* ``.downsample.`` becomes ``.skip.`` (residual models; harmless here).

N and M are read from the shapes (g_a.0: N×3×5×5, g_a.6: M×N×5×5).

Checkpoints saved before ``update()`` (what CompressAI writes during training) hold their
table buffers with shape (0,) and an empty ``scale_table``, or lack them. Such a model gets
the tables CompressAI's ``update(force=True)`` would build: its default scale table and
``update(method="compressai")``, so it codes the strings CompressAI codes after
``update(force=True)``. A model keeps the checkpoint's tables when it has all of them.

The model is marked ``compressai_numerics``: its g_a and g_s run on contiguous NCHW
tensors as CompressAI's do, not channels-last, so its floats are CompressAI's on the same
machine (docs/compat.md, "What is byte-exact").
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch

from lic_core.errors import WeightsError
from lic_core.models.entropy_models import (TABLE_BUFFERS, EntropyBottleneck, EntropyModel,
                                            GaussianConditional, default_scale_table)

from .registry import resolve
from .weights import _read_safetensors, check_channels, load_state_dict_checked

__all__ = ["from_compressai", "rename_compressai_keys"]

_OLD_DENSITY = re.compile(r"^(?P<pre>.*entropy_bottleneck\.)_(?P<kind>matrices|biases|factors)\.(?P<k>\d+)$")
_OLD_DENSITY_FLAT = re.compile(r"^(?P<pre>.*entropy_bottleneck\.)_(?P<kind>matrix|bias|factor)(?P<k>\d+)$")
_PLURAL = {"matrix": "matrices", "bias": "biases", "factor": "factors"}


def rename_compressai_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CompressAI's historical key renames → current keys (see module docstring)."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module."):]
        key = key.replace(".downsample.", ".skip.")
        m = _OLD_DENSITY.match(key)
        if m:
            key = f"{m['pre']}{m['kind']}.{m['k']}"
        m = _OLD_DENSITY_FLAT.match(key)
        if m:
            key = f"{m['pre']}{_PLURAL[m['kind']]}.{m['k']}"
        if key in out:
            raise WeightsError(f"two checkpoint keys map to {key!r}")
        out[key] = value
    return out


def from_compressai(name: str, state_dict) -> torch.nn.Module:
    """Our model ``name`` (canonical, alias or CompressAI class name) with a CompressAI
    state dict (a mapping, or a path to a .safetensors file), in eval mode."""
    source = "CompressAI state dict"
    if isinstance(state_dict, (str, Path)):
        source = str(state_dict)
        state_dict = _read_safetensors(Path(state_dict))[0]
    state = rename_compressai_keys(state_dict)
    spec = resolve(name)
    # N and M validated before anything is built, by load()'s own function
    n, m = check_channels(spec.name, state, {}, source)
    model = spec.model_class()(N=n, M=m)
    # The context mask is a constant of the architecture; some exports drop buffers.
    if "context_prediction.mask" in model.state_dict() and "context_prediction.mask" not in state:
        state["context_prediction.mask"] = model.state_dict()["context_prediction.mask"]
    has_tables = _drop_unset_tables(model, state, source)
    load_state_dict_checked(model, state, source, require_tables=has_tables)
    if not has_tables:
        _update_as_compressai(model)
    model.compressai_numerics = True
    return model.eval()


def _unset(value) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == 0


def _drop_unset_tables(model, state: dict, source: str) -> bool:
    """True if every entropy model of ``model`` has its tables in ``state``. Otherwise
    removes every table buffer from ``state`` (they are all rebuilt) and puts the default
    scale table in place of an empty or missing one (CompressAI saves ``torch.Tensor()``
    before update()). A module with some tables set and some missing or empty is refused."""
    complete = True
    for prefix, module in model.named_modules():
        if not isinstance(module, EntropyModel):
            continue
        keys = [f"{prefix}.{b}" for b in TABLE_BUFFERS]
        unset = [k for k in keys if k not in state or _unset(state[k])]
        if unset and len(unset) < len(keys):
            raise WeightsError(f"{source}: {prefix} has only part of its coding tables "
                               f"({', '.join(unset)} missing or empty); save all three "
                               f"(after update()) or none")
        complete &= not unset
    if complete:
        return True
    for prefix, module in model.named_modules():
        if isinstance(module, EntropyModel):
            for b in TABLE_BUFFERS:
                state.pop(f"{prefix}.{b}", None)
        key = f"{prefix}.scale_table"
        if isinstance(module, GaussianConditional) and (key not in state or _unset(state[key])):
            state[key] = default_scale_table()
    return False


def _update_as_compressai(model) -> None:
    """What CompressAI 1.2.8's ``model.update(force=True)`` does: every bottleneck builds
    its tables from its density, and every Gaussian conditional takes the default scale
    table (whatever the checkpoint held: CompressAI replaces it too) and builds its tables,
    both with CompressAI's own arithmetic (``method="compressai"``)."""
    for module in model.modules():
        if isinstance(module, EntropyBottleneck):
            module.update(force=True, method="compressai")
        elif isinstance(module, GaussianConditional):
            module.update_scale_table(default_scale_table(), force=True, method="compressai")
