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
from lic_core.zoo.space_channel import channel_groups, group_steps, step_positions
from lic_core.zoo.checkerboard import step_masks


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


@pytest.mark.parametrize("steps", [2, 4])
@pytest.mark.parametrize("h, w", [(1, 1), (1, 5), (4, 1), (3, 4), (6, 7)])
def test_the_steps_partition_the_grid_in_raster_order(h, w, steps):
    positions = step_positions(h, w, steps)
    assert len(positions) == steps
    assert sorted(np.concatenate(positions).tolist()) == list(range(h * w))
    for p in positions:
        assert list(p) == sorted(p)
    step_of = np.empty(h * w, dtype=int)
    for k, p in enumerate(positions):
        step_of[p] = k
    # what each step's spatial context finds decoded among its 8 neighbours
    seen = {(-1, 0), (1, 0), (0, -1), (0, 1)} if steps == 2 else \
        [set(), {(-1, -1), (-1, 1), (1, -1), (1, 1)}, {(-1, 0), (1, 0), (0, -1), (0, 1)},
         {(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)} - {(0, 0)}]
    for p in range(h * w):
        r, c = divmod(p, w)
        k = step_of[p]
        expect = (set() if k == 0 else seen) if steps == 2 else seen[k]
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if (dr or dc) and 0 <= rr < h and 0 <= cc < w:
                    assert (step_of[rr * w + cc] < k) == ((dr, dc) in expect), (p, dr, dc)


def test_the_first_groups_take_four_steps():
    assert group_steps(5) == (4, 4, 2, 2, 2)


@torch.no_grad()
@pytest.mark.parametrize("g", [0, 2])
def test_parameters_read_only_what_the_decoder_has(float_model, g):
    """Causality, through the schedule the coder runs (``parameters_for``): σ and μ at
    step k of group g do not change when the latent changes at that group's steps ≥ k
    or in later groups, and do change with its steps < k (the context is live)."""
    m = float_model
    torch.manual_seed(0)
    h, w = 5, 6
    params = torch.randn(1, 2 * m.M, h, w) * 3
    y = torch.randn(1, m.M, h, w) * 3
    a, b = m.group_starts[g], m.group_starts[g + 1]
    masks = [torch.from_numpy(k) for k in step_masks(h, w, m.steps[g])]
    s0, m0, _ = m.parameters_for(y, params, lambda v, mu: v)
    before = torch.zeros(h, w, dtype=torch.bool)
    for k, mask in enumerate(masks):
        later = y.clone()
        later[:, a:b] = torch.where(before, y[:, a:b], y[:, a:b] + 5)  # this step and after
        later[:, b:] += 5  # later groups
        s1, m1, _ = m.parameters_for(later, params, lambda v, mu: v)
        assert torch.equal(s0[:, a:b, mask], s1[:, a:b, mask]) and torch.equal(m0[:, a:b, mask], m1[:, a:b, mask])
        if k:
            earlier = y.clone()
            earlier[:, a:b] = torch.where(before, y[:, a:b] + 1, y[:, a:b])
            _, m2, _ = m.parameters_for(earlier, params, lambda v, mu: v)
            assert not torch.equal(m0[:, a:b, mask], m2[:, a:b, mask])
        before |= mask


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
