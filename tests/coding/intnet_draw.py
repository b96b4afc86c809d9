"""What the integer-network tests draw with (test_intnet.py, test_intnet_synthesis.py):
the int16/int32 ranges, value modes that reach the specification's edges, and the
Hypothesis settings their property tests share."""
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

INT16 = (-32768, 32767)
INT32 = (-(2 ** 31), 2 ** 31 - 1)

#: values(mode=...): uniform over the range, its extremes (sums that wrap), or small
MODES = st.sampled_from(["full", "extreme", "small"])


def examples(n: int):
    """Hypothesis settings of a property test: ``n`` examples, no deadline."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def values(rng, shape, mode: str, lo: int, hi: int, dtype, small: int = 40) -> np.ndarray:
    """Values of [lo, hi] as ``dtype``: uniform ("full"), the extremes and their
    neighbours, 0 and ±1 ("extreme", sums that wrap), or within ±``small`` ("small")."""
    if mode == "full":
        v = rng.integers(lo, hi, size=shape, endpoint=True)
    elif mode == "extreme":
        v = rng.choice(np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi], dtype=np.int64), size=shape)
    else:
        v = rng.integers(-small, small + 1, size=shape)
    return v.astype(dtype)


def weight_shape(kind: str, c_in: int, c_out: int, k: int) -> tuple:
    """The weight layout of docs/integer.md: conv [c_out, c_in, k, k], deconv
    [c_in, c_out, k, k], dense [c_out, c_in]."""
    return {"conv": (c_out, c_in, k, k), "deconv": (c_in, c_out, k, k), "dense": (c_out, c_in)}[kind]
