"""Golden files: .lic files written by the shipped zoo (every family, three qualities,
small crops of the sample images) must keep decoding to what they decoded to when they
were written. tests/fixtures/golden/ holds the files, their decoded images (PNG) and
manifest.json; tools/make_golden.py wrote them (read its docstring before running it:
never to make this test pass).

Pinned per file:

* the header: model, quality, size, format version, weights release and fingerprint,
  and the file's SHA-256 (the fixture itself is intact);
* the entropy-decoded integer symbols of every stream (count and SHA-256, in decode
  order): **exactly**. They follow from the bytes, the coding tables and the table
  indexes, and the indexes of ŷ come from h_s (and for the joint model the context
  networks), which run in float;
* the decoded image: within one level per pixel, and at least 99 % of pixels
  identical. The synthesis g_s runs in float32, so another CPU may round a pixel the
  other way (none did on the machine that wrote them).

Why a subprocess with baseline kernels: until the integer entropy-parameter path
(issue 12) exists, a scale computed by h_s can land on the other side of a scale-table
boundary when torch's kernels round differently (AVX-512 vs AVX2, oneDNN vs MKL, thread
splits), and the stream then cannot be decoded. This is not hypothetical: of these nine
files, hyperprior-q1-kodim15-48x80 fails to decode (TruncatedStreamError) with the
default AVX-512/oneDNN kernels of the machine that wrote it. So the files are written
and decoded only in a fresh process with ``tools/make_golden.py``'s BASELINE_ENV
(ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, MKL_CBWR=COMPATIBLE,STRICT,
OMP_NUM_THREADS=MKL_NUM_THREADS=1), one torch thread and oneDNN convolutions off, which
give the same floats on any x86-64 CPU running the same torch build (docs/reliability.md).
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


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """Every golden file decoded by tools/make_golden.py --decode in a baseline process."""
    out = tmp_path_factory.mktemp("golden-decoded")
    env = dict(os.environ)
    env.pop("LIC_WEIGHTS_DIR", None)  # the shipped weights, whatever the caller points at
    done = subprocess.run([sys.executable, str(MAKE_GOLDEN), "--decode", str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((out / "decoded.json").read_text(encoding="utf-8"))
    return out, result


def test_the_decoding_process_ran_with_the_baseline_kernels(decoded):
    _, result = decoded
    assert result["capability"] == "DEFAULT" and result["threads"] == 1 and not result["mkldnn"]


def test_every_shipped_family_has_golden_files_at_several_qualities():
    from lic_core import zoo
    shipped = {name for name, qualities in zoo.list_models().items() if qualities}
    families = {}
    for entry in MANIFEST["files"]:
        families.setdefault(entry["model"], set()).add(entry["quality"])
    assert shipped <= set(families), f"no golden files for {sorted(shipped - set(families))}"
    assert all(len(q) >= 2 for q in families.values()), families
    total = sum(p.stat().st_size for p in GOLDEN.iterdir())
    total += sum(p.stat().st_size for p in (GOLDEN / "format1").iterdir())
    assert total < 100_000, f"tests/fixtures/golden holds {total} bytes; keep it small"


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

def test_every_golden_case_has_a_format_1_twin_from_the_previous_release():
    assert sorted(FORMAT1["files"]) == NAMES
    for name, digest in FORMAT1["files"].items():
        data = (GOLDEN / "format1" / f"{name}.lic").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"format1/{name}.lic was modified"
        f = container.unpack(data)
        assert (f.version, f.weights_release, f.weights_fingerprint) == (1, "", 0)
        assert (f.model, f.quality) == (FILES[name]["model"], FILES[name]["quality"])


@pytest.mark.parametrize("name", NAMES)
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
