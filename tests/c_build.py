"""Compiling the engine (csrc/lic/*.cpp) and the test programs of tests/c_abi/ with
the system compilers, without CMake: the helper of the tests that run C and C++
programs against the engine (test_coder_c_abi.py, test_engine_formats.py).

The engine's sources are found as setup.py and csrc/CMakeLists.txt find them (every
csrc/lic/*.cpp), so that the programs link what a wheel ships and a new engine file
cannot be left out (compat.cpp once was). C programs are held to C99 with every
warning an error, as ctest holds them (lic.h must stay plain C)."""
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
ENGINE = sorted(os.path.basename(p) for p in glob.glob(os.path.join(CSRC, "lic", "*.cpp")))
C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror")


def compiler(*names):
    """The first of ``names`` found on PATH, or None."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def compilers():
    """(cc, cxx): the system C and C++ compilers ($CC, $CXX first); skips without them."""
    cc = compiler(os.environ.get("CC", "cc"), "gcc", "clang")
    cxx = compiler(os.environ.get("CXX", "c++"), "g++", "clang++")
    if not cc or not cxx:
        pytest.skip("no system C/C++ compiler on PATH")
    return cc, cxx


def _engine_key(cxx, flags) -> str:
    """What the engine's objects depend on: every csrc/lic file, the compiler, the flags."""
    digest = hashlib.sha256(f"{cxx}\0{' '.join(flags)}\0".encode())
    for path in sorted(glob.glob(os.path.join(CSRC, "lic", "*"))):
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:20]


def compile_engine(out, flags=(), sources=None):
    """Object files of the engine (C++17, -O1) in folder ``out`` (made if missing);
    ``sources`` defaults to every csrc/lic/*.cpp. The whole engine is compiled once per
    content: its objects are kept in the temporary folder under a digest of the sources,
    the compiler and the flags (the engine grew past 40 s a compile, and several test
    modules link it), so a changed file, compiler or flag compiles again."""
    _, cxx = compilers()
    out.mkdir(parents=True, exist_ok=True)
    names = ENGINE if sources is None else sources
    cache = None
    if sources is None:
        cache = os.path.join(tempfile.gettempdir(), f"lic-engine-objects-{_engine_key(cxx, flags)}")
        objects = [os.path.join(cache, src + ".o") for src in names]
        if all(os.path.isfile(o) for o in objects):
            return objects
    build_dir = tempfile.mkdtemp(prefix="lic-engine-build-") if cache else str(out)
    objects = []
    for src in names:
        objects.append(os.path.join(build_dir, src + ".o"))
        subprocess.run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", *flags, "-I", CSRC, "-c",
                        os.path.join(CSRC, "lic", src), "-o", objects[-1]], check=True)
    if cache is None:
        return objects
    try:
        os.rename(build_dir, cache)  # whole or not at all; another process may have won
    except OSError:
        shutil.rmtree(build_dir, ignore_errors=True)
    return [os.path.join(cache, src + ".o") for src in names]


def compile_c(out, c_source, flags=(), defines=()):
    """tests/c_abi/<c_source> (C99, warnings are errors) to an object file in ``out``."""
    cc, _ = compilers()
    obj = str(out / (c_source + ".o"))
    subprocess.run([cc, *C_FLAGS, *flags, *defines, "-I", CSRC, "-c",
                    os.path.join(ROOT, "tests", "c_abi", c_source), "-o", obj], check=True)
    return obj


def compile_cxx(out, source, flags=()):
    """tests/c_abi/<source> (C++17, warnings are errors; it may include the engine's
    internal headers) to an object file in ``out``."""
    _, cxx = compilers()
    obj = str(out / (source + ".o"))
    subprocess.run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", *flags, "-I", CSRC, "-c",
                    os.path.join(ROOT, "tests", "c_abi", source), "-o", obj], check=True)
    return obj


def link(out, name, objects, flags=()):
    """Links ``objects`` with the C++ driver into ``out/name``; returns its path."""
    _, cxx = compilers()
    exe = str(out / name)
    subprocess.run([cxx, *flags, *objects, "-o", exe], check=True)
    return exe


def build(out, c_source, flags=(), defines=()):
    """Compile tests/c_abi/<c_source> (C99) and the engine (C++17), link with c++."""
    objects = [compile_c(out, c_source, flags, defines), *compile_engine(out, flags)]
    return link(out, c_source.replace(".c", ""), objects, flags)
