"""Properties of lic_core.layers: GDN, the non-negative reparametrization, the type-A mask."""
import pytest

torch = pytest.importorskip("torch")

from lic_core.models.layers import GDN, LowerBound, MaskedConv2d, NonNegativeParametrizer, conv, deconv  # noqa: E402


def test_gdn_state_dict_keys_are_compressai_keys():
    keys = set(GDN(4).state_dict())
    assert keys == {"beta", "gamma", "beta_reparam.pedestal", "beta_reparam.lower_bound.bound",
                    "gamma_reparam.pedestal", "gamma_reparam.lower_bound.bound"}


def test_gdn_computes_divisive_normalization_and_inverse_multiplies():
    torch.manual_seed(0)
    gdn, igdn = GDN(3), GDN(3, inverse=True)
    with torch.no_grad():
        gdn.gamma.uniform_(0.0, 0.5)
        igdn.load_state_dict(gdn.state_dict())
    x = torch.randn(2, 3, 4, 5)
    beta = gdn.beta_reparam(gdn.beta)
    gamma = gdn.gamma_reparam(gdn.gamma)
    norm = torch.sqrt(beta[None, :, None, None] + torch.einsum("ij,njhw->nihw", gamma, x * x))
    torch.testing.assert_close(gdn(x), x / norm, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(igdn(x), x * norm, rtol=1e-5, atol=1e-6)


def test_gdn_starts_as_near_identity_scaling():
    # beta = 1, gamma = 0.1 I: y = x / sqrt(1 + 0.1 x²)
    x = torch.linspace(-3, 3, 7).reshape(1, 1, 1, 7)
    torch.testing.assert_close(GDN(1)(x), x / torch.sqrt(1 + 0.1 * x * x), rtol=1e-5, atol=1e-6)


def test_nonnegative_parametrizer_inverts_init_and_never_goes_below_minimum():
    p = NonNegativeParametrizer(minimum=1e-6)
    values = torch.tensor([1e-6, 0.5, 1.0, 7.0])
    torch.testing.assert_close(p(p.init(values)), values, rtol=1e-5, atol=1e-7)
    assert float(p(torch.tensor([-5.0, 0.0])).min()) >= 1e-6 - 1e-12


def test_lower_bound_lets_gradient_push_values_back_up():
    bound = LowerBound(1.0)
    x = torch.tensor([0.5, 2.0], requires_grad=True)
    (-bound(x)).sum().backward()  # gradient -1 would increase x: passes below the bound
    assert x.grad.tolist() == [-1.0, -1.0]
    x.grad = None
    bound(x).sum().backward()  # gradient +1 below the bound would push further down: blocked
    assert x.grad.tolist() == [0.0, 1.0]


def test_type_a_mask_keeps_the_12_causal_taps_of_a_5x5_kernel():
    conv5 = MaskedConv2d(2, 3, 5)
    mask = conv5.mask[0, 0]
    expected = torch.zeros(5, 5)
    expected[:2] = 1
    expected[2, :2] = 1
    assert torch.equal(mask, expected)
    assert torch.equal(conv5.mask, expected.expand_as(conv5.mask))
    assert set(conv5.state_dict()) == {"weight", "bias", "mask"}


def test_masked_conv_output_ignores_the_centre_and_later_positions():
    torch.manual_seed(1)
    layer = MaskedConv2d(2, 4, 5)
    x = torch.randn(1, 2, 6, 6)
    y = layer(x)
    x2 = x.clone()
    x2[:, :, 3, 3:] = 100.0  # centre (3, 3) and to its right
    x2[:, :, 4:, :] = -50.0  # later rows
    assert torch.equal(layer(x2)[:, :, 3, 3], y[:, :, 3, 3])


def test_masked_conv_applies_the_mask_even_to_an_unmasked_weight():
    layer = MaskedConv2d(1, 1, 5)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.zero_()
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0  # only the centre is set
    with torch.no_grad():
        assert float(layer(x)[0, 0, 2, 2]) == 0.0


def test_stride_two_conv_and_deconv_halve_and_double_the_size():
    x = torch.zeros(1, 3, 32, 48)
    y = conv(3, 5)(x)
    assert y.shape == (1, 5, 16, 24)
    assert deconv(5, 3)(y).shape == (1, 3, 32, 48)
