"""The entropy-coding layer: NumPy in, bytes out, never torch.

* :mod:`.coder`: the native rANS stream format (``TableSet``, ``encode``/``decode``,
  streaming encoder and decoder), a face of ``csrc/lic/coder.h``;
* :mod:`.tables`: quantised CDF tables (pmf quantisers, Gaussian/Laplace/logistic
  table sets, the scale → index rule), a face of ``csrc/lic/tables.h``;
* :mod:`.ans`: CompressAI 1.2.8's stream format, byte for byte, a face of
  ``csrc/lic/compat.h``;
* :mod:`.intnet`: the integer networks of the exact probability path (layers,
  stacks, scale indexes, the joint model's walk; docs/integer.md), a face of
  ``csrc/lic/intnet.h``.

The compiled modules ``_coder``, ``_tables``, ``_intnet`` (Cython) and ``_ans``
(pybind11) all link the one engine built from ``csrc/``. Users import the public paths
``lic_core.coder``, ``lic_core.tables`` and ``lic_core.ans``, which are these modules, and
``lic_core.coding.intnet`` (it has no shorter path).
"""
