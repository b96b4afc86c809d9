"""Every .lic file names the weights that wrote it (format versions 2 and 3), released zoo
weights never change under their label, and a decoder without the right weights refuses
with an error that names them instead of decoding a wrong image."""
import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch

import lic_core
from lic_core import container, zoo
from lic_core.errors import UnsupportedFormatError, WeightsError
from lic_core.testing import tiny_model
from lic_core.zoo import release
from lic_core.zoo.fingerprint import ENCODER_ONLY, decoder_fingerprint, fingerprint_state


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (5, 6, 3)).astype(np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))[:37, :45].copy()  # smooth-ish, odd size


def repack(data: bytes, **change) -> bytes:
    return container.pack(dataclasses.replace(container.unpack(data), **change))


# --------------------------------------------------------------------------- the release

#: every release shipped and its folder: a release's files never change (its manifest pins
#: them) and a retired release's manifest never changes (pinned below)
RELEASES = {
    "zoo-v3": "retired/zoo-v3",
    "zoo-v4": "retired/zoo-v4",
    "zoo-v5": ".",
}
#: the sha256 of each retired release's RELEASE.json as retired: zoo-v3 whole (2026-12-03,
#: commit b96cf4f), zoo-v4 whole and stored once (2026-12-07: its manifest as released,
#: its files the current folder's)
RETIRED_MANIFEST_SHA256 = {
    "zoo-v3": "c00781571a17309e0d16d6c8e0219506eaf714f4b8576d4d3a57b9d529df8ffc",
    "zoo-v4": "da98f3380dd704b40c153f2e97e9db3b967b2ce8409b626b477f51ae95fc9757",
}
#: the sha256 of the current release's RELEASE.json (zoo-v5, 2026-12-07): pinned as the
#: retired ones are, so a digest edited to match a changed file fails here
CURRENT_MANIFEST_SHA256 = {
    "zoo-v5": "a3701b6b0d662f7b7a9219511f0bf7c55f7439819378d8eef99fc5f5856064c8",
}


