"""Every fuzz harness's property, run by pytest without libFuzzer: the saved corpus
(tests/fuzz/corpus/<target>/: seeds and any input that once was a finding) and
Hypothesis-generated inputs, for the torch-free targets (coder, ans, container).

The model target is replayed by test_fuzz_model_replay.py (it needs torch, which
tools/sanitize.sh does not load under ASan)."""
import dataclasses
import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lic_core import container
from lic_core.errors import LicError
from tests.fuzz import fuzz_ans, fuzz_coder, fuzz_container

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {"coder": fuzz_coder, "ans": fuzz_ans, "container": fuzz_container}
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _corpus(target):
    folder = os.path.join(HERE, "corpus", target)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_saved_corpus_replays_without_finding(target):
    files = _corpus(target)
    assert files, f"tests/fuzz/corpus/{target} is empty"
    for path in files:
        with open(path, "rb") as fh:
            TARGETS[target].one_input(fh.read())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_intact_seeds_decode_exactly(target):
    # The seed inputs keep each seed intact: they must take the exact-match branch.
    module = TARGETS[target]
    module.fuzzlib.OUTCOMES.clear()
    for data in module.seed_inputs():
        module.one_input(data)
    exact = "ok" if target == "container" else "ok-exact"
    assert module.fuzzlib.OUTCOMES[exact] == len(module.seed_inputs()), dict(module.fuzzlib.OUTCOMES)


@FAST
@given(st.binary(max_size=200))
def test_coder_harness_property_holds_for_generated_inputs(data):
    fuzz_coder.one_input(data)


@FAST
@given(st.binary(max_size=200))
def test_ans_harness_property_holds_for_generated_inputs(data):
    fuzz_ans.one_input(data)


@FAST
@given(st.binary(max_size=200))
def test_container_harness_property_holds_for_generated_inputs(data):
    fuzz_container.one_input(data)


@FAST
@given(st.binary(max_size=300))
def test_container_unpack_of_arbitrary_bytes_raises_only_lic_errors(data):
    for blob in (data, container.MAGIC + data, fuzz_container.fix_crcs(container.MAGIC + data)):
        try:
            f = container.unpack(blob)
        except LicError:
            continue
        assert container.pack(f) == blob


@FAST
@given(model=st.sampled_from(sorted(container.MODEL_IDS)), quality=st.integers(0, 255),
       height=st.integers(1, 4096), width=st.integers(1, 4096),
       streams=st.lists(st.binary(max_size=40), min_size=1, max_size=container.MAX_STREAMS),
       data=st.data())
def test_container_round_trip_and_every_single_byte_change_is_refused(model, quality, height, width,
                                                                        streams, data):
    shapes = data.draw(st.lists(st.tuples(st.integers(1, height), st.integers(1, width)),
                                min_size=1, max_size=container.MAX_GROUPS))
    f = container.LicFile(model, quality, height, width, tuple(shapes), tuple(streams),
                          weights_fingerprint=data.draw(st.integers(1, 2**64 - 1)))
    blob = container.pack(f)
    assert container.unpack(blob) == f
    # Any one changed byte is refused (the two CRC-32s cover every byte but themselves,
    # and a changed CRC no longer matches its bytes).
    pos = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = bytearray(blob)
    damaged[pos] ^= flip
    with pytest.raises(LicError):
        container.unpack(bytes(damaged))


def test_fix_crcs_recomputes_what_pack_writes():
    f = container.LicFile("joint", 2, 30, 40, ((2, 3), (1, 1)), (b"abc", b"de"),
                          weights_fingerprint=1)
    blob = container.pack(f)
    hsize = container.header_size(2, 2)
    broken = bytearray(blob)
    broken[hsize - 8:hsize] = b"\0" * 8
    assert fuzz_container.fix_crcs(bytes(broken)) == blob
    assert struct.unpack_from("<I", blob, hsize - 8)[0] == zlib.crc32(blob[hsize:])
    v1 = container.pack(dataclasses.replace(f, version=1, weights_fingerprint=0))
    hsize = container.header_size(2, 2, 1)
    broken = bytearray(v1)
    broken[hsize - 8:hsize] = b"\0" * 8
    assert fuzz_container.fix_crcs(bytes(broken)) == v1  # where a version 1 header has them
