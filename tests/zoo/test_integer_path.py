"""The integer probability path of the hyperprior families (lic_core.zoo.integer,
docs/integer.md): conversion, coding, the container's record of it, hostile weights."""
import dataclasses

import numpy as np
import pytest
import torch

import lic_core
from lic_core import container, zoo
from lic_core.errors import WeightsError
from lic_core.testing import LIVELY, tiny_model
from lic_core.zoo.integer import IntegerPrior, convert
from lic_core.zoo.release import release_label


def _image(h=70, w=90, seed=3):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear").clamp(0, 1)


def _random_model(name, seed=0):
    """Latents that are not all zero; the caller's own copy (conversion changes it)."""
    return tiny_model(name, seed, gains=LIVELY, fresh=True)


@pytest.fixture(scope="module", params=["hyperprior", "mean-scale", "joint"])
def converted(request):
    model = _random_model(request.param)
    float_model = _random_model(request.param)
    with torch.no_grad():
        convert(model, [_image(), _image(64, 64, seed=5)])
    return model, float_model


def test_conversion_attaches_integer_tensors_of_the_right_dtypes(converted):
    model, _ = converted
    assert isinstance(model.integer, IntegerPrior)
    state = model.state_dict()
    keys = [k for k in state if k.startswith("integer.")]
    assert keys and all(state[k].dtype in (torch.int16, torch.int32, torch.uint8) for k in keys)
    assert model.probability_path == container.EXACT_PATH


def test_a_converted_model_round_trips_and_records_the_exact_path(converted):
    model, _ = converted
    x = _image(61, 83, seed=9)
    data, x_hat = model.compress(x, return_x_hat=True)
    f = container.unpack(data)
    assert (f.version, f.probability_path) == (3, container.EXACT_PATH)
    assert f.weights_fingerprint == model.decoder_fingerprint()
    assert torch.equal(model.decompress(data), x_hat)


@torch.no_grad()
def test_the_integer_tables_are_those_of_the_float_networks_almost_everywhere(converted):
    # the conversion is an approximation of the float h_s: most table indexes agree, and
    # the ones that do not are neighbours (what keeps its rate cost small)
    model, float_model = converted
    x = model.pad(_image(64, 128, seed=11))
    y = model.analysis(x)
    z = model.h_a(model.hyper_analysis_input(y))
    _, z_symbols, z_hat = model._encode_z(z, "native")
    if model.name == "joint":
        params_float = model.h_s(z_hat)
        params_int = model.integer.hyper_output(z_symbols).astype(np.float64)
        scale = 2.0 ** -float(np.log2(np.abs(params_int).max() / params_float.abs().max().item()))
        err = np.abs(params_int * scale - params_float[0].permute(1, 2, 0).numpy())
        assert float(err.max()) < 0.05 * float(params_float.abs().max())
        return
    int_indexes, _ = model._indexes_and_means(z_symbols, z_hat)
    scales, _ = float_model.gaussian_parameters(z_hat)
    float_indexes = float_model.gaussian_conditional.build_indexes(scales)[0]
    assert float((int_indexes == float_indexes).mean()) > 0.95
    assert int(np.abs(int_indexes.astype(int) - float_indexes).max()) <= 1


def test_compressai_string_layout_works_on_the_integer_path(converted):
    model, _ = converted
    x = _image(64, 64, seed=2)
    out = model.compress_strings(x, stream_format="compressai")
    back = model.decompress_strings(out["strings"], out["shape"], stream_format="compressai")
    _, x_hat = model.compress(x, return_x_hat=True)
    assert torch.equal(back["x_hat"], x_hat)


def test_a_file_of_the_float_path_is_refused_by_the_integer_model(converted):
    model, float_model = converted
    data = float_model.compress(_image(), return_x_hat=False)
    # the fingerprint agreeing (a forger's copy of it), the probability path still refuses
    forged = container.pack(dataclasses.replace(container.unpack(data),
                                                weights_fingerprint=model.decoder_fingerprint()))
    with pytest.raises(WeightsError, match="float32 networks"):
        model.decompress(forged)


