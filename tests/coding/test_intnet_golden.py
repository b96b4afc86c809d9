"""Golden vectors of the integer networks: tests/fixtures/intnet/ (docs/integer.md).

The vectors were computed by lic_core/testing/intnet_reference.py (tools/make_intnet_vectors.py);
here the engine (lic_core.coding.intnet) must reproduce every one exactly, and so must
the reference (a guard against an accidental change of the reference or of the
fixtures). The two shipped-model cases pin the zoo-v4 integer h_s of hyperprior and
joint by the SHA-256 of their output, through the engine and through the model API.

A failure here is never fixed by rewriting the fixtures: it means the arithmetic of the
integer path changed, and with it the decoding of every file written under it.
"""
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lic_core.coding import intnet
from lic_core.testing import intnet_reference as ref

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intnet"
INDEX = json.loads((FIXTURES / "vectors.json").read_text())
VECTORS = np.load(FIXTURES / "vectors.npz", allow_pickle=False)
CASES = {c["name"]: c for c in INDEX["cases"]}


def names(kind: str) -> list[str]:
    return [c["name"] for c in INDEX["cases"] if c["type"] == kind]


def ref_layers(specs) -> list[tuple]:
    return [(s["kind"], VECTORS[s["weight"]], VECTORS[s["bias"]], VECTORS[s["shift"]], s["act"],
             s["out_bits"]) for s in specs]


def engine_layers(specs) -> list:
    return [intnet.Layer(*spec) for spec in ref_layers(specs)]


