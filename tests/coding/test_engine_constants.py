"""One home per constant: what the engine defines (csrc/lic/lic.h), Python reads from it.

lic_core.tables exports the header's defaults through its compiled face, and every default
argument that means "the engine's default" is that exported value, so changing a #define
and rebuilding changes them all (issue 22). Parsed from the header's text so that a value
written twice, once in C and once in Python, would show here.
"""
import inspect
import re
from pathlib import Path

import pytest

from lic_core import coder, tables

HEADER = Path(__file__).resolve().parents[2] / "csrc" / "lic" / "lic.h"


def _defines() -> dict[str, str]:
    text = HEADER.read_text()
    return dict(re.findall(r"^#define (LIC_\w+) (\S+)", text, flags=re.MULTILINE))


def test_the_tables_defaults_are_the_headers():
    d = _defines()
    assert tables.DEFAULT_TAIL_MASS == float(d["LIC_DEFAULT_TAIL_MASS"])
    assert tables.SCALE_TABLE_MIN == float(d["LIC_SCALE_TABLE_MIN"])
    assert tables.SCALE_TABLE_MAX == float(d["LIC_SCALE_TABLE_MAX"])
    assert tables.SCALE_TABLE_LEVELS == int(d["LIC_SCALE_TABLE_LEVELS"])
    assert tables.MAX_PRECISION == coder.MAX_PRECISION == int(d["LIC_MAX_PRECISION"])
    assert d["LIC_DEFAULT_PRECISION"] == "LIC_MAX_PRECISION"
    assert tables.PRECISION == coder.PRECISION == tables.MAX_PRECISION


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def test_every_default_argument_is_the_exported_value():
    assert (_default(tables.scale_table, "min"), _default(tables.scale_table, "max"),
            _default(tables.scale_table, "levels")) == (
        tables.SCALE_TABLE_MIN, tables.SCALE_TABLE_MAX, tables.SCALE_TABLE_LEVELS)
    for fn in (tables.gaussian_tables, tables.laplace_tables, tables.logistic_tables,
               tables.tail_multiplier):
        assert _default(fn, "tail_mass") == tables.DEFAULT_TAIL_MASS, fn.__name__
    assert len(tables.scale_table()) == tables.SCALE_TABLE_LEVELS


def test_the_entropy_models_take_the_engines_defaults():
    pytest.importorskip("torch")
    from lic_core.models.entropy_models import EntropyBottleneck, GaussianConditional

    gc = GaussianConditional(None)
    assert gc.tail_mass == tables.DEFAULT_TAIL_MASS
    assert float(gc.scale_bound) == pytest.approx(tables.SCALE_TABLE_MIN)
    assert gc.scale_table.numel() == tables.SCALE_TABLE_LEVELS
    assert EntropyBottleneck(2).tail_mass == tables.DEFAULT_TAIL_MASS
