"""The zoo's training graph: shapes, gradients, registry and defaults (pure torch)."""
import pytest

torch = pytest.importorskip("torch")

import lic_core.zoo as zoo  # noqa: E402
from lic_core.errors import InvalidArgumentError  # noqa: E402
from lic_core.training.options import TrainingOptions  # noqa: E402

NAMES = ["factorized", "hyperprior", "mean-scale", "joint"]


@pytest.mark.parametrize("name", NAMES)
def test_forward_returns_cropped_x_hat_and_likelihoods_for_any_size(name):
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12)
    out = model(torch.rand(2, 3, 37, 53))
    assert out["x_hat"].shape == (2, 3, 37, 53)
    lik = out["likelihoods"]
    assert set(lik) == ({"y"} if name == "factorized" else {"y", "z"})
    for value in lik.values():
        assert bool(((value > 0) & (value <= 1)).all())


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_aux_loss_have_gradients_for_their_own_parameters(name):
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12).train()
    out = model(torch.rand(1, 3, 64, 64))
    bpp = sum(-torch.log2(v).sum() for v in out["likelihoods"].values()) / (64 * 64)
    loss = bpp + ((out["x_hat"] - 0.5) ** 2).mean()
    loss.backward()
    quantiles = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    others = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    assert quantiles and all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in quantiles)
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in others)
    model.zero_grad()
    model.aux_loss().backward()
    assert all(float(p.grad.abs().sum()) > 0 for p in quantiles)
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in others)


def test_aliases_and_class_names_resolve_to_canonical_names():
    for alias, name in [("bmshj2018-factorized", "factorized"), ("bmshj2018-hyperprior", "hyperprior"),
                        ("mbt2018-mean", "mean-scale"), ("mbt2018", "joint"),
                        ("JointAutoregressiveHierarchicalPriors", "joint")]:
        assert zoo.resolve(alias).name == name
        assert zoo.build(alias, N=4, M=6).name == name


def test_container_ids_are_fixed_numbers_shared_with_the_container():
    from lic_core.container import MODEL_IDS
    assert {n: s.model_id for n, s in zoo.REGISTRY.items()} == {
        "factorized": 1, "hyperprior": 2, "mean-scale": 3, "joint": 4, "space-channel": 5}
    assert MODEL_IDS == {n: s.model_id for n, s in zoo.REGISTRY.items()}


@pytest.mark.parametrize("name,quality,expected", [
    ("factorized", 5, (128, 192)), ("factorized", 6, (192, 320)),
    ("hyperprior", 1, (128, 192)), ("hyperprior", 8, (192, 320)),
    ("mean-scale", 4, (128, 192)), ("mean-scale", 5, (192, 320)),
    ("joint", 3, (192, 192)), ("joint", 5, (192, 320)),
])
def test_default_channels_follow_the_papers_per_quality(name, quality, expected):
    assert zoo.REGISTRY[name].default_channels(quality) == expected


def test_unknown_name_or_quality_lists_the_valid_ones():
    with pytest.raises(InvalidArgumentError, match="hyperprior"):
        zoo.build("cheng2020")
    with pytest.raises(InvalidArgumentError, match="1..10"):
        zoo.build("hyperprior", quality=11)


def test_built_models_are_not_zoo_models():
    model = zoo.build("hyperprior", quality=3, N=8, M=12)
    assert model.quality is None and (model.N, model.M) == (8, 12)


@pytest.mark.parametrize("name", NAMES)
def test_mixed_quantization_feeds_the_decoder_the_rounded_latents_with_gradients(name):
    """lic train's default: the decoder side sees exactly what eval mode (decoding) feeds it,
    so train-mode x̂ equals eval-mode x̂, while the rate term still uses the noise proxy and
    g_a still gets a distortion gradient through the straight-through rounding."""
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12)
    x = torch.rand(1, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    model.train()
    out = model(x, options=TrainingOptions(quantization="mixed"))
    assert torch.equal(out["x_hat"].detach(), eval_out["x_hat"])
    assert not torch.equal(out["likelihoods"]["y"].detach(), eval_out["likelihoods"]["y"])
    ((out["x_hat"] - x) ** 2).mean().backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith("g_a.")]
    assert grads and any(g is not None and float(g.abs().sum()) > 0 for g in grads)
    # straight-through round(y − μ) + μ passes no distortion gradient to μ (nor σ), so the
    # hyper-synthesis learns from the rate term only
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0
               for n, p in model.named_parameters() if n.startswith("h_s."))
    with torch.no_grad():  # CompressAI's forward: the decoder side sees the noisy latents
        for noisy in (model(x), model(x, options=TrainingOptions(quantization="noise"))):
            assert not torch.equal(noisy["x_hat"], eval_out["x_hat"])
        # options shape training forwards only: an eval forward ignores them
        model.eval()
        assert torch.equal(model(x, options=TrainingOptions(skip_synthesis=True))["x_hat"],
                           eval_out["x_hat"])
