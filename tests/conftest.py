"""Shared pytest configuration.

Hypothesis explores new examples on every local run (that is how it finds bugs), but
CI (the CI environment variable is set) runs a derandomized profile: a landing must
not depend on the luck of the draw, and a failure there reproduces exactly. Whatever
a local run finds is kept in the example database and replayed next time.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
