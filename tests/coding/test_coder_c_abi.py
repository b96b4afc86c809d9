"""The C ABI (csrc/lic/lic.h) serves a plain C program: it compiles with the system
C and C++ compilers, links without Python and round-trips (tests/c_abi/roundtrip.c).
The engine lic-core ships (lic_core.get_include(), lic_core.get_library_dir()) links
into another project's program or shared object, at the package's version."""
import ctypes
import os
import re
import subprocess

import numpy as np
import pytest

import lic_core
from tests.c_build import CSRC, ROOT, build as _build, compiler as _compiler
from lic_core import coder


def _sanitizers_work(out):
    """True when the toolchain links an ASan+UBSan program (not every CI image can)."""
    cc = _compiler(os.environ.get("CC", "cc"), "gcc", "clang")
    probe = out / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    result = subprocess.run([cc, "-fsanitize=address,undefined", str(probe), "-o", str(out / "probe")],
                            capture_output=True)
    return result.returncode == 0 and subprocess.run([str(out / "probe")], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def roundtrip_binary(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("c_abi"), "roundtrip.c")


def test_c_program_round_trips_through_lic_h(roundtrip_binary):
    result = subprocess.run([roundtrip_binary], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK ")


def test_c_program_writes_the_same_bytes_as_the_python_face(roundtrip_binary):
    # Same inputs as roundtrip.c (its LCG), encoded through the Python face; the
    # C program prints its stream's size and FNV-1a hash.
    n = 5000
    state = 12345
    symbols = np.zeros(n, np.int64)
    indexes = np.zeros(n, np.int64)
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2**32
        indexes[i] = (state >> 16) & 1
        symbols[i] = (state >> 8) % 5 - 2 + indexes[i] * 9
    symbols[0], symbols[1], symbols[n - 1] = -(2**31), 2**31 - 1, -1000000
    tables = coder.TableSet([[0, 10, 200, 240, 250, 256], [0, 255, 256, 0, 0, 0]], [6, 3], [-2, 7], precision=8)
    data = coder.encode(symbols, indexes, tables)
    result = subprocess.run([roundtrip_binary], capture_output=True, text=True, timeout=60)
    fnv = 2166136261
    for byte in data:
        fnv = ((fnv ^ byte) * 16777619) % 2**32
    assert result.stdout.split()[:3] == ["OK", str(len(data)), str(fnv)]


def test_c_abi_precision_macros_are_the_python_faces_precision(roundtrip_binary):
    # roundtrip.c prints LIC_MAX_PRECISION and LIC_DEFAULT_PRECISION (and checks
    # that lic_tables_create enforces the first); the Python faces read theirs
    # from the same macros through the compiled modules.
    result = subprocess.run([roundtrip_binary], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    max_precision, default_precision = map(int, result.stdout.split()[3:5])
    assert max_precision == coder.MAX_PRECISION
    assert default_precision == coder.PRECISION


def test_fuzz_driver_finds_no_memory_error_or_disagreement(tmp_path):
    """tests/c_abi/fuzz_decode.c, standalone: random bytes, truncations and bit
    flips of valid streams through every decoder entry point, under ASan+UBSan
    when the toolchain has them (the driver aborts on any disagreement)."""
    flags = ("-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all") if _sanitizers_work(tmp_path) \
        else ("-O1",)
    exe = _build(tmp_path, "fuzz_decode.c", flags=flags, defines=("-DLIC_FUZZ_MAIN",))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1")
    result = subprocess.run([exe, "3000"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "OK 3000"


# ---- the engine lic-core ships, as another project links it ----------------------

def _cc():
    cc = _compiler(os.environ.get("CC", "cc"), "gcc", "clang")
    if not cc:
        pytest.skip("no system C compiler on PATH")
    return cc


def _link_shipped():
    """Compiler arguments that link the shipped static engine (C++17 inside). Under
    tools/sanitize.sh the shipped engine is itself built with ASan + UBSan, so a
    program linking it needs their runtimes too."""
    sanitize = ["-fsanitize=address,undefined"] if os.environ.get("LIC_UNDER_SANITIZER") else []
    return [*sanitize, "-L", lic_core.get_library_dir(), "-llic", "-lstdc++", "-lm", "-lpthread"]


def _pyproject_version():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as fh:
        return re.search(r'^version = "([^"]+)"', fh.read(), re.M).group(1)


def test_shipped_engine_links_a_c_program_at_the_package_version(tmp_path):
    # tests/cmake_consumer/consumer.c: header and library versions agree, and a
    # Gaussian table set round-trips; it prints the library's version.
    exe = str(tmp_path / "consumer")
    subprocess.run([_cc(), "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I", lic_core.get_include(),
                    os.path.join(ROOT, "tests", "cmake_consumer", "consumer.c"), *_link_shipped(), "-o", exe],
                   check=True)
    result = subprocess.run([exe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["OK", lic_core.__version__]
    assert lic_core.__version__ == _pyproject_version()


def test_shipped_engine_links_into_a_shared_object(tmp_path):
    # What a Python extension of another project does: the static library is
    # position-independent, so it links into a .so, which then codes.
    src = tmp_path / "probe.c"
    src.write_text('#include "lic/lic.h"\n'
                   "unsigned probe_version(void) { return lic_version(); }\n"
                   "const char* probe_string(void) { return lic_version_string(); }\n")
    so = str(tmp_path / "probe.so")
    subprocess.run([_cc(), "-shared", "-fPIC", "-I", lic_core.get_include(), str(src), *_link_shipped(), "-o", so],
                   check=True)
    lib = ctypes.CDLL(so)
    lib.probe_string.restype = ctypes.c_char_p
    major, minor, patch = map(int, _pyproject_version().split("."))
    assert lib.probe_version() == major * 10000 + minor * 100 + patch
    assert lib.probe_string().decode() == _pyproject_version()


def test_shipped_headers_are_the_engine_headers():
    # A build-time copy of csrc/lic (no committed second copy that could drift).
    for name in ("lic.h", "status.h"):
        with open(os.path.join(lic_core.get_include(), "lic", name), "rb") as shipped, \
                open(os.path.join(CSRC, "lic", name), "rb") as source:
            assert shipped.read() == source.read(), f"lic_core/include/lic/{name} is stale: rebuild"


def test_fuzz_driver_replays_the_saved_coder_corpus(tmp_path):
    exe = _build(tmp_path, "fuzz_decode.c", defines=("-DLIC_FUZZ_MAIN",))
    folder = os.path.join(ROOT, "tests", "fuzz", "corpus", "coder")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    result = subprocess.run([exe, *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"OK {len(files)} files"
