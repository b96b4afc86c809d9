"""A release retired decoder side only (tools/retire_release.py --decoder-only; docs/format.md,
"Releases"): every file it wrote decodes exactly as with its whole files, encoding with it
is refused, and only such a release's manifest lets a file lack g_a and h_a.

The current release (lic_core/zoo/weights, never modified here) stands in for the one retired: the
tool copies it into a temporary folder, and the ``retire`` fixture makes the installation
look as it will after the next release (a newer current one, this copy among the retired).
"""
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors import safe_open  # noqa: E402

import lic_core  # noqa: E402
from lic_core import zoo  # noqa: E402
from lic_core.errors import WeightsError  # noqa: E402
from lic_core.zoo import release  # noqa: E402
from lic_core.zoo.fingerprint import ENCODER_ONLY  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "retire_release", Path(__file__).resolve().parents[2] / "tools" / "retire_release.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

#: what the next current release is called here (it holds no file: only its label matters)
NEXT = "zoo-next"
#: one quality of each family: both variable-rate files and a one-quality file
CASES = [("hyperprior", 3), ("joint", 5), ("factorized", 4)]


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="module")
def label():
    return release.release_label(release.PACKAGE_WEIGHTS)


@pytest.fixture(scope="module")
def retired_root(tmp_path_factory, label):
    """A folder laid out like lic_core/zoo/weights/retired/, holding the current release decoder side only."""
    root = tmp_path_factory.mktemp("retired")
    assert tool.main([str(release.PACKAGE_WEIGHTS), str(root / label), "--decoder-only"]) == 0
    return root


@pytest.fixture
def retire(retired_root, tmp_path, monkeypatch, label):
    """A function that retires the current release: afterwards ``NEXT`` is current and the
    decoder-only copy is where zoo.load and lic_core.decompress look for retired releases."""
    def retire_now() -> str:
        current = tmp_path / "next"
        current.mkdir()
        (current / release.RELEASE_FILE).write_text(json.dumps({"release": NEXT, "files": {}}))
        monkeypatch.setenv("LIC_WEIGHTS_DIR", str(current))
        monkeypatch.setattr(release, "_RETIRED", retired_root)
        assert release.release_dir(label) == retired_root / label
        return label
    return retire_now


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(11)
    base = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))  # 64×64, smooth-ish


def as_tensor(image):
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


# --------------------------------------------------------------------------- decoding

@pytest.mark.parametrize("name, quality", CASES)
def test_files_of_a_retired_release_decode_identically_with_its_decoder_side(
        image, retire, name, quality):
    whole = zoo.load(name, quality)
    data = lic_core.compress(image, name, quality)  # written while the release is current
    pixels, x_hat = lic_core.decompress(data), whole.decompress(data)

    label = retire()
    model = zoo.load(name, quality, release=label)
    assert model.decoder_only and not whole.decoder_only
    assert (model.weights_release, model.quality) == (label, quality)
    # every tensor the decoder uses is the whole model's, bit for bit (g_s folded alike)
    kept, full = model.state_dict(), whole.state_dict()
    for key, value in full.items():
        if not key.startswith(ENCODER_ONLY):
            assert value.dtype == kept[key].dtype and torch.equal(value, kept[key]), key
    assert model.decoder_fingerprint() == whole.decoder_fingerprint()
    assert torch.equal(model.decompress(data), x_hat)
    assert np.array_equal(lic_core.decompress(data), pixels)  # finds the release the file names


def test_encoding_with_a_decoder_only_model_is_refused_naming_the_release(image, retire):
    label = retire()
    model = zoo.load("hyperprior", 3, release=label)
    with pytest.raises(WeightsError, match=f"'{label}' is kept decoder side only.*'{NEXT}'"):
        model.compress(as_tensor(image))
    with pytest.raises(WeightsError, match="decoder side only"):
        lic_core.compress(image, model)
    with pytest.raises(WeightsError, match="decoder side only"):
        model.compress_strings(as_tensor(image))
    # every other path through the untrained g_a refuses too, not only the coders
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(WeightsError, match="decoder side only"):
        model(x)
    with pytest.raises(WeightsError, match="decoder side only"):
        model.analysis(x)


def test_the_current_weights_may_not_be_decoder_only(retired_root, label, monkeypatch):
    # decoder-only is for retired releases; the release encoders use must be whole
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(retired_root / label))
    with pytest.raises(WeightsError, match="current weights release .* decoder side only"):
        zoo.load("factorized", 4)


# --------------------------------------------------------------------------- only by manifest

