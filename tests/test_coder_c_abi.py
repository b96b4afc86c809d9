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


@pytest.fixture(scope="module")
def roundtrip_binary(tmp_path_factory):
    cc, cxx = _compiler(os.environ.get("CC", "cc"), "gcc", "clang"), _compiler(os.environ.get("CXX", "c++"), "g++", "clang++")
    if not cc or not cxx:
        pytest.skip("no system C/C++ compiler on PATH")
    out = tmp_path_factory.mktemp("c_abi")
    objects = []
    c_obj = str(out / "roundtrip.o")
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I", CSRC, "-c",
                    os.path.join(ROOT, "tests", "c_abi", "roundtrip.c"), "-o", c_obj], check=True)
    objects.append(c_obj)
    for src in ENGINE:
        obj = str(out / (src + ".o"))
        subprocess.run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-I", CSRC, "-c",
                        os.path.join(CSRC, "lic", src), "-o", obj], check=True)
        objects.append(obj)
    exe = str(out / "roundtrip")
    subprocess.run([cxx, *objects, "-o", exe], check=True)
    return exe


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
    assert result.stdout.split() == ["OK", str(len(data)), str(fnv)]
