"""Each weight file is stored once (issue 22): a retired release refers to the identical
file of another release folder of the package instead of holding a copy (its RELEASE.json
still lists the file with its sha256), tools/retire_release.py writes retired releases so,
and no two files under lic_core/zoo/weights/ are byte-identical."""
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from lic_core import zoo
from lic_core.errors import WeightsError
from lic_core.zoo import catalog, release

_spec = importlib.util.spec_from_file_location(
    "retire_release", Path(__file__).resolve().parents[2] / "tools" / "retire_release.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_two_weight_files_of_the_package_are_byte_identical():
    by_digest = {}
    for path in sorted(release.PACKAGE_WEIGHTS.rglob("*")):
        if path.is_file() and path.name != release.RELEASE_FILE:
            by_digest.setdefault((path.stat().st_size, sha256(path)), []).append(path)
    twins = [paths for paths in by_digest.values() if len(paths) > 1]
    assert not twins, f"stored twice: {twins}"


def test_every_file_every_release_lists_is_stored_somewhere_with_its_sha256():
    for folder in release.release_folders():
        manifest = release.release_manifest(folder)
        located = release.release_files(folder)
        assert sorted(located) == sorted(manifest["files"]), folder
        for name, path in located.items():
            assert path.is_file() and sha256(path) == manifest["files"][name], (folder, name)


def test_zoo_v3_shares_the_factorized_files_of_the_current_release_and_loads_them():
    folder = release.release_dir("zoo-v3")
    located = release.release_files(folder)
    for q in (1, 2, 4, 6, 8):
        name = f"factorized-q{q}.safetensors"
        assert not (folder / name).exists()
        assert located[name] == release.PACKAGE_WEIGHTS / name
    path, where = catalog.locate("factorized", 4, release="zoo-v3")
    assert (path, where) == (release.PACKAGE_WEIGHTS / "factorized-q4.safetensors", folder)
    model = zoo.load("factorized", 4, release="zoo-v3")
    assert model.weights_release == "zoo-v3"
    assert model.decoder_fingerprint() == zoo.load("factorized", 4).decoder_fingerprint()


def test_a_shared_file_must_match_the_digest_the_retired_release_lists(tmp_path, monkeypatch):
    # a file of the same name but another sha256 elsewhere is not the release's file
    retired = tmp_path / "retired"
    old = retired / "zoo-old"
    old.mkdir(parents=True)
    (old / release.RELEASE_FILE).write_text(json.dumps(
        {"release": "zoo-old", "files": {"factorized-q4.safetensors": "0" * 64}}))
    monkeypatch.setattr(release, "_RETIRED", retired)
    assert release.release_files(old) == {"factorized-q4.safetensors": old / "factorized-q4.safetensors"}
    with pytest.raises(WeightsError, match="factorized-q4.safetensors: listed by the weights release 'zoo-old'.*missing"):
        zoo.load("factorized", 4, release="zoo-old")


# --------------------------------------------------------------------------- the tool

@pytest.fixture
def old_release(tmp_path):
    """A release "zoo-old" of two factorized files, and a current release "zoo-new" that
    holds one of them unchanged and another file under the other name."""
    src, current = tmp_path / "src", tmp_path / "current"
    src.mkdir()
    current.mkdir()
    for q in (2, 4):
        shutil.copyfile(release.PACKAGE_WEIGHTS / f"factorized-q{q}.safetensors",
                        src / f"factorized-q{q}.safetensors")
    shutil.copyfile(release.PACKAGE_WEIGHTS / "factorized-q4.safetensors",
                    current / "factorized-q4.safetensors")
    shutil.copyfile(release.PACKAGE_WEIGHTS / "factorized-q6.safetensors",
                    current / "factorized-q2.safetensors")  # same name, other bytes
    for folder, label in ((src, "zoo-old"), (current, "zoo-new")):
        files = {p.name: sha256(p) for p in sorted(folder.glob("*.safetensors"))}
        (folder / release.RELEASE_FILE).write_text(json.dumps({"release": label, "files": files}))
    return src, current


def test_the_tool_stores_a_file_the_current_release_holds_identically_once(
        old_release, tmp_path, monkeypatch, capsys):
    src, current = old_release
    dest = tmp_path / "retired" / "zoo-old"
    assert tool.main([str(src), str(dest), "--current", str(current)]) == 0
    assert "1 files copied" in capsys.readouterr().out
    # the manifest is the release's, byte for byte; the identical file is left out
    assert (dest / release.RELEASE_FILE).read_bytes() == (src / release.RELEASE_FILE).read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == [release.RELEASE_FILE, "factorized-q2.safetensors"]
    # installed as it will be: "zoo-new" current, "zoo-old" retired; both qualities load
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(current))
    monkeypatch.setattr(release, "_RETIRED", tmp_path / "retired")
    assert release.release_files(dest)["factorized-q4.safetensors"] == current / "factorized-q4.safetensors"
    for q in (2, 4):
        model = zoo.load("factorized", q, release="zoo-old")
        assert model.weights_release == "zoo-old"
    # a decoder-only copy is new bytes: every file is written
    stripped = tmp_path / "stripped"
    assert tool.main([str(src), str(stripped), "--decoder-only", "--current", str(current)]) == 0
    assert len(list(stripped.glob("*.safetensors"))) == 2


def test_the_tool_copies_everything_when_the_source_is_the_current_release(old_release, tmp_path):
    src, _ = old_release
    dest = tmp_path / "whole"
    assert tool.main([str(src), str(dest), "--current", str(src)]) == 0
    assert sorted(p.name for p in dest.glob("*.safetensors")) == sorted(
        p.name for p in src.glob("*.safetensors"))
