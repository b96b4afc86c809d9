"""tools/make_space_channel_release.py on tiny models (N=8, M=12): a source release and a
prior checkpoint become a release folder whose space-channel files load, encode and decode
through the engine's whole-file decoder, byte for byte the same on a second run (slow: two
whole conversions, about 10 s of CPU)."""
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import container, zoo  # noqa: E402
from lic_core.images import to_uint8  # noqa: E402
from lic_core.testing import LIVELY, tiny_model  # noqa: E402
from tests.training.test_export_space_channel import checkpoint, QUALITIES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_space_channel_release",
                                               ROOT / "tools" / "make_space_channel_release.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(source release folder, checkpoint, calibration folder)."""
    from PIL import Image
    base = tmp_path_factory.mktemp("inputs")
    source = base / "release"
    source.mkdir()
    model = tiny_model("joint", seed=1, gains=LIVELY, fresh=True)
    gains = torch.linspace(0.5, 2.0, len(QUALITIES))[:, None].repeat(1, model.M)
    zoo.save_weights(model, source / "joint-q1-3.safetensors", half=("g_a", "g_s"),
                     gains=(QUALITIES, gains, 1 / gains), quality="", training_chain="joint:5 steps",
                     steps="5", steps_total="5", lambdas="0.0018,0.0035,0.0067")
    digest = hashlib.sha256((source / "joint-q1-3.safetensors").read_bytes()).hexdigest()
    (source / "RELEASE.json").write_text(json.dumps(
        {"release": "t-old", "description": "", "files": {"joint-q1-3.safetensors": digest}}))
    data = base / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):  # smooth images: random noise codes poorly
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((80, 64), Image.BILINEAR).save(data / f"{i}.png")
    checkpoint(base / "prior.pt")
    return source, base / "prior.pt", data


def _release(inputs, out):
    source, ck, data = inputs
    assert tool.main([str(ck), str(out), "t-new", "--from", str(source), "--data", str(data), "--crops", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def released(inputs, tmp_path_factory):
    return _release(inputs, tmp_path_factory.mktemp("out") / "a")


def test_the_release_folder_is_complete_and_decodes_through_the_engine(inputs, released, monkeypatch):
    out = released
    manifest = json.loads((out / "RELEASE.json").read_text())
    assert manifest["release"] == "t-new" and "t-old's files unchanged" in manifest["description"]
    names = ["joint-q1-3.safetensors", "space-channel-q1-3.decoder.safetensors", "space-channel-q1-3.safetensors"]
    assert sorted(manifest["files"]) == names == sorted(p.name for p in out.glob("*.safetensors"))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert (out / names[0]).read_bytes() == (inputs[0] / names[0]).read_bytes()
    assert zoo.read_metadata(out / names[2])["release"] == "t-new"
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(out))
    assert zoo.list_models()["space-channel"] == list(QUALITIES)
    from PIL import Image
    rgb = np.array(Image.open(inputs[2] / "0.png").convert("RGB"))
    for q in (1, 3):
        data = lic_core.compress(rgb, "space-channel", q)
        header = container.unpack(data)
        assert (header.version, header.weights_release, header.synthesis) == (4, "t-new", 1)
        model = zoo.load("space-channel", q)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
        again, x_hat = model.compress(x, return_x_hat=True)
        assert again == data
        assert np.array_equal(lic_core.decompress(data), to_uint8(x_hat))  # the engine's decoder


def test_the_same_inputs_give_the_same_release(inputs, released, tmp_path):
    again = _release(inputs, tmp_path / "b")
    # RELEASE.json names every file's SHA-256: equal manifests, equal files
    assert (released / "RELEASE.json").read_bytes() == (again / "RELEASE.json").read_bytes()


def test_a_folder_in_use_or_the_source_label_is_refused(inputs, tmp_path):
    source, ck, data = inputs
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(SystemExit, match="not empty"):
        tool.main([str(ck), str(tmp_path / "x"), "t-new", "--from", str(source), "--data", str(data)])
    with pytest.raises(SystemExit, match="new label"):
        tool.main([str(ck), str(tmp_path / "y"), "t-old", "--from", str(source), "--data", str(data)])
