"""The fuzz harnesses, one per decoder entry point, modules of the tests package: run one
from the repository root with ``python -m tests.fuzz.fuzz_<target>`` (tools/fuzz.sh does),
replay their corpus under pytest with test_fuzz_replay.py and test_fuzz_model_replay.py."""
