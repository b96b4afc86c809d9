"""digests.txt, the plain-text copy of a golden release's decoded-pixel digests, says what
its manifest.json says: one line ``<name>.lic <image_sha256>`` per file of integer
synthesis, sorted (``lic_core.testing.golden.digests_text``). C readers use it without a JSON
parser: tests/c_abi/golden_decode.c decodes every file it lists and compares lic_sha256 of
the pixels (ctest, and tools/cross_check.sh on aarch64 and s390x), and examples/c_decode's
ctest checks the first line. So a golden folder of integer synthesis must have one, and
it must agree with the manifest: a digest changed in one place only would let one of
the two checks pass against the wrong pixels.

No torch: this reads text and JSON only.
"""
import json
import re
from pathlib import Path

import pytest

from lic_core.testing.golden import DIGESTS, MANIFEST, digests_text, release_folders

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"

RELEASES = release_folders(GOLDEN)
MANIFESTS = {label: json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
             for label, folder in RELEASES.items()}
#: releases with files of integer synthesis (zoo-v5 on)
EXACT = [label for label, m in MANIFESTS.items() if any(e.get("synthesis") == 1 for e in m["files"])]
LINE = re.compile(r"(?P<name>[^ /\\]+\.lic) (?P<digest>[0-9a-f]{64})")


def test_zoo_v5_is_a_release_of_integer_synthesis():
    # the folder csrc/CMakeLists.txt hands c_abi_golden_decode and the example
    assert "zoo-v5" in EXACT


def test_only_folders_of_integer_synthesis_have_digests():
    for label, folder in RELEASES.items():
        assert (folder / DIGESTS).is_file() == (label in EXACT), (
            f"{folder / DIGESTS}: expected {'one' if label in EXACT else 'none'} "
            "(python tools/make_golden.py --digests writes it from the manifest)")


@pytest.mark.parametrize("label", EXACT)
def test_digests_txt_agrees_with_the_manifest(label):
    folder = RELEASES[label]
    text = (folder / DIGESTS).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert text.endswith("\n") and "\r" not in text and all(lines), "one line per file, LF, no blank lines"
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), [line for line, m in zip(lines, parsed) if not m]
    names = [m["name"] for m in parsed]
    assert names == sorted(names) and len(set(names)) == len(names), "sorted, each file once"
    expected = {e["lic"]: e["image_sha256"] for e in MANIFESTS[label]["files"] if e.get("synthesis") == 1}
    assert {m["name"]: m["digest"] for m in parsed} == expected
    # every file is there to decode, and the text is exactly what make_golden writes
    assert all((folder / name).is_file() for name in names)
    assert text == digests_text(MANIFESTS[label])


@pytest.mark.parametrize("label", EXACT)
def test_every_file_of_integer_synthesis_pins_its_pixels(label):
    for e in MANIFESTS[label]["files"]:
        if e.get("synthesis") == 1:
            assert re.fullmatch(r"[0-9a-f]{64}", e.get("image_sha256", "")), e["lic"]
            assert e["format_version"] >= 4, e["lic"]
