"""rate_report: ideal bits from a model's likelihoods beside the real coded stream lengths."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    # Smooth gradient plus noise: enough structure for non-trivial latents.
    yy, xx = np.mgrid[0:64, 0:80]
    base = np.stack([xx * 3, yy * 3, (xx + yy) * 1.5], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def _model(name):
    from lic_core import zoo
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12)
    with torch.no_grad():
        model.g_a[6].weight.mul_(60.0)  # random init alone rounds every latent to 0
    model.update(force=True)
    return model.eval()


@pytest.mark.parametrize("name", ["factorized", "hyperprior"])
def test_ideal_bits_are_minus_log2_of_the_forward_likelihoods(name, image):
    from lic_core.api import _to_tensor
    from lic_core.analysis.info import rate_report
    model = _model(name)
    report = rate_report(model, image)
    with torch.no_grad():
        likelihoods = model(_to_tensor(image))["likelihoods"]
    assert [s.name for s in report.streams] == list(model.stream_names)
    for s in report.streams:
        expected = float(-torch.log2(likelihoods[s.name].double()).sum())
        assert s.ideal_bits == pytest.approx(expected, rel=1e-9)
        # The per-channel and per-position splits add up to the whole.
        assert s.per_channel_bits.sum() == pytest.approx(s.ideal_bits, rel=1e-9)
        assert s.bit_map.sum() == pytest.approx(s.ideal_bits, rel=1e-9)
        assert s.per_channel_bits.shape == (likelihoods[s.name].shape[1],)
    assert report.height == 64 and report.width == 80


@pytest.mark.parametrize("name", ["factorized", "hyperprior"])
def test_coded_bits_are_the_real_stream_lengths(name, image):
    from lic_core import container
    from lic_core.api import _to_tensor
    from lic_core.analysis.info import rate_report
    model = _model(name)
    report = rate_report(model, image)
    with torch.no_grad():
        f = container.unpack(model.compress(_to_tensor(image)))
    assert [s.coded_bits for s in report.streams] == [8 * len(b) for b in f.streams]
    assert report.file_bytes == len(container.pack(f))
    assert report.ideal_bits > 0


def test_conditioning_labels_follow_the_family(image):
    from lic_core.analysis.info import rate_report
    factorized = rate_report(_model("factorized"), image)
    hyper = rate_report(_model("hyperprior"), image)
    assert [s.conditioning for s in factorized.streams] == ["H(ŷ)"]
    assert [s.conditioning for s in hyper.streams] == ["H(ŷ|ẑ)", "H(ẑ)"]
    assert factorized.side_information_saving is None
    assert hyper.side_information_saving == pytest.approx(
        hyper.y_marginal_bits - hyper.stream("y").ideal_bits)


def test_marginal_bits_are_the_per_channel_plug_in_entropy():
    from lic_core.analysis.info import _per_channel_marginal_bits
    y = np.zeros((1, 2, 2, 4), dtype=np.int64)
    y[0, 0] = [[0, 1, 2, 3], [0, 1, 2, 3]]  # uniform on 4 symbols: 2 bits x 8 positions
    y[0, 1] = 5                              # constant: 0 bits
    assert _per_channel_marginal_bits(y) == pytest.approx(16.0)


def test_miller_madow_raises_the_marginal_estimate_by_the_bias_term():
    from lic_core.analysis.info import _per_channel_marginal_bits
    import math
    y = np.zeros((1, 1, 2, 4), dtype=np.int64)
    y[0, 0] = [[0, 1, 2, 3], [0, 1, 2, 3]]  # m = 4 observed symbols, N = 8
    corrected = _per_channel_marginal_bits(y, "miller-madow")
    assert corrected == pytest.approx(8 * (2.0 + 3 / 16 / math.log(2)))
