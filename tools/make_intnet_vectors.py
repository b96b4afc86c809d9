#!/usr/bin/env python
"""Golden vectors of the integer networks (docs/integer.md): tests/fixtures/intnet/.

    python tools/make_intnet_vectors.py            # (re)write tests/fixtures/intnet/
    python tools/make_intnet_vectors.py --check    # regenerate in memory, compare byte for byte

Every expected output is computed by ``lic_core/testing/intnet_reference.py`` (the NumPy int64
implementation of the specification), never by the engine: the vectors are the
specification's, and ``tests/coding/test_intnet_golden.py`` holds the engine to them.
Everything is drawn from fixed seeds and written byte-identically on every run (the
.npz is an uncompressed zip whose entries carry a fixed date), so ``--check`` shows
whether the committed files are still what this script and the reference produce.

Files (the layout is documented in docs/integer.md, "Golden vectors"):

* ``vectors.json``: the cases: name, type, what each checks, the layer specs, shapes,
  dtypes and the names of their arrays in the .npz; for the two shipped-model cases the
  SHA-256 of the expected output instead of the array.
* ``vectors.npz``: the arrays, ``<case>__<field>``, little-endian, C order.

WHEN TO WRITE: when a case is added, deliberately, saying so in the commit. Never to make
a failing tests/coding/test_intnet_golden.py pass: a difference means the engine, the reference
or the shipped zoo-v4 integer tensors changed, and that breaks every stream written under
them.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from lic_core.testing import intnet_reference as ref

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "intnet"

INT16 = (-32768, 32767)
INT32 = (-(2 ** 31), 2 ** 31 - 1)
DTYPES = {16: "<i2", 32: "<i4"}
#: the shipped weights the model cases use (pinned: a later release adds its own cases)
RELEASE = "zoo-v4"
MODEL_QUALITY = 4


def weight_shape(kind: str, c_in: int, c_out: int, k: int) -> tuple[int, ...]:
    return {"conv": (c_out, c_in, k, k), "deconv": (c_in, c_out, k, k), "dense": (c_out, c_in)}[kind]


class Builder:
    """Collects the cases (JSON) and their arrays (npz)."""

    def __init__(self):
        self.cases: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, case: str, field: str, value, dtype: str) -> str:
        key = f"{case}__{field}"
        if key in self.arrays:
            raise ValueError(f"duplicate array {key}")
        arr = np.asarray(value)
        info = np.iinfo(np.dtype(dtype))
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise ValueError(f"{key} does not fit {dtype}")
        self.arrays[key] = np.ascontiguousarray(arr.astype(dtype))
        return key

    def layer_specs(self, case: str, layers, prefix: str = "layer") -> list[dict]:
        specs = []
        for i, (kind, w, b, s, act, out_bits) in enumerate(layers):
            w = np.asarray(w)
            c_out = len(b)
            c_in = w.shape[0] if kind == "deconv" else w.shape[1]
            k = 1 if kind == "dense" else w.shape[2]
            assert w.shape == weight_shape(kind, c_in, c_out, k), (case, i, w.shape)
            specs.append({
                "kind": kind, "c_in": int(c_in), "c_out": int(c_out), "k": int(k), "act": act,
                "out_bits": int(out_bits), "weight_shape": list(w.shape),
                "weight": self.array(case, f"{prefix}{i}_weight", w, "<i2"),
                "bias": self.array(case, f"{prefix}{i}_bias", b, "<i4"),
                "shift": self.array(case, f"{prefix}{i}_shift", s, "u1"),
            })
        return specs

    def network(self, name: str, checks: str, layers, x) -> None:
        """A stack (one layer or more) on int16 x; expected = the reference's output."""
        x = np.asarray(x, dtype=np.int64)
        out = ref.stack(layers, x)
        out_bits = layers[-1][5]
        self.cases.append({
            "name": name, "type": "network", "checks": checks,
            "layers": self.layer_specs(name, layers),
            "input": self.array(name, "input", x, "<i2"), "input_shape": list(x.shape),
            "expected": self.array(name, "expected", out, DTYPES[out_bits]),
            "expected_shape": list(out.shape), "expected_dtype": DTYPES[out_bits],
            "coverage": coverage(layers, x, out),
        })


