"""tools/export_space_channel.py: the space-channel family's variable-rate file, assembled
from a joint variable-rate file (gains, transforms, the frozen parts) and a
tools/train_prior.py checkpoint (the trained prior), on tiny models (N=8, M=12)."""
import importlib.util
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lic_core.models.entropy_models import TABLE_BUFFERS  # noqa: E402
from lic_core.testing import LIVELY, tiny_model  # noqa: E402
from lic_core.zoo import save_weights  # noqa: E402
from lic_core.zoo.catalog import read_metadata  # noqa: E402
from lic_core.zoo.space_channel import SpaceChannelContext  # noqa: E402
from lic_core.zoo.weights import load_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("export_space_channel", ROOT / "tools" / "export_space_channel.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

QUALITIES = (1, 2, 3)
CONFIG = {"data": str(ROOT.parent / "shared" / "data" / "train"), "batch": 8, "crop": 16, "lr": 5e-4,
          "lr_final": 3e-5, "total_steps": 40000, "train_hyper": True, "hyper_lr": 1e-4, "aux_lr": 1e-3}


@pytest.fixture(scope="module")
def joint_file(tmp_path_factory):
    """A tiny joint variable-rate file written as the zoo writes its joint file, with the
    metadata of a release that the new file must not inherit."""
    path = tmp_path_factory.mktemp("joint") / "joint-q1-3.safetensors"
    model = tiny_model("joint", seed=1, gains=LIVELY, fresh=True)
    gains = torch.linspace(0.5, 2.0, len(QUALITIES))[:, None].repeat(1, model.M)
    save_weights(model, path, half=("g_a", "g_s", "h_a", "h_s", "context_prediction", "entropy_parameters"),
                 gains=(QUALITIES, gains, 1 / gains), quality="", training_chain="hyperprior:10 steps -> joint:5 steps",
                 steps="5", steps_total="15", release="zoo-v5", probability_path="integer/1",
                 integer_calibration="12 crops", lambdas="0.0018,0.0035,0.0067", **{"lambda": "0.013"})
    return path


def checkpoint(path, train_hyper=True, drop=(), step=120):
    """A checkpoint as tools/train_prior.py saves it: the trained modules' tensors only
    (its table buffers empty, as in training)."""
    model = tiny_model("space-channel", seed=2, gains=LIVELY, fresh=True)
    trained = tool.CONTEXT + (tool.HYPER if train_hyper else ())
    state = {k: (v[:0] if k.endswith(TABLE_BUFFERS) else v) for k, v in model.state_dict().items()
             if k.startswith(tuple(f"{m}." for m in trained)) and k not in drop}
    history = [{"step": step, "minutes": 2.0, "mean_change_percent": -0.5}]
    torch.save({"model": state, "step": step, "elapsed": 123.4, "config": json.dumps(CONFIG),
                "history": json.dumps(history)}, path)
    return state


def test_the_file_loads_at_every_quality_with_the_joint_transforms_and_the_trained_prior(tmp_path, joint_file):
    state = checkpoint(tmp_path / "prior.pt")
    out = tool.export(tmp_path / "prior.pt", joint_file, tmp_path / "space-channel-q1-3.safetensors")
    for q in QUALITIES:
        ours, joint = load_file(out, quality=q), load_file(joint_file, quality=q)
        assert isinstance(ours, SpaceChannelContext)
        mine = ours.state_dict()
        for k, v in joint.state_dict().items():
            if k.startswith(("g_a.", "g_s.", "gaussian_conditional.scale_table")):
                assert torch.equal(mine[k], v), k
        for k, v in state.items():
            if not k.endswith(TABLE_BUFFERS):  # float16 where the file halves it, and exactly that
                want = v.half().float() if k.startswith(tool.HALF) and v.is_floating_point() else v
                assert torch.equal(mine[k], want), k
    meta = read_metadata(out)
    assert meta["architecture"] == "space-channel" and meta["variable_rate"] == "1,2,3"
    assert not {"release", "probability_path", "integer_calibration"} & set(meta)
    assert meta["training_chain"].startswith("hyperprior:10 steps -> joint:5 steps -> space-channel prior")
    assert "120 steps" in meta["training_chain"] and "tools/train_prior.py" in meta["training_chain"]
    assert (meta["steps"], meta["steps_total"], meta["train_seconds"]) == ("120", "135", "123.4")
    assert meta["data"] == "../shared/data/train" and meta["crop"] == "256" and meta["init"] == joint_file.name
    assert meta["storage"].startswith("float16: g_a, g_s, h_a, h_s, channel_context, spatial_context")
    assert meta["lambdas"] == "0.0018,0.0035,0.0067"
    # not one integer tensor: the integer step adds them
    assert not any(k.startswith("model.integer.") for k in json.loads(
        out.read_bytes()[8:8 + int.from_bytes(out.read_bytes()[:8], "little")]))


def test_the_same_inputs_give_the_same_bytes(tmp_path, joint_file):
    checkpoint(tmp_path / "prior.pt")
    a = tool.export(tmp_path / "prior.pt", joint_file, tmp_path / "a" / "space-channel-q1-3.safetensors")
    b = tool.export(tmp_path / "prior.pt", joint_file, tmp_path / "b" / "space-channel-q1-3.safetensors")
    assert a.read_bytes() == b.read_bytes()


def test_without_trained_hyper_networks_they_are_the_joint_files(tmp_path, joint_file):
    checkpoint(tmp_path / "prior.pt", train_hyper=False)
    out = tool.export(tmp_path / "prior.pt", joint_file, tmp_path / "space-channel-q1-3.safetensors")
    ours, joint = load_file(out, quality=2).state_dict(), load_file(joint_file, quality=2).state_dict()
    for k in ours:
        if k.startswith(("h_a.", "h_s.", "entropy_bottleneck.")):
            assert torch.equal(ours[k], joint[k]), k
    assert "h_a,entropy_bottleneck,h_s frozen" in read_metadata(out)["training_chain"]


def test_a_checkpoint_that_does_not_fit_is_refused():
    shapes = {k: tuple(v.shape) for k, v in SpaceChannelContext(N=8, M=12).state_dict().items()}
    prior = {k: torch.zeros(s) for k, s in shapes.items() if k.startswith(tool.CONTEXT)}
    joint = {k: torch.zeros(s) for k, s in shapes.items() if not k.startswith(tool.CONTEXT)}
    state, source = tool.merge_state(shapes, joint, prior, TABLE_BUFFERS)
    assert source["h_a"] == "joint" and source["spatial_context"] == "checkpoint"
    with pytest.raises(ValueError, match="part|missing"):  # half of h_s: a module is whole or absent
        tool.merge_state(shapes, joint, {**prior, "h_s.0.weight": joint["h_s.0.weight"]}, TABLE_BUFFERS)
    grown = dict(prior, **{"spatial_context.0.0.weight": torch.zeros(2, 1, 3, 3)})
    with pytest.raises(ValueError, match="do not fit"):  # a context of another kernel
        tool.merge_state(shapes, joint, grown, TABLE_BUFFERS)
    with pytest.raises(ValueError, match="frozen"):
        tool.merge_state(shapes, joint, dict(prior, **{"g_a.0.bias": joint["g_a.0.bias"]}), TABLE_BUFFERS)
    with pytest.raises(ValueError, match="no entropy_parameters"):
        tool.merge_state(shapes, joint, {k: v for k, v in prior.items() if not k.startswith("entropy_p")},
                         TABLE_BUFFERS)
