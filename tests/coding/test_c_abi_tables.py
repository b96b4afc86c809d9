"""The C ABI's table builder (lic.h: lic_scale_table_build, lic_scales_to_indexes,
lic_parametric_tables_size/_build) gives the same integers as lic_core.tables, byte for
byte: the default scale table, scale -> index over a probe vector, and the Gaussian,
Laplace and logistic table sets of the scale table with both methods (the CompressAI
method is refused for Laplace and logistic by both faces).

tests/c_abi/tables_dump.c is compiled against the engine lic-core ships
(lic_core.get_include(), lic_core.get_library_dir()), run with --dump, and every array
it wrote is compared with the Python face's. Its digest lines must also equal
tests/c_abi/tables_digests.txt, the file ctest checks the CMake build against (ctest
has no Python): so the CMake-built library is held to these same integers.
"""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lic_core
from lic_core import tables
from lic_core.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = ROOT / "tests" / "c_abi" / "tables_digests.txt"
BUILDERS = {"gaussian": tables.gaussian_tables, "laplace": tables.laplace_tables,
            "logistic": tables.logistic_tables}


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    """(printed lines, dump folder) of tables_dump.c linked with the shipped engine."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no system C compiler on PATH")
    out = tmp_path_factory.mktemp("c_abi_tables")
    # A sanitizer build of lic-core (tools/sanitize.sh) ships an instrumented engine.
    sanitize = ["-fsanitize=address,undefined"] if os.environ.get("LIC_UNDER_SANITIZER") else []
    exe = out / "tables_dump"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror",
                    "-I", lic_core.get_include(), str(ROOT / "tests" / "c_abi" / "tables_dump.c"),
                    *sanitize, "-L", lic_core.get_library_dir(), "-llic", "-lstdc++", "-lm", "-lpthread", "-o", str(exe)],
                   check=True)
    dump = out / "dump"
    dump.mkdir()
    done = subprocess.run([str(exe), "--dump", str(dump)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "OK 6 table sets", lines
    return lines[:-1], dump


def _read(dump, name, array, dtype=np.int32):
    return np.fromfile(dump / f"{name}.{array}.bin", dtype=dtype)


def test_c_scale_table_is_the_python_scale_table(dumped):
    _, dump = dumped
    c_table = _read(dump, "scale_table", "values", np.float32)
    assert c_table.tobytes() == tables.scale_table().tobytes()


def test_c_scale_indexes_are_the_python_scale_indexes(dumped):
    _, dump = dumped
    probes = _read(dump, "scale_indexes", "scales", np.float32)
    assert probes.size > 3 * 64 and np.isinf(probes).sum() == 2  # entries, +-1 ulp, the edges
    c_indexes = _read(dump, "scale_indexes", "indexes")
    assert c_indexes.tobytes() == tables.scale_indexes(probes, tables.scale_table()).tobytes()


@pytest.mark.parametrize("method", tables.METHODS)
@pytest.mark.parametrize("family", tables.FAMILIES)
def test_c_table_sets_are_the_python_table_sets(dumped, family, method):
    lines, dump = dumped
    name = f"{family}-{method}"
    (line,) = [ln for ln in lines if ln.split()[0] == name]
    if family != "gaussian" and method == "compressai":
        # Refused by both faces, with the same status (1 = invalid argument).
        assert line.split()[1:] == ["refused", "1"]
        with pytest.raises(InvalidArgumentError):
            BUILDERS[family](tables.scale_table(), method=method)
        return
    cdfs, lengths, offsets = BUILDERS[family](tables.scale_table(), method=method)
    n, max_len = map(int, line.split()[1:3])
    assert (n, max_len) == cdfs.shape  # the size query's row width is the Python face's
    assert _read(dump, name, "cdfs").tobytes() == cdfs.tobytes()
    assert _read(dump, name, "lengths").tobytes() == lengths.tobytes()
    assert _read(dump, name, "offsets").tobytes() == offsets.tobytes()


def test_digest_file_that_ctest_checks_holds_these_tables(dumped):
    # The arrays above equal the Python face's, so the printed digests are the Python
    # tables' digests: the file ctest compares the CMake build with must hold them.
    lines, _ = dumped
    expected = "\n".join(lines) + "\n"
    assert DIGESTS.read_text() == expected, (
        f"{DIGESTS} is stale; if the table integers changed on purpose, write:\n{expected}")
