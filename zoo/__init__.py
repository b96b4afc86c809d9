"""lic_core.zoo: the model families, loaded by name and quality.

Families (canonical name, aliases, container id):

* ``factorized`` (``bmshj2018-factorized``, 1): FactorizedPrior
* ``hyperprior`` (``bmshj2018-hyperprior``, 2): ScaleHyperprior
* ``mean-scale`` (``mbt2018-mean``, 3): MeanScaleHyperprior
* ``joint`` (``mbt2018``, 4): JointAutoregressiveHierarchicalPriors

API: :func:`load` (shipped weights), :func:`load_file` (a weight file anywhere), :func:`list_models`, :func:`build` (random init),
:func:`save_weights`, :func:`from_compressai`. Every model has ``forward(x)`` (training),
``compress(x) -> bytes`` / ``decompress(bytes)`` (.lic, any image size),
``compress_strings`` / ``decompress_strings`` (CompressAI's layout), ``update()`` and
``aux_loss()``; ``.name`` is canonical and ``.quality`` is None unless loaded from the zoo.
"""
from .registry import QUALITIES, REGISTRY, ModelSpec, canonical_names, resolve  # noqa: F401
from .weights import build, list_models, load, load_file, read_metadata, save_weights, weights_dir  # noqa: F401
from .compat import from_compressai, rename_compressai_keys  # noqa: F401
from .base import CompressionModel  # noqa: F401
from .factorized import FactorizedPrior  # noqa: F401
from .hyperprior import MeanScaleHyperprior, ScaleHyperprior  # noqa: F401
from .joint import JointAutoregressiveHierarchicalPriors  # noqa: F401

__all__ = ["load", "load_file", "list_models", "build", "save_weights", "from_compressai", "read_metadata",
           "resolve", "REGISTRY", "QUALITIES", "CompressionModel", "FactorizedPrior",
           "ScaleHyperprior", "MeanScaleHyperprior", "JointAutoregressiveHierarchicalPriors"]
