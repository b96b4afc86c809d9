"""lic_core.zoo.layout: the zoo's layer names without weights (issue 22). ``transform_ends``
names g_a's last layer (it makes y) and g_s's first (it reads ŷ) for every family, and
``family_latent_interface`` gives a family's whole LatentInterface, so code that handles
state dicts (gain folding, the weights' checks, widening, rescaling) writes no layer name
of its own."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from lic_core.zoo.layout import family_latent_interface, transform_ends  # noqa: E402
from lic_core.zoo.registry import REGISTRY  # noqa: E402


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_family_meets_its_latent_at_the_transform_ends(name):
    spec = REGISTRY[name]
    n, m = spec.default_channels(None)
    with torch.device("meta"):
        model = spec.model_class()(N=n, M=m)
    ends = transform_ends()
    modules = dict(model.named_modules())
    makes_y, reads_y = modules[ends.analysis_output], modules[ends.synthesis_input]
    assert isinstance(makes_y, nn.Conv2d) and makes_y.out_channels == m
    assert isinstance(reads_y, nn.ConvTranspose2d) and reads_y.in_channels == m
    latent = model.latent_interface()
    assert (latent.analysis_output, latent.synthesis_input) == (
        ends.analysis_output, ends.synthesis_input)
    assert family_latent_interface(name) == latent


def test_the_names_cost_no_memory_and_no_random_numbers():
    state = torch.random.get_rng_state()
    family_latent_interface.cache_clear()
    transform_ends.cache_clear()
    assert family_latent_interface("joint").entropy_readers == ("h_a.0", "context_prediction")
    assert transform_ends().analysis_output == "g_a.6"
    assert torch.equal(state, torch.random.get_rng_state())


def test_widening_names_the_hyperpriors_layers_through_its_interface():
    from lic_core.training.widen import hyperprior_m_axes
    assert [key for key, _, _ in hyperprior_m_axes()] == [
        "g_a.6.weight", "g_a.6.bias", "g_s.0.weight", "h_a.0.weight", "h_s.4.weight",
        "h_s.4.bias", "log_gain", "log_inv_gain"]
