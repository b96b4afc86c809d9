"""The golden file of the mean-scale family (tests/fixtures/golden-mean-scale/).

tests/system/test_golden_files.py pins a file per shipped model and quality, but the zoo ships
no mean-scale weights, so that family had none. This fixture carries its own small
weights (tools/make_golden_mean_scale.py wrote all of it; never rerun that to make this
test pass: a failure here means a change alters how an existing mean-scale file decodes).

Pinned, as for the zoo's golden files:

* the fixture is intact: the SHA-256 of the weights and of the .lic file, and the header;
* the entropy-decoded integer symbols of each stream (count and SHA-256, in decode
  order, as ``lic_core.testing.golden.decode`` digests them for every golden file):
  **exactly**;
* the decoded image: within one level per pixel, at least 99 % of pixels identical
  (g_s runs in float32, so another CPU may round a pixel the other way).

The file is on the integer probability path, so its symbols do not depend on torch's
kernels: this test decodes in its own process, with whatever kernels it has.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from lic_core import container  # noqa: E402
# the writer's decode: one definition of the symbol digests, for the manifest and this test
from lic_core.testing.golden import decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "golden-mean-scale"

MANIFEST = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))
ENTRY = MANIFEST["file"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def decoded():
    """(symbols per stream, image) of the golden file, decoded by the committed weights
    loaded the way a user loads a weight file of their own."""
    from lic_core import zoo
    model = zoo.load_file(FIXTURE / MANIFEST["weights"]["file"])
    return decode((FIXTURE / ENTRY["lic"]).read_bytes(), model=model)


def test_the_fixture_is_intact_and_small():
    assert _sha256(FIXTURE / MANIFEST["weights"]["file"]) == MANIFEST["weights"]["sha256"], (
        "the golden weights were modified")
    assert _sha256(FIXTURE / ENTRY["lic"]) == ENTRY["sha256"], f"{ENTRY['lic']} was modified"
    total = sum(p.stat().st_size for p in FIXTURE.iterdir() if p.is_file())
    assert total < 100_000, f"{FIXTURE} holds {total} bytes; keep it small"


def test_the_header_is_pinned():
    f = container.unpack((FIXTURE / ENTRY["lic"]).read_bytes())
    assert (f.model, f.quality, f.height, f.width) == (
        "mean-scale", 0, ENTRY["height"], ENTRY["width"]) == (
        ENTRY["model"], ENTRY["quality"], ENTRY["height"], ENTRY["width"])
    assert (f.version, f.weights_release, f"{f.weights_fingerprint:016x}") == (
        ENTRY["format_version"], ENTRY["weights_release"], ENTRY["weights_fingerprint"])
    # the integer path: what makes the exact symbols below hold under any kernels
    assert f.probability_path == ENTRY["probability_path"] == container.EXACT_PATH
    assert [list(s) for s in f.latent_shapes] == ENTRY["latent_shapes"]


def test_the_golden_file_decodes_to_exactly_the_pinned_symbols(decoded):
    symbols, _ = decoded
    assert symbols == ENTRY["symbols"]
    # both streams carry something, or pinning them would prove little
    assert all(s["nonzero"] > 0 for s in ENTRY["symbols"].values()), ENTRY["symbols"]


def test_the_golden_file_decodes_to_the_pinned_image_within_one_level(decoded):
    _, image = decoded
    expected = np.asarray(Image.open(FIXTURE / ENTRY["png"]).convert("RGB"))
    assert image.shape == expected.shape == (ENTRY["height"], ENTRY["width"], 3)
    diff = np.abs(image.astype(np.int16) - expected.astype(np.int16))
    tolerance = MANIFEST["tolerance"]
    assert int(diff.max()) <= tolerance["max_abs_diff"] == 1
    assert float((diff == 0).mean()) >= tolerance["min_identical_fraction"] == 0.99