@pytest.mark.parametrize("label", sorted(RELEASES))
def test_every_release_file_is_listed_in_its_manifest_with_its_sha256(label):
    # Released weights are immutable: changing a byte of a file, or adding a file without
    # a new release label, fails here (ship new training as a new release instead). A
    # listed file absent from the folder is another release's identical file, stored once
    # (release.release_files; tests/zoo/test_weights_once.py).
    folder = release.PACKAGE_WEIGHTS / RELEASES[label]
    manifest = release.release_manifest(folder)
    assert manifest["release"] == label
    shipped = sorted(p.name for p in folder.glob("*.safetensors"))
    assert set(shipped) <= set(manifest["files"])
    located = release.release_files(folder)
    assert sorted(located) == sorted(manifest["files"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(located[name].read_bytes()).hexdigest() == digest, name
    shipped = sorted(manifest["files"])
    if manifest.get("decoder_only"):
        # a release retired decoder side only (tools/retire_release.py): "files" pins the
        # stripped files above; "original_files" records what was released, one per file
        assert sorted(manifest["original_files"]) == shipped
        # (decoder weights files are decoder side already, and kept as they are)
        assert all(manifest["original_files"][n] != manifest["files"][n] for n in shipped
                   if not n.endswith(".decoder.safetensors"))


def test_the_current_release_is_zoo_v5_and_every_older_one_is_retired_in_the_package():
    assert release.release_label(release.PACKAGE_WEIGHTS) == "zoo-v5"
    assert release.known_releases() == ["zoo-v5", "zoo-v3", "zoo-v4"]
    assert release.FORMAT1_RELEASE == "zoo-v3"
    for label in RETIRED_MANIFEST_SHA256:
        assert release.release_dir(label) == release.PACKAGE_WEIGHTS / "retired" / label
        assert not release.is_decoder_only(release.PACKAGE_WEIGHTS / "retired" / label)


@pytest.mark.parametrize("label", sorted(RETIRED_MANIFEST_SHA256))
def test_a_retired_manifest_is_the_one_retired(label):
    text = (release.PACKAGE_WEIGHTS / "retired" / label / release.RELEASE_FILE).read_bytes()
    assert hashlib.sha256(text).hexdigest() == RETIRED_MANIFEST_SHA256[label]


def test_the_current_manifest_is_the_one_released():
    # issue 21 point 3: the current manifest is pinned too (a new release changes the
    # label, and moves this pin to RETIRED_MANIFEST_SHA256 when it retires)
    label = release.release_label(release.PACKAGE_WEIGHTS)
    text = (release.PACKAGE_WEIGHTS / release.RELEASE_FILE).read_bytes()
    assert hashlib.sha256(text).hexdigest() == CURRENT_MANIFEST_SHA256[label]


def test_a_folder_without_a_manifest_is_the_local_release(tmp_path):
    assert release.release_label(tmp_path) == release.LOCAL_RELEASE
    (tmp_path / release.RELEASE_FILE).write_text("{not json")
    with pytest.raises(WeightsError, match="manifest"):
        release.release_label(tmp_path)
    (tmp_path / release.RELEASE_FILE).write_text(json.dumps({"release": "x"}))
    with pytest.raises(WeightsError, match="files"):
        release.release_label(tmp_path)


# --------------------------------------------------------------------------- the fingerprint

def test_the_fingerprint_covers_the_decoder_side_and_only_it():
    model = tiny_model("hyperprior", fresh=True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    base = fingerprint_state(state)
    assert base == decoder_fingerprint(model) != 0
    # the spec is over values, not torch objects: NumPy arrays give the same number
    assert fingerprint_state({k: v.numpy() for k, v in state.items()}) == base
    for name in state:
        changed = dict(state)
        changed[name] = state[name].clone().reshape(-1)
        if changed[name].numel() == 0:
            continue
        changed[name][0] += 1
        changed[name] = changed[name].reshape(state[name].shape)
        moved = fingerprint_state(changed) != base
        assert moved == (not name.startswith(ENCODER_ONLY)), name


def test_the_model_caches_its_fingerprint_until_a_tensor_changes():
    model = tiny_model("factorized", fresh=True)  # changed below
    first = model.decoder_fingerprint()
    assert model.decoder_fingerprint() == first
    with torch.no_grad():
        model.g_s[0].weight.add_(1.0)
    assert model.decoder_fingerprint() != first


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize("name, quality", [("factorized", 4), ("hyperprior", 3), ("joint", 2)])
def test_a_zoo_file_records_its_release_and_fingerprint(image, name, quality):
    model = zoo.load(name, quality)
    data = lic_core.compress(image, name, quality)
    f = container.unpack(data)
    # the current release (zoo-v5) writes integer synthesis: format 4, and the fingerprint
    # of the decoder weights file's tensors (docs/format.md, "Weights fingerprint (2)")
    assert (f.version, f.weights_release) == (4, release.release_label())
    assert (f.probability_path, f.synthesis) == (container.EXACT_PATH, container.EXACT_SYNTHESIS)
    assert f.weights_fingerprint == model.exact_decoder.fingerprint(quality)
    # and the fingerprint differs between qualities of one variable-rate file
    if name != "factorized":
        assert model.exact_decoder.fingerprint(quality + 1) != f.weights_fingerprint
    # zoo-v4 (the same model files) writes format 3, with the fingerprint of the tensors
    v4 = zoo.load(name, quality, release="zoo-v4")
    f4 = container.unpack(lic_core.compress(image, v4))
    assert (f4.version, f4.weights_release, f4.synthesis) == (3, "zoo-v4", container.FLOAT_SYNTHESIS)
    assert f4.weights_fingerprint == v4.decoder_fingerprint() == model.decoder_fingerprint()


def test_a_format_1_file_decodes_with_the_release_that_wrote_them(image):
    v3 = zoo.load("hyperprior", 3, release="zoo-v3")
    assert v3.integer is None and v3.weights_release == "zoo-v3"
    data = lic_core.compress(image, v3)
    f = container.unpack(data)
    assert (f.quality, f.weights_release, f.probability_path) == (3, "zoo-v3", container.FLOAT_PATH)
    old = repack(data, version=1, weights_fingerprint=0, weights_release="")
    assert old[8] == 1 and len(old) == len(data) - 16
    assert np.array_equal(lic_core.decompress(old), lic_core.decompress(data))


def test_zoo_v4_has_other_fingerprints_than_zoo_v3_but_the_same_float_tensors():
    # (decoder-side tensors only: the comparison holds for a release retired decoder side
    # only too)
    v3, v4 = zoo.load("joint", 5, release="zoo-v3"), zoo.load("joint", 5, release="zoo-v4")
    assert v4.integer is not None and v3.integer is None
    assert v3.decoder_fingerprint() != v4.decoder_fingerprint()
    float_v4 = {k: v for k, v in v4.state_dict().items()
                if not k.startswith(("integer.",) + ENCODER_ONLY)}
    assert set(float_v4) == {k for k in v3.state_dict() if not k.startswith(ENCODER_ONLY)}
    assert all(torch.equal(v, v3.state_dict()[k]) for k, v in float_v4.items())


def test_a_file_whose_probability_path_is_not_the_models_is_refused(image):
    data = lic_core.compress(image, zoo.load("hyperprior", 3, release="zoo-v4"))
    with pytest.raises(WeightsError, match="float32 networks"):
        lic_core.decompress(repack(data, probability_path=container.FLOAT_PATH))
    # a file of integer synthesis: the engine derives tables with integer networks only
    exact = lic_core.compress(image, "hyperprior", 3)
    with pytest.raises(UnsupportedFormatError, match="probability path"):
        lic_core.decompress(repack(exact, probability_path=container.FLOAT_PATH))


def test_a_file_from_a_release_this_installation_lacks_names_it(image):
    data = repack(lic_core.compress(image, "hyperprior", 3), weights_release="zoo-v2")
    with pytest.raises(WeightsError, match="zoo-v2.*hyperprior quality 3"):
        lic_core.decompress(data)


def test_a_file_whose_weights_differ_is_refused_not_decoded_wrongly(image):
    data = lic_core.compress(image, "joint", 3)
    f = container.unpack(data)
    forged = repack(data, weights_fingerprint=f.weights_fingerprint ^ 1)
    with pytest.raises(WeightsError, match="fingerprint"):
        lic_core.decompress(forged)
    # the same check holds for a model handed over explicitly
    with pytest.raises(WeightsError, match="other joint weights"):
        zoo.load("joint", 3).decompress(forged)


def test_weights_from_anywhere_are_checked_too(image):
    model = tiny_model("hyperprior", fresh=True)
    data = lic_core.compress(image, model)
    f = container.unpack(data)
    assert (f.quality, f.weights_release) == (0, "")
    assert f.weights_fingerprint == model.decoder_fingerprint()
    assert lic_core.decompress(data, model=model).shape == image.shape
    other = zoo.build("hyperprior", N=8, M=12).eval()
    other.update(force=True)
    with pytest.raises(WeightsError, match="not from the zoo"):
        lic_core.decompress(data, model=other)
