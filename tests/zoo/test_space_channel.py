"""The space-channel context model (lic_core.zoo.space_channel, docs/models.md
"Space-channel context"): its schedule, causality, round trips on both probability
paths, and the training graph's agreement with the coder."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lic_core import container
from lic_core.testing import LIVELY, tiny_model
from lic_core.zoo.integer import convert
from lic_core.zoo.space_channel import anchor_mask, channel_groups, half_positions


def _image(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear").clamp(0, 1)


@pytest.fixture(scope="module")
def float_model():
    return tiny_model("space-channel", gains=LIVELY)


@pytest.fixture(scope="module")
def integer_model():
    model = tiny_model("space-channel", gains=LIVELY, fresh=True)
    with torch.no_grad():
        convert(model, [_image(64, 64, 1), _image(70, 90, 2)])
    return model


def test_groups_partition_the_channels():
    assert channel_groups(192) == (16, 16, 32, 64, 64)
    assert channel_groups(320) == (16, 16, 32, 64, 192)
    assert channel_groups(12) == (1, 1, 2, 4, 4)
    for M in (12, 24, 100, 192, 320):
        assert sum(channel_groups(M)) == M
    with pytest.raises(Exception, match="M >= 12"):
        channel_groups(8)


@pytest.mark.parametrize("h, w", [(1, 1), (1, 5), (4, 1), (3, 4), (6, 7)])
def test_the_two_halves_are_a_checkerboard_in_raster_order(h, w):
    anchors, others = half_positions(h, w)
    assert sorted(np.concatenate((anchors, others)).tolist()) == list(range(h * w))
    assert list(anchors) == sorted(anchors) and list(others) == sorted(others)
    mask = anchor_mask(h, w).reshape(-1)
    assert mask[anchors].all() and not mask[others].any()
    # every 4-neighbour of a non-anchor is an anchor (what the spatial context reads)
    for p in others:
        r, c = divmod(int(p), w)
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < h and 0 <= cc < w:
                assert mask[rr * w + cc]


@torch.no_grad()
def test_parameters_read_only_what_the_decoder_has(float_model):
    """Causality: group g's anchors depend on params and groups < g only; its other half
    also on the group's anchors, never on its own non-anchors or later groups."""
    m = float_model
    torch.manual_seed(0)
    h, w = 5, 6
    params = torch.randn(1, 2 * m.M, h, w) * 3
    decoded = [torch.randn(1, c, h, w) * 3 for c in m.groups[:2]]
    g = 2
    inputs = m.group_inputs(g, params, decoded)
    anchors, others = (torch.from_numpy(p) for p in half_positions(h, w))
    mask = torch.from_numpy(anchor_mask(h, w))
    y_g = torch.randn(1, m.groups[g], h, w) * 3
    s0, m0 = m.group_parameters(g, inputs, None, anchors)
    s1, m1 = m.group_parameters(g, inputs, y_g * mask, others)
    # changing the group's non-anchor values changes nothing the decoder computes first
    y_changed = torch.where(mask, y_g, y_g + 5)
    s1b, m1b = m.group_parameters(g, inputs, y_changed * mask, others)
    assert torch.equal(s1, s1b) and torch.equal(m1, m1b)
    # and the anchors' parameters do not depend on the group's values at all
    assert torch.equal(m.group_parameters(g, inputs, None, anchors)[1], m0)


@pytest.mark.parametrize("path, h, w", [("integer", 1, 1), ("integer", 37, 53), ("integer", 333, 201),
                                         ("float", 1, 1), ("float", 37, 53)])
def test_round_trip_at_odd_sizes(float_model, integer_model, path, h, w):
    model = float_model if path == "float" else integer_model
    x = _image(h, w, seed=h + w)
    data, x_hat = model.compress(x, return_x_hat=True)
    f = container.unpack(data)
    assert f.probability_path == (container.EXACT_PATH if path == "integer" else container.FLOAT_PATH)
    assert f.model == "space-channel"
    out = model.decompress(data)
    assert out.shape == x.shape
    assert torch.equal(out, x_hat)


@torch.no_grad()
def test_the_training_graph_sees_what_the_decoder_decodes(float_model):
    """In eval mode the prior's forward rounds as the coder does: its ŷ is the coded ŷ."""
    m = float_model
    x = m.pad(_image(64, 96, seed=4))
    y = m.analysis(x)
    streams, shapes, y_hat = m._encode(x, "native")
    out = m.prior_forward(y)
    assert torch.equal(out["y_hat"], y_hat)
    assert torch.equal(m._decode(streams, shapes, "native"), y_hat)
    assert (torch.round(y_hat) != 0).any()  # the test codes something


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 16), h=st.integers(1, 70), w=st.integers(1, 70))
def test_random_weights_round_trip_on_the_integer_path(seed, h, w):
    model = tiny_model("space-channel", seed=seed % 4, gains=LIVELY, fresh=True)
    with torch.no_grad():
        convert(model, [_image(32, 32, seed)])
    x = _image(h, w, seed)
    data, x_hat = model.compress(x, return_x_hat=True)
    assert torch.equal(model.decompress(data), x_hat)


def test_integer_decoding_is_the_same_on_any_thread_count(integer_model):
    x = _image(96, 128, seed=7)
    data = integer_model.compress(x)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = integer_model.decompress(data)
        torch.set_num_threads(2)
        two = integer_model.decompress(data)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(one, two)


def test_an_effort_level_codes_a_valid_file(integer_model):
    x = _image(32, 48, seed=11)
    data, x_hat = integer_model.compress(x, return_x_hat=True, effort=1)
    assert torch.equal(integer_model.decompress(data), x_hat)
