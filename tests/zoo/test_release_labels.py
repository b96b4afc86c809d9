"""Release labels never name a path, and quality messages name what ships (issue 21 point
24): a label ".." resolved to the current weights (weights/retired/..), and a file with an
unknown quality was told "the zoo ships qualities 1..10" while hyperprior ships 1..8."""
import dataclasses
import json

import numpy as np
import pytest

import lic_core
from lic_core import container
from lic_core.errors import InvalidArgumentError, WeightsError
from lic_core.zoo import catalog, release


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.mark.parametrize("label", ["zoo-v3", "zoo-v4", "zoo-v12", "local", "a", "0.1-rc", "v1.2.3"])
def test_labels_of_the_grammar_are_accepted(label):
    assert release.check_label(label) == label


@pytest.mark.parametrize("label", ["", ".", "..", ".zoo", "zoo..v3", "-zoo", "Zoo-v3",
                                   "zoo/v3", "zoo-v1234", "../zoo", None, 3])
def test_path_like_or_malformed_labels_are_refused(label):
    with pytest.raises(InvalidArgumentError, match="not a weights release label"):
        release.check_label(label)


def test_dot_dot_no_longer_resolves_to_the_current_weights():
    with pytest.raises(InvalidArgumentError, match="'..' is not a weights release label"):
        release.release_dir("..")
    from lic_core import zoo
    with pytest.raises(InvalidArgumentError, match="not a weights release label"):
        zoo.load("hyperprior", 3, release="..")


@pytest.fixture(scope="module")
def data():
    return lic_core.compress(np.full((20, 30, 3), 128, np.uint8), "factorized", 4)


def test_a_file_naming_a_path_like_release_is_refused(data):
    for label in ("..", "."):
        forged = container.pack(dataclasses.replace(container.unpack(data), weights_release=label))
        with pytest.raises(WeightsError, match=f"{label!r}, which cannot be one"):
            lic_core.decompress(forged)


def test_a_manifest_whose_label_is_not_one_is_refused(tmp_path):
    (tmp_path / release.RELEASE_FILE).write_text(json.dumps({"release": "..", "files": {}}))
    with pytest.raises(WeightsError, match="is not a release label"):
        release.release_label(tmp_path)


def test_an_unknown_quality_is_told_what_ships_for_that_model(data):
    for quality, name in ((200, "hyperprior"), (11, "joint"), (9, "hyperprior")):
        f = dataclasses.replace(container.unpack(data), model=name, quality=quality)
        with pytest.raises(WeightsError) as info:
            lic_core.decompress(container.pack(f))
        assert f"{name} ships qualities 1..8 in the weights release '{release.release_label()}'" \
            in str(info.value)
        assert "1..10" not in str(info.value)
    f = dataclasses.replace(container.unpack(data), quality=3)
    with pytest.raises(WeightsError, match=r"factorized ships qualities 1, 2, 4, 6, 8 in"):
        lic_core.decompress(container.pack(f))


def test_compress_with_a_quality_not_shipped_says_what_ships():
    image = np.zeros((16, 16, 3), np.uint8)
    for quality in (9, 11, 0):
        with pytest.raises(InvalidArgumentError,
                           match="hyperprior ships qualities 1..8 in the weights release"):
            lic_core.compress(image, "hyperprior", quality)
    assert catalog.qualities_text("mean-scale") == \
        f"the weights release '{release.release_label()}' ships no mean-scale weights"
