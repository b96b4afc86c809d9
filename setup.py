"""Build the compiled faces of lic-core.

Every extension compiles the same engine sources from csrc/ (one engine, several
faces). Flags are chosen for exactness before speed:

* -O3 but never -ffast-math: the table builder must round the same way on every
  machine, and fast-math licenses reassociation.
* -ffp-contract=off: no fused multiply-add contraction, so a*b+c is two roundings
  on x86-64 and aarch64 alike (aarch64 GCC contracts by default).
* -fno-math-errno -fno-trapping-math: sqrt need not set errno and a comparison need not
  raise an exception flag, so the inverse GDN's loops (intnet.cpp) vectorise. Neither
  changes a value: no reassociation, no contraction, no finite-math assumption.
* LIC_SANITIZE=address,undefined builds with sanitizers (see docs/reliability.md).

The build also ships the engine for other projects' extensions: the static library
as lic_core/lib/liblic.a and the public headers as lic_core/include/lic/*.h, copied
from csrc/ at build time (lic_core.get_library_dir(), lic_core.get_include()).
csrc/CMakeLists.txt builds the same sources as a standalone C library.
"""
import glob
import os
import shutil
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext as _build_ext

try:
    import numpy
except ImportError:  # pragma: no cover - build-system requires numpy
    sys.exit("lic-core needs numpy at build time")

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINE_SOURCES = sorted(glob.glob("csrc/lic/*.cpp"))

extra_compile = ["-std=c++17", "-O3", "-fno-fast-math", "-ffp-contract=off", "-fno-math-errno",
                 "-fno-trapping-math",
                 "-fvisibility=hidden", "-Wall", "-Wextra", "-pthread"]
# -pthread: the integer networks (intnet.cpp) split large layers over std::threads
extra_link = ["-pthread"]
sanitize = os.environ.get("LIC_SANITIZE", "").strip()
if sanitize:
    # Sanitizer builds also turn on the hot-loop invariants (LIC_DCHECK); Python's
    # own CFLAGS carry -DNDEBUG, which would silence assert(), hence -UNDEBUG.
    extra_compile += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g", "-O1",
                      "-fno-sanitize-recover=all", "-UNDEBUG", "-DLIC_DEBUG_INVARIANTS"]
    extra_link += [f"-fsanitize={sanitize}"]

# The engine is compiled once into a static library that every face links (one
# engine, several faces; and a third of the compile time of building it per face).
# It is named liblic, as the CMake build names it, so `-llic` means the engine
# whichever way it was built.
ENGINE_LIB = ("lic", {"sources": ENGINE_SOURCES, "include_dirs": ["csrc"],
                      "cflags": extra_compile})
# What another project's extension includes: lic.h and the status enum it uses
# (csrc/CMakeLists.txt installs the same two).
PUBLIC_HEADERS = ["csrc/lic/lic.h", "csrc/lic/status.h"]

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
              for name in ("_coder", "_tables", "_intnet", "_decoder") if wanted(name)]

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
    `build_ext --inplace` and by pip's editable installs, does not), and afterwards
    ships it with the public headers inside the package."""

    def run(self):
        self.run_command("build_clib")
        super().run()
        self.ship_engine()

    def ship_engine(self):
        """Copy the engine library to lic_core/lib/ and the public headers to
        lic_core/include/lic/: into the source tree for in-place and editable builds
        (where lic_core is imported from), else into build_lib (what goes into the
        wheel). Copies made at build time, so the repository holds one copy of each
        header, in csrc/."""
        clib = self.get_finalized_command("build_clib")
        name = self.compiler.library_filename(ENGINE_LIB[0], lib_type="static")
        built = os.path.join(clib.build_clib, name)
        root = HERE if self.inplace else self.build_lib
        lib_dir = os.path.join(root, "lic_core", "lib")
        include_dir = os.path.join(root, "lic_core", "include")
        os.makedirs(lib_dir, exist_ok=True)
        os.makedirs(os.path.join(include_dir, "lic"), exist_ok=True)
        shutil.copyfile(built, os.path.join(lib_dir, name))
        for header in PUBLIC_HEADERS:
            shutil.copyfile(os.path.join(HERE, header),
                            os.path.join(include_dir, "lic", os.path.basename(header)))
        if self.inplace:
            # Build output inside the source tree: a .gitignore of "*" in each folder
            # keeps it out of git (and out of tools/sanitize.sh's staged copy).
            for folder in (lib_dir, include_dir):
                with open(os.path.join(folder, ".gitignore"), "w") as fh:
                    fh.write("# build output of setup.py (build_ext.ship_engine)\n*\n")


setup(
    cmdclass={"build_ext": build_ext},
    packages=find_packages(include=["lic_core", "lic_core.*"]),
    package_data={"lic_core": ["samples/*.png", "samples/*.md", "py.typed",
                               "include/lic/*.h", "lib/*.a", "lib/*.lib"],
                  "lic_core.coding": ["*.pyi"],
                  "lic_core.zoo": ["weights/*.safetensors", "weights/RELEASE.json",
                                   "weights/retired/*/*"]},
    libraries=[ENGINE_LIB],
    ext_modules=extensions,
)