def test_a_release_not_marked_decoder_only_still_refuses_files_without_g_a(
        retired_root, label, tmp_path, monkeypatch):
    # the stripped files, in a release whose manifest does not say decoder_only
    folder = tmp_path / "zoo-bad"
    folder.mkdir()
    names = ["factorized-q4.safetensors",
             next(p.name for p in (retired_root / label).glob("hyperprior-q*-*.safetensors"))]
    for name in names:
        shutil.copyfile(retired_root / label / name, folder / name)
    manifest = {"release": "zoo-bad",
                "files": {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}}
    monkeypatch.setattr(release, "_RETIRED", tmp_path)
    for flag in (None, "yes", 1):  # absent, or anything but a literal true
        if flag is not None:
            manifest["decoder_only"] = flag
        (folder / release.RELEASE_FILE).write_text(json.dumps(manifest))
        assert not release.is_decoder_only(folder)
        with pytest.raises(WeightsError, match="g_a.0.weight is missing"):
            zoo.load("factorized", 4, release="zoo-bad")
        with pytest.raises(WeightsError, match="g_a.6"):  # the variable-rate path refuses too
            zoo.load("hyperprior", 3, release="zoo-bad")
    # and a file anywhere has no manifest to excuse it
    with pytest.raises(WeightsError, match="g_a"):
        zoo.load_file(retired_root / label / "factorized-q4.safetensors")


# --------------------------------------------------------------------------- the tool

def test_the_manifest_records_decoder_only_and_both_sha256s(retired_root, label):
    original = release.release_manifest(release.PACKAGE_WEIGHTS)
    folder = retired_root / label
    manifest = release.release_manifest(folder)
    assert manifest["release"] == label and manifest["decoder_only"] is True
    assert release.is_decoder_only(folder) and not release.is_decoder_only(release.PACKAGE_WEIGHTS)
    assert manifest["original_files"] == original["files"]
    assert sorted(manifest["files"]) == sorted(original["files"]) \
        == sorted(p.name for p in folder.glob("*.safetensors"))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        if name.endswith(".decoder.safetensors"):  # decoder side already: kept byte for byte
            assert digest == original["files"][name]
            continue
        assert digest != original["files"][name]
        with safe_open(str(folder / name), "pt") as f, \
                safe_open(str(release.PACKAGE_WEIGHTS / name), "pt") as g:
            assert f.metadata() == g.metadata()
            assert set(f.keys()) == {k for k in g.keys() if not tool.is_encoder_side(k)} != set(g.keys())
            for key in f.keys():
                a, b = f.get_tensor(key), g.get_tensor(key)
                assert a.dtype == b.dtype and torch.equal(a, b), key


def test_the_tool_is_deterministic_and_copies_a_whole_release_unchanged(retired_root, label, tmp_path):
    again = tmp_path / "again"
    assert tool.main([str(release.PACKAGE_WEIGHTS), str(again), "--decoder-only"]) == 0
    files = sorted(p.name for p in (retired_root / label).iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    for name in files:
        assert (again / name).read_bytes() == (retired_root / label / name).read_bytes(), name
    # without --decoder-only: the release as it is, manifest included
    whole = tmp_path / "whole"
    whole.mkdir()  # an empty destination is fine
    assert tool.main([str(release.PACKAGE_WEIGHTS), str(whole)]) == 0
    for name in [release.RELEASE_FILE, *release.release_manifest(release.PACKAGE_WEIGHTS)["files"]]:
        assert (whole / name).read_bytes() == (release.PACKAGE_WEIGHTS / name).read_bytes(), name


def test_the_tool_refuses_what_is_not_a_release_or_a_free_destination(retired_root, label, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(release.PACKAGE_WEIGHTS / "factorized-q4.safetensors", src / "factorized-q4.safetensors")
    assert tool.main([str(src), str(tmp_path / "out"), "--decoder-only"]) == 2
    assert "has no RELEASE.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    # a file that is not the one released
    (src / release.RELEASE_FILE).write_text(json.dumps(
        {"release": "zoo-x", "files": {"factorized-q4.safetensors": "0" * 64}}))
    assert tool.main([str(src), str(tmp_path / "out"), "--decoder-only"]) == 2
    assert "sha256 differs" in capsys.readouterr().err
    # a destination that holds something
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "note").write_text("")
    assert tool.main([str(release.PACKAGE_WEIGHTS), str(busy), "--decoder-only"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    # a release already decoder-only
    assert tool.main([str(retired_root / label), str(tmp_path / "twice"), "--decoder-only"]) == 2
    assert "decoder-only already" in capsys.readouterr().err
