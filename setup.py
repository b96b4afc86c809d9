"""Build the compiled faces of lic-core.

Every extension compiles the same engine sources from csrc/ (one engine, several
faces). Flags are chosen for exactness before speed:

* -O3 but never -ffast-math: the table builder must round the same way on every
  machine, and fast-math licenses reassociation.
* -ffp-contract=off: no fused multiply-add contraction, so a*b+c is two roundings
  on x86-64 and aarch64 alike (aarch64 GCC contracts by default).
* LIC_SANITIZE=address,undefined builds with sanitizers (see docs/reliability.md).
"""
import glob
import os
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext as _build_ext

try:
    import numpy
except ImportError:  # pragma: no cover - build-system requires numpy
    sys.exit("lic-core needs numpy at build time")

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINE_SOURCES = sorted(glob.glob("csrc/lic/*.cpp"))

extra_compile = ["-std=c++17", "-O3", "-fno-fast-math", "-ffp-contract=off",
                 "-fvisibility=hidden", "-Wall", "-Wextra"]
extra_link = []
sanitize = os.environ.get("LIC_SANITIZE", "").strip()
if sanitize:
    # Sanitizer builds also turn on the hot-loop invariants (LIC_DCHECK); Python's
    # own CFLAGS carry -DNDEBUG, which would silence assert(), hence -UNDEBUG.
    extra_compile += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g", "-O1",
                      "-fno-sanitize-recover=all", "-UNDEBUG", "-DLIC_DEBUG_INVARIANTS"]
    extra_link += [f"-fsanitize={sanitize}"]

# The engine is compiled once into a static library that every face links (one
# engine, several faces; and a third of the compile time of building it per face).
ENGINE_LIB = ("licengine", {"sources": ENGINE_SOURCES, "include_dirs": ["csrc"],
                            "cflags": extra_compile})

common = dict(
    # A face relinks whenever an engine file changed (the library itself is not a
    # source of the extension, so setuptools would not notice otherwise).
    depends=ENGINE_SOURCES + sorted(glob.glob("csrc/lic/*.h")),
    include_dirs=["csrc", numpy.get_include()],
    language="c++",
    extra_compile_args=extra_compile,
    extra_link_args=extra_link,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)


def cython_ext(name, pyx):
    return Extension(name, [pyx], **common)


# LIC_EXTENSIONS=_coder,_ans limits a developer's in-place rebuild to some faces.
_only = {n.strip() for n in os.environ.get("LIC_EXTENSIONS", "").split(",") if n.strip()}


def wanted(short):
    return not _only or short in _only


extensions = [cython_ext(f"lic_core.coding.{name}", f"lic_core/coding/{name}.pyx")
              for name in ("_coder", "_tables") if wanted(name)]

if extensions:
    from Cython.Build import cythonize
    extensions = cythonize(extensions, language_level=3,
                           compiler_directives={"boundscheck": False, "wraparound": False,
                                                "initializedcheck": False, "embedsignature": True})

if wanted("_ans"):
    import pybind11
    ans = Extension("lic_core.coding._ans", ["lic_core/coding/_ans.cpp"], **common)
    ans.include_dirs.append(pybind11.get_include())
    extensions.append(ans)

class build_ext(_build_ext):
    """build_ext that first builds the engine library (plain build_ext, as run by
    `build_ext --inplace` and by pip's editable installs, does not)."""

    def run(self):
        self.run_command("build_clib")
        super().run()


setup(
    cmdclass={"build_ext": build_ext},
    packages=find_packages(include=["lic_core", "lic_core.*"]) + ["lic_core.zoo"],
    package_dir={"lic_core": "lic_core", "lic_core.zoo": "zoo"},
    package_data={"lic_core": ["samples/*.png", "samples/*.md", "py.typed"],
                  "lic_core.coding": ["*.pyi"],
                  "lic_core.zoo": ["weights/*.safetensors", "weights/RELEASE.json",
                                   "weights/retired/*/*"]},
    libraries=[ENGINE_LIB],
    ext_modules=extensions,
)
