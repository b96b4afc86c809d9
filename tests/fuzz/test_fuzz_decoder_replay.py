"""The engine decoder's fuzz property (fuzz_decoder.py: FileDecoder on files and decoder
weights of all five families, space-channel included) under pytest, without libFuzzer:
the saved corpus, every intact seed, and Hypothesis-generated damage."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")  # the seeds are encoded by tiny zoo models
from tests.fuzz import fuzz_decoder  # noqa: E402  (a plain import: a harness that fails to import must fail)

HERE = os.path.dirname(os.path.abspath(__file__))


def test_saved_decoder_corpus_replays_without_finding():
    folder = os.path.join(HERE, "corpus", "decoder")
    files = sorted(os.listdir(folder))
    assert files
    for name in files:
        with open(os.path.join(folder, name), "rb") as fh:
            fuzz_decoder.one_input(fh.read())


def test_every_intact_seed_file_decodes_to_the_encoders_reconstruction():
    fuzz_decoder.fuzzlib.OUTCOMES.clear()
    for data in fuzz_decoder.seed_inputs():
        fuzz_decoder.one_input(data)
    assert fuzz_decoder.fuzzlib.OUTCOMES["ok-exact"] == len(fuzz_decoder.SEEDS)
    assert {name for name, _, _ in fuzz_decoder.SEEDS} == set(fuzz_decoder.FAMILIES)
    assert "space-channel" in fuzz_decoder.FAMILIES


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120))
def test_damaged_files_and_weights_decode_to_an_image_or_raise_lic_error(data):
    fuzz_decoder.one_input(data)
