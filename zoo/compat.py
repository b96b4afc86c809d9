"""Loading CompressAI 1.2.8 checkpoints (SPEC §6).

Our state-dict keys equal CompressAI's, so a current checkpoint loads as is. Older ones
need CompressAI's renames, applied here in one pass:

* a leading ``module.`` (DataParallel) is dropped;
* ``entropy_bottleneck._matrices.K`` / ``_biases.K`` / ``_factors.K`` (oldest form) and
  ``_matrixK`` / ``_biasK`` / ``_factorK`` become ``matrices.K`` / ``biases.K`` / ``factors.K``;
* ``.downsample.`` becomes ``.skip.`` (residual models; harmless here).

N and M are read from the shapes (g_a.0: N×3×5×5, g_a.6: M×N×5×5). Checkpoints without
coding tables get CompressAI's own tables (``update(method="compressai")``), so strings
stay byte-compatible with CompressAI.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch

from lic_core.errors import WeightsError

from .registry import resolve
from .weights import _read_safetensors, load_state_dict_checked

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
    try:
        n = int(state["g_a.0.weight"].shape[0])
        m = int(state["g_a.6.weight"].shape[0])
    except (KeyError, IndexError, AttributeError) as exc:
        raise WeightsError(f"{source}: cannot infer N and M (no g_a.0/g_a.6 weights)") from exc
    model = spec.model_class()(N=n, M=m)
    # The context mask is a constant of the architecture; some exports drop buffers.
    if "context_prediction.mask" in model.state_dict() and "context_prediction.mask" not in state:
        state["context_prediction.mask"] = model.state_dict()["context_prediction.mask"]
    has_tables = all(k in state for k in model.state_dict() if k.endswith("_quantized_cdf"))
    load_state_dict_checked(model, state, source, require_tables=has_tables)
    if not has_tables:
        model.update(force=True, method="compressai")
    return model.eval()
