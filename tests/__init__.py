"""lic-core's test suite, a package so that its helpers (tests.c_build, tests.conftest)
import by name without sys.path edits. The folders mirror lic_core/ (docs/testing.md,
"The suite's layout"): coding/, models/, zoo/, analysis/, testing/, training/, cli/,
web/; the package's top-level modules (container, limits, codec, api) are tested here;
system/ holds what crosses every layer (determinism, portability, golden files, the
import layering, the README)."""
