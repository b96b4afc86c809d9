"""The model-decompress fuzz property (fuzz_model.py) under pytest, without libFuzzer:
the saved corpus, every intact seed, and Hypothesis-generated damage."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
from tests.fuzz import fuzz_model  # noqa: E402  (a plain import: a harness that fails to import must fail)

HERE = os.path.dirname(os.path.abspath(__file__))


def test_saved_model_corpus_replays_without_finding():
    folder = os.path.join(HERE, "corpus", "model")
    files = sorted(os.listdir(folder))
    assert files
    for name in files:
        with open(os.path.join(folder, name), "rb") as fh:
            fuzz_model.one_input(fh.read())


def test_every_intact_seed_file_decodes_to_the_encoders_reconstruction():
    fuzz_model.fuzzlib.OUTCOMES.clear()
    for data in fuzz_model.seed_inputs():
        fuzz_model.one_input(data)
    assert fuzz_model.fuzzlib.OUTCOMES["ok-exact"] == len(fuzz_model.SEEDS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120))
def test_damaged_files_decode_to_a_valid_image_or_raise_lic_error(data):
    fuzz_model.one_input(data)
