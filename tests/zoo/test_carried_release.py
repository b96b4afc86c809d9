"""Which release a file records (docs/format.md, "Releases"): the release that first
shipped the weights it needs. A next release that carries a family's files unchanged
(stored once, the older release retired with its manifest alone) writes that family's
files under the older label, and they decode, through the engine, to the same pixels as
before; the family files it adds carry its own label.

The current release (lic_core/zoo/weights, never modified here) stands in for the older
one; the next release is a temporary folder holding a copy of its joint files."""
import hashlib
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import container, zoo  # noqa: E402
from lic_core.zoo import release  # noqa: E402
from tests.zoo.test_retired_release import tool  # noqa: E402  (tools/retire_release.py)


NEXT = "zoo-next"
FILES = ("joint-q1-8.safetensors", "joint-q1-8.decoder.safetensors")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(5)
    return np.kron(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), np.ones((8, 8, 1), np.uint8))


@pytest.fixture
def next_release(tmp_path, monkeypatch):
    """(older label, the next release's folder): the installation after a release NEXT
    that carries the current joint files unchanged (not yet in effect: the test sets
    LIC_WEIGHTS_DIR to the folder)."""
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)
    older = release.release_label(release.PACKAGE_WEIGHTS)
    manifest = release.release_manifest(release.PACKAGE_WEIGHTS)
    if not all(f in manifest["files"] for f in FILES):
        pytest.skip(f"the current release {older!r} ships no joint decoder file")
    current = tmp_path / "next"
    current.mkdir()
    for name in FILES:
        shutil.copyfile(release.PACKAGE_WEIGHTS / name, current / name)
    (current / release.RELEASE_FILE).write_text(json.dumps(
        {"release": NEXT, "description": "test", "files": {
            name: hashlib.sha256((current / name).read_bytes()).hexdigest() for name in FILES}}))
    retired = tmp_path / "retired"
    assert tool.main([str(release.PACKAGE_WEIGHTS), str(retired / older), "--current", str(current)]) == 0
    assert not any((retired / older / name).exists() for name in FILES)  # stored once, in NEXT
    monkeypatch.setattr(release, "_RETIRED", retired)
    return older, current


def test_carried_weights_write_the_release_that_first_shipped_them(image, monkeypatch, next_release):
    older, current = next_release
    before = lic_core.compress(image, "joint", 5)  # the older release, still current
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(current))
    assert release.release_label(release.weights_dir()) == NEXT
    model = zoo.load("joint", 5)
    assert model.weights_release == older
    after = lic_core.compress(image, "joint", 5)
    assert after == before  # the same weights write the same bytes, label included
    assert container.unpack(after).weights_release == older
    np.testing.assert_array_equal(lic_core.decompress(after), lic_core.decompress(before))
