"""lic_core.compress and lic_core.decompress show what they take (issue 21 point 16): real
signatures (no **kwargs hiding effort=, max_pixels=, progress=, model=, quality=) and
docstrings giving the arguments, the return value, the errors and an example, which
this test runs."""
import inspect
import re

import numpy as np
import pytest

import lic_core
from lic_core import api

P = inspect.Parameter


def params(fn):
    return {name: (p.kind, p.default) for name, p in inspect.signature(fn).parameters.items()}


def test_the_package_functions_are_the_api_functions():
    assert lic_core.compress is api.compress and lic_core.decompress is api.decompress
    assert {"compress", "decompress"} <= set(dir(lic_core))


def test_compress_takes_every_argument_by_name():
    assert params(lic_core.compress) == {
        "image": (P.POSITIONAL_OR_KEYWORD, P.empty),
        "model": (P.POSITIONAL_OR_KEYWORD, "hyperprior"),
        "quality": (P.POSITIONAL_OR_KEYWORD, 3),
        "effort": (P.KEYWORD_ONLY, None),
        "max_pixels": (P.KEYWORD_ONLY, None),
        "progress": (P.KEYWORD_ONLY, None),
    }


def test_decompress_takes_every_argument_by_name():
    assert params(lic_core.decompress) == {
        "data": (P.POSITIONAL_OR_KEYWORD, P.empty),
        "model": (P.KEYWORD_ONLY, None),
        "max_pixels": (P.KEYWORD_ONLY, None),
    }


@pytest.mark.parametrize("fn", [lic_core.compress, lic_core.decompress], ids=lambda f: f.__name__)
def test_the_docstrings_say_arguments_return_errors_and_give_an_example(fn):
    doc = inspect.getdoc(fn)
    for section in ("Args:", "Returns:", "Raises:", "Example::"):
        assert section in doc, section
    args = doc.split("Args:")[1].split("Returns:")[0]
    for name in inspect.signature(fn).parameters:
        assert re.search(rf"^    {name}:", args, re.M), name
    for error in ("LimitExceededError", "WeightsError", "InvalidArgumentError",
                  "MissingDependencyError"):
        assert error in doc.split("Raises:")[1], error


def test_the_compress_example_runs():
    pytest.importorskip("torch")
    image = np.zeros((64, 96, 3), np.uint8)
    data = lic_core.compress(image, "hyperprior", 3)
    assert (data[:4], lic_core.decompress(data).shape) == (b"\x89LIC", (64, 96, 3))
    assert lic_core.decompress(data).dtype == np.uint8
