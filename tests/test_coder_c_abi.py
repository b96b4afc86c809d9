"""The C ABI (csrc/lic/lic.h) serves a plain C program: it compiles with the system
C and C++ compilers, links without Python and round-trips (tests/c_abi/roundtrip.c)."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from lic_core import coder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
ENGINE = ["coder.cpp", "capi.cpp", "status.cpp"]  # the coder needs nothing else


def _compiler(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def _build(out, c_source, flags=(), defines=()):
    """Compile tests/c_abi/<c_source> (C99) and the coder engine (C++17), link with c++."""
    cc = _compiler(os.environ.get("CC", "cc"), "gcc", "clang")
    cxx = _compiler(os.environ.get("CXX", "c++"), "g++", "clang++")
    if not cc or not cxx:
        pytest.skip("no system C/C++ compiler on PATH")
    objects = [str(out / (c_source + ".o"))]
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", *flags, *defines, "-I", CSRC,
                    "-c", os.path.join(ROOT, "tests", "c_abi", c_source), "-o", objects[0]], check=True)
    for src in ENGINE:
        objects.append(str(out / (src + ".o")))
        subprocess.run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", *flags, "-I", CSRC, "-c",
                        os.path.join(CSRC, "lic", src), "-o", objects[-1]], check=True)
    exe = str(out / c_source.replace(".c", ""))
    subprocess.run([cxx, *flags, *objects, "-o", exe], check=True)
    return exe


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
