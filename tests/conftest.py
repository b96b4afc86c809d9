"""Shared pytest configuration.

Hypothesis explores new examples on every local run (that is how it finds bugs), but
CI (the CI environment variable is set) runs a derandomized profile: a landing must
not depend on the luck of the draw, and a failure there reproduces exactly. Whatever
a local run finds is kept in the example database and replayed next time.

Two guards keep the suite honest:

* **No silent skips in CI.** A test may skip where a dependency is legitimately
  optional (torch is, for the NumPy-only coder faces). In CI everything is installed
  (``.ci/run`` installs ``.[dev]`` and builds the extensions), so there a skip that
  says a compiled extension or a declared dependency could not be imported is a broken
  build, and is reported as a failure, not a skip.
* **Process-wide torch state does not leak between tests.** ``torch.set_num_threads``
  changes the whole process; a test that sets it is given the previous count back
  afterwards, so one test cannot make the rest of the suite single-threaded
  (tests/system/test_suite_environment.py checks the import side of this).
"""
import os
import re
import sys

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Skip reasons that mean "the build or the install is broken" when CI is set: the
#: compiled faces (lic_core.coding._coder/_tables/_ans/_intnet and their public paths;
#: tests/system/test_suite_environment.py checks that every compiled module is named) and the
#: dev dependencies CI installs.
_REQUIRED_IN_CI = re.compile(
    r"lic_core\.(?:coding\.)?_?(?:coder|tables|ans|intnet|decoder)\b|compiled|"
    r"""could not import '(?:torch|safetensors|PIL|hypothesis|atheris|"""
    r"""bjontegaard|pytorch_msssim)[.']""")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_required_skip(report) -> None:
    if not os.environ.get("CI") or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if _REQUIRED_IN_CI.search(reason):
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI, where this must be importable (a broken build or "
                           f"install?): {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_required_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_required_skip(outcome.get_result())


@pytest.fixture(autouse=True)
def _torch_process_state_is_restored():
    """Give back torch's thread count if a test changed it; a test (or a tool's main() it
    calls) that leaves autograd switched fails here, at the culprit, instead of breaking
    every gradient test after it. Only when torch is loaded."""
    torch = sys.modules.get("torch")
    before = (torch.get_num_threads(), torch.is_grad_enabled()) if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if before is None:
        return
    threads, grad = before
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if torch.is_grad_enabled() != grad:
        torch.set_grad_enabled(grad)
        pytest.fail(f"the test left autograd {'off' if grad else 'on'} (it was {'on' if grad else 'off'})")


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory):
    """A weights folder (for $LIC_WEIGHTS_DIR) of small random-init factorized and
    hyperprior models saved as quality 2 only: fast to load, and factorized lacks the
    default quality 3, as in the real zoo: lic_core.testing's tiny models, scaled up
    (LIVELY) so that the latents are not all zero."""
    pytest.importorskip("torch")
    from lic_core import zoo
    from lic_core.testing import LIVELY, tiny_model
    folder = tmp_path_factory.mktemp("tiny-zoo")
    for name in ("factorized", "hyperprior"):
        model = tiny_model(name, gains=LIVELY, fresh=True)
        zoo.save_weights(model, folder / f"{name}-q2.safetensors", quality=2)
    return folder


@pytest.fixture
def peak_python_alloc():
    """peak_python_alloc(fn): the peak bytes Python allocated while fn() ran (tracemalloc),
    to show that a refusal comes before an allocation."""
    import tracemalloc

    def measure(fn):
        tracemalloc.start()
        try:
            fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return peak
    return measure


@pytest.fixture
def one_torch_thread():
    """Run the test on one torch thread (fixtures recorded that way); the guard above
    gives the caller's count back afterwards."""
    import torch
    torch.set_num_threads(1)
