"""Running out of memory while encoding comes out as LimitExceededError, as it does while
decoding (issue 21 point 19): one mapping of torch's and NumPy's failures for both
directions (CompressionModel._guard)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core.errors import LimitExceededError  # noqa: E402
from lic_core.testing import tiny_model  # noqa: E402


def _model(name="hyperprior"):
    return tiny_model(name, fresh=True)  # the tests replace its layers' forward


def _huge(*args, **kwargs):
    """What torch raises when an allocation fails (2^60 bytes: refused at once)."""
    return torch.empty(1 << 60, dtype=torch.uint8)


def _numpy_huge(*args, **kwargs):
    return np.empty(1 << 60, dtype=np.uint8)


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "joint"])
def test_an_allocation_failure_in_the_analysis_is_a_limit_exceeded_error(name):
    model = _model(name)
    model.g_a[0].forward = _huge
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(LimitExceededError, match=f"{name}: encoding this image needs more memory") as info:
        model.compress(x)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "allocate" in str(info.value.__cause__)
    with pytest.raises(LimitExceededError):
        lic_core.compress(np.zeros((32, 32, 3), np.uint8), model)
    with pytest.raises(LimitExceededError, match="encoding these images"):
        model.compress_strings(torch.rand(1, 3, 64, 64))


def test_numpy_running_out_while_coding_is_a_limit_exceeded_error():
    model = _model()
    model.gaussian_conditional.encode_symbols = _numpy_huge
    with pytest.raises(LimitExceededError) as info:
        model.compress(torch.rand(1, 3, 32, 32))
    assert isinstance(info.value.__cause__, MemoryError)


def test_an_effort_search_out_of_memory_is_a_limit_exceeded_error():
    model = _model()
    model.h_a[0].forward = _huge
    with pytest.raises(LimitExceededError, match="lower effort"):
        lic_core.compress(np.zeros((32, 32, 3), np.uint8), model, effort=1)


def test_other_failures_while_encoding_are_left_as_they_are():
    model = _model()
    mine = RuntimeError("a bug, not a shortage")

    def broken(*args):
        raise mine
    model.g_a[0].forward = broken
    with pytest.raises(RuntimeError) as info:
        model.compress(torch.rand(1, 3, 32, 32))
    assert info.value is mine
