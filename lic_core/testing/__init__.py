"""Testing support for codecs built on lic-core: Hypothesis strategies and assertions.

What ``numpy.testing`` and ``hypothesis.extra.numpy`` are for arrays, this is for
lic-core's inputs: a codec that uses lic-core as its backend fuzzes its integration with
the same generators lic-core's own tests use (docs/testing.md).

* Assertions (NumPy only; :mod:`lic_core.testing.checks`): :func:`assert_roundtrip`,
  :func:`assert_refuses_cleanly`, :func:`assert_decodes_or_refuses`, and the
  :class:`CdfTables` tuple.
* Strategies (need Hypothesis: ``pip install "lic-core[testing]"``;
  :mod:`lic_core.testing.strategies`): valid and hostile CDF tables, symbols and
  indexes with escapes and int32 extremes, Gaussian scales and means, images of every
  size and mode, .lic files of every family, and :func:`damaged` / :func:`damaged_bytes`.
* Tiny models (torch, when one is built; :mod:`lic_core.testing.tiny_models`):
  :func:`tiny_model`, a seeded random zoo model, and :data:`LIVELY`, the gains that
  make its streams carry symbols.

Importing this package imports neither Hypothesis nor torch: the strategy names are
resolved on first use (PEP 562), which imports Hypothesis then; only
:func:`~lic_core.testing.strategies.model_files` (and ``lic_files(real=True)``) import
torch, when they draw.

Example::

    >>> from hypothesis import given, settings
    >>> from lic_core.testing import assert_roundtrip, coding_cases
    >>> @settings(max_examples=20)
    ... @given(coding_cases(precision=16, max_size=40))
    ... def test_my_tables_round_trip(case):
    ...     assert_roundtrip(*case)        # the native coder and lic_core.ans
    >>> test_my_tables_round_trip()
"""
from __future__ import annotations

from .checks import (DEFAULT_TIMEOUT, CdfTables, Outcome, as_table_set, assert_decodes_or_refuses,
                     assert_refuses_cleanly, assert_roundtrip)
from .tiny_models import LIVELY, tiny_model

#: Names served by lic_core.testing.strategies, imported (with Hypothesis) on first use.
from ._names import STRATEGY_NAMES as _STRATEGY_NAMES  # noqa: E402

__all__ = ["assert_roundtrip", "assert_refuses_cleanly", "assert_decodes_or_refuses",
           "as_table_set", "CdfTables", "Outcome", "DEFAULT_TIMEOUT", "tiny_model", "LIVELY",
           *_STRATEGY_NAMES]


def __getattr__(name: str):
    if name in _STRATEGY_NAMES:
        try:
            from . import strategies
        except ImportError as exc:
            if (exc.name or "").split(".")[0] != "hypothesis":
                raise
            raise ImportError(
                f"lic_core.testing.{name} needs Hypothesis (>= 6.80): "
                'pip install "lic-core[testing]" (or pip install hypothesis)') from exc
        value = getattr(strategies, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'lic_core.testing' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
