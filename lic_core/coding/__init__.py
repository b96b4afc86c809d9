"""The entropy-coding layer: NumPy in, bytes out, never torch.

* :mod:`.coder`: the native rANS stream format (``TableSet``, ``encode``/``decode``,
  streaming encoder and decoder), a face of ``csrc/lic/coder.h``;
* :mod:`.tables`: quantised CDF tables (pmf quantisers, Gaussian/Laplace/logistic
  table sets, the scale → index rule), a face of ``csrc/lic/tables.h``;
* :mod:`.ans`: CompressAI 1.2.8's stream format, byte for byte, a face of
  ``csrc/lic/compat.h``.

The compiled modules ``_coder``, ``_tables`` (Cython) and ``_ans`` (pybind11) all link
the one engine built from ``csrc/``. Users import the public paths ``lic_core.coder``,
``lic_core.tables`` and ``lic_core.ans``, which are these modules.
"""
