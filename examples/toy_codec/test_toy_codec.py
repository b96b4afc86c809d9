"""Fuzzing the toy codec's integration with lic-core, as a codec built on it would.

Each test is a claim about toy_codec.py, checked on inputs from ``lic_core.testing``:
the Gaussian parameters, symbols and damage that lic-core's own tests use. Run with
``python -m pytest examples/toy_codec`` (lic-core's suite runs it: tests/system/test_examples.py).
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import toy_codec
from lic_core.testing import (assert_decodes_or_refuses, assert_refuses_cleanly, assert_roundtrip,
                              damaged, gaussian_params, means, symbols_and_indexes)

# How many examples each test gets is the profile's business (conftest.py): a few for
# every run, thousands with --hypothesis-profile=fuzz.


@st.composite
def codec_inputs(draw, shape=None):
    """(values, scales, means): float32 arrays of one shape; values = means + noise, the
    noise up to 1e3 so that some symbols escape their table."""
    scales, mu = draw(gaussian_params(shape))
    noise = draw(means(scales.shape, bound=1e3))
    return mu + noise, scales, mu


@given(codec_inputs())
def test_decode_inverts_encode_exactly(case):
    values, scales, mu = case
    data = toy_codec.encode(values, scales, mu)
    expected = (toy_codec.quantize(values, mu) + mu.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(toy_codec.decode(data, scales, mu), expected)


@given(symbols_and_indexes(toy_codec.table_set(), max_size=200))
def test_the_codecs_tables_round_trip_every_int32_on_both_faces(case):
    symbols, indexes = case
    assert_roundtrip(symbols, indexes, toy_codec.table_set())


@given(codec_inputs(), st.data())
def test_a_damaged_stream_is_refused_or_decodes_to_the_right_shape(case, data):
    values, scales, mu = case
    good = toy_codec.encode(values, scales, mu)
    outcome = assert_decodes_or_refuses(toy_codec.decode, damaged(good, data.draw), scales, mu)
    # A bare stream has no checksum: a few kinds of damage decode to other symbols
    # (docs/stream-format.md §5). A codec's file format adds one, as .lic does.
    if not outcome.refused:
        assert outcome.result.shape == scales.shape


@given(codec_inputs(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8)),
       st.sampled_from(["values", "means", "scales"]),
       st.sampled_from([np.nan, np.inf, -np.inf, 3e9]), st.data())
def test_non_finite_or_oversized_input_is_refused_cleanly(case, where, bad, data):
    values, scales, mu = (a.copy() for a in case)
    if where == "scales":
        bad = np.nan  # infinite scales are legal (the widest table); NaN is not
    target = {"values": values, "means": mu, "scales": scales}[where]
    target.reshape(-1)[data.draw(st.integers(0, values.size - 1))] = bad
    assert_refuses_cleanly(toy_codec.encode, values, scales, mu)


def test_the_module_docstring_example_runs():
    import doctest
    result = doctest.testmod(toy_codec)
    assert result.attempted > 0 and result.failed == 0
