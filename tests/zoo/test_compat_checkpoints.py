"""CompressAI checkpoints code as CompressAI does (issue 13, points 9 and 10).

* Point 9: a checkpoint saved before ``update()`` (table buffers of shape (0,), empty
  ``scale_table``: what CompressAI writes during training) loads through
  ``from_compressai`` and gets the tables CompressAI's ``update(force=True)`` builds. The
  fixtures' tables and strings were recorded with CompressAI 1.2.8 after exactly that call
  (tests/fixtures/compat_models, see shared/compat/README.md), so stripping their tables
  and loading must give them back byte for byte.
* Point 10: models from ``from_compressai`` run g_a and g_s in CompressAI's layout
  (contiguous NCHW), not channels-last, so on one machine their latents, strings and
  decoded images are the floats and bytes CompressAI computes with the same weights.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from safetensors.torch import load_file, save_file  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core import tables  # noqa: E402
from lic_core.errors import WeightsError  # noqa: E402
from lic_core.models.entropy_models import TABLE_BUFFERS, EntropyBottleneck  # noqa: E402
from lic_core.testing import tiny_model  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat_models"
CLASSES = {"FactorizedPrior": "factorized", "ScaleHyperprior": "hyperprior",
           "MeanScaleHyperprior": "mean-scale", "JointAutoregressiveHierarchicalPriors": "joint"}
ENTROPY_MODELS = ("entropy_bottleneck", "gaussian_conditional")


# the fixtures' floats were recorded with one torch thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _io(cls):
    return np.load(FIXTURES / f"{cls}_io.npz", allow_pickle=False)


def _table_keys(state):
    return [k for k in state if k.endswith(TABLE_BUFFERS) or k.endswith("scale_table")]


def _before_update(state, how):
    """``state`` as CompressAI saves it before update(): "empty" gives every table buffer
    shape (0,) (int32 tables, float32 scale table, as CompressAI registers them), "absent"
    drops them (an export that skipped buffers)."""
    out = dict(state)
    for key in _table_keys(state):
        if how == "absent":
            del out[key]
        else:
            out[key] = torch.zeros(0, dtype=state[key].dtype)
    return out


# ----------------------------------------------------------------- point 9
@pytest.mark.parametrize("how", ["empty", "absent"])
@pytest.mark.parametrize("cls", list(CLASSES))
def test_checkpoint_saved_before_update_gets_compressai_tables_and_strings(cls, how):
    recorded = load_file(str(FIXTURES / f"{cls}.safetensors"))
    model = zoo.from_compressai(CLASSES[cls], _before_update(recorded, how))
    rebuilt = model.state_dict()
    keys = _table_keys(recorded)
    assert any(k.endswith("_quantized_cdf") for k in keys)
    for key in keys:
        assert rebuilt[key].dtype == recorded[key].dtype, key
        assert torch.equal(rebuilt[key], recorded[key]), key  # scale_table: bit for bit
    io = _io(cls)
    out = model.compress_strings(torch.from_numpy(io["x"]))
    for k in range(len(model.stream_names)):
        assert out["strings"][k] == [io[f"strings_{k}_0"].tobytes()], f"stream {k}"


def test_checkpoint_file_saved_before_update_loads(tmp_path):
    cls = "MeanScaleHyperprior"
    path = tmp_path / "training.safetensors"
    save_file(_before_update(load_file(str(FIXTURES / f"{cls}.safetensors")), "empty"), str(path))
    model = zoo.from_compressai(CLASSES[cls], path)
    io = _io(cls)
    assert model.compress_strings(torch.from_numpy(io["x"]))["strings"][0] == [
        io["strings_0_0"].tobytes()]


def test_update_force_replaces_a_checkpoint_scale_table_as_compressai_does():
    # CompressAI's update(force=True) installs its default scale table whatever the module
    # held, so a checkpoint without tables codes with the default one.
    cls = "ScaleHyperprior"
    recorded = load_file(str(FIXTURES / f"{cls}.safetensors"))
    state = _before_update(recorded, "empty")
    state["gaussian_conditional.scale_table"] = torch.linspace(0.2, 100.0, 10)
    model = zoo.from_compressai(CLASSES[cls], state)
    for key in _table_keys(recorded):
        assert torch.equal(model.state_dict()[key], recorded[key]), key


def test_partly_saved_tables_are_refused():
    cls = "ScaleHyperprior"
    state = dict(load_file(str(FIXTURES / f"{cls}.safetensors")))
    state["entropy_bottleneck._quantized_cdf"] = torch.zeros(0, dtype=torch.int32)
    with pytest.raises(WeightsError, match="only part of its coding tables"):
        zoo.from_compressai(CLASSES[cls], state)


def _spec_bottleneck_tables(eb):
    """SPEC §4 (CompressAI 1.2.8's EntropyBottleneck.update()) written out plainly: float32
    grid, p = σ(F(v+½)) − σ(F(v−½)) without any sign trick, tails from the first and the
    last grid column, each row quantised by CompressAI's pmf_to_quantized_cdf."""
    q = eb.quantiles.detach()
    median = q[:, 0, 1]
    below = torch.clamp(torch.ceil(median - q[:, 0, 0]).int(), min=0)
    above = torch.clamp(torch.ceil(q[:, 0, 2] - median).int(), min=0)
    n = below + above + 1
    width = int(n.max())
    v = torch.arange(width)[None, :] + (median - below)[:, None, None]
    with torch.no_grad():
        lower = eb._logits_cumulative(v - 0.5, stop_gradient=True)
        upper = eb._logits_cumulative(v + 0.5, stop_gradient=True)
    pmf = (torch.sigmoid(upper) - torch.sigmoid(lower))[:, 0, :]
    tail = torch.sigmoid(lower[:, 0, 0]) + torch.sigmoid(-upper[:, 0, -1])
    cdfs = np.zeros((eb.channels, width + 2), dtype=np.int32)
    for c in range(eb.channels):
        row = torch.cat((pmf[c, :n[c]], tail[c:c + 1])).numpy().astype(np.float64)
        cdf = tables.pmf_to_quantized_cdf(row, 16, method="compressai")
        cdfs[c, :len(cdf)] = cdf
    return cdfs, (n + 2).numpy().astype(np.int32), (-below).numpy().astype(np.int32)


@pytest.mark.parametrize("seed", [1, 5, 6])
def test_compressai_bottleneck_tables_follow_compressai_arithmetic(seed):
    # Random densities and supports: the sign trick our likelihood uses moves a quantised
    # entry in about 3% of such channels, so each seed has at least one channel where the
    # two evaluations of the same pmf quantise differently.
    g = torch.Generator().manual_seed(seed)
    eb = EntropyBottleneck(64)
    with torch.no_grad():
        for p in eb.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.5)
        median = torch.randn(64, generator=g) * 3
        eb.quantiles[:, 0, 1] = median
        eb.quantiles[:, 0, 0] = median - torch.rand(64, generator=g) * 20
        eb.quantiles[:, 0, 2] = median + torch.rand(64, generator=g) * 20
    assert eb.update(force=True, method="compressai")
    for ours, spec in zip(eb.tables(), _spec_bottleneck_tables(eb)):
        np.testing.assert_array_equal(ours, spec)


