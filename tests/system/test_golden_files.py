"""Golden files: .lic files written by each zoo weights release (every model and quality
it ships, small crops of the sample images) must keep decoding to what they decoded to
when they were written. tests/fixtures/golden/ holds the files of release zoo-v3 (format
2, written by the release before the integer path) with their format-1 twins in format1/,
and golden/<label>/ those of each later release (zoo-v4 on: format 3, the integer
probability path); each folder has the decoded images (PNG) and manifest.json.
tools/make_golden.py wrote them and says which folders are releases (release_folders);
read its docstring before running it: never to make this test pass.

No release is listed here: the releases are the folders found (only zoo-v3, the root's
and the one format-1 files decode with, and zoo-v4, the first on the integer path, are
named, as fixed points), the current one is the package's weights, and what each ships
comes from its weights. A new release therefore needs only its golden folder, which the
test demands.

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
hyperprior-q1-kodim15-48x80 fails that way with this machine's default kernels. So every
file is decoded in a fresh process (``tools/make_golden.py --decode``) with the BASELINE_ENV
of ``lic_core.testing.golden``
(ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, MKL_CBWR=COMPATIBLE,STRICT,
OMP_NUM_THREADS=MKL_NUM_THREADS=1), one torch thread and oneDNN convolutions off. Files of
the integer path (format 3 on) must also decode to the same symbols under torch's
default kernels: a second process decodes just those releases.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from lic_core import container  # noqa: E402
from lic_core.testing.golden import release_folders  # noqa: E402  (one definition of a golden release)
from lic_core.zoo import release  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
MAKE_GOLDEN = ROOT / "tools" / "make_golden.py"

#: {label: folder} of every release with golden files, oldest first
RELEASES = release_folders(GOLDEN)
MANIFESTS = {label: json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
             for label, folder in RELEASES.items()}
#: the release whose files lie in the golden folder itself (zoo-v3, before per-release folders)
ROOT_RELEASE = next(label for label, folder in RELEASES.items() if folder == GOLDEN)
#: {(release, name): manifest entry}
FILES = {(label, e["name"]): e for label, m in MANIFESTS.items() for e in m["files"]}
CASES = sorted(FILES)
FORMAT1 = json.loads((GOLDEN / "format1" / "manifest.json").read_text(encoding="utf-8"))
#: the package's weights, whatever $LIC_WEIGHTS_DIR says (the decodes ignore it too)
CURRENT = release.release_label(release.PACKAGE_WEIGHTS)
#: releases written on the integer probability path: the same symbols under any kernels
EXACT_RELEASES = [label for label, m in MANIFESTS.items()
                  if all(e["format_version"] >= 3 for e in m["files"])]
EXACT_CASES = [case for case in CASES if case[0] in EXACT_RELEASES]


def _id(case) -> str:
    return "/".join(case)


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
    """The integer-path releases' files decoded with torch's default kernels (AVX-512/AVX2,
    oneDNN) and threads. Only those: float-path files need not survive other kernels, and
    skipping them keeps this second process short as releases accumulate."""
    out = tmp_path_factory.mktemp("golden-decoded-default")
    return out, _decode_all(out, "--kernels", "default",
                            *(f"--release={label}" for label in EXACT_RELEASES))


def shipped_by(label: str) -> set:
    """{(model, quality)} that release ``label`` ships, read from its folder (the current
    weights, or lic_core/zoo/weights/retired/<label>/, possibly decoder side only) by the zoo's
    own catalog, which reads each file's metadata. Call with $LIC_WEIGHTS_DIR unset."""
    from lic_core.zoo import catalog
    folder = release.release_dir(label)
    assert folder is not None, (
        f"golden files of {label}, but its weights are not installed "
        f"(lic_core/zoo/weights/retired/{label}/): a release whose files were written stays decodable")
    return {(name, q) for name, files in catalog.shipped_files(folder).items() for q in files}


