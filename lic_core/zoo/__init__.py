"""lic_core.zoo: the model families, loaded by name and quality.

Families (canonical name, aliases, container id):

* ``factorized`` (``bmshj2018-factorized``, 1): FactorizedPrior
* ``hyperprior`` (``bmshj2018-hyperprior``, 2): ScaleHyperprior
* ``mean-scale`` (``mbt2018-mean``, 3): MeanScaleHyperprior
* ``joint`` (``mbt2018``, 4): JointAutoregressiveHierarchicalPriors

API: :func:`load` (shipped weights), :func:`list_models`, :func:`build` (random init),
:func:`save_weights`, :func:`from_compressai`. Every model has ``forward(x)`` (training),
``compress(x) -> bytes`` / ``decompress(bytes)`` (.lic, any image size),
``compress_strings`` / ``decompress_strings`` (CompressAI's layout), ``update()`` and
``aux_loss()``; ``.name`` is canonical and ``.quality`` is None unless loaded from the zoo.

The registry (names, ids, aliases, qualities) imports without torch, so tools that only
read headers (``lic info``, the Pillow plugin) can resolve names; everything else is
imported on first use.
"""
from .registry import QUALITIES, REGISTRY, ModelSpec, canonical_names, resolve  # noqa: F401

# public name -> submodule that defines it (imported lazily: these need torch)
_LAZY = {
    "build": "weights", "list_models": "catalog", "load": "weights", "load_file": "weights",
    "read_metadata": "catalog", "save_weights": "weights", "weights_dir": "release",
    "from_compressai": "compat", "rename_compressai_keys": "compat",
    "CompressionModel": "base", "FactorizedPrior": "factorized",
    "ScaleHyperprior": "hyperprior", "MeanScaleHyperprior": "hyperprior",
    "JointAutoregressiveHierarchicalPriors": "joint",
}

__all__ = ["load", "load_file", "list_models", "build", "save_weights", "from_compressai",
           "read_metadata", "resolve", "REGISTRY", "QUALITIES", "CompressionModel",
           "FactorizedPrior", "ScaleHyperprior", "MeanScaleHyperprior",
           "JointAutoregressiveHierarchicalPriors"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lic_core.zoo' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