# ----------------------------------------------------------------------------- helpers

def unwrapped_acc(kind, w, b, x) -> np.ndarray:
    """The layer's accumulator before wrap32 (int64; exact for these sizes): the reference
    run with wrap32 as the identity, shift 0, act none and a 64-bit output."""
    saved = ref.wrap32
    ref.wrap32 = lambda v: np.asarray(v, dtype=np.int64)
    try:
        cout = len(b)
        return ref.layer(kind, w, b, np.zeros(cout, np.int64), "none", 64, x)
    finally:
        ref.wrap32 = saved


def coverage(layers, x, out) -> dict:
    """What a case exercises, counted over all its layers (documentation in the JSON)."""
    n_wrapped = n_sat_hi = n_sat_lo = n_ties = 0
    h = np.asarray(x, dtype=np.int64)
    for kind, w, b, s, act, out_bits in layers:
        acc = unwrapped_acc(kind, w, b, h)
        wrapped = ref.wrap32(acc)
        n_wrapped += int((acc != wrapped).sum())
        s64 = np.asarray(s, dtype=np.int64)
        half = np.int64(1) << np.maximum(s64 - 1, 0)
        n_ties += int(((s64 > 0) & (wrapped % (np.int64(1) << s64) == half)).sum())
        unsat = ref.finish(wrapped, s, act, 64)
        lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
        n_sat_hi += int((unsat > hi).sum())
        n_sat_lo += int((unsat < lo).sum())
        h = ref.finish(wrapped, s, act, out_bits)
    assert np.array_equal(h, out)
    return {"outputs": int(np.asarray(out).size), "wrapped_accumulators": n_wrapped,
            "rounding_ties": n_ties, "saturated_high": n_sat_hi, "saturated_low": n_sat_lo}


def fitted_shift(rng, kind, w, b, x, out_bits: int) -> np.ndarray:
    """Per output channel, the shift that brings the channel's largest |acc| near the top
    of the output range, give or take one (so that some channels saturate a little)."""
    acc = ref.wrap32(unwrapped_acc(kind, w, b, x))
    peak = np.abs(acc).reshape(-1, len(b)).max(axis=0)
    top = 15 if out_bits == 16 else 24
    s = np.array([max(0, int(p).bit_length() - top) for p in peak], dtype=np.int64)
    return np.clip(s + rng.integers(-1, 2, size=s.shape), 0, 31)


def regular_layer(rng, kind, k, act, out_bits, c_in=3, c_out=4, h=4, w=5):
    """Realistic magnitudes: weights in +-4096, inputs in +-2048, biases in +-2^22."""
    wt = rng.integers(-4096, 4097, size=weight_shape(kind, c_in, c_out, k))
    b = rng.integers(-(1 << 22), 1 << 22, size=c_out, endpoint=True)
    x = rng.integers(-2048, 2049, size=(6, c_in) if kind == "dense" else (h, w, c_in))
    s = fitted_shift(rng, kind, wt, b, x, out_bits)
    return (kind, wt, b, s, act, out_bits), x


def extremes(rng, shape, values) -> np.ndarray:
    return rng.choice(np.array(values, dtype=np.int64), size=shape)


# ----------------------------------------------------------------------------- cases

def layer_cases(v: Builder) -> None:
    rng = np.random.default_rng(20261203)
    for kind, ks in (("conv", (1, 3, 5)), ("deconv", (3, 5)), ("dense", (1,))):
        for k in ks:
            for act in ("none", "relu", "leaky"):
                for out_bits in (16, 32):
                    layer, x = regular_layer(rng, kind, k, act, out_bits)
                    name = f"{kind}{'' if kind == 'dense' else f'_k{k}'}_{act}_{out_bits}"
                    v.network(name, f"one {kind} layer (k={k}), act {act}, out_bits {out_bits}, "
                                    "random weights/inputs/biases of realistic size, shifts fitted "
                                    "per channel (some channels saturate)", [layer], x)


