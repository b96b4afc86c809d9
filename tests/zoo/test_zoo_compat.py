"""CompressAI 1.2.8 compatibility of the zoo, against checkpoints and outputs recorded with
CompressAI (tests/fixtures/compat_models, copied from shared/compat/models; see its README).

Float comparisons use atol 1e-5: CompressAI's floats are bit-exact only for one thread.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import lic_core.zoo as zoo  # noqa: E402
from lic_core.errors import WeightsError  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat_models"
CLASSES = {"FactorizedPrior": "factorized", "ScaleHyperprior": "hyperprior",
           "MeanScaleHyperprior": "mean-scale", "JointAutoregressiveHierarchicalPriors": "joint"}
NON_AR = ["FactorizedPrior", "ScaleHyperprior", "MeanScaleHyperprior"]
ATOL = 1e-5


def _io(cls):
    return np.load(FIXTURES / f"{cls}_io.npz", allow_pickle=False)


def _meta(cls):
    return json.loads((FIXTURES / f"{cls}.json").read_text())


def _model(cls):
    return zoo.from_compressai(CLASSES[cls], FIXTURES / f"{cls}.safetensors")


def _strings(io, n_streams):
    return [[io[f"strings_{k}_0"].tobytes()] for k in range(n_streams)]


class _Recorder:
    """Records (symbols, indexes) handed to each entropy model's coder, in call order."""

    def __init__(self, model):
        self.calls = {}
        for attr in ("entropy_bottleneck", "gaussian_conditional"):
            module = getattr(model, attr, None)
            if module is None:
                continue
            original = module.encode_symbols

            def record(symbols, indexes, stream_format="native", _orig=original, _attr=attr):
                self.calls[_attr] = (np.asarray(symbols).reshape(-1).copy(),
                                     np.asarray(indexes).reshape(-1).copy())
                return _orig(symbols, indexes, stream_format)

            module.encode_symbols = record


# the fixtures' floats were recorded with one torch thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("cls", list(CLASSES))
def test_state_dict_keys_shapes_and_dtypes_equal_compressai(cls):
    meta = _meta(cls)
    model = zoo.build(CLASSES[cls], N=meta["N"], M=meta["M"])
    ours = {k: (list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()}
    theirs = {e["key"]: (e["shape"], e["dtype"]) for e in meta["state_dict"]}
    assert set(ours) == set(theirs)
    for key, (shape, dtype) in theirs.items():
        assert ours[key][1] == dtype, key
        if not key.endswith(("_quantized_cdf", "_cdf_length", "_offset")):
            assert ours[key][0] == shape, key


@pytest.mark.parametrize("cls", list(CLASSES))
def test_from_compressai_gives_the_same_forward_outputs(cls):
    io = _io(cls)
    model = _model(cls)
    assert (model.N, model.M) == (16, 24) and model.quality is None
    with torch.no_grad():
        out = model(torch.from_numpy(io["x"]))
    np.testing.assert_allclose(out["x_hat"].numpy(), io["x_hat_forward"], atol=ATOL)
    for name, value in out["likelihoods"].items():
        np.testing.assert_allclose(value.numpy(), io[f"likelihoods_{name}"], atol=ATOL)


@pytest.mark.parametrize("cls", list(CLASSES))
def test_coder_inputs_and_strings_are_compressai_byte_for_byte(cls):
    io = _io(cls)
    model = _model(cls)
    recorder = _Recorder(model)
    out = model.compress_strings(torch.from_numpy(io["x"]))
    assert tuple(out["shape"]) == tuple(int(v) for v in io["shape"])
    names = {"y": "gaussian_conditional" if cls != "FactorizedPrior" else "entropy_bottleneck",
             "z": "entropy_bottleneck"}
    for k, latent in enumerate(model.stream_names):
        symbols, indexes = recorder.calls[names[latent]]
        np.testing.assert_array_equal(symbols, io[f"coder_{latent}_symbols"])
        np.testing.assert_array_equal(indexes, io[f"coder_{latent}_indexes"])
        assert out["strings"][k][0] == io[f"strings_{k}_0"].tobytes()


@pytest.mark.parametrize("cls", NON_AR)
def test_decompress_strings_decodes_compressai_strings(cls):
    io = _io(cls)
    model = _model(cls)
    out = model.decompress_strings(_strings(io, len(model.stream_names)), tuple(io["shape"]))
    np.testing.assert_allclose(out["x_hat"].numpy(), io["x_hat_decompress"], atol=ATOL)


@pytest.mark.parametrize("cls", NON_AR)
def test_eval_forward_is_compressai_decoded_image(cls):
    io = _io(cls)
    with torch.no_grad():
        x_hat = _model(cls)(torch.from_numpy(io["x"]))["x_hat"].clamp(0, 1)
    np.testing.assert_allclose(x_hat.numpy(), io["x_hat_decompress"], atol=ATOL)


def test_joint_model_reconstructs_what_compressai_reconstructs():
    cls = "JointAutoregressiveHierarchicalPriors"
    io = _io(cls)
    model = _model(cls)
    x = torch.from_numpy(io["x"])
    data, x_hat_encoder = model.compress(x, return_x_hat=True)
    x_hat = model.decompress(data)
    assert torch.equal(x_hat, x_hat_encoder)
    np.testing.assert_allclose(x_hat.numpy(), io["x_hat_decompress"], atol=ATOL)
    # CompressAI's own strings decode too (raster order, its stream format).
    out = model.decompress_strings(_strings(io, 2), tuple(io["shape"]))
    np.testing.assert_allclose(out["x_hat"].numpy(), io["x_hat_decompress"], atol=ATOL)


@pytest.mark.parametrize("cls", list(CLASSES))
def test_update_with_compressai_method_rebuilds_compressai_tables_exactly(cls):
    model = _model(cls)
    saved = {k: v.clone() for k, v in model.state_dict().items()
             if k.endswith(("_quantized_cdf", "_cdf_length", "_offset"))}
    assert model.update(force=True, method="compressai")
    for key, value in saved.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_old_checkpoint_keys_are_renamed_as_compressai_does():
    cls = "FactorizedPrior"
    from safetensors.torch import load_file
    state = load_file(str(FIXTURES / f"{cls}.safetensors"))
    old = {}
    for key, value in state.items():
        for kind in ("matrices", "biases", "factors"):
            key = key.replace(f"entropy_bottleneck.{kind}.", f"entropy_bottleneck._{kind}.")
        old["module." + key] = value
    model = zoo.from_compressai("bmshj2018-factorized", old)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_checkpoint_of_another_architecture_is_refused():
    with pytest.raises(WeightsError):
        zoo.from_compressai("hyperprior", FIXTURES / "FactorizedPrior.safetensors")