# ----------------------------------------------------------------- point 10
def _wide_compressai_model():
    """A factorized CompressAI checkpoint wide enough (N=32, M=48) that oneDNN's
    channels-last and NCHW kernels sum g_a's convolutions differently (measured up to
    1.7e-6 here; N=16 fixtures agree either way)."""
    # latents that are not all zero, as in the fixtures
    source = tiny_model("factorized", N=32, M=48, gains={"g_a": 10.0}, fresh=True)
    source.update(force=True, method="compressai")
    return zoo.from_compressai("factorized", source.state_dict())


def test_compressai_checkpoints_run_transforms_as_compressai_does():
    model = _wide_compressai_model()
    x = torch.from_numpy(_io("ScaleHyperprior")["x"])  # 1×3×64×128 Kodak crop
    with torch.no_grad():
        # CompressAI's compress(): y = self.g_a(x) on the NCHW input, then the bottleneck
        y = model.g_a(x)
        strings = model.entropy_bottleneck.compress(y, stream_format="compressai")
        x_hat = model.g_s(model.entropy_bottleneck.decompress(strings, y.shape[-2:],
                                                              stream_format="compressai"))
        assert torch.equal(model.analysis(x), y)
    out = model.compress_strings(x)
    assert out["strings"] == [strings]
    decoded = model.decompress_strings(out["strings"], out["shape"])["x_hat"]
    assert torch.equal(decoded, x_hat.clamp(0, 1))
    assert model.compressai_numerics


def test_zoo_models_keep_channels_last_transforms():
    # native streams of zoo weights must not change: only from_compressai switches layout
    assert not zoo.build("factorized", N=8, M=8).compressai_numerics


def test_fixture_metadata_lists_every_table_key():
    # the stripping above covers every table buffer CompressAI saves
    for cls in CLASSES:
        meta = json.loads((FIXTURES / f"{cls}.json").read_text())
        listed = {e["key"] for e in meta["state_dict"]}
        state = load_file(str(FIXTURES / f"{cls}.safetensors"))
        assert set(_table_keys(state)) == {k for k in listed
                                           if k.endswith(TABLE_BUFFERS) or k.endswith("scale_table")}
