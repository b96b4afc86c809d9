"""Widening a trained hyperprior's latent (lic_core.training.widen): the wider model codes and
reconstructs exactly as before until training makes the new channels useful."""
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import lic_core.zoo as zoo  # noqa: E402
from lic_core.training import variable_rate as vr  # noqa: E402
from lic_core.training.warm_start import copy_matching, read_init  # noqa: E402
from lic_core.errors import InvalidArgumentError  # noqa: E402
from lic_core.testing import tiny_model  # noqa: E402
from lic_core.training.widen import widen_hyperprior  # noqa: E402


def _trained_like(M=12):
    # latents of a few units, as in a trained model
    model = tiny_model("hyperprior", N=8, M=M, gains={"g_a": 20.0}, fresh=True)
    w = vr.VariableRate(model, (1, 4, 8), lambda_ref=0.013)
    with torch.no_grad():  # gains well above 1 (q8): small new latents would round to ±1
        w.log_gain.add_(1.0)
    return w


def _code(state, M, q):
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=M), (1, 4, 8), lambda_ref=0.013)
    copy_matching(w, state)
    model = zoo.build("hyperprior", N=8, M=M)
    copy_matching(model, w.folded_state(q))
    model.update(force=True)
    model.eval()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 64, 64)
    data, x_hat = model.compress(x, return_x_hat=True)
    return model, data, x_hat


@pytest.mark.parametrize("q", [1, 8])
def test_a_widened_model_reconstructs_exactly_as_before(q):
    w = _trained_like()
    state = w.state_dict()
    wide = widen_hyperprior(state, 20)
    assert wide["log_gain"].shape == (3, 20) and wide["model.h_a.0.weight"].shape[1] == 20
    _, data, x_hat = _code(state, 12, q)
    model, wide_data, wide_x_hat = _code(wide, 20, q)
    assert torch.equal(wide_x_hat, x_hat)
    y = model.g_a(torch.rand(1, 3, 64, 64))
    assert torch.count_nonzero(y[:, 12:]) == 0  # the new channels start switched off
    assert torch.equal(model.decompress(wide_data), wide_x_hat)


def test_only_a_wider_hyperprior_is_accepted():
    state = _trained_like().state_dict()
    with pytest.raises(InvalidArgumentError, match="must exceed"):
        widen_hyperprior(state, 12)
    with pytest.raises(InvalidArgumentError, match="scale-hyperprior"):
        widen_hyperprior({"x": torch.zeros(1)}, 20)


def test_the_tool_writes_an_init_file_for_lic_train(tmp_path):
    src = tmp_path / "wrapper-q1-8.safetensors"
    w = _trained_like()
    zoo.save_weights(w.model, src, gains=(w.qualities, *w.gains()), quality="",
                     **{"lambda": 0.013})
    path = Path(__file__).resolve().parents[2] / "tools" / "widen_latents.py"
    spec = importlib.util.spec_from_file_location("widen_latents", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dst = tmp_path / "wide.safetensors"
    assert tool.main([str(src), str(dst), "--M", "16"]) == 0
    meta = zoo.read_metadata(dst)
    assert meta["M"] == "16" and meta["variable_rate"] == "1,4,8" and "widened to M=16" in meta[
        "training_chain"]
    state, _ = read_init(str(dst))
    assert state["log_gain"].shape == (3, 16)
    # a training checkpoint: its qualities come from the run's config, not a guess
    ck = tmp_path / "ck.pt"
    torch.save({"model": w.state_dict(), "step": 7,
                "config": '{"qualities": [1, 4, 8], "lambda_ref": 0.013}'}, ck)
    assert tool.main([str(ck), str(dst), "--M", "16"]) == 0
    meta = zoo.read_metadata(dst)
    assert meta["variable_rate"] == "1,4,8" and meta["steps_total"] == "7"
    assert meta["training_chain"] == "checkpoint ck.pt (7 steps) -> widened to M=16"
    # a one-quality file (no "model." prefix, no gains) widens too, and says no qualities
    one = tmp_path / "hyperprior-q4.safetensors"
    zoo.save_weights(w.model, one, quality=4)
    assert tool.main([str(one), str(dst), "--M", "16"]) == 0
    assert "variable_rate" not in zoo.read_metadata(dst)
    assert read_init(str(dst))[0]["g_a.6.weight"].shape[0] == 16
