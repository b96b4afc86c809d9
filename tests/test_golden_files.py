"""Golden files: .lic files written by the shipped zoo (every model and quality, small
crops of the sample images) must keep decoding to what they decoded to when they were
written. tests/fixtures/golden/ holds the files of release zoo-v3 (format 2, written by
the release before the integer path) with their format-1 twins in format1/, and
golden/zoo-v4/ those of the current release (format 3, the integer probability path);
each folder has the decoded images (PNG) and manifest.json. tools/make_golden.py wrote
them (read its docstring before running it: never to make this test pass).

Pinned per file:

* the header: model, quality, size, format version, weights release and fingerprint,
  probability path, and the file's SHA-256 (the fixture itself is intact);
* the entropy-decoded integer symbols of every stream (count and SHA-256, in decode
  order): **exactly**;
* the decoded image: within one level per pixel, and at least 99 % of pixels
  identical. The synthesis g_s runs in float32, so another CPU may round a pixel the
  other way.

Kernels. zoo-v3 files come from float h_s and context networks: a scale can land on the
other side of a scale-table boundary when torch's kernels round differently (AVX-512
vs AVX2, oneDNN vs MKL, thread splits), and the stream then cannot be decoded;
hyperprior-q1-kodim15-48x80 fails that way with this machine's default kernels. So they
are decoded in a fresh process with ``tools/make_golden.py``'s BASELINE_ENV
(ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, MKL_CBWR=COMPATIBLE,STRICT,
OMP_NUM_THREADS=MKL_NUM_THREADS=1), one torch thread and oneDNN convolutions off. zoo-v4
files must decode to the same symbols under those kernels and under torch's default ones.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from lic_core import container  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
MAKE_GOLDEN = ROOT / "tools" / "make_golden.py"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
FILES = {entry["name"]: entry for entry in MANIFEST["files"]}
NAMES = sorted(FILES)
FORMAT1 = json.loads((GOLDEN / "format1" / "manifest.json").read_text(encoding="utf-8"))
CURRENT = "zoo-v4"
V4_MANIFEST = json.loads((GOLDEN / CURRENT / "manifest.json").read_text(encoding="utf-8"))
V4_FILES = {entry["name"]: entry for entry in V4_MANIFEST["files"]}
V4_NAMES = sorted(V4_FILES)


def _decode_all(out: Path, *extra: str) -> dict:
    env = dict(os.environ)
    env.pop("LIC_WEIGHTS_DIR", None)  # the shipped weights, whatever the caller points at
    done = subprocess.run([sys.executable, str(MAKE_GOLDEN), "--decode", str(out), *extra],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "decoded.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """Every golden file decoded by tools/make_golden.py --decode in a baseline process."""
    out = tmp_path_factory.mktemp("golden-decoded")
    return out, _decode_all(out)


@pytest.fixture(scope="module")
def decoded_default(tmp_path_factory):
    """The same with torch's default kernels (AVX-512/AVX2, oneDNN) and two threads."""
    out = tmp_path_factory.mktemp("golden-decoded-default")
    return out, _decode_all(out, "--kernels", "default")


def test_the_decoding_process_ran_with_the_baseline_kernels(decoded):
    _, result = decoded
    assert result["capability"] == "DEFAULT" and result["threads"] == 1 and not result["mkldnn"]


