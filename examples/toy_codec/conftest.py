"""What a codec's conftest does for fuzzing: quick by default, exact in CI, long on demand.

* ``quick`` (default): 40 examples a test, a few seconds for the file, so the fuzz tests
  run with every test run;
* ``ci`` (when the CI variable is set): the same, derandomized, so a landing does not
  depend on the luck of the draw and a failure reproduces exactly;
* ``fuzz``: 5000 examples a test, for a long hunt:
  ``python -m pytest -q examples/toy_codec --hypothesis-profile=fuzz``.

Locally Hypothesis draws new examples on every run and keeps what fails in its example
database (.hypothesis/), replaying it first next time.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("quick", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("quick"), derandomize=True,
                          print_blob=True)
settings.register_profile("fuzz", parent=settings.get_profile("quick"), max_examples=5000)
settings.load_profile("ci" if os.environ.get("CI") else "quick")