def edge_cases(v: Builder) -> None:
    rng = np.random.default_rng(4242)
    i16_ext = [INT16[0], INT16[0] + 1, INT16[1]]

    # the accumulator wraps modulo 2^32
    w = extremes(rng, (6, 16), i16_ext)
    x = extremes(rng, (5, 16), [INT16[0], INT16[1]])
    b = np.array([INT32[0], INT32[1], 0, -1, 1 << 30, -(1 << 30)])
    v.network("wrap_dense", "dense 16 -> 6, weights and inputs at -32768/-32767/32767, biases at "
              "the int32 extremes, shift 0, out_bits 32: the output IS wrap32(acc), which wraps "
              "for most outputs", [("dense", w, b, np.zeros(6), "none", 32)], x)
    w = extremes(rng, (3, 4, 3, 3), i16_ext)
    x = extremes(rng, (3, 4, 4), [INT16[0], INT16[1]])
    v.network("wrap_conv", "conv k=3, 4 -> 3, extreme weights and inputs (border positions sum "
              "fewer taps), shifts 0, 7, 16, out_bits 32: wrapped accumulators",
              [("conv", w, np.array([INT32[1], 0, INT32[0]]), np.array([0, 7, 16]), "none", 32)], x)
    w = extremes(rng, (8, 2, 3, 3), i16_ext)
    x = extremes(rng, (2, 3, 8), [INT16[0], INT16[1]])
    v.network("wrap_deconv", "deconv k=3, 8 -> 2, extreme weights and inputs, shifts 0 and 16, "
              "out_bits 16, act leaky: wrapped accumulators through rounding, leaky and saturation",
              [("deconv", w, np.array([12345, -12345]), np.array([0, 16]), "leaky", 16)], x)

    # saturation at both ends
    w = rng.integers(-30000, 30001, size=(4, 2, 3, 3))
    x = rng.integers(-30000, 30001, size=(4, 4, 2))
    v.network("saturate_none", "conv k=3, 2 -> 4, large weights and inputs, shifts 0..12, "
              "out_bits 16, act none: outputs saturate at -32768 and at 32767",
              [("conv", w, np.array([0, 1 << 20, -(1 << 20), 7]), np.array([0, 4, 8, 12]), "none", 16)], x)
    x = rng.integers(-32768, 32768, size=(12, 3))
    w = np.array([[32767, 32767, 0], [-32768, 1, 0], [1, 0, 0], [100, -100, 5]])
    v.network("saturate_leaky", "dense 3 -> 4, shift 0, out_bits 16, act leaky: "
              "r <= -3273604 gives floor(41 r / 4096) < -32768, which saturates at -32768; "
              "large positives at 32767",
              [("dense", w, np.array([0, -(1 << 30), 0, 0]), np.zeros(4), "leaky", 16)], x)
    v.network("saturate_relu", "dense 3 -> 4, shift 0, out_bits 16, act relu: negatives to 0, "
              "large positives saturate at 32767",
              [("dense", w, np.array([0, -(1 << 30), 0, 0]), np.zeros(4), "relu", 16)], x)

    # shift 0 and 31, rounding
    w = np.ones((8, 2), dtype=np.int64)
    b = np.array([1 << 30, -(1 << 30), INT32[1] - 65534, INT32[0] + 65536,
                  0, INT32[1] - 65534, INT32[0] + 65536, (1 << 30) - 1])
    s = np.array([31, 31, 31, 31, 0, 0, 0, 31])
    x = np.array([[0, 0], [1, 0], [-1, 0], [32767, 32767], [-32768, -32768], [-32768, 32767],
                  [0, -1], [1, 1]])
    v.network("shift_0_31", "dense 2 -> 8 (weights 1), biases next to +-2^30 and the int32 ends, "
              "shifts 31 and 0, out_bits 32: floor((acc + 2^30) / 2^31) is -1, 0 or 1 "
              "(acc = 2^30 gives 1, acc = -2^30 gives 0); shift 0 adds no half",
              [("dense", w, b, s, "none", 32)], x)
    x = np.concatenate([np.arange(-40, 41), [-32768, -32767, 32766, 32767]])[:, None]
    v.network("round_half_up", "dense 1 -> 6 (weights 1, bias 0), shifts 0, 1, 2, 3, 4, 15, "
              "out_bits 16: r = floor((x + 2^(s-1)) / 2^s), ties (x = odd multiples of 2^(s-1)) "
              "round towards +infinity also for negative x",
              [("dense", np.ones((6, 1)), np.zeros(6), np.array([0, 1, 2, 3, 4, 15]), "none", 16)], x)
    x = np.concatenate([np.arange(-130, 11), [-4097, -4096, -4095, -101, -100, -99,
                                              -32768, -32767, 32767]])[:, None]
    v.network("leaky_floor", "dense 1 -> 4 (weights 1, 1, 32767, -32768), shifts 0, 3, 0, 0, "
              "out_bits 32, act leaky: floor(41 r / 4096) rounds towards -infinity "
              "(r = -1 gives -1, r = -99 gives -1, r = -100 gives -2)",
              [("dense", np.array([[1], [1], [32767], [-32768]]), np.zeros(4), np.array([0, 3, 0, 0]),
                "leaky", 32)], x)

    # a 3-layer stack with a dense layer on a spatial tensor (a 1x1 convolution)
    x = rng.integers(-2048, 2049, size=(3, 4, 2))
    layers, h = [], x
    for kind, cin, cout, k, act, out_bits in (("conv", 2, 5, 3, "relu", 16),
                                             ("deconv", 5, 3, 5, "leaky", 16),
                                             ("dense", 3, 4, 1, "none", 32)):
        wt = rng.integers(-4096, 4097, size=weight_shape(kind, cin, cout, k))
        b = rng.integers(-(1 << 20), 1 << 20, size=cout)
        s = fitted_shift(rng, kind, wt, b, h, out_bits)
        layers.append((kind, wt, b, s, act, out_bits))
        h = ref.layer(*layers[-1], h)
    v.network("stack_3", "a stack: conv k=3 (2 -> 5, relu, 16 bits), deconv k=5 (5 -> 3, leaky, "
              "16 bits), dense as a 1x1 convolution (3 -> 4, none, 32 bits) on a 3x4x2 input: "
              "output 6x8x4", layers, x)


