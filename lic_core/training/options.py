"""How a training-mode forward runs: :class:`TrainingOptions`.

The trainer builds one from its config and passes it to every training forward
(``model(x, options=...)``, or a VariableRate wrapper's ``wrapper(x, q_index,
options=...)``); nothing is stored on the model. The zoo reads the three attributes
without importing this module (the zoo never imports training,
tests/system/test_import_layering.py), so the model's forward only needs an object that has
them (:class:`lic_core.zoo.base.ForwardOptions`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class TrainingOptions:
    """How a training-mode forward runs; the default is CompressAI's forward, the same as
    passing no options at all.

    Only training-mode forwards read them: the model's forward drops them in eval mode,
    and compress and decompress never take any, so no option can change a stream or a
    decoded image.

    * ``quantization``: what the decoder side (g_s, h_s, the context model) sees in place
      of Q(y). "noise": the y + U(-½, ½) proxy the likelihoods are computed on
      (CompressAI's forward, the default). "mixed": round(y − μ) + μ with a
      straight-through gradient (Minnen & Singh, ICIP 2020), the values decoding really
      feeds them, while the rate term keeps the noise proxy. ``lic train`` uses "mixed"
      unless told otherwise.
    * ``transform_autocast``: None, or torch.bfloat16 to run g_a and g_s under autocast
      (``lic train --bf16``: about 2x faster on CPUs with AVX512-BF16); they hand float32
      on, so the entropy models and the loss stay float32.
    * ``skip_synthesis``: when g_a, g_s (and a variable-rate run's gains) are all frozen
      the distortion cannot change, so forwards skip g_s (about 40 % of a step) and
      return x_hat None.

    Every field is checked here, the one place options are made (and
    :func:`dataclasses.replace` checks again), so a bad value fails when the options are
    built rather than at the first forward; an unknown name is a TypeError of the
    constructor.
    """
    quantization: str = "noise"
    transform_autocast: torch.dtype | None = None
    skip_synthesis: bool = False

    def __post_init__(self):
        if self.quantization not in ("noise", "mixed"):
            raise InvalidArgumentError(
                f'quantization must be "noise" or "mixed", got {self.quantization!r}')
        if self.transform_autocast not in (None, torch.bfloat16):
            raise InvalidArgumentError(
                f"transform_autocast must be None or torch.bfloat16, got {self.transform_autocast!r}")
        if not isinstance(self.skip_synthesis, bool):
            raise InvalidArgumentError(f"skip_synthesis must be a bool, got {self.skip_synthesis!r}")
