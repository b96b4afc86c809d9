"""Files of integer synthesis decode to the same bytes whatever runs them (issue 23, point
4): every golden file of a release of integer synthesis (zoo-v5 on; its manifest pins
``image_sha256``, the SHA-256 of the decoded H x W x 3 RGB bytes row by row) decodes to
exactly those pixels

* with each of the engine's kernels forced (``LIC_INTNET_KERNEL`` = portable, avx2,
  avx512, avx512vnni; the kernel is picked once per process, so each runs in its own
  process; a kernel this CPU lacks falls back to the best it has, and the test says which
  ran),
* on 1, 2 and 4 threads (``FileDecoder.decode(threads=)``),
* and without torch: ``lic_core.decompress``, ``lic decompress`` and the Pillow plugin,
  each in a fresh process that ends with torch absent from ``sys.modules``.

The same digests are checked in C by tests/c_abi/golden_decode.c (ctest), on x86-64 and,
cross-built, on aarch64 and big-endian s390x under qemu (tools/cross_check.sh).
"""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lic_core
from lic_core import container
from lic_core.coding.decoder import FileDecoder
from lic_core.testing.golden import MANIFEST, release_folders
from lic_core.zoo.catalog import locate_decoder

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"

#: (release label, folder, manifest entry) of every golden file of integer synthesis
FILES = [(label, folder, e) for label, folder in release_folders(GOLDEN).items()
         for e in json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
         if e.get("synthesis") == 1]
KERNELS = ("portable", "avx2", "avx512", "avx512vnni")


def _digest(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()).hexdigest()


def _run(script: str, **env) -> str:
    """Runs ``script`` in a fresh Python from the repository root; its stdout. The
    script gets FILES as ``cases``: [(path, image_sha256), ...]."""
    cases = [(str(folder / e["lic"]), e["image_sha256"]) for _, folder, e in FILES]
    prelude = f"import sys\ncases = {cases!r}\n"
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], cwd=ROOT,
                         env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_there_are_golden_files_of_integer_synthesis():
    assert {label for label, _, _ in FILES} >= {"zoo-v5"}
    assert len(FILES) >= 21  # every family and quality zoo-v5 ships


def test_every_kernel_decodes_the_golden_files_to_their_digests():
    ran = {}
    for name in KERNELS:
        # a kernel this CPU lacks falls back to its best one, which runs under its own
        # name anyway: such a process stops after saying so
        out = _run("""
            import hashlib, os
            import lic_core
            from lic_core.coding import _intnet
            if _intnet.kernel_name() == os.environ["LIC_INTNET_KERNEL"]:
                for path, digest in cases:
                    rgb = lic_core.decompress(open(path, "rb").read())
                    got = hashlib.sha256(rgb.tobytes()).hexdigest()
                    assert got == digest, f"{path}: {got} != {digest}"
            print(_intnet.kernel_name())
            """, LIC_INTNET_KERNEL=name)
        ran[name] = out.strip()
    # the portable path and the one this CPU picks by itself both decoded every file
    from lic_core.coding import _intnet
    assert ran["portable"] == "portable", ran
    assert ran[_intnet.kernel_name()] == _intnet.kernel_name(), ran
    print("kernels:", ran)


@pytest.mark.parametrize("label, folder, entry", FILES, ids=[f"{l}/{e['name']}" for l, _, e in FILES])
def test_the_pixels_do_not_depend_on_the_thread_count(label, folder, entry):
    data = (folder / entry["lic"]).read_bytes()
    header = container.unpack(data)
    path, _ = locate_decoder(header.model, header.quality, header.weights_release)
    decoder = FileDecoder(path)
    for threads in (1, 2, 4):
        rgb = decoder.decode(data, threads=threads)
        assert rgb.shape == (entry["height"], entry["width"], 3)
        assert _digest(rgb) == entry["image_sha256"], f"{threads} threads"
    assert _digest(lic_core.decompress(data)) == entry["image_sha256"]


def test_decompress_never_imports_torch():
    out = _run("""
        import hashlib
        import lic_core
        for path, digest in cases:
            assert hashlib.sha256(lic_core.decompress(open(path, "rb").read()).tobytes()).hexdigest() == digest, path
        assert "torch" not in sys.modules, "lic_core.decompress imported torch"
        print("no torch")
        """)
    assert out.strip() == "no torch"


def test_lic_decompress_never_imports_torch(tmp_path):
    # the CLI as `lic decompress IN... -o DIR --threads 2` runs it (--threads sets the
    # engine's count, and torch's only through OMP_NUM_THREADS until a file needs torch)
    out = _run(f"""
        import hashlib, os
        import numpy as np
        from PIL import Image
        from lic_core.cli.main import main
        rc = main(["decompress", "--quiet", "--threads", "2", *[p for p, _ in cases], "-o", {str(tmp_path)!r}])
        assert rc == 0, rc
        assert "torch" not in sys.modules, "lic decompress imported torch"
        for path, digest in cases:
            png = os.path.join({str(tmp_path)!r}, os.path.basename(path)[:-4] + ".png")
            rgb = np.asarray(Image.open(png).convert("RGB"))
            assert hashlib.sha256(rgb.tobytes()).hexdigest() == digest, png
        print("no torch")
        """)
    assert out.strip() == "no torch"


def test_the_pillow_plugin_never_imports_torch():
    out = _run("""
        import hashlib
        import numpy as np
        from PIL import Image
        import lic_core  # registers the plugin
        for path, digest in cases:
            with Image.open(path) as im:
                assert im.format == "LIC", im.format
                rgb = np.asarray(im.convert("RGB"))
            assert hashlib.sha256(rgb.tobytes()).hexdigest() == digest, path
        assert "torch" not in sys.modules, "the Pillow plugin imported torch"
        print("no torch")
        """)
    assert out.strip() == "no torch"
