"""tools/graft_modules.py: newer transforms grafted onto a fitted joint model, as a training
--init (how the joint family follows the hyperprior's transforms without a refit from
scratch)."""
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import lic_core.zoo as zoo  # noqa: E402
from lic_core.training import variable_rate as vr  # noqa: E402
from lic_core.training.warm_start import copy_matching, read_init  # noqa: E402


def _tool():
    path = Path(__file__).resolve().parents[2] / "tools" / "graft_modules.py"
    spec = importlib.util.spec_from_file_location("graft_modules", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _save(tmp_path, name, arch, seed, chain, steps_total, M=12, qualities=(1, 4, 8)):
    torch.manual_seed(seed)
    w = vr.VariableRate(zoo.build(arch, N=8, M=M), qualities, lambda_ref=0.013)
    with torch.no_grad():
        w.log_gain.add_(0.1 * seed)
    path = tmp_path / f"{name}.safetensors"
    zoo.save_weights(w.model, path, gains=(w.qualities, *w.gains()), quality="",
                     training_chain=chain, steps_total=steps_total, **{"lambda": 0.013})
    return path


def test_the_graft_takes_the_named_modules_from_the_donor_and_the_rest_from_the_base(tmp_path):
    hp_chain = "hyperprior variable-rate q1-8:100 steps"
    base = _save(tmp_path, "joint", "joint", 1,
                 hp_chain + " -> joint variable-rate q1-8:30 steps (g_a,g_s,gains frozen)", 130)
    donor = _save(tmp_path, "hp2", "hyperprior", 2,
                  hp_chain + " -> hyperprior variable-rate q1-8:50 steps", 150)
    dst = tmp_path / "grafted.safetensors"
    assert _tool().main([str(base), str(donor), str(dst), "--modules", "g_a,g_s,gains"]) == 0
    out, meta = read_init(str(dst))
    b, _ = read_init(str(base))
    d, _ = read_init(str(donor))
    assert set(out) == set(b)  # the architecture is the base's
    for k in out:
        src = d if k.startswith(("model.g_a.", "model.g_s.")) or k in vr.GAIN_KEYS else b
        assert torch.equal(out[k], src[k]), k
    assert any(k.startswith("model.context_prediction.") for k in out)
    # the chain starts from the donor's and counts the carried-over networks' own steps once
    assert meta["training_chain"].startswith(hp_chain + " -> hyperprior variable-rate q1-8:50 steps -> ")
    assert "carried over from [joint.safetensors, where they were trained by: joint " \
           "variable-rate q1-8:30 steps" in meta["training_chain"]
    assert meta["steps_total"] == "180" and meta["variable_rate"] == "1,4,8"
    # and it is a valid --init: a joint wrapper takes every parameter (the coding tables,
    # rebuilt by update(), are the only tensors left behind)
    w = vr.VariableRate(zoo.build("joint", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
    copied, skipped = copy_matching(w, out)
    assert {name for name, _ in w.named_parameters()} <= set(copied)
    assert all(k.endswith(("_cdf_length", "_offset", "_quantized_cdf")) for k in skipped)


def test_a_graft_never_changes_the_architecture(tmp_path):
    tool = _tool()
    base = _save(tmp_path, "joint", "joint", 1, "a:1 steps", 1)
    wide = _save(tmp_path, "wide", "hyperprior", 2, "a:1 steps", 1, M=16)
    with pytest.raises(SystemExit, match="BASE .* vs DONOR"):
        tool.main([str(base), str(wide), str(tmp_path / "x.safetensors"), "--modules", "g_a"])
    donor = _save(tmp_path, "hp", "hyperprior", 2, "a:1 steps", 1)
    with pytest.raises(SystemExit, match="DONOR has no tensor under context_prediction"):
        tool.main([str(base), str(donor), str(tmp_path / "x.safetensors"),
                   "--modules", "context_prediction"])
    other = _save(tmp_path, "hp48", "hyperprior", 2, "a:1 steps", 1, qualities=(4, 8))
    with pytest.raises(SystemExit):  # gains for other qualities
        tool.main([str(base), str(other), str(tmp_path / "x.safetensors"), "--modules", "g_a"])


def test_the_chain_counts_what_the_base_trained_after_the_shared_stages():
    tool = _tool()
    base = ("hyperprior variable-rate q1-8:100 steps, gains folded for q1 -> "
            "factorized@lambda=0.0018:30 steps (g_a,g_s frozen)")
    donor = "hyperprior variable-rate q1-8:100 steps -> hyperprior variable-rate q1-8:50 steps, " \
            "gains folded for q1"
    carried = tool.carried_stages(base, donor)
    assert carried == ["factorized@lambda=0.0018:30 steps (g_a,g_s frozen)"]
    assert [tool.stage_steps(s) for s in carried] == [30]
    assert tool.carried_stages("a:1 steps -> b:2 steps", "c:3 steps") == []  # nothing shared


def test_a_folded_quality_file_is_grafted_onto_a_one_quality_model(tmp_path):
    """A quality's folded hyperprior file still names its variable-rate run in its metadata;
    the tensors (no gains on either side) decide that it fits a factorized file."""
    tool = _tool()
    torch.manual_seed(0)
    fact = tmp_path / "factorized-q1.safetensors"
    zoo.save_weights(zoo.build("factorized", N=8, M=12), fact, quality=1,
                     training_chain="hp:10 steps, gains folded for q1 -> factorized:5 steps",
                     steps_total=15)
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
    model = zoo.build("hyperprior", N=8, M=12)
    copy_matching(model, w.folded_state(1))
    folded = tmp_path / "hyperprior-q1.safetensors"
    zoo.save_weights(model, folded, quality=1, variable_rate="1,4,8", steps_total=20,
                     training_chain="hp:10 steps -> hp:10 steps, gains folded for q1")
    dst = tmp_path / "init.safetensors"
    assert tool.main([str(fact), str(folded), str(dst), "--modules", "g_a,g_s"]) == 0
    out, meta = read_init(str(dst))
    assert torch.equal(out["g_a.0.weight"], model.state_dict()["g_a.0.weight"])
    assert meta["steps_total"] == "25"
    # a variable-rate donor for a one-quality base: its gains would have nowhere to go
    vr_file = _save(tmp_path, "hp-vr", "hyperprior", 2, "hp:10 steps", 10)
    with pytest.raises(SystemExit):
        tool.main([str(fact), str(vr_file), str(dst), "--modules", "g_a,g_s"])


def test_grafted_gains_bring_the_donors_qualities(tmp_path):
    """How zoo-v5's joint networks (fitted for 1-8) moved onto transforms trained for
    1-10: the gains' rows, and the quality list in the metadata, are the donor's."""
    base = _save(tmp_path, "joint", "joint", 1, "j", 10, qualities=(1, 4, 8))
    donor = _save(tmp_path, "hp", "hyperprior", 2, "h", 20, qualities=(1, 4, 8, 10))
    dst = tmp_path / "grafted.safetensors"
    assert _tool().main([str(base), str(donor), str(dst), "--modules", "g_a,g_s,gains"]) == 0
    out, meta = read_init(str(dst))
    d, _ = read_init(str(donor))
    assert all(torch.equal(out[k], d[k]) for k in vr.GAIN_KEYS)
    assert meta["variable_rate"] == "1,4,8,10"
    w = vr.VariableRate(zoo.build("joint", N=8, M=12), (1, 4, 8, 10), lambda_ref=0.013)
    copied, _ = copy_matching(w, out)
    assert set(vr.GAIN_KEYS) <= set(copied)
    # without the gains, a graft between different quality lists is still refused
    with pytest.raises(SystemExit):
        _tool().main([str(base), str(donor), str(tmp_path / "x.safetensors"), "--modules", "g_a,g_s"])
