"""Variable-rate zoo files (<name>-q<A>-<B>.safetensors): one model plus per-quality gains,
folded at load. They must list, load and round-trip like one-quality files, give the
same model as folding in memory, and refuse malformed gains with WeightsError."""
import math

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file, save_file  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core.training import variable_rate as vr  # noqa: E402
from lic_core.errors import InvalidArgumentError, WeightsError  # noqa: E402

QUALITIES = (2, 5, 8)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def _wrapper(name="hyperprior"):
    torch.manual_seed(0)
    w = vr.VariableRate(zoo.build(name, N=8, M=12), QUALITIES, lambda_ref=0.025)
    with torch.no_grad():  # distinct gains per channel, so a wrong row or axis shows
        w.log_gain.add_(0.1 * torch.randn_like(w.log_gain))
        w.log_inv_gain.add_(0.1 * torch.randn_like(w.log_inv_gain))
    return w


def _save(w, path, half=("g_a", "g_s")):
    # as the trainer writes it: no single quality, "lambda" the gains' reference
    zoo.save_weights(w.model, path, half=half, gains=(w.qualities, *w.gains()),
                     quality="", **{"lambda": 0.025})
    return path


@pytest.mark.parametrize("name", ["hyperprior", "joint", "factorized"])
def test_a_variable_rate_file_serves_each_listed_quality(weights_dir, name):
    w = _wrapper(name)
    _save(w, weights_dir / f"{name}-q2-8.safetensors")
    assert zoo.list_models()[name] == list(QUALITIES)
    x = torch.rand(1, 3, 64, 64)
    for q in QUALITIES:
        model = zoo.load(name, q)
        assert model.quality == q
        # the same model as folding the (float16-rounded) wrapper in memory
        ref = zoo.build(name, N=8, M=12)
        ref.load_state_dict(w.folded_state(q), strict=False)
        for key, value in ref.state_dict().items():
            if not key.endswith(("_cdf", "_cdf_length", "_offset")):
                assert torch.allclose(model.state_dict()[key], value, rtol=1e-6, atol=0), key
        data, x_hat = model.compress(x, return_x_hat=True)
        assert torch.equal(zoo.load(name, q).decompress(data), x_hat)
    # what ships of this family (issue 21 point 24)
    with pytest.raises(InvalidArgumentError,
                       match=rf"{name} ships qualities 2, 5, 8 in the weights release 'local'$"):
        zoo.load(name, 3)


def test_only_g_a_and_g_s_differ_between_qualities(weights_dir):
    """The gains reach the transforms and nothing else: the hyper networks and coding
    tables that decide how a stream is entropy-decoded are the same for every quality."""
    _save(_wrapper(), weights_dir / "hyperprior-q2-8.safetensors")
    low, high = (zoo.load("hyperprior", q).state_dict() for q in (2, 8))
    differ = {k for k in low if not torch.equal(low[k], high[k])}
    assert differ == {"g_a.6.weight", "g_a.6.bias", "g_s.0.weight"}


def test_a_one_quality_file_wins_over_a_variable_rate_file(weights_dir):
    w = _wrapper()
    _save(w, weights_dir / "hyperprior-q2-8.safetensors")
    single = zoo.build("hyperprior", N=8, M=12)
    zoo.save_weights(single, weights_dir / "hyperprior-q5.safetensors", quality=5)
    assert zoo.list_models()["hyperprior"] == [2, 5, 8]
    assert torch.equal(zoo.load("hyperprior", 5).g_a[6].weight, single.g_a[6].weight)


def test_load_file_needs_a_quality_for_a_variable_rate_file(tmp_path):
    path = _save(_wrapper(), tmp_path / "hyperprior-q2-8.safetensors")
    with pytest.raises(InvalidArgumentError, match="pass quality="):
        zoo.load_file(path)
    with pytest.raises(InvalidArgumentError, match="holds qualities"):
        zoo.load_file(path, quality=4)
    assert zoo.load_file(path, quality=8).M == 12


def test_loading_multiplies_the_stored_gains_and_nothing_else(tmp_path):
    w = _wrapper()
    path = _save(w, tmp_path / "hyperprior-q2-8.safetensors")
    model = zoo.load_file(path, quality=5)
    stored = load_file(str(path))
    assert stored["gain"].dtype == torch.float32 and "log_gain" not in stored
    assert torch.equal(model.g_a[6].bias, stored["model.g_a.6.bias"].float() * stored["gain"][1])
    assert torch.equal(model.g_s[0].weight,
                       stored["model.g_s.0.weight"].float() * stored["inv_gain"][1][:, None, None, None])
    assert zoo.read_metadata(path)["quality"] == ""


