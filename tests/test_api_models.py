"""lic_core.compress / decompress / load_model with real (small, random-init) zoo models."""
import collections
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import InvalidArgumentError, LicError, LimitExceededError, WeightsError  # noqa: E402
from lic_core import container  # noqa: E402
from lic_core.testing import LIVELY, tiny_model  # noqa: E402
# tests/test_container.py's helper: recompute both CRCs so that a mutation gets past them
from tests.test_container import _refresh_crcs as refresh_crcs  # noqa: E402


def _model(name="hyperprior"):
    # non-zero latents, so the streams carry something; the tests' own copy (they load
    # weights into it, attach caches)
    return tiny_model(name, gains=LIVELY, fresh=True)


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
    from lic_core.images import to_tensor, to_uint8
    decoded = lic_core.decompress(data, model=model)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    with torch.no_grad():
        _, x_hat = model.compress(to_tensor(image), return_x_hat=True)
    assert np.array_equal(decoded, to_uint8(x_hat))


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
    # the header names the model: a file and a model that disagree is the file needing
    # other weights (docs/format.md, "Errors"), as for a fingerprint mismatch
    with pytest.raises(WeightsError, match="hyperprior"):
        lic_core.decompress(data, model=_model("factorized"))


def test_unknown_zoo_quality_is_an_error(image):
    with pytest.raises(LicError):
        lic_core.compress(image, model="hyperprior", quality=11)
    with pytest.raises(InvalidArgumentError):
        lic_core.compress(image, model=object())


def test_pixel_limit_applies_to_compress_and_decompress(model, image, data, monkeypatch):
    with pytest.raises(LimitExceededError):
        lic_core.decompress(data, model=model, max_pixels=37 * 53 - 1)
    monkeypatch.setenv("LIC_MAX_PIXELS", str(37 * 53 - 1))
    with pytest.raises(LimitExceededError):
        lic_core.compress(image, model=model)


def test_any_mutation_of_a_real_file_is_rejected_or_decodes(model, data):
    """Never a crash: flip a byte of a real file, and half the time recompute both CRCs
    afterwards. decompress must raise a LicError or return an image of the size the
    (mutated) header states, never another exception.

    No single-byte change gets past the CRCs (CRC-32 catches every burst up to 32 bits),
    so without recomputing them the model decoder would never see a mutated file: the
    counts below prove that mutations reached it (the container accepted the file) and
    that the raw ones never did."""
    seen = collections.Counter()

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def mutate_and_decode(hyp):
        buf = bytearray(data)
        buf[hyp.draw(st.integers(0, len(buf) - 1))] ^= hyp.draw(st.integers(1, 255))
        refreshed = hyp.draw(st.booleans())
        mutated = refresh_crcs(bytes(buf)) if refreshed else bytes(buf)
        try:
            header = container.unpack(mutated)
        except LicError:
            seen["refused by the container"] += 1
            return
        assert refreshed, "a single-byte change got past both CRCs"
        seen["reached the model decoder"] += 1
        try:
            out = lic_core.decompress(mutated, model=model)
        except LicError:
            seen["refused by the model decoder"] += 1
            return
        assert out.shape == (header.height, header.width, 3) and out.dtype == np.uint8
        seen["decoded"] += 1

    mutate_and_decode()
    assert seen["refused by the container"] > 0, seen
    assert seen["reached the model decoder"] >= 50, seen
    assert seen["decoded"] > 0, seen


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


# --------------------------------------------------------------------------- models by name

QUALITY = 2


def _weights_folder(path, seed):
    """A weights folder holding one small random-init hyperprior (seed decides the weights)."""
    from lic_core import zoo
    path.mkdir()
    model = tiny_model("hyperprior", seed, gains=LIVELY, fresh=True)
    zoo.save_weights(model, path / f"hyperprior-q{QUALITY}.safetensors", quality=QUALITY)
    return path


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    return _weights_folder(root / "a", 0), _weights_folder(root / "b", 1)


def test_compress_by_name_follows_a_changed_weights_dir(two_folders, image, monkeypatch):
    a, b = two_folders
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(a))
    data_a = lic_core.compress(image, model="hyperprior", quality=QUALITY)
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(b))
    data_b = lic_core.compress(image, model="hyperprior", quality=QUALITY)
    assert data_a != data_b
    assert data_b == lic_core.compress(image, model="hyperprior", quality=QUALITY)
    assert lic_core.decompress(data_b).shape == image.shape
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(a))
    assert lic_core.compress(image, model="bmshj2018-hyperprior", quality=QUALITY) == data_a


def test_compress_by_name_follows_a_replaced_weights_file(two_folders, image, tmp_path, monkeypatch):
    import shutil
    a, b = two_folders
    name = f"hyperprior-q{QUALITY}.safetensors"
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(a / name, folder / name)
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(folder))
    before = lic_core.compress(image, model="hyperprior", quality=QUALITY)
    shutil.copy(b / name, folder / "new.tmp")
    os.replace(folder / "new.tmp", folder / name)  # how a file is updated atomically
    after = lic_core.compress(image, model="hyperprior", quality=QUALITY)
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(b))
    assert after != before and after == lic_core.compress(image, model="hyperprior", quality=QUALITY)


def test_load_model_gives_a_model_of_ones_own_that_compress_does_not_share(two_folders, image,
                                                                            monkeypatch):
    from lic_core import api
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(two_folders[0]))
    data = lic_core.compress(image, model="hyperprior", quality=QUALITY)
    mine = api.load_model("hyperprior", QUALITY)
    assert mine is not api.load_model("hyperprior", QUALITY)
    assert mine.quality == QUALITY and not mine.training
    assert lic_core.compress(image, model=mine) == data  # the same weights
    with torch.no_grad():
        mine.g_a[0].weight.mul_(0.5)
    mine.train()
    assert lic_core.compress(image, model="hyperprior", quality=QUALITY) == data
    assert lic_core.decompress(data).shape == image.shape


def test_load_model_takes_a_name_and_an_int_quality():
    from lic_core import api
    with pytest.raises(InvalidArgumentError, match="zoo name"):
        api.load_model(_model(), QUALITY)
    with pytest.raises(InvalidArgumentError, match="quality"):
        api.load_model("hyperprior", None)
    with pytest.raises(InvalidArgumentError, match="int"):
        api.load_model("hyperprior", 2.0)


def test_random_model_is_seeded_has_tables_and_leaves_the_global_rng_alone(image):
    from lic_core import api
    state = torch.random.get_rng_state()
    first, second = api.random_model("factorized", seed=3), api.random_model("factorized", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert first.quality is None and not first.training
    data = lic_core.compress(image, model=first)
    assert data == lic_core.compress(image, model=second)
    assert lic_core.decompress(data, model=second).shape == image.shape
