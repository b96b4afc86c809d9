"""tools/train_prior.py's checkpoint helpers: a widened context kernel carries the trained
one over as the same function, so does a checkerboard context spread over four steps, and Adam's moments stored in bfloat16 load back into a
float32 optimizer."""
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("train_prior", ROOT / "tools" / "train_prior.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def test_a_grown_kernel_computes_what_the_trained_one_did():
    torch.manual_seed(0)
    small, large = torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.Conv2d(4, 6, 5, padding=2)
    saved = {"spatial_context.0.0.weight": small.weight.detach(), "spatial_context.0.0.bias": small.bias.detach(),
             "other.weight": torch.ones(2, 2)}
    own = {"spatial_context.0.0.weight": large.weight, "spatial_context.0.0.bias": large.bias,
           "other.weight": torch.zeros(2, 2)}
    grown = tool.grown_kernels(saved, own)
    assert grown["spatial_context.0.0.weight"].shape == (6, 4, 5, 5)
    assert grown["other.weight"] is saved["other.weight"]  # not a kernel: untouched
    large.load_state_dict({"weight": grown["spatial_context.0.0.weight"], "bias": grown["spatial_context.0.0.bias"]})
    x = torch.randn(1, 4, 9, 7)
    torch.testing.assert_close(large(x), small(x), rtol=0, atol=1e-6)


@torch.no_grad()
def test_a_checkerboard_checkpoint_grown_to_four_steps_computes_what_it_did():
    """A group's single (checkerboard) spatial context spread over four steps: the
    (odd, odd) positions, anchors before, still see no spatial context; the others see
    the old kernel over the anchors, whatever the old kernel held at offsets a
    checkerboard never reads."""
    import numpy as np
    from lic_core.testing import tiny_model
    from lic_core.zoo.checkerboard import step_masks
    from lic_core.zoo.space_channel import _dense
    model = tiny_model("space-channel", seed=1)
    g, c = 0, model.groups[0]
    assert model.steps[g] == 4
    old = torch.nn.Conv2d(c, 2 * c, 5, padding=2)  # random everywhere, even offsets included
    saved = {k: v for k, v in model.state_dict().items() if not k.startswith(f"spatial_context.{g}.")}
    saved.update({f"spatial_context.{g}.0.weight": old.weight.detach(), f"spatial_context.{g}.0.bias": old.bias.detach()})
    own = model.state_dict()
    model.load_state_dict(tool.grown_schedule(saved, own), strict=False)
    h, w = 6, 7
    params = torch.randn(1, 2 * model.M, h, w)
    inputs = model.group_inputs(g, params, [])
    y_g = torch.randn(1, c, h, w) * 3
    anchors = torch.from_numpy(step_masks(h, w, 2)[0])
    r = torch.arange(5)[:, None] - 2
    odd = ((r + r.t()) % 2 != 0).float()
    checkerboard_sc = torch.nn.functional.conv2d(y_g * anchors, old.weight * odd, old.bias, padding=2)
    before = torch.zeros(h, w, dtype=torch.bool)
    for k, mask in enumerate(step_masks(h, w, 4)):
        pos = torch.from_numpy(np.flatnonzero(mask.reshape(-1)))
        scales, means = model.group_parameters(g, inputs, k, y_g * before, pos)
        x = inputs.flatten(2)[:, :, pos]
        sc = torch.zeros(1, 2 * c, pos.numel()) if k < 2 else checkerboard_sc.flatten(2)[:, :, pos]
        expect = _dense(model.entropy_parameters[g], torch.cat((x, sc), 1))
        torch.testing.assert_close(torch.cat((scales, means), 1), expect, rtol=0, atol=1e-5)
        before |= torch.from_numpy(mask)


def test_a_kernel_of_another_shape_is_left_for_load_state_dict_to_refuse():
    saved = {"w": torch.zeros(6, 3, 3, 3)}  # other input channels: not a widening
    assert tool.grown_kernels(saved, {"w": torch.zeros(6, 4, 5, 5)})["w"].shape == (6, 3, 3, 3)


def test_compacted_adam_state_resumes_in_float32():
    p = torch.nn.Parameter(torch.randn(5, 3))
    opt = torch.optim.Adam([p], lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
    compact = tool.compact_optimizer_state(opt.state_dict())
    moments = compact["state"][0]
    assert moments["exp_avg"].dtype == moments["exp_avg_sq"].dtype == torch.bfloat16
    assert float(moments["step"]) == 3.0  # the step count stays as it was
    fresh = torch.optim.Adam([p], lr=1e-3)
    fresh.load_state_dict(compact)
    state = fresh.state[p]
    assert state["exp_avg"].dtype == torch.float32
    torch.testing.assert_close(state["exp_avg"], opt.state[p]["exp_avg"], rtol=1e-2, atol=1e-6)


def test_a_channel_order_with_h_a_permuted_to_match_leaves_the_hyperprior_unchanged():
    from lic_core.testing import tiny_model
    model = tiny_model("space-channel", seed=3)
    y = torch.randn(1, model.M, 8, 8)
    order = torch.randperm(model.M, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model.h_a(y)
        model.h_a[0].weight.copy_(model.h_a[0].weight[:, order])  # what train_prior does
        after = model.h_a(tool.reordered(y, order))
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    assert tool.reordered(y, None) is y
