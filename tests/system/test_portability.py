"""Files decode the same under another torch configuration (issue 12's acceptance test).

Every shipped model and quality writes a file in one process; processes with other
kernels decode it: torch's baseline kernels (ATen's portable default capability,
oneDNN capped at SSE4.1 and switched off, MKL in strict reproducibility mode, one
thread), the default kernels with one and with two threads; and a writer whose analysis
transforms run in float64 is decoded under the baseline kernels. The entropy-decoded ŷ
must equal the encoder's exactly, everywhere, with no decode failure: the coding tables
come from the integer networks (docs/integer.md) or from stored tables (factorized).
g_s stays float, so decoded pixels may differ by a level or two between configurations;
the test bounds that and prints what it measured.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lic_core.testing.golden import BASELINE_ENV  # one definition of the baseline kernels

HERE = Path(__file__).resolve().parent
WORKER = HERE / "portability_worker.py"

DEFAULT = {"LIC_TEST_THREADS": "1"}
CONFIGS = {
    "baseline-1": {**BASELINE_ENV, "LIC_TEST_MKLDNN": "0", "LIC_TEST_THREADS": "1"},
    "default-1": DEFAULT,
    "default-2": {"LIC_TEST_THREADS": "2"},
}


def _run(env_changes: dict, *args) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in BASELINE_ENV and not k.startswith("LIC_TEST_")}
    env.update(env_changes)
    env.pop("LIC_WEIGHTS_DIR", None)
    proc = subprocess.run([sys.executable, str(WORKER), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("portability")
    _run({"LIC_TEST_THREADS": "2"}, "write", root / "written")
    _run(DEFAULT, "write", root / "written-f64", "--precision", "float64")
    for name, env in CONFIGS.items():
        _run(env, "decode", root / "written", root / name)
    _run(CONFIGS["baseline-1"], "decode", root / "written-f64", root / "f64-baseline-1")
    return root


def _cases(folder: Path) -> list[str]:
    return sorted(p.name[:-len(".yhat.npy")] for p in folder.glob("*.yhat.npy"))


def test_every_shipped_model_and_quality_was_written(runs):
    from lic_core.zoo import catalog
    expected = sorted(f"{n}-q{q}" for n, qs in catalog.list_models().items() for q in qs)
    assert _cases(runs / "written") == expected
    assert len(expected) >= 21


def test_the_decoders_ran_under_different_kernels(runs):
    reports = {name: json.loads((runs / name / "report.json").read_text()) for name in CONFIGS}
    assert reports["baseline-1"]["capability"] == "DEFAULT"
    assert reports["baseline-1"]["mkldnn"] is False
    assert reports["default-1"]["capability"] != "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY")
    assert reports["default-2"]["threads"] == 2


@pytest.mark.parametrize("config", [*CONFIGS, "f64-baseline-1"])
def test_y_hat_decodes_exactly_everywhere(runs, config):
    written = runs / ("written-f64" if config.startswith("f64") else "written")
    report = json.loads((runs / config / "report.json").read_text())
    assert report["errors"] == {}
    cases = _cases(written)
    assert _cases(runs / config) == cases
    for case in cases:
        encoder = np.load(written / f"{case}.yhat.npy")
        decoder = np.load(runs / config / f"{case}.yhat.npy")
        assert encoder.shape == decoder.shape and np.array_equal(encoder, decoder), case


def test_pixels_differ_by_at_most_a_few_levels_between_configurations(runs):
    worst = {}
    for case in _cases(runs / "written"):
        images = [np.load(runs / c / f"{case}.xhat.npy").astype(np.int16) for c in CONFIGS]
        worst[case] = max(int(np.abs(a - images[0]).max()) for a in images[1:])
    print("largest pixel difference between decoder configurations:", max(worst.values()),
          {k: v for k, v in worst.items() if v})
    assert max(worst.values()) <= 4, worst
    # files of integer synthesis (the current release writes them): the same pixels in
    # every configuration, bit for bit
    from lic_core import container
    exact = [case for case in worst
             if container.unpack((runs / "written" / f"{case}.lic").read_bytes()).synthesis]
    assert exact and all(worst[case] == 0 for case in exact), worst
