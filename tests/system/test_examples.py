"""The downstream examples under examples/ pass their own tests, run as their users run them.

examples/toy_codec is a codec built on lic-core that fuzzes its integration with
lic_core.testing (docs/testing.md). It runs in a fresh interpreter with the README's
command, so it sees lic-core exactly as an installed dependency: none of tests/'
conftest, fixtures or sys.path.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("hypothesis")


def test_the_toy_codec_example_passes_its_fuzz_tests():
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/toy_codec"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