def test_the_decoding_process_ran_with_the_baseline_kernels(decoded):
    _, result = decoded
    assert result["capability"] == "DEFAULT" and result["threads"] == 1 and not result["mkldnn"]
    assert sorted(result["releases"]) == sorted(RELEASES)


def test_the_current_release_has_golden_files():
    assert CURRENT in RELEASES, (
        f"the current zoo release {CURRENT} (lic_core/zoo/weights/RELEASE.json) has no golden files: "
        f"run `python tools/make_golden.py` to write tests/fixtures/golden/{CURRENT}/ and "
        f"commit them with the release (read the script's docstring first)")


def test_the_root_golden_files_are_of_the_release_format_1_files_decode_with():
    assert ROOT_RELEASE == release.FORMAT1_RELEASE == "zoo-v3"


@pytest.mark.parametrize("label", list(RELEASES))
def test_a_release_has_golden_files_of_every_model_and_quality_it_ships(monkeypatch, label):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)  # the package's releases
    entries = MANIFESTS[label]["files"]
    # one release and one format version per folder: a folder is written once, by one writer
    assert {e["weights_release"] for e in entries} == {label}
    assert len({e["format_version"] for e in entries}) == 1
    golden = {(e["model"], e["quality"]) for e in entries}
    assert len(golden) == len(entries), f"{label}: two golden files of one model and quality"
    shipped = shipped_by(label)
    assert shipped, f"{label}: ships nothing?"
    assert golden == shipped, (
        f"{label}: no golden file of {sorted(shipped - golden)}; golden files of "
        f"{sorted(golden - shipped)} it does not ship")


def test_the_integer_path_releases_are_found():
    # zoo-v4 is the first release on the integer path; a manifest change that hid it (and
    # with it the default-kernel decodes) would otherwise pass silently
    assert "zoo-v4" in EXACT_RELEASES and ROOT_RELEASE not in EXACT_RELEASES
    for label in EXACT_RELEASES:
        assert {e["probability_path"] for e in MANIFESTS[label]["files"]} == {
            container.EXACT_PATH}, label