def test_the_factorized_model_decodes_either_path_value():
    model = zoo.load("factorized", 1, release="zoo-v4")  # float synthesis: formats 2 and 3
    x = _image()
    data = model.compress(x)
    assert container.unpack(data).probability_path == container.EXACT_PATH
    old = container.pack(dataclasses.replace(container.unpack(data), version=2,
                                             probability_path=container.FLOAT_PATH))
    assert torch.equal(model.decompress(old), model.decompress(data))


def test_shipped_zoo_v4_models_carry_the_integer_path_and_zoo_v3_ones_do_not():
    for name in ("hyperprior", "joint"):
        assert zoo.load(name, 2).integer is not None
        assert zoo.load(name, 2, release="zoo-v3").integer is None
    assert zoo.load("factorized", 2).integer is None


# --------------------------------------------------------------------------- hostile files

@pytest.fixture(scope="module")
def weight_file(tmp_path_factory, converted):
    model, _ = converted
    path = tmp_path_factory.mktemp("w") / f"{model.name}.safetensors"
    zoo.save_weights(model, path)
    return path


def _rewrite(path, out, change):
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(out), metadata=meta)
    return out


def test_a_saved_converted_model_loads_with_its_integer_path(weight_file, converted):
    model, _ = converted
    loaded = zoo.load_file(weight_file)
    assert loaded.integer is not None
    assert loaded.decoder_fingerprint() == model.decoder_fingerprint()


@pytest.mark.parametrize("change, message", [
    (lambda t: t.__setitem__("integer.z_frac", torch.tensor([40], dtype=torch.int32)), "z_frac is 40"),
    (lambda t: t.__setitem__("integer.scale_thresholds", t["integer.scale_thresholds"].flip(0)),
     "increase strictly"),
    (lambda t: t.__setitem__("integer.scale_thresholds", t["integer.scale_thresholds"][:5]),
     "scale_thresholds has 5 entries"),
    (lambda t: t.__setitem__("integer.layers.h_s_0.shift",
                             torch.full_like(t["integer.layers.h_s_0.shift"], 40)), "shift exceeds 31"),
    (lambda t: t.__setitem__("integer.layers.h_s_0.weight",
                             t["integer.layers.h_s_0.weight"].to(torch.int64) * 100000), "outside"),
    (lambda t: t.pop("integer.layers.h_s_0.bias"), "missing"),
])
def test_hostile_integer_tensors_are_refused_naming_them(tmp_path, weight_file, change, message):
    bad = _rewrite(weight_file, tmp_path / "bad.safetensors", change)
    with pytest.raises(WeightsError, match=message):
        zoo.load_file(bad)


def test_integer_tensors_on_a_model_without_a_probability_network_are_refused(tmp_path):
    model = zoo.load("factorized", 1)
    path = tmp_path / "f.safetensors"
    zoo.save_weights(model, path)
    bad = _rewrite(path, tmp_path / "bad.safetensors",
                   lambda t: t.__setitem__("integer.z_frac", torch.zeros(1, dtype=torch.int32)))
    with pytest.raises(WeightsError, match="no probability network"):
        zoo.load_file(bad)


def test_lic_compress_of_a_shipped_model_decodes_under_its_own_release():
    image = (np.asarray(_image(40, 56)[0].permute(1, 2, 0)) * 255).astype(np.uint8)
    for name in ("hyperprior", "joint"):
        data = lic_core.compress(image, name, 4)
        assert container.unpack(data).weights_release == release_label()
        assert lic_core.decompress(data).shape == image.shape


def test_a_model_can_go_back_to_the_float_path():
    # zoo-v4 is zoo-v3's float tensors plus the integer ones: without them, it is zoo-v3
    model = zoo.load("hyperprior", 2, release="zoo-v4")
    fingerprint = model.decoder_fingerprint()
    model.attach_integer_prior(None)
    assert model.integer is None and model.probability_path == container.FLOAT_PATH
    assert not any(k.startswith("integer.") for k in model.state_dict())
    assert model.decoder_fingerprint() == zoo.load("hyperprior", 2, release="zoo-v3").decoder_fingerprint()
    assert model.decoder_fingerprint() != fingerprint
