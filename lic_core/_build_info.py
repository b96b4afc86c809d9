"""Where the compiled engine lic-core ships is, for other projects' builds.

lic-core's build (setup.py) puts the engine's public C headers in
``lic_core/include/lic/`` and its static library in ``lic_core/lib/`` (``liblic.a``),
so a Python extension of another project can code with the very engine lic-core
uses, without a second copy of the sources::

    Extension("mycodec._native", ["mycodec/_native.c"],
              include_dirs=[lic_core.get_include()],        # #include "lic/lic.h"
              library_dirs=[lic_core.get_library_dir()],
              libraries=["lic", "stdc++", "m", "pthread"])  # the engine is C++17

(or ``language="c++"`` instead of ``"stdc++"``). ``pthread`` is needed because the
integer networks (``csrc/lic/intnet.cpp``) split large layers over ``std::thread``.
The C ABI is ``lic/lic.h``; the README's "Linking the engine from C" covers the
CMake and pkg-config routes.
"""
from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _built(folder: str, marker: str) -> str:
    path = os.path.join(_HERE, folder)
    if not os.path.isfile(os.path.join(path, marker)):
        raise FileNotFoundError(
            f"lic-core's engine is not in {path} (no {marker}): this copy of lic_core was "
            "not built by its setup.py; reinstall it with pip (or run "
            "`python setup.py build_ext --inplace` in a source checkout)")
    return path


def get_include() -> str:
    """The folder holding ``lic/lic.h`` and ``lic/status.h``, for ``include_dirs``."""
    return _built("include", os.path.join("lic", "lic.h"))


def get_library_dir() -> str:
    """The folder holding the static engine library ``liblic.a`` (``lic.lib`` with
    MSVC), for ``library_dirs``; link it as ``lic`` with the C++ runtime, libm and
    pthread."""
    lib = "lic.lib" if os.name == "nt" else "liblic.a"
    return _built("lib", lib)
