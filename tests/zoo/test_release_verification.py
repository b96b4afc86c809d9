"""A release's files are checked against its manifest when they load (issue 21 point 3):
a changed byte anywhere (an encoder-side tensor, which the fingerprint does not cover)
or a file the manifest does not list is refused with a WeightsError naming the file,
and each file is hashed once per process while it stays the same."""
import hashlib
import json
import os
import shutil

import pytest

torch = pytest.importorskip("torch")
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from lic_core import zoo  # noqa: E402
from lic_core.errors import WeightsError  # noqa: E402
from lic_core.zoo import release  # noqa: E402

NAME = "factorized-q4.safetensors"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A release "zoo-test" holding the shipped factorized q4 file, made current."""
    shutil.copyfile(release.PACKAGE_WEIGHTS / NAME, tmp_path / NAME)
    digest = hashlib.sha256((tmp_path / NAME).read_bytes()).hexdigest()
    (tmp_path / release.RELEASE_FILE).write_text(
        json.dumps({"release": "zoo-test", "files": {NAME: digest}}))
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def change_encoder_tensor(path):
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["g_a.0.weight"].view(-1)[0] += 1.0
    save_file(tensors, str(path), metadata=meta)


def test_a_changed_encoder_side_tensor_is_refused_naming_the_file(folder):
    original = zoo.load("factorized", 4)
    change_encoder_tensor(folder / NAME)
    # the fingerprint cannot see it (g_a is encoder side): only the manifest can
    assert zoo.load_file(folder / NAME).decoder_fingerprint() == original.decoder_fingerprint()
    with pytest.raises(WeightsError, match=rf"{NAME}: its sha256 .* 'zoo-test' lists"):
        zoo.load("factorized", 4)


def test_a_file_the_manifest_does_not_list_is_refused(folder):
    shutil.copyfile(release.PACKAGE_WEIGHTS / "factorized-q2.safetensors",
                    folder / "factorized-q2.safetensors")
    with pytest.raises(WeightsError, match="factorized-q2.safetensors: not part of the weights "
                                           "release 'zoo-test'"):
        zoo.load("factorized", 2)


def test_each_file_is_hashed_once_per_process_until_it_changes(folder, monkeypatch):
    hashed = []
    real = release._sha256_file
    monkeypatch.setattr(release, "_sha256_file", lambda path: hashed.append(path) or real(path))
    zoo.load("factorized", 4)
    zoo.load("factorized", 4)
    assert hashed == [folder / NAME]
    # the same bytes with a new modification time: checked again (and still good)
    st = os.stat(folder / NAME)
    os.utime(folder / NAME, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    zoo.load("factorized", 4)
    assert len(hashed) == 2


def test_the_shipped_releases_pass(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)
    for label in release.known_releases():
        folder = release.release_dir(label)
        for name, path in release.release_files(folder).items():
            release.verify_file(folder, path)