def _tampered(tmp_path, edit):
    path = _save(_wrapper(), tmp_path / "hyperprior-q2-8.safetensors")
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    edit(tensors, meta)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda t, m: t.__setitem__("gain", t["gain"][:2]), "qualities×M"),
    (lambda t, m: t.__setitem__("gain", t["gain"].double()), "float32"),
    (lambda t, m: t["gain"].__setitem__((1, 0), math.inf), "not finite"),
    (lambda t, m: t["inv_gain"].__setitem__((1, 3), math.nan), "not finite"),
    (lambda t, m: t["inv_gain"].__setitem__((1, 3), -1.0), "positive"),
    (lambda t, m: t.__setitem__("inv_gain", t["inv_gain"][:, :5]), "widths"),
    (lambda t, m: t.pop("inv_gain"), "missing"),
    (lambda t, m: t.__setitem__("stray", torch.zeros(1)), "unexpected"),
    (lambda t, m: m.pop("variable_rate"), "variable_rate"),
    (lambda t, m: m.__setitem__("variable_rate", "2,5,x"), "list qualities"),
    (lambda t, m: m.__setitem__("variable_rate", "2,5,11"), "invalid qualities"),
    # shapes that would make the fold broadcast or fail inside torch
    (lambda t, m: t.__setitem__("model.g_a.6.weight", t["model.g_a.6.weight"][:11]), "g_a.6"),
    (lambda t, m: t.__setitem__("model.g_a.6.bias", torch.zeros(12, 2)), "g_a.6.bias"),
    (lambda t, m: t.__setitem__("model.g_a.6.weight", torch.zeros(())), "g_a.6.weight"),
    (lambda t, m: t.__setitem__("model.g_a.6.weight", torch.zeros(12, 12)), "g_a.6.weight"),
    (lambda t, m: t.__setitem__("model.g_s.0.weight", torch.zeros(12, 8)), "g_s.0.weight"),
])
def test_malformed_variable_rate_files_are_refused_at_load(tmp_path, monkeypatch, edit, message):
    path = _tampered(tmp_path, edit)
    with pytest.raises((WeightsError, InvalidArgumentError), match=message):
        zoo.load_file(path, quality=5)
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))  # and through the zoo
    with pytest.raises((WeightsError, InvalidArgumentError), match=message):
        zoo.load("hyperprior", 5)


def test_a_truncated_variable_rate_file_in_the_zoo_is_named_not_hidden(weights_dir):
    path = _save(_wrapper(), weights_dir / "hyperprior-q2-8.safetensors")
    path.write_bytes(path.read_bytes()[:1000])
    assert zoo.list_models()["hyperprior"] == list(range(2, 9))  # as its name promises
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        zoo.load("hyperprior", 5)


def test_save_refuses_gains_a_loader_would_refuse(tmp_path):
    w = _wrapper()
    gain, inv = w.gains()
    with pytest.raises(InvalidArgumentError, match="increasing"):
        zoo.save_weights(w.model, tmp_path / "x.safetensors", gains=((5, 2, 8), gain, inv))
    with pytest.raises(InvalidArgumentError, match="positive"):
        zoo.save_weights(w.model, tmp_path / "x.safetensors", gains=(QUALITIES, -gain, inv))
    with pytest.raises(InvalidArgumentError, match="3×12"):
        zoo.save_weights(w.model, tmp_path / "x.safetensors", gains=(QUALITIES, gain[:, :4], inv))


def test_a_variable_rate_file_is_an_init_for_more_training(tmp_path):
    """read_init turns the stored gains back into the logarithms training learns."""
    from lic_core.training.warm_start import copy_matching, read_init
    w = _wrapper()
    path = _save(w, tmp_path / "hyperprior-q2-8.safetensors")
    state, meta = read_init(str(path))
    assert meta["variable_rate"] == "2,5,8"
    assert torch.allclose(state["log_gain"], w.log_gain.detach(), atol=1e-6)
    again = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), QUALITIES, lambda_ref=0.025)
    copied, skipped = copy_matching(again, state)
    assert set(vr.GAIN_KEYS) <= set(copied)
    assert all(k.endswith(("_cdf", "_cdf_length", "_offset")) for k in skipped)  # rebuilt later
