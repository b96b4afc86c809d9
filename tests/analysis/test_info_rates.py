"""rate_report: ideal bits from a model's likelihoods beside the real coded stream lengths.

Checked against what is known independently of the code under test: closed-form code
lengths (a stand-in model with likelihoods 2^-k, a Gaussian rate evaluated from its
definition) and the byte counts of the streams the coder really writes."""
import math

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


def _tensor(rgb):
    """H×W×3 uint8 -> 1×3×H×W float in [0, 1], as lic_core's API converts images."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


def _model(name):
    from lic_core.testing import LIVELY, tiny_model
    return tiny_model(name, gains=LIVELY)  # random init alone rounds every latent to 0


# ---- closed forms: a stand-in model whose likelihoods, streams and ŷ are chosen here ----

class _KnownModel:
    """Quacks like a zoo hyperprior for rate_report, with likelihoods of known code length:
    ŷ channel c has p = 2^-(c+1) at each of its 2×4 positions, ẑ has p = 1/4 at 1×2."""

    name, quality, training, stream_names = "hyperprior", 5, False, ("y", "z")

    def eval(self):
        return self

    def train(self, mode=True):
        self.training = mode
        return self

    def pad(self, x):
        return x

    def __call__(self, x):
        y = torch.stack([torch.full((2, 4), 2.0 ** -(c + 1)) for c in range(3)])[None]
        return {"likelihoods": {"y": y, "z": torch.full((1, 2, 1, 1), 0.25)}}

    def _encode(self, x, stream_format):
        y_hat = torch.zeros(1, 3, 2, 4)
        y_hat[0, 0] = torch.tensor([[0.0, 1, 2, 3], [3, 2, 1, 0]])  # uniform on 4: 2 bits x 8
        y_hat[0, 1] = 7.0                                             # constant: 0 bits
        y_hat[0, 2] = torch.tensor([[1.0, -1, 1, -1], [-1, 1, -1, 1]])  # two equal: 1 bit x 8
        return [b"y" * 10, b"z" * 3], [(2, 4), (1, 1)], y_hat


def test_rate_report_adds_up_known_code_lengths():
    from lic_core import container
    from lic_core.analysis.info import rate_report
    image = np.zeros((32, 64, 3), np.uint8)
    report = rate_report(_KnownModel(), image)
    y, z = report.stream("y"), report.stream("z")
    # ŷ: 8 positions x (1 + 2 + 3) bits; channel c costs 8(c + 1); each position 6 bits.
    assert y.ideal_bits == pytest.approx(48.0, rel=1e-12)
    np.testing.assert_allclose(y.per_channel_bits, [8.0, 16.0, 24.0], rtol=1e-12)
    np.testing.assert_allclose(y.bit_map, np.full((2, 4), 6.0), rtol=1e-12)
    assert z.ideal_bits == pytest.approx(4.0, rel=1e-12)  # 2 values x 2 bits
    assert report.ideal_bits == pytest.approx(52.0, rel=1e-12)
    assert (y.coded_bits, z.coded_bits, report.coded_bits) == (80, 24, 104)
    whole = container.pack(container.LicFile("hyperprior", 5, 32, 64, ((2, 4), (1, 1)),
                                             (b"y" * 10, b"z" * 3), weights_fingerprint=1))
    assert report.file_bytes == len(whole)
    assert report.y_marginal_bits == pytest.approx(16.0 + 0.0 + 8.0)
    assert report.side_information_saving == pytest.approx(24.0 - 48.0)
    assert (report.model, report.quality, report.height, report.width) == ("hyperprior", 5, 32, 64)


# ---- real models: the ideal rate against closed forms and against the coder itself ----

def _sample_crop(size=128):
    from PIL import Image
    from lic_core.api import sample_paths
    rgb = np.asarray(Image.open(sample_paths()[0]).convert("RGB"))
    return np.ascontiguousarray(rgb[100:100 + size, 200:200 + size])


def test_hyperprior_ideal_bits_are_the_discretised_gaussian_rate():
    # p(ŷ | σ) = Φ((ŷ + ½)/σ) − Φ((ŷ − ½)/σ), σ ≥ 0.11, p ≥ 1e-9: evaluated here in float64
    # from the definition (the model evaluates it in float32 on the tail side).
    from lic_core import zoo
    from lic_core.analysis.info import rate_report
    model = zoo.load("hyperprior", 4)
    rgb = _sample_crop()
    report = rate_report(model, rgb)
    with torch.no_grad():
        y = model.analysis(model.pad(_tensor(rgb)))
        z_hat, _ = model.entropy_bottleneck(model.h_a(torch.abs(y)), training=False)
        sigma = torch.clamp(model.h_s(z_hat).double(), min=0.11)
    y_hat = torch.round(y).double()

    def phi(t):
        return 0.5 * torch.erfc(-t / math.sqrt(2.0))

    p = torch.clamp(phi((y_hat + 0.5) / sigma) - phi((y_hat - 0.5) / sigma), min=1e-9)
    expected = float(-torch.log2(p).sum())
    assert expected > 1000  # a real image: thousands of bits
    assert report.stream("y").ideal_bits == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "joint"])
@pytest.mark.parametrize("quality", [1, 8])
def test_ideal_bits_match_what_the_coder_writes(name, quality):
    # An entropy coder cannot beat the model's own code length (beyond the table
    # quantisation, and for the joint model the forward pass's mean-free rounding) and
    # should not lose more than a few percent plus each stream's fixed cost: its header
    # and one 8-byte final state per lane (docs/stream-format.md).
    from lic_core import coder, container, zoo
    from lic_core.analysis.info import rate_report
    model, rgb = zoo.load(name, quality), _sample_crop()
    report = rate_report(model, rgb)
    streams = container.unpack(model.compress(_tensor(rgb))).streams
    assert len(streams) == len(report.streams)
    for s, data in zip(report.streams, streams):
        info = coder.stream_info(data)
        fixed = 8 * (info["header_bytes"] + 8 * info["lanes"])
        assert s.ideal_bits > 0 and s.coded_bits == 8 * len(data)
        assert 0.98 * s.ideal_bits <= s.coded_bits <= 1.08 * s.ideal_bits + fixed, (
            s.name, s.coded_bits, s.ideal_bits, fixed)


@pytest.mark.parametrize("name", ["factorized", "hyperprior"])
def test_coded_bits_are_the_real_stream_lengths(name, image):
    from lic_core import container
    from lic_core.analysis.info import rate_report
    model = _model(name)
    report = rate_report(model, image)
    with torch.no_grad():
        f = container.unpack(model.compress(_tensor(image)))
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
    assert hyper.side_information_saving is not None


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