def sha256(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr)
    return hashlib.sha256(arr.astype(arr.dtype.newbyteorder("<")).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- the files

def array_fields(case: dict) -> dict[str, str]:
    """{array name: declared dtype} of every array a case names."""
    out = {}
    for group in ("layers", "context", "entropy_parameters"):
        for spec in case.get(group, []):
            if "weight" in spec:
                out.update({spec["weight"]: "<i2", spec["bias"]: "<i4", spec["shift"]: "|u1"})
    t = case["type"]
    if t == "network":
        out.update({case["input"]: "<i2", case["expected"]: case["expected_dtype"]})
    elif t == "scale_indexes":
        out.update({case[k]: "<i4" for k in ("thresholds", "sigma_q", "expected")})
    elif t == "joint_walk":
        out.update({case["params"]: "<i2", case["thresholds"]: "<i4", case["symbols"]: "<i4",
                    case["expected_indexes"]: "<i4", case["expected_means"]: "<i4",
                    case["expected_grid"]: "<i2"})
    elif t == "model_h_s":
        out.update({case["z_symbols"]: "<i4", case["input"]: "<i2"})
    else:
        raise AssertionError(f"unknown case type {t}")
    return out


def test_every_array_is_named_once_with_its_dtype_and_shape():
    named = {}
    for case in INDEX["cases"]:
        fields = array_fields(case)
        for key, dtype in fields.items():
            assert key.startswith(case["name"] + "__"), key
            assert key not in named, f"{key} named twice"
            assert VECTORS[key].dtype.str == dtype, (key, VECTORS[key].dtype.str, dtype)
        named.update(fields)
        for group in ("layers", "context", "entropy_parameters"):
            for s in case.get(group, []):
                if "weight" in s:
                    want = {"conv": [s["c_out"], s["c_in"], s["k"], s["k"]],
                            "deconv": [s["c_in"], s["c_out"], s["k"], s["k"]],
                            "dense": [s["c_out"], s["c_in"]]}[s["kind"]]
                    assert list(VECTORS[s["weight"]].shape) == want == s["weight_shape"]
                    assert VECTORS[s["bias"]].shape == VECTORS[s["shift"]].shape == (s["c_out"],)
        for field in ("input", "params", "symbols", "sigma_q", "z_symbols"):
            if field + "_shape" in case:
                assert list(VECTORS[case[field]].shape) == case[field + "_shape"], (case["name"], field)
        for field in ("expected", "expected_indexes", "expected_means", "expected_grid"):
            if isinstance(case.get(field), str):
                assert list(VECTORS[case[field]].shape) == case["expected_shape"], (case["name"], field)
    assert set(named) == set(VECTORS.files), "arrays in the .npz that no case names"


def test_npz_is_a_plain_zip_of_npy_files():
    """Stored entries (no compression), so that any zip reader takes them."""
    with zipfile.ZipFile(FIXTURES / "vectors.npz") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
        assert sorted(i.filename for i in z.infolist()) == sorted(f"{k}.npy" for k in VECTORS.files)


def test_cases_cover_the_specification():
    singles = {(s["kind"], s["k"], s["act"], s["out_bits"])
               for c in INDEX["cases"] if c["type"] == "network" and len(c["layers"]) == 1
               for s in c["layers"]}
    for kind, ks in (("conv", (1, 3, 5)), ("deconv", (3, 5)), ("dense", (1,))):
        for k in ks:
            for act in intnet.ACTIVATIONS:
                for out_bits in (16, 32):
                    assert (kind, k, act, out_bits) in singles
    cov = {n: CASES[n]["coverage"] for n in names("network")}
    assert all(cov[n]["wrapped_accumulators"] > 0 for n in ("wrap_dense", "wrap_conv", "wrap_deconv"))
    assert cov["saturate_none"]["saturated_high"] > 0 and cov["saturate_none"]["saturated_low"] > 0
    assert cov["saturate_leaky"]["saturated_low"] > 0
    assert cov["round_half_up"]["rounding_ties"] > 0
    shifts = np.concatenate([VECTORS[s["shift"]] for n in names("network") for s in CASES[n]["layers"]])
    assert {0, 31} <= set(shifts.tolist())
    assert any(len(CASES[n]["layers"]) == 3 for n in names("network"))
    t = CASES["scale_indexes_extremes"]
    assert set(VECTORS[t["thresholds"]].tolist()) <= set(VECTORS[t["sigma_q"]].tolist())


# ----------------------------------------------------------------------------- networks

@pytest.mark.parametrize("name", names("network"))
def test_engine_reproduces_network_vector(name):
    case = CASES[name]
    out = intnet.Network(engine_layers(case["layers"])).run(VECTORS[case["input"]])
    expected = VECTORS[case["expected"]]
    assert out.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", names("network"))
def test_reference_reproduces_network_vector(name):
    case = CASES[name]
    out = ref.stack(ref_layers(case["layers"]), VECTORS[case["input"]])
    np.testing.assert_array_equal(out, VECTORS[case["expected"]].astype(np.int64))


@pytest.mark.parametrize("name", names("scale_indexes"))
def test_scale_index_vector(name):
    case = CASES[name]
    sigma, t, expected = (VECTORS[case[k]] for k in ("sigma_q", "thresholds", "expected"))
    np.testing.assert_array_equal(intnet.scale_indexes(sigma, t), expected)
    np.testing.assert_array_equal(ref.scale_indexes(sigma, t), expected)


# ----------------------------------------------------------------------------- joint

JOINT = CASES["joint_walk"]


def joint_expected():
    return tuple(VECTORS[JOINT[k]] for k in ("expected_indexes", "expected_means", "expected_grid"))


def joint_engine() -> intnet.JointModel:
    return intnet.JointModel(engine_layers(JOINT["context"]), engine_layers(JOINT["entropy_parameters"]),
                             VECTORS[JOINT["thresholds"]], JOINT["mean_frac"])


def wavefront(h: int, w: int) -> list[list[int]]:
    """Positions grouped by t = 3r + c (docs/stream-format.md), each group computed at once."""
    return [[r * w + (t - 3 * r) for r in range(h) if 0 <= t - 3 * r < w] for t in range(3 * (h - 1) + w)]


@pytest.mark.parametrize("order", ["raster", "wavefront"])
def test_engine_reproduces_joint_walk(order):
    h, w, M = JOINT["h"], JOINT["w"], JOINT["M"]
    params, symbols = VECTORS[JOINT["params"]], VECTORS[JOINT["symbols"]].reshape(h * w, M)
    joint = joint_engine()
    grid = joint.empty_grid(h, w)
    indexes = np.zeros((h * w, M), dtype=np.int32)
    means = np.zeros((h * w, M), dtype=np.int32)
    steps = [[p] for p in range(h * w)] if order == "raster" else wavefront(h, w)
    assert sorted(p for step in steps for p in step) == list(range(h * w))
    for step in steps:
        pos = np.array(step, dtype=np.int64)
        indexes[pos], means[pos] = joint.step(grid, params, h, w, pos)
        joint.commit(grid, h, w, pos, symbols[pos], means[pos])
    e_idx, e_mu, e_grid = joint_expected()
    np.testing.assert_array_equal(indexes.reshape(h, w, M), e_idx)
    np.testing.assert_array_equal(means.reshape(h, w, M), e_mu)
    np.testing.assert_array_equal(grid[2:2 + h, 2:2 + w], e_grid)


def test_engine_encoder_walk_reproduces_joint_walk():
    """JointModel.encode (the engine's own loop, wavefront schedule) on y = symbol + mu."""
    h, w, M, frac = JOINT["h"], JOINT["w"], JOINT["M"], JOINT["mean_frac"]
    e_idx, e_mu, _ = joint_expected()
    y = (VECTORS[JOINT["symbols"]] + e_mu / float(1 << frac)).astype(np.float32)
    steps = wavefront(h, w)
    positions = np.array([p for step in steps for p in step], dtype=np.int64)
    starts = np.cumsum([0] + [len(s) for s in steps]).astype(np.int64)
    symbols, indexes, means = joint_engine().encode(VECTORS[JOINT["params"]], y, positions, starts)
    np.testing.assert_array_equal(symbols, VECTORS[JOINT["symbols"]].reshape(h * w, M)[positions].reshape(-1))
    np.testing.assert_array_equal(indexes, e_idx.reshape(h * w, M)[positions].reshape(-1))
    np.testing.assert_array_equal(means, e_mu)


def test_reference_reproduces_joint_walk():
    symbols = VECTORS[JOINT["symbols"]]
    (context,) = ref_layers(JOINT["context"])
    got = ref.joint_walk(VECTORS[JOINT["params"]], context, ref_layers(JOINT["entropy_parameters"]),
                         VECTORS[JOINT["thresholds"]], JOINT["mean_frac"],
                         lambda r, c, idx: symbols[r, c])
    for a, b in zip(got, joint_expected()):
        np.testing.assert_array_equal(a, b.astype(np.int64))


def test_joint_symbols_follow_their_formula():
    h, w, M = JOINT["h"], JOINT["w"], JOINT["M"]
    want = [[[(5 * r + 3 * c + 2 * m) % 7 - 3 for m in range(M)] for c in range(w)] for r in range(h)]
    assert VECTORS[JOINT["symbols"]].tolist() == want
    assert JOINT["symbol_formula"] == "symbol(r, c, m) = ((5 r + 3 c + 2 m) mod 7) - 3"


# ----------------------------------------------------------------------------- shipped models

@pytest.fixture(scope="module")
def shipped():
    """{case name: model} for the shipped-model cases (zoo.load of the pinned release)."""
    from lic_core import zoo
    return {n: zoo.load(CASES[n]["family"], CASES[n]["quality"], release=CASES[n]["release"])
            for n in names("model_h_s")}


@pytest.mark.parametrize("name", names("model_h_s"))
def test_shipped_weights_are_the_pinned_file(name):
    case = CASES[name]
    # the file as that release shipped it; a release retired decoder side only keeps the
    # shipped file's sha256 as provenance (original_files) and the same h_s tensors
    from lic_core.zoo import release
    folder = release.release_dir(case["release"])
    manifest = release.release_manifest(folder)
    # where the release stores it: its folder, or another release's that holds the same
    # file once (a retired release's manifest alone, docs/format.md "Releases")
    path = release.release_files(folder)[Path(case["weights_file"]).name]
    assert manifest.get("original_files", manifest["files"])[path.name] == case["weights_sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["files"][path.name]
    from safetensors import safe_open
    with safe_open(str(path), "np") as f:
        keys = set(f.keys())
    for layer in case["layers"]:
        assert layer["key"].startswith(case["state_dict_prefix"])
        for field in ("weight", "bias", "shift"):
            assert f"model.{layer['key']}.{field}" in keys
    for scalar in ("z_frac", "z_offset"):
        assert f"{case['safetensors_prefix']}{scalar}" in keys


@pytest.mark.parametrize("name", names("model_h_s"))
def test_shipped_h_s_matches_its_sha256(name, shipped):
    case = CASES[name]
    integer = shipped[name].integer
    z_symbols, x = VECTORS[case["z_symbols"]], VECTORS[case["input"]]
    assert int(integer.z_frac[0]) == case["z_frac"]
    np.testing.assert_array_equal(integer.hyper_input(z_symbols), x)
    # the engine, from the layers as the case names them in the state dict
    state = {k: v.numpy() for k, v in shipped[name].state_dict().items()}
    layers = [intnet.Layer(s["kind"], state[s["key"] + ".weight"], state[s["key"] + ".bias"],
                           state[s["key"] + ".shift"], s["act"], s["out_bits"]) for s in case["layers"]]
    for s, layer in zip(case["layers"], layers):
        assert (layer.c_in, layer.c_out, layer.k) == (s["c_in"], s["c_out"], s["k"])
    out = intnet.Network(layers).run(x)
    assert list(out.shape) == case["expected_shape"] and out.dtype.str == case["expected_dtype"]
    assert sha256(out) == case["expected_sha256"]
    # the model API
    api = integer.hyper_output(z_symbols)
    assert api.dtype.str == case["expected_dtype"] and sha256(api) == case["expected_sha256"]
    # the reference (what wrote the digest)
    ref_out = ref.stack([(s["kind"], state[s["key"] + ".weight"], state[s["key"] + ".bias"],
                          state[s["key"] + ".shift"], s["act"], s["out_bits"]) for s in case["layers"]], x)
    assert sha256(ref_out.astype(case["expected_dtype"])) == case["expected_sha256"]
    summary = case["expected_summary"]
    assert (int(ref_out.min()), int(ref_out.max()), int(ref_out.sum())) == \
        (summary["min"], summary["max"], summary["sum"])