def test_every_shipped_model_and_quality_has_golden_files_of_both_releases():
    from lic_core import zoo
    shipped = {(name, q) for name, qualities in zoo.list_models().items() for q in qualities}
    assert len(shipped) == 21
    for manifest in (MANIFEST, V4_MANIFEST):
        assert {(e["model"], e["quality"]) for e in manifest["files"]} == shipped
    assert {e["weights_release"] for e in MANIFEST["files"]} == {"zoo-v3"}
    assert {(e["weights_release"], e["format_version"], e["probability_path"])
            for e in V4_MANIFEST["files"]} == {(CURRENT, 3, container.EXACT_PATH)}
    total = sum(p.stat().st_size for p in GOLDEN.rglob("*") if p.is_file())
    assert total < 600_000, f"tests/fixtures/golden holds {total} bytes; keep it small"


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_header_is_pinned(name):
    entry = FILES[name]
    data = (GOLDEN / entry["lic"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{entry['lic']} was modified"
    f = container.unpack(data)
    assert (f.model, f.quality, f.height, f.width) == (
        entry["model"], entry["quality"], entry["height"], entry["width"])
    assert (f.version, f.weights_release, f"{f.weights_fingerprint:016x}") == (
        entry["format_version"], entry["weights_release"], entry["weights_fingerprint"])
    assert [list(s) for s in f.latent_shapes] == entry["latent_shapes"]


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_decodes_to_exactly_the_pinned_symbols(decoded, name):
    _, result = decoded
    got = result["files"][name]
    assert "error" not in got, (
        f"{name} no longer decodes: {got.get('error')} (tools/make_golden.py: do not "
        f"regenerate to make this pass)")
    assert got["symbols"] == FILES[name]["symbols"]


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_decodes_to_the_pinned_image_within_one_level(decoded, name):
    out, result = decoded
    assert "error" not in result["files"][name], result["files"][name]
    entry = FILES[name]
    expected = np.asarray(Image.open(GOLDEN / entry["png"]).convert("RGB"))
    image = np.load(out / f"{name}.npy")
    assert image.shape == expected.shape == (entry["height"], entry["width"], 3)
    diff = np.abs(image.astype(np.int16) - expected.astype(np.int16))
    tolerance = MANIFEST["tolerance"]
    assert int(diff.max()) <= tolerance["max_abs_diff"] == 1
    assert float((diff == 0).mean()) >= tolerance["min_identical_fraction"] == 0.99


# ---------------------------------------------------------------- the release before format 2

def test_the_original_golden_cases_have_format_1_twins_from_the_previous_release():
    # the nine cases (q1/4/8 of each family) golden files had before zoo-v4 added the rest
    assert len(FORMAT1["files"]) == 9 and set(FORMAT1["files"]) <= set(NAMES)
    for name, digest in FORMAT1["files"].items():
        data = (GOLDEN / "format1" / f"{name}.lic").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"format1/{name}.lic was modified"
        f = container.unpack(data)
        assert (f.version, f.weights_release, f.weights_fingerprint) == (1, "", 0)
        assert (f.model, f.quality) == (FILES[name]["model"], FILES[name]["quality"])


@pytest.mark.parametrize("name", sorted(FORMAT1["files"]))
def test_a_format_1_file_of_the_previous_release_decodes_as_its_format_2_twin(decoded, name):
    # format-1 files name no weights; they decode with zoo-v3 (docs/format.md), and since
    # the coder did not change, to exactly the symbols and image of the format-2 file.
    out, result = decoded
    got = result["format1"][name]
    assert "error" not in got, f"format1/{name} no longer decodes: {got.get('error')}"
    assert got["symbols"] == FILES[name]["symbols"]
    expected = np.asarray(Image.open(GOLDEN / FILES[name]["png"]).convert("RGB"))
    diff = np.abs(np.load(out / f"format1-{name}.npy").astype(np.int16) - expected.astype(np.int16))
    assert int(diff.max()) <= MANIFEST["tolerance"]["max_abs_diff"]


# ---------------------------------------------------------------- the current release

@pytest.mark.parametrize("name", V4_NAMES)
def test_current_release_golden_header_is_pinned(name):
    entry = V4_FILES[name]
    data = (GOLDEN / CURRENT / entry["lic"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{entry['lic']} was modified"
    f = container.unpack(data)
    assert (f.model, f.quality, f.version, f.weights_release, f.probability_path) == (
        entry["model"], entry["quality"], 3, CURRENT, container.EXACT_PATH)
    assert f"{f.weights_fingerprint:016x}" == entry["weights_fingerprint"]


@pytest.mark.parametrize("kernels", ["baseline", "default"])
def test_current_release_golden_files_decode_to_the_pinned_symbols_under_any_kernels(
        request, kernels):
    out, result = request.getfixturevalue("decoded" if kernels == "baseline" else "decoded_default")
    if kernels == "default":
        assert result["capability"] != "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY")
    got = result["releases"][CURRENT]
    errors = {n: g["error"] for n, g in got.items() if "error" in g}
    assert errors == {}, f"no longer decode (do not regenerate to make this pass): {errors}"
    assert sorted(got) == V4_NAMES
    for name in V4_NAMES:
        assert got[name]["symbols"] == V4_FILES[name]["symbols"], name
        expected = np.asarray(Image.open(GOLDEN / CURRENT / V4_FILES[name]["png"]).convert("RGB"))
        diff = np.abs(np.load(out / f"{CURRENT}-{name}.npy").astype(np.int16)
                      - expected.astype(np.int16))
        assert int(diff.max()) <= V4_MANIFEST["tolerance"]["max_abs_diff"] == 1, name
        assert float((diff == 0).mean()) >= V4_MANIFEST["tolerance"]["min_identical_fraction"], name


def test_a_golden_file_whose_weights_are_not_shipped_names_the_release_it_needs():
    import dataclasses
    import lic_core
    from lic_core.errors import WeightsError
    data = (GOLDEN / CURRENT / V4_FILES[V4_NAMES[0]]["lic"]).read_bytes()
    moved = container.pack(dataclasses.replace(container.unpack(data), weights_release="zoo-v9"))
    with pytest.raises(WeightsError, match="needs the zoo weights release 'zoo-v9'"):
        lic_core.decompress(moved)
