"""lic_core.ans reproduces CompressAI 1.2.8's rANS streams byte for byte.

Golden vectors: tests/fixtures/ans_vectors.npz|json (recorded with CompressAI
1.2.8, see shared/compat/README.md). CI has no CompressAI, so these files are
the reference.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from lic_core.ans import BufferedRansEncoder, RansDecoder, RansEncoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VECTORS = np.load(FIXTURES / "ans_vectors.npz", allow_pickle=False)
INDEX = json.loads((FIXTURES / "ans_vectors.json").read_text())
CASES = [(c["name"], c["tables"]) for c in INDEX["cases"]]


def table_set(name, as_lists):
    cdfs, lengths, offsets = (VECTORS[f"tables_{name}__{k}"] for k in ("cdfs", "cdf_lengths", "offsets"))
    if as_lists:  # what CompressAI's models pass: full zero-padded rows as lists
        return cdfs.tolist(), lengths.tolist(), offsets.tolist()
    return cdfs, lengths, offsets


def case(name):
    return (VECTORS[f"{name}__symbols"], VECTORS[f"{name}__indexes"],
            VECTORS[f"{name}__encoded"].tobytes())


def test_fixture_index_matches_npz():
    import hashlib
    for c in INDEX["cases"]:
        encoded = VECTORS[f"{c['name']}__encoded"].tobytes()
        assert len(encoded) == c["encoded_nbytes"]
        assert hashlib.sha256(encoded).hexdigest() == c["encoded_sha256"]
        assert len(VECTORS[f"{c['name']}__symbols"]) == c["n_symbols"]


@pytest.mark.parametrize("as_lists", [True, False], ids=["lists", "arrays"])
@pytest.mark.parametrize("name,tables", CASES)
def test_encoder_output_equals_compressai_bytes(name, tables, as_lists):
    symbols, indexes, encoded = case(name)
    if as_lists:
        symbols, indexes = symbols.tolist(), indexes.tolist()
    assert RansEncoder().encode_with_indexes(symbols, indexes, *table_set(tables, as_lists)) == encoded


@pytest.mark.parametrize("as_lists", [True, False], ids=["lists", "arrays"])
@pytest.mark.parametrize("name,tables", CASES)
def test_decoder_returns_compressai_symbols(name, tables, as_lists):
    symbols, indexes, encoded = case(name)
    tabs = table_set(tables, as_lists)
    idx = indexes.tolist() if as_lists else indexes
    decoded = RansDecoder().decode_with_indexes(encoded, idx, *tabs)
    assert type(decoded) is list and all(type(v) is int for v in decoded)
    assert decoded == VECTORS[f"{name}__decoded"].tolist() == symbols.tolist()
    as_array = RansDecoder().decode_with_indexes_np(encoded, idx, *tabs)
    assert as_array.dtype == np.int32 and np.array_equal(as_array, symbols)


@pytest.mark.parametrize("name,tables", CASES)
def test_streaming_decoder_in_small_steps_equals_one_call(name, tables):
    # Small steps decode without the per-call decode index (binary search),
    # one big call with it: both must give CompressAI's symbols.
    symbols, indexes, encoded = case(name)
    tabs = table_set(tables, False)
    dec = RansDecoder()
    dec.set_stream(encoded)
    got = []
    for start in range(0, len(indexes), 7):
        got += dec.decode_stream(indexes[start:start + 7], *tabs)
    dec.check_end()
    assert got == symbols.tolist()


def buffered_calls():
    symbols, indexes, encoded = case("buffered")
    bounds = VECTORS["buffered__call_bounds"].tolist()
    calls = [(symbols[a:b], indexes[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return calls, encoded


@pytest.mark.parametrize("as_lists", [True, False], ids=["lists", "arrays"])
def test_buffered_encoder_equals_compressai_and_is_reusable(as_lists):
    calls, encoded = buffered_calls()
    tabs = table_set("gaussian", as_lists)
    enc = BufferedRansEncoder()
    for _ in range(2):  # flush() clears: the second round gives the same bytes
        for s, i in calls:
            enc.encode_with_indexes(s.tolist() if as_lists else s, i.tolist() if as_lists else i, *tabs)
        assert enc.flush() == encoded
        assert enc.pending_items == 0


def test_buffered_stream_decodes_with_one_decode_stream_per_call():
    calls, encoded = buffered_calls()
    tabs = table_set("gaussian", True)
    dec = RansDecoder()
    dec.set_stream(encoded)
    for s, i in calls:
        assert dec.decode_stream(i.tolist(), *tabs) == s.tolist()
    dec.check_end()
    # and the whole stream in one call, as CompressAI's tests do
    all_idx = np.concatenate([i for _, i in calls])
    assert RansDecoder().decode_with_indexes(encoded, all_idx, *tabs) == np.concatenate(
        [s for s, _ in calls]).tolist()


# The crash probes of ans_vectors.json that succeeded in CompressAI recorded
# their bytes: we must give the same.
PROBES = INDEX["crash_probes"]


def probe_tables(name):
    t = PROBES["tables"][name]
    return t["cdfs"], t["cdf_lengths"], t["offsets"]


@pytest.mark.parametrize("probe,symbols", [
    ("RansEncoder, 1 escaped symbol (value 1000 -> 4 coding items)", [1000]),
    ("RansEncoder, 2 in-table symbols (baseline)", [1, 0]),
    ("RansEncoder, 4 symbols with one escape of raw value 2**28 - 2 (symbol 2**27 + 1)",
     [1, 2**27 + 1, 0, 1]),
])
def test_recorded_probe_bytes_are_reproduced(probe, symbols):
    result = PROBES["results"][probe][0]
    expected_hex = result.split("BYTES ")[1].split(" ")[0]
    encoded = RansEncoder().encode_with_indexes(symbols, [0] * len(symbols), *probe_tables("t_small"))
    assert encoded.hex() == expected_hex
    assert RansDecoder().decode_with_indexes(encoded, [0] * len(symbols), *probe_tables("t_small")) == symbols


# ---- model streams: CompressAI's compress() output, entropy stage only -------

MODELS = FIXTURES / "compat_models"
MODEL_NAMES = ["FactorizedPrior", "ScaleHyperprior", "MeanScaleHyperprior",
               "JointAutoregressiveHierarchicalPriors"]


def model_tables(name, module):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    sd = safetensors_numpy.load_file(str(MODELS / f"{name}.safetensors"))
    return tuple(sd[f"{module}.{k}"] for k in ("_quantized_cdf", "_cdf_length", "_offset"))


@pytest.mark.skipif(not MODELS.is_dir(), reason="tests/fixtures/compat_models not present")
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_entropy_stage_strings_equal_compressai(name):
    io = np.load(MODELS / f"{name}_io.npz", allow_pickle=False)
    if name == "FactorizedPrior":
        coded = [("y", "entropy_bottleneck", 0)]
    else:
        coded = [("y", "gaussian_conditional", 0), ("z", "entropy_bottleneck", 1)]
    for latent, module, k in coded:
        tabs = model_tables(name, module)
        symbols, indexes = io[f"coder_{latent}_symbols"], io[f"coder_{latent}_indexes"]
        expected = io[f"strings_{k}_0"].tobytes()
        if name.startswith("Joint") and latent == "y":
            enc = BufferedRansEncoder()  # CompressAI appends per position, flushes once
            channels = io["y"].shape[1]
            for start in range(0, len(symbols), channels):
                enc.encode_with_indexes(symbols[start:start + channels].tolist(),
                                        indexes[start:start + channels].tolist(),
                                        *(t.tolist() for t in tabs))
            assert enc.flush() == expected
            dec = RansDecoder()
            dec.set_stream(expected)
            got = []
            for start in range(0, len(symbols), channels):
                got += dec.decode_stream(indexes[start:start + channels], *tabs)
            dec.check_end()
            assert got == symbols.tolist()
        else:
            assert RansEncoder().encode_with_indexes(symbols, indexes, *tabs) == expected
            assert RansDecoder().decode_with_indexes(expected, indexes, *tabs) == symbols.tolist()