def test_the_golden_files_stay_small():
    # three releases' files (about 190 kB each: 21 or more crops, .lic and PNG) and the
    # format-1 twins fit; the limit is there so that a fourth release, or bigger crops,
    # are a decision (retire the oldest release's golden files?), not an accident
    total = sum(p.stat().st_size for p in GOLDEN.rglob("*") if p.is_file())
    assert total < 1_000_000, f"tests/fixtures/golden holds {total} bytes; keep it small"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_file_header_is_pinned(case):
    label, _ = case
    entry = FILES[case]
    data = (RELEASES[label] / entry["lic"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{entry['lic']} was modified"
    f = container.unpack(data)
    assert (f.model, f.quality, f.height, f.width) == (
        entry["model"], entry["quality"], entry["height"], entry["width"])
    assert (f.version, f.weights_release, f"{f.weights_fingerprint:016x}") == (
        entry["format_version"], entry["weights_release"], entry["weights_fingerprint"])
    # zoo-v3's manifest predates the field: its files (format 2) are all on the float path
    assert f.probability_path == entry.get("probability_path", container.FLOAT_PATH)
    assert [list(s) for s in f.latent_shapes] == entry["latent_shapes"]


def _decoded_symbols(result: dict, case, kernels: str) -> dict:
    """The decode of ``case`` in ``result`` (make_golden --decode), failing with a message
    that says which kernels could not decode it and not to regenerate."""
    label, name = case
    got = result["releases"][label][name]
    assert "error" not in got, (
        f"{label}/{name} no longer decodes under the {kernels} kernels: {got.get('error')} "
        f"(tools/make_golden.py: do not regenerate to make this pass)")
    return got["symbols"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_file_decodes_to_exactly_the_pinned_symbols(decoded, case):
    _, result = decoded
    assert _decoded_symbols(result, case, "baseline") == FILES[case]["symbols"]


def _assert_within_one_level(out: Path, case) -> None:
    label, name = case
    entry = FILES[case]
    expected = np.asarray(Image.open(RELEASES[label] / entry["png"]).convert("RGB"))
    image = np.load(out / f"{label}-{name}.npy")
    assert image.shape == expected.shape == (entry["height"], entry["width"], 3)
    diff = np.abs(image.astype(np.int16) - expected.astype(np.int16))
    tolerance = MANIFESTS[label]["tolerance"]
    if entry.get("synthesis") == container.EXACT_SYNTHESIS:
        # integer synthesis: the pixels themselves are pinned, bit for bit
        assert tolerance == {"max_abs_diff": 0, "min_identical_fraction": 1.0}
        assert hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() == entry["image_sha256"]
        assert int(diff.max()) == 0
        return
    assert int(diff.max()) <= tolerance["max_abs_diff"] == 1
    assert float((diff == 0).mean()) >= tolerance["min_identical_fraction"] == 0.99


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_file_decodes_to_the_pinned_image_within_one_level(decoded, case):
    out, result = decoded
    label, name = case
    assert "error" not in result["releases"][label][name], result["releases"][label][name]
    _assert_within_one_level(out, case)


# ---------------------------------------------------------------- the release before format 2

def test_the_original_golden_cases_have_format_1_twins_from_the_previous_release():
    # the nine cases (q1/4/8 of each family) golden files had before zoo-v4 added the rest
    root_names = {name for label, name in CASES if label == ROOT_RELEASE}
    assert len(FORMAT1["files"]) == 9 and set(FORMAT1["files"]) <= root_names
    for name, digest in FORMAT1["files"].items():
        data = (GOLDEN / "format1" / f"{name}.lic").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"format1/{name}.lic was modified"
        f = container.unpack(data)
        assert (f.version, f.weights_release, f.weights_fingerprint) == (1, "", 0)
        entry = FILES[ROOT_RELEASE, name]
        assert (f.model, f.quality) == (entry["model"], entry["quality"])


@pytest.mark.parametrize("name", sorted(FORMAT1["files"]))
def test_a_format_1_file_of_the_previous_release_decodes_as_its_format_2_twin(decoded, name):
    # format-1 files name no weights; they decode with zoo-v3 (docs/format.md), and since
    # the coder did not change, to exactly the symbols and image of the format-2 file.
    out, result = decoded
    entry = FILES[ROOT_RELEASE, name]
    got = result["format1"][name]
    assert "error" not in got, f"format1/{name} no longer decodes: {got.get('error')}"
    assert got["symbols"] == entry["symbols"]
    expected = np.asarray(Image.open(GOLDEN / entry["png"]).convert("RGB"))
    diff = np.abs(np.load(out / f"format1-{name}.npy").astype(np.int16) - expected.astype(np.int16))
    assert int(diff.max()) <= MANIFESTS[ROOT_RELEASE]["tolerance"]["max_abs_diff"]


# ---------------------------------------------------------------- the integer path

def test_the_second_decoding_process_ran_with_torchs_default_kernels(decoded_default):
    _, result = decoded_default
    assert result["capability"] != "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY")
    assert sorted(result["releases"]) == sorted(EXACT_RELEASES)


@pytest.mark.parametrize("case", EXACT_CASES, ids=_id)
def test_integer_path_golden_file_decodes_the_same_under_default_kernels(decoded_default, case):
    out, result = decoded_default
    assert _decoded_symbols(result, case, "default") == FILES[case]["symbols"]
    _assert_within_one_level(out, case)


def test_a_golden_file_whose_weights_are_not_shipped_names_the_release_it_needs():
    import dataclasses
    import lic_core
    from lic_core.errors import WeightsError
    label, name = next(case for case in CASES if case[0] == list(RELEASES)[-1])
    data = (RELEASES[label] / FILES[label, name]["lic"]).read_bytes()
    # a label no release will have (a real zoo-v9 may ship one day)
    moved = container.pack(dataclasses.replace(container.unpack(data), weights_release="zoo-v999"))
    with pytest.raises(WeightsError, match=re.escape("needs the zoo weights release 'zoo-v999'")):
        lic_core.decompress(moved)
