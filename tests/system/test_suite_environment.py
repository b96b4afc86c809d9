"""The test suite runs in the process environment a user has: importing a test helper
changes no process-wide state, so no test runs under conditions another module set.

The bug this pins: tests/fuzz/fuzz_model.py once called ``torch.set_num_threads(1)`` at
import; pytest imports it while collecting, so every later test ran single-threaded
(and the thread-count determinism tests proved nothing about two threads).
"""
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))

_PROGRAM = r"""
import json, sys
import torch
torch.set_num_threads(3)            # not the default anywhere, so a change is visible
rng = torch.get_rng_state().clone()
sys.argv[1:] = ["--replay"]         # as pytest does: no atheris instrumentation
from tests.fuzz import fuzzlib, fuzz_coder, fuzz_ans, fuzz_container, fuzz_model  # noqa: E401
print(json.dumps({"threads": torch.get_num_threads(),
                  "rng_unchanged": bool(torch.equal(torch.get_rng_state(), rng)),
                  "models": len(fuzz_model.MODELS)}))
"""


def test_importing_the_fuzz_harnesses_keeps_torch_threads_and_rng():
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
    # from the repository root, where the tests package imports (as python -m pytest runs)
    done = subprocess.run([sys.executable, "-c", _PROGRAM], cwd=os.path.dirname(os.path.dirname(HERE)),
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["models"] == 5  # the harness really built its models on import (a tiny one per family)
    assert state["threads"] == 3, "importing a fuzz harness changed torch's thread count"
    assert state["rng_unchanged"], "importing a fuzz harness moved torch's global RNG"


def test_this_process_has_the_thread_count_a_fresh_interpreter_has():
    # In a whole-suite run, every test module has been imported by now; with conftest.py
    # restoring the count after each test, only an import-time change could show here.
    fresh = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert torch.get_num_threads() == int(fresh.stdout.strip())


_BEFORE = []


def test_a_test_that_changes_the_thread_count_gets_it_back():
    # conftest.py's autouse fixture: this test leaves an unusual count, the next one
    # (same file, run in order) must see the old count again.
    _BEFORE.append(torch.get_num_threads())
    torch.set_num_threads(_BEFORE[0] + 1)


def test_the_previous_tests_thread_count_was_given_back():
    if not _BEFORE:
        pytest.skip("runs after test_a_test_that_changes_the_thread_count_gets_it_back")
    assert torch.get_num_threads() == _BEFORE[0]


# ---------------------------------------------------------------- the CI skip guard

CODING = os.path.join(os.path.dirname(os.path.dirname(HERE)), "lic_core", "coding")


def _compiled_modules() -> set:
    """Names of the compiled modules in lic_core/coding/, from the files that are or build
    them: _x.cpython-*.so (built), _x.pyx (Cython) and _x.cpp (pybind11's _ans.cpp; Cython
    writes one per .pyx too). Read from the folder, so a new extension is found unasked."""
    names = set()
    for entry in os.listdir(CODING):
        stem, ext = os.path.splitext(entry)
        if ext in (".so", ".pyx") or (ext == ".cpp" and stem.startswith("_")):
            names.add(stem.split(".")[0])  # _coder.cpython-311-x86_64-linux-gnu -> _coder
    return names


def test_the_ci_skip_guard_names_every_compiled_module():
    # conftest.py turns "could not import <compiled module>" skips into failures under CI;
    # a compiled module its pattern misses would let a broken build skip quietly there.
    from tests.conftest import _REQUIRED_IN_CI
    modules = _compiled_modules()
    assert {"_coder", "_tables", "_ans", "_intnet", "_decoder"} <= modules, modules
    for name in sorted(modules):
        # the module itself and each public path it has (lic_core.coding.intnet,
        # lic_core.coder, ...), worded as pytest.importorskip words its skip reason
        paths = [f"lic_core.coding.{name}"]
        face = name.lstrip("_")
        paths += [f"{package}.{face}" for package, folder in
                  (("lic_core.coding", CODING), ("lic_core", os.path.dirname(CODING)))
                  if os.path.isfile(os.path.join(folder, f"{face}.py"))]
        for path in paths:
            reason = f"could not import {path!r}: No module named {path!r}"
            assert _REQUIRED_IN_CI.search(reason), f"conftest's CI guard misses {path}"
    # and it is not a pattern that matches every skip (an optional dependency may skip)
    assert not _REQUIRED_IN_CI.search("could not import 'mpmath': No module named 'mpmath'")
    assert not _REQUIRED_IN_CI.search("could not import 'lic_core.container': broken")
