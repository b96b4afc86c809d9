"""lic_core.compress / decompress with real (small, random-init) zoo models."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import InvalidArgumentError, LicError, LimitExceededError, WeightsError  # noqa: E402
from lic_core import container  # noqa: E402


def _model(name="hyperprior"):
    from lic_core import zoo
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12)
    with torch.no_grad():
        model.g_a[6].weight.mul_(60.0)  # non-zero latents, so the streams carry something
    model.update(force=True)
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def data(model, image):
    return lic_core.compress(image, model=model)


def test_round_trip_keeps_the_size_and_matches_the_encoders_reconstruction(model, image, data):
    from lic_core.api import _to_tensor, _to_uint8
    decoded = lic_core.decompress(data, model=model)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    with torch.no_grad():
        _, x_hat = model.compress(_to_tensor(image), return_x_hat=True)
    assert np.array_equal(decoded, _to_uint8(x_hat))


def test_compression_is_deterministic(model, image, data):
    assert lic_core.compress(image, model=model) == data
    assert lic_core.compress(image.copy(order="F"), model=model) == data


def test_header_records_model_size_and_quality_zero_for_non_zoo_weights(data):
    f = container.unpack(data)
    assert (f.model, f.quality, f.height, f.width) == ("hyperprior", 0, 37, 53)


def test_file_from_non_zoo_weights_needs_the_model(data):
    with pytest.raises(WeightsError, match="model="):
        lic_core.decompress(data)


def test_decoding_with_another_family_is_refused(data):
    with pytest.raises(InvalidArgumentError, match="hyperprior"):
        lic_core.decompress(data, model=_model("factorized"))


def test_unknown_zoo_quality_is_an_error(image):
    with pytest.raises(LicError):
        lic_core.compress(image, model="hyperprior", quality=9)
    with pytest.raises(InvalidArgumentError):
        lic_core.compress(image, model=object())


def test_pixel_limit_applies_to_compress_and_decompress(model, image, data, monkeypatch):
    with pytest.raises(LimitExceededError):
        lic_core.decompress(data, model=model, max_pixels=37 * 53 - 1)
    monkeypatch.setenv("LIC_MAX_PIXELS", str(37 * 53 - 1))
    with pytest.raises(LimitExceededError):
        lic_core.compress(image, model=model)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_mutation_of_a_real_file_is_rejected_or_decodes(model, data, image, hyp):
    """Never a crash: a LicError, or (for a mutation the checks cannot see) an image of the right size."""
    buf = bytearray(data)
    i = hyp.draw(st.integers(0, len(buf) - 1))
    buf[i] ^= hyp.draw(st.integers(1, 255))
    try:
        out = lic_core.decompress(bytes(buf), model=model)
    except LicError:
        return
    assert out.shape == image.shape


def test_container_model_ids_agree_with_the_zoo_registry():
    from lic_core import zoo
    assert {name: spec.model_id for name, spec in zoo.REGISTRY.items()} == container.MODEL_IDS


def test_pillow_saves_and_opens_lic_files(model, image, tmp_path):
    from PIL import Image
    path = tmp_path / "x.lic"
    Image.fromarray(image).save(path, model=model)
    assert container.unpack(path.read_bytes()).model == "hyperprior"
    with Image.open(path) as im:
        assert im.format == "LIC" and im.size == (53, 37)
        # quality 0 (non-zoo weights): decoding through Pillow needs the zoo, so it must fail clearly
        with pytest.raises(WeightsError):
            im.load()