def scale_cases(v: Builder) -> None:
    rng = np.random.default_rng(777)
    cases = []
    t = np.array([INT32[0], -1000, -1, 0, 1, 1000, INT32[1]])
    sigma = np.concatenate([t, t[1:] - 1, t[:-1] + 1, [-5000, 5000, 12]])
    cases.append(("scale_indexes_extremes", "thresholds including -2^31 and 2^31-1; sigma_q equal "
                  "to every threshold and one either side: the index counts thresholds strictly "
                  "below (sigma_q = T[t] gives t)", t, sigma))
    t = [451]
    while len(t) < 63:  # a geometric table (ratio about 1.14), like 2^12 times CompressAI's scales
        t.append(t[-1] + t[-1] // 7 + 1)
    t = np.array(t)
    sigma = np.concatenate([t, t - 1, t + 1, [INT32[0], -1, 0, INT32[1]],
                            rng.integers(0, t[-1] * 2, size=40)])
    cases.append(("scale_indexes_table", "63 increasing thresholds (a 64-level table); sigma_q at, "
                  "below and above each, the int32 ends, 0, and random values", t, sigma))
    for name, checks, t, sigma in cases:
        expected = ref.scale_indexes(sigma, t)
        v.cases.append({
            "name": name, "type": "scale_indexes", "checks": checks,
            "thresholds": v.array(name, "thresholds", t, "<i4"),
            "sigma_q": v.array(name, "sigma_q", sigma, "<i4"), "sigma_q_shape": [len(sigma)],
            "expected": v.array(name, "expected", expected, "<i4"),
            "expected_shape": [len(sigma)], "expected_dtype": "<i4",
        })


def symbol_formula(r: int, c: int, m: int) -> int:
    return (5 * r + 3 * c + 2 * m) % 7 - 3


def joint_case(v: Builder) -> None:
    rng = np.random.default_rng(31337)
    M, h, w, mean_frac = 2, 3, 4, 4
    params = rng.integers(-3000, 3001, size=(h, w, 2 * M))
    context = ("dense", rng.integers(-3000, 3001, size=(2 * M, 12 * M)),
               rng.integers(-(1 << 16), 1 << 16, size=2 * M), np.array([6, 7, 6, 8]), "none", 16)
    ep, cin = [], 4 * M
    for cout, act, out_bits, shift in ((7, "leaky", 16, 12), (5, "leaky", 16, 13), (2 * M, "none", 32, 16)):
        ep.append(("dense", rng.integers(-4096, 4097, size=(cout, cin)),
                   rng.integers(-(1 << 22), 1 << 22, size=cout), np.full(cout, shift), act, out_bits))
        cin = cout
    thresholds = np.array([-600, -300, -120, -40, 0, 40, 120, 300, 600])
    symbols = np.array([[[symbol_formula(r, c, m) for m in range(M)] for c in range(w)] for r in range(h)])
    indexes, means, grid = ref.joint_walk(params, context, ep, thresholds, mean_frac,
                                          lambda r, c, idx: symbols[r, c])
    name = "joint_walk"
    v.cases.append({
        "name": name, "type": "joint_walk",
        "checks": "the joint model's walk (docs/integer.md, Joint) in raster order on an h=3 x w=4 "
                  "latent with M=2: mask taps from the context grid (0 outside or not yet "
                  "decoded), context (dense 24 -> 4), entropy parameters (dense 8 -> 7 leaky, "
                  "7 -> 5 leaky, 5 -> 4 none 32 bits), scale indexes of sigma_q (channels 0..M-1) "
                  "and mu_q (channels M..2M-1); the grid at (r, c) becomes "
                  "sat16(symbol * 2^mean_frac + mu_q). Any order that computes a position after "
                  "its mask taps (e.g. the wavefront t = 3r + c) gives the same result.",
        "M": M, "h": h, "w": w, "mean_frac": mean_frac,
        "symbol_formula": "symbol(r, c, m) = ((5 r + 3 c + 2 m) mod 7) - 3",
        "params": v.array(name, "params", params, "<i2"), "params_shape": [h, w, 2 * M],
        "context": v.layer_specs(name, [context], "context_layer"),
        "entropy_parameters": v.layer_specs(name, ep, "entropy_parameters_layer"),
        "thresholds": v.array(name, "thresholds", thresholds, "<i4"),
        "symbols": v.array(name, "symbols", symbols, "<i4"), "symbols_shape": [h, w, M],
        "expected_indexes": v.array(name, "expected_indexes", indexes, "<i4"),
        "expected_means": v.array(name, "expected_means", means, "<i4"),
        "expected_grid": v.array(name, "expected_grid", grid, "<i2"),
        "expected_shape": [h, w, M],
    })


def model_layers(integer) -> list[tuple]:
    out = []
    for p in integer.plans["h_s"]:
        b = integer.layers[p.name.replace(".", "_")]
        out.append((p.kind, b.weight.numpy(), b.bias.numpy(), b.shift.numpy(), p.act, p.out_bits))
    return out


def model_cases(v: Builder) -> None:
    from lic_core import zoo
    release = json.loads((ROOT / "lic_core" / "zoo" / "weights" / "RELEASE.json").read_text())
    if release["release"] != RELEASE:
        raise SystemExit(f"lic_core/zoo/weights holds {release['release']}, the model cases pin {RELEASE}")
    for seed, family, file in ((101, "hyperprior", "hyperprior-q1-8.safetensors"),
                               (202, "joint", "joint-q1-8.safetensors")):
        model = zoo.load(family, MODEL_QUALITY, release=RELEASE)
        integer = model.integer
        z_symbols = np.random.default_rng(seed).integers(-3, 4, size=(model.N, 2, 3))
        x = integer.hyper_input(z_symbols)
        layers = model_layers(integer)
        out = ref.stack(layers, x)
        dtype = DTYPES[layers[-1][5]]
        expected = np.ascontiguousarray(out.astype(dtype))
        assert np.array_equal(expected, out)
        name = f"{family}_h_s"
        v.cases.append({
            "name": name, "type": "model_h_s", "family": family,
            "checks": f"the shipped {RELEASE} {family} model's integer h_s "
                      f"({' -> '.join(f'{k} {a} {b}' for k, _, _, _, a, b in layers)}) on a 2x3 "
                      f"z-hat symbol array (N={model.N}, values in -3..3, seed {seed}): input = "
                      "sat16(symbol * 2^z_frac + z_offset) position-major; the expected output "
                      "is given by its SHA-256",
            "release": RELEASE, "weights_file": f"lic_core/zoo/weights/{file}",
            "weights_sha256": release["files"][file], "quality": MODEL_QUALITY,
            "state_dict_prefix": "integer.", "safetensors_prefix": "model.integer.",
            "z_frac": int(integer.z_frac[0]),
            "layers": [{"key": f"integer.layers.{p.name.replace('.', '_')}", "kind": p.kind,
                        "c_in": p.cin, "c_out": p.cout, "k": p.k, "act": p.act, "out_bits": p.out_bits}
                       for p in integer.plans["h_s"]],
            "z_symbols": v.array(name, "z_symbols", z_symbols, "<i4"),
            "z_symbols_shape": list(z_symbols.shape),
            "input": v.array(name, "input", x, "<i2"), "input_shape": list(x.shape),
            "expected_sha256": hashlib.sha256(expected.tobytes()).hexdigest(),
            "expected_shape": list(expected.shape), "expected_dtype": dtype,
            "expected_summary": {"min": int(out.min()), "max": int(out.max()),
                                 "sum": int(out.sum()), "nonzero": int((out != 0).sum())},
        })


# ----------------------------------------------------------------------------- files

HOW_TO_READ = (
    "vectors.npz is a zip of .npy files (stored, not compressed), one per array, named "
    "<case>__<field>.npy; every array is little-endian, C order (the last index fastest). "
    "weights int16 ('<i2') in the layer's weight_shape (conv [c_out, c_in, k, k], deconv "
    "[c_in, c_out, k, k], dense [c_out, c_in]); biases int32 ('<i4') [c_out]; shifts uint8 "
    "('u1') [c_out]; spatial tensors H x W x C position-major, dense inputs B x C. "
    "network: run the layers in order on input, compare with expected (expected_dtype). "
    "scale_indexes: expected[i] = #{t : thresholds[t] < sigma_q[i]}. joint_walk: see its "
    "checks. model_h_s: build h_s from the shipped weights (layers[].key + .weight/.bias/.shift, "
    "under safetensors_prefix in the weights file), run it on input and compare the SHA-256 "
    "of the output's little-endian C-order bytes. coverage counts, over all layers of a case, "
    "accumulators that wrapped, rounding ties, and outputs that saturated.")


def build() -> tuple[bytes, bytes]:
    v = Builder()
    layer_cases(v)
    edge_cases(v)
    scale_cases(v)
    joint_case(v)
    model_cases(v)
    index = {"spec": "docs/integer.md, version 1", "generator": "tools/make_intnet_vectors.py",
             "computed_by": "lic_core/testing/intnet_reference.py", "how_to_read": HOW_TO_READ,
             "cases": v.cases}
    text = (json.dumps(index, indent=1) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for key, arr in v.arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, arr, version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, npy.getvalue())
    return text, buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args(argv)
    text, npz = build()
    files = {"vectors.json": text, "vectors.npz": npz}
    if args.check:
        bad = [n for n, data in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != data]
        for n in bad:
            print(f"{OUT / n} differs from what {Path(__file__).name} writes", file=sys.stderr)
        return 1 if bad else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for n, data in files.items():
        (OUT / n).write_bytes(data)
        print(f"wrote {OUT / n} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
