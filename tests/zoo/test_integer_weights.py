"""Every integer tensor of a weight file is checked at load, shape and range, as a
WeightsError naming it (issue 21 point 18: a 2-D integer.scale_thresholds passed
load_file and the first compress() raised InvalidArgumentError)."""
import pytest
import torch

from lic_core import zoo
from lic_core.errors import WeightsError
from lic_core.zoo.integer import convert
from tests.zoo.test_integer_path import _image, _random_model, _rewrite


@pytest.fixture(scope="module", params=["hyperprior", "joint"])
def weight_file(request, tmp_path_factory):
    model = _random_model(request.param)
    with torch.no_grad():
        convert(model, [_image(64, 64, seed=5)])
    path = tmp_path_factory.mktemp("w") / f"{model.name}.safetensors"
    zoo.save_weights(model, path)
    return path


def _set(key, make):
    return lambda t: t.__setitem__(key, make(t[key]))


@pytest.mark.parametrize("change, message", [
    (_set("integer.scale_thresholds", lambda v: v.reshape(1, -1)),
     r"integer.scale_thresholds must be 1-D .* got shape \(1, "),
    (_set("integer.mean_frac", lambda v: torch.tensor([[3]], dtype=torch.int32)),
     r"integer.mean_frac has shape \(1, 1\), expected \(1,\)"),
    (_set("integer.sigma_frac", lambda v: torch.tensor([-1], dtype=torch.int32)),
     "integer.sigma_frac is -1, outside 0..24"),
    (_set("integer.z_offset", lambda v: v[:-1].clone()), r"integer.z_offset has shape"),
    (_set("integer.layers.h_s_0.shift", lambda v: v.reshape(1, -1).clone()),
     r"integer.layers.h_s_0.shift has shape \(1, "),
    (_set("integer.layers.h_s_2.bias", lambda v: v.to(torch.int64) + (1 << 40)),
     "integer.layers.h_s_2.bias holds values"),
    (_set("integer.layers.h_s_4.weight", lambda v: v.float()), "integer.layers.h_s_4.weight"),
])
def test_a_malformed_integer_tensor_is_refused_at_load_naming_it(tmp_path, weight_file, change,
                                                                 message):
    bad = _rewrite(weight_file, tmp_path / "bad.safetensors", change)
    with pytest.raises(WeightsError, match=message):
        zoo.load_file(bad)


def test_the_prior_checks_a_state_dict_on_its_own(weight_file):
    # check_state does not rely on the loader's checks before it: each tensor is looked at
    model = zoo.load_file(weight_file)
    state = dict(model.state_dict())
    levels = state["gaussian_conditional.scale_table"].numel()
    model.integer.check_state(state, "here", levels=levels)
    for key in [k for k in state if k.startswith("integer.layers.")][:3]:
        broken = dict(state)
        broken[key] = state[key].reshape(-1)[:1].clone()
        with pytest.raises(WeightsError, match=f"here: {key} has shape"):
            model.integer.check_state(broken, "here", levels=levels)
    broken = dict(state)
    del broken["integer.z_offset"]
    with pytest.raises(WeightsError, match="integer.z_offset is missing"):
        model.integer.check_state(broken, "here", levels=levels)
