"""lic_core.coding.intnet: the engine's integer networks equal docs/integer.md exactly.

The specification's independent implementation, lic_core/testing/intnet_reference.py (NumPy int64,
plain loops), is the judge: every layer kind, stack, scale index and joint step the
engine computes must equal it bit for bit, on weights and inputs drawn over the whole
int16 range (including -32768 and sums that wrap modulo 2^32), biases over int32, every
shift, activation and output width. Then the joint model's encoder and decoder walks are
shown to round-trip through the coder, and bad arguments and streams to fail with the
exception class and a message naming the problem.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lic_core import coder, tables
from lic_core.coding import _intnet, intnet
from lic_core.errors import (CorruptStreamError, InvalidArgumentError, LimitExceededError,
                             TruncatedStreamError)
from lic_core.testing import intnet_reference as ref
from tests.coding.intnet_draw import INT16, INT32, MODES, examples, values, weight_shape


# ----------------------------------------------------------------------------- drawing

@st.composite
def layer_specs(draw, kind=None, c_in=None, out_bits=None):
    """(kind, weight, bias, shift, act, out_bits): the reference's layer tuple."""
    kind = kind or draw(st.sampled_from(["conv", "deconv", "dense"]))  # igdn: test_intnet_synthesis.py
    k = {"conv": draw(st.sampled_from([1, 3, 5])), "deconv": draw(st.sampled_from([3, 5])), "dense": 1}[kind]
    c_in = c_in or draw(st.integers(1, 6))
    c_out = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    weight = values(rng, weight_shape(kind, c_in, c_out, k), draw(MODES), *INT16, np.int16)
    bias = values(rng, (c_out,), draw(MODES), *INT32, np.int32)
    shift = rng.integers(0, 31, size=c_out, endpoint=True).astype(np.uint8)
    if draw(st.booleans()):
        shift[:] = draw(st.sampled_from([0, 1, 31]))
    act = draw(st.sampled_from(intnet.ACTIVATIONS))
    out_bits = out_bits or draw(st.sampled_from([16, 32]))
    return kind, weight, bias, shift, act, out_bits


def input_for(draw, spec_kind: str, c_in: int) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    shape = (draw(st.integers(1, 5)), c_in) if spec_kind == "dense" else \
        (draw(st.integers(1, 5)), draw(st.integers(1, 5)), c_in)
    return values(rng, shape, draw(MODES), *INT16, np.int16)


# ----------------------------------------------------------------------------- layers

@examples(400)
@given(st.data())
def test_every_layer_equals_the_reference(data):
    spec = data.draw(layer_specs())
    x = input_for(data.draw, spec[0], spec[1].shape[0] if spec[0] == "deconv" else spec[1].shape[1])
    got = intnet.Network([intnet.Layer(*spec)]).run(x)
    want = ref.layer(*spec, x)
    assert got.dtype == (np.int16 if spec[5] == 16 else np.int32)
    np.testing.assert_array_equal(got, want)


@examples(200)
@given(st.data())
def test_every_stack_equals_the_reference(data):
    spatial = data.draw(st.booleans())
    n = data.draw(st.integers(2, 3))
    specs, c = [], data.draw(st.integers(1, 5))
    for i in range(n):
        kind = data.draw(st.sampled_from(["conv", "deconv", "dense"] if spatial else ["dense"]))
        last = i == n - 1
        spec = data.draw(layer_specs(kind=kind, c_in=c, out_bits=None if last else 16))
        specs.append(spec)
        c = spec[2].shape[0]
    spatial = any(s[0] != "dense" for s in specs)  # dense layers alone take B x C
    x = input_for(data.draw, "conv" if spatial else "dense", specs[0][1].shape[0] if specs[0][0] == "deconv"
                  else specs[0][1].shape[1])
    got = intnet.Network([intnet.Layer(*s) for s in specs]).run(x)
    np.testing.assert_array_equal(got, ref.stack(specs, x))


def test_wide_layers_cross_every_block_and_tile_boundary():
    """Rows longer than one vector loop, blocks of positions, tiles with leftover rows
    and channels (the hypothesis layers are small)."""
    rng = np.random.default_rng(7)
    for kind, c_in, c_out, k, hw in [("conv", 67, 7, 3, (9, 11)), ("deconv", 40, 5, 5, (5, 7)),
                                     ("dense", 300, 11, 1, (70, 1)), ("conv", 3, 13, 5, (6, 5))]:
        spec = (kind, values(rng, weight_shape(kind, c_in, c_out, k), "full", *INT16, np.int16),
                values(rng, (c_out,), "full", *INT32, np.int32), rng.integers(0, 32, c_out).astype(np.uint8),
                "leaky", 32)
        x = values(rng, (hw[0], c_in) if kind == "dense" else (*hw, c_in), "full", *INT16, np.int16)
        np.testing.assert_array_equal(intnet.Network([intnet.Layer(*spec)]).run(x), ref.layer(*spec, x))


def test_the_accumulator_wraps_modulo_2_to_the_32():
    """Four products (-32768)^2 sum to 2^32, which wraps to 0 (so channel 1 is its bias,
    2^31 - 1); two of them plus the bias 2^31 - 1 make 2^32 - 1, which wraps to -1."""
    layer = intnet.Layer("dense", np.full((2, 4), -32768, np.int16), [0, 2 ** 31 - 1], [0, 0], "none", 32)
    x = np.full((1, 4), -32768, np.int16)
    np.testing.assert_array_equal(intnet.Network([layer]).run(x), [[0, 2 ** 31 - 1]])
    layer = intnet.Layer("dense", np.full((1, 2), -32768, np.int16), [2 ** 31 - 1], [0], "none", 32)
    # 2 * 2^30 + 2^31 - 1 = 2^32 - 1 -> -1
    np.testing.assert_array_equal(intnet.Network([layer]).run(np.full((1, 2), -32768, np.int16)), [[-1]])


def test_every_kernel_gives_the_same_integers():
    """Each instruction-set path this CPU runs (LIC_INTNET_KERNEL picks it, once per
    process) equals the reference on wide layers."""
    script = (
        "import numpy as np\n"
        "from lic_core.testing import intnet_reference as ref\n"
        "from lic_core.coding import intnet, _intnet\n"
        "rng = np.random.default_rng(3)\n"
        "for kind, ci, co, k in [('conv', 37, 9, 3), ('deconv', 33, 6, 5), ('dense', 130, 7, 1)]:\n"
        "    shape = {'conv': (co, ci, k, k), 'deconv': (ci, co, k, k), 'dense': (co, ci)}[kind]\n"
        "    spec = (kind, rng.integers(-32768, 32768, shape).astype(np.int16),\n"
        "            rng.integers(-2**31, 2**31, co).astype(np.int32), rng.integers(0, 32, co).astype(np.uint8),\n"
        "            'leaky', 32)\n"
        "    x = rng.integers(-32768, 32768, (13, ci) if kind == 'dense' else (5, 7, ci)).astype(np.int16)\n"
        "    assert (intnet.Network([intnet.Layer(*spec)]).run(x) == ref.layer(*spec, x)).all(), kind\n"
        "print(_intnet.kernel_name())\n")
    ran = set()
    for name in ("portable", "avx2", "avx512", "avx512vnni"):
        env = dict(os.environ, LIC_INTNET_KERNEL=name)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        ran.add(out.stdout.strip())
    assert "portable" in ran and _intnet.kernel_name() in ran


def test_threads_split_large_layers_and_give_the_same_integers():
    """Layers large enough to split (threads_used says they do: at least 2^23
    multiply-adds a thread) give the same integers with 1, 2, 3 and 8 threads, and
    the reference's on a layer of each kind (odd sizes leave short blocks at the ends of
    phases; which thread takes which block changes from run to run). Every output is
    kept, so no run can find another's numbers in reused memory."""
    rng = np.random.default_rng(11)

    def spec(kind, c_in, c_out, k, act, out_bits=16):
        return (kind, values(rng, weight_shape(kind, c_in, c_out, k), "full", *INT16, np.int16),
                values(rng, (c_out,), "full", *INT32, np.int32), rng.integers(8, 24, c_out).astype(np.uint8),
                act, out_bits)

    stack = [spec("deconv", 64, 48, 5, "leaky"), spec("conv", 48, 40, 3, "none"),
             spec("dense", 40, 24, 1, "leaky", 32)]  # 20 x 22 -> 40 x 44: 4.0, 3.8, 0.3 x 2^23 multiply-adds
    cases = [(stack, values(rng, (20, 22, 64), "full", *INT16, np.int16), False),
             ([spec("conv", 72, 56, 3, "none", 32)], values(rng, (31, 37, 72), "full", *INT16, np.int16), True),
             ([spec("dense", 256, 136, 1, "leaky")], values(rng, (1001, 256), "full", *INT16, np.int16), True),
             ([spec("deconv", 48, 48, 3, "none")], values(rng, (33, 37, 48), "full", *INT16, np.int16), True)]
    for specs, x, check_reference in cases:
        net = intnet.Network([intnet.Layer(*s) for s in specs])
        h, w = (x.shape[0], x.shape[1]) if net.spatial else (x.shape[0], 1)
        assert net._net.threads_used(h, w, 1) == 1
        assert [net._net.threads_used(h, w, t) for t in (2, 3)] == [2, 3], specs
        assert net._net.threads_used(h, w, 8) >= 3
        outs = {t: net.run(x, threads=t) for t in (1, 2, 3, 8)}
        for t in (2, 3, 8):
            np.testing.assert_array_equal(outs[t], outs[1], err_msg=f"threads={t}")
        if check_reference:
            np.testing.assert_array_equal(outs[1], ref.stack(specs, x))
    # Small work stays on the calling thread, whatever is asked.
    small = intnet.Network([intnet.Layer(*spec("conv", 8, 8, 3, "none"))])
    assert small._net.threads_used(16, 16, 64) == 1
    assert small._net.threads_used(2 ** 20, 2 ** 20, 8) == 1  # past the limits: no run to split


def test_default_threads_are_set_and_checked():
    before = intnet.default_threads()
    assert before == max(1, min(os.cpu_count() or 1, 8))
    net = intnet.Network([intnet.Layer("dense", [[1, 2], [3, -4]], [0, 8], [0, 4], "relu")])
    x = np.array([[10, 20]], dtype=np.int16)
    try:
        for n in (1, 3, np.int64(64)):
            intnet.set_default_threads(n)
            assert intnet.default_threads() == n and type(intnet.default_threads()) is int
            assert net.run(x).tolist() == [[50, 0]]
        for bad in (0, -1, 65, 2.0, True, "2", None):
            with pytest.raises(InvalidArgumentError, match="must be an int in 1..64"):
                intnet.set_default_threads(bad)
            if bad is not None:
                with pytest.raises(InvalidArgumentError, match="threads must be an int in 1..64"):
                    net.run(x, threads=bad)
        assert intnet.default_threads() == 64  # unchanged by the refusals
    finally:
        intnet.set_default_threads(before)
    assert intnet.MAX_THREADS == 64


@examples(200)
@given(st.data())
def test_scale_indexes_count_the_thresholds_below(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    n = data.draw(st.integers(0, 70))
    thresholds = np.sort(rng.choice(np.arange(-1000, 1000), n, replace=False)).astype(np.int32)
    if data.draw(st.booleans()):
        thresholds = np.unique(values(rng, (n,), "full", *INT32, np.int32))
    sigma = np.concatenate([values(rng, (5, 7), data.draw(MODES), *INT32, np.int32).reshape(-1),
                            thresholds, thresholds + 1]).astype(np.int32)
    got = intnet.scale_indexes(sigma.reshape(-1, 1), thresholds)
    assert got.shape == (sigma.size, 1) and got.dtype == np.int32
    np.testing.assert_array_equal(got[:, 0], ref.scale_indexes(sigma, thresholds))


# ----------------------------------------------------------------------------- joint

def wavefront(h: int, w: int):
    """docs/stream-format.md's order as the engine takes it: positions by t = 3r + c,
    rows ascending, and where each step starts (empty steps included)."""
    steps = [np.array([r * w + t - 3 * r for r in range(h) if 0 <= t - 3 * r < w], np.int64)
             for t in range(3 * (h - 1) + w)]
    starts = np.zeros(len(steps) + 1, np.int64)
    np.cumsum([len(s) for s in steps], out=starts[1:])
    return np.concatenate(steps), starts


@st.composite
def joint_models(draw):
    """(JointModel, the reference's specs, params, M, h, w)."""
    M, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    mode = draw(st.sampled_from(["small", "full"]))

    def dense(c_in, c_out, act, out_bits):
        if mode == "small":  # outputs spread over the thresholds instead of saturating
            return ("dense", rng.integers(-64, 65, (c_out, c_in)).astype(np.int16),
                    rng.integers(-5000, 5000, c_out).astype(np.int32),
                    rng.integers(2, 9, c_out).astype(np.uint8), act, out_bits)
        return ("dense", values(rng, (c_out, c_in), "full", *INT16, np.int16),
                values(rng, (c_out,), "full", *INT32, np.int32), rng.integers(0, 32, c_out).astype(np.uint8),
                act, out_bits)

    a, b = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    context = dense(12 * M, 2 * M, "none", 16)
    ep = [dense(4 * M, a, "leaky", 16), dense(a, b, "leaky", 16), dense(b, 2 * M, "none", 32)]
    thresholds = np.sort(rng.choice(np.arange(-300, 300), 7, replace=False)).astype(np.int32)
    mean_frac = draw(st.sampled_from([0, 3, 8, 31]))
    params = values(rng, (h, w, 2 * M), draw(MODES), *INT16, np.int16)
    joint = intnet.JointModel(intnet.Layer(*context), [intnet.Layer(*s) for s in ep], thresholds, mean_frac)
    return joint, (context, ep, thresholds, mean_frac), params, M, h, w


def symbols_at(r, c, indexes):
    """A deterministic stand-in for the decoded symbols (both signs, several values)."""
    return (np.arange(len(indexes)) * 3 + r * 5 + c * 7 + np.asarray(indexes)) % 9 - 4


@examples(200)
@given(joint_models())
def test_joint_step_and_commit_equal_the_reference_walk(model):
    joint, specs, params, M, h, w = model
    want_indexes, want_means, want_grid = ref.joint_walk(params, *specs, symbols_at)
    positions, starts = wavefront(h, w)
    grid = joint.empty_grid(h, w)
    for a, b in zip(starts[:-1], starts[1:]):
        batch = positions[a:b]
        indexes, means = joint.step(grid, params, h, w, batch)
        assert indexes.shape == means.shape == (len(batch), M)
        rows, cols = batch // w, batch % w
        np.testing.assert_array_equal(indexes, want_indexes[rows, cols])
        np.testing.assert_array_equal(means, want_means[rows, cols])
        symbols = np.array([symbols_at(r, c, i) for r, c, i in zip(rows, cols, indexes)], np.int32)
        joint.commit(grid, h, w, batch, symbols.reshape(-1, M), means)
    np.testing.assert_array_equal(grid[2:2 + h, 2:2 + w], want_grid)
    assert not grid[:2].any() and not grid[:, :2].any() and not grid[2 + h:].any() and not grid[:, 2 + w:].any()


_TABLE_SCALES = tables.scale_table(0.11, 64.0, 8)
TABLESET = coder.TableSet(*tables.gaussian_tables(_TABLE_SCALES))


@examples(150)
@given(joint_models(), st.integers(0, 2 ** 32 - 1))
def test_encode_then_decode_walks_round_trip_through_the_coder(model, seed):
    joint, specs, params, M, h, w = model
    rng = np.random.default_rng(seed)
    y = (rng.normal(0, 30, (h, w, M)) * rng.choice([1, 1e-3, 1e6, 1e12], (h, w, M))).astype(np.float32)
    positions, starts = wavefront(h, w)
    symbols, indexes, means = joint.encode(params, y, positions, starts)
    assert symbols.shape == indexes.shape == (h * w * M,) and means.shape == (h, w, M)
    # the encoder's indexes and means are the reference's for its own symbols
    by_position = dict(zip(positions.tolist(), symbols.reshape(-1, M)))
    want_indexes, want_means, _ = ref.joint_walk(params, *specs, lambda r, c, i: by_position[r * w + c])
    np.testing.assert_array_equal(indexes.reshape(-1, M), want_indexes.reshape(-1, M)[positions])
    np.testing.assert_array_equal(means, want_means)
    # symbol = round_half_even(y - mu / 2^Fm) in float32, saturated to int32
    mu = (means.astype(np.float32) * np.float32(2.0 ** -specs[3])).reshape(-1, M)[positions]
    expected = np.clip(np.rint(y.reshape(-1, M)[positions].astype(np.float32) - mu).astype(np.float64),
                       *INT32).astype(np.int32)
    np.testing.assert_array_equal(symbols.reshape(-1, M), expected)

    data = coder.encode(symbols, indexes, TABLESET)
    decoded, decoded_means = joint.decode(params, h, w, data, TABLESET, positions, starts)
    np.testing.assert_array_equal(decoded, symbols)
    np.testing.assert_array_equal(decoded_means, means)


def test_a_long_run_releases_the_gil():
    """Another Python thread runs in the middle of a long Network.run (the method of
    tests/coding/test_gil_release.py: timestamps this thread takes inside [t0 + d/4, t0 + 3d/4]
    of the call exist only if the call released the GIL; up to three attempts, as the
    OS may not schedule this thread in a given window)."""
    rng = np.random.default_rng(5)
    net = intnet.Network([intnet.Layer("conv", rng.integers(-99, 99, (96, 96, 3, 3)), np.zeros(96, np.int32),
                                       np.full(96, 8))])
    x = rng.integers(-999, 999, (96, 96, 96)).astype(np.int16)  # 0.7 G multiply-adds
    for _ in range(3):
        box, done, stamps = {}, threading.Event(), []

        def work():
            box["t0"] = time.perf_counter()
            net.run(x)
            box["t1"] = time.perf_counter()
            done.set()

        worker = threading.Thread(target=work)
        worker.start()
        while not done.is_set():
            stamps.append(time.perf_counter())
        worker.join()
        d = box["t1"] - box["t0"]
        if any(box["t0"] + d / 4 < t < box["t0"] + 3 * d / 4 for t in stamps):
            return
    pytest.fail("no other thread ran during Network.run: the GIL was held")


# ----------------------------------------------------------------------------- errors

def small_joint(M=2):
    rng = np.random.default_rng(0)

    def dense(c_in, c_out, out_bits=16):
        return intnet.Layer("dense", rng.integers(-9, 10, (c_out, c_in)), np.zeros(c_out, np.int32),
                            np.full(c_out, 3), "none", out_bits)
    return intnet.JointModel(dense(12 * M, 2 * M), [dense(4 * M, 2 * M, 32)], [-10, 0, 10], 4)


@pytest.mark.parametrize("args, message", [
    (("dense", np.ones((2, 2)), [0, 0], [0, 0]), "weight must hold integers"),
    (("dense", np.full((2, 2), 40000), [0, 0], [0, 0]), r"weight\[0\]\[0\] = 40000 does not fit int16"),
    (("dense", np.ones((2, 2), np.int16), [0, 2 ** 31], [0, 0]), r"bias\[1\] = 2147483648 does not fit int32"),
    (("dense", np.ones((2, 2), np.int16), [0, 0, 0], [0, 0]), r"bias must have shape \(2,\)"),
    (("dense", np.ones((2, 2), np.int16), [0, 0], [0, 40]), r"shift\[1\] = 40 is outside 0..31"),
    (("dense", np.ones((2, 2), np.int16), [0, 0], [0.5, 1]), "shift must hold integers"),
    (("conv", np.ones((2, 2, 2, 2), np.int16), [0, 0], [0, 0]), "k odd"),
    (("dense", np.ones((2, 2, 1, 1), np.int16), [0, 0], [0, 0]), r"dense weight is \[c_out, c_in\]"),
    (("pool", np.ones((2, 2), np.int16), [0, 0], [0, 0]), "kind must be one of"),
    (("dense", np.ones((2, 2), np.int16), [0, 0], [0, 0], "gelu"), "act must be one of"),
    (("dense", np.ones((2, 2), np.int16), [0, 0], [0, 0], "none", 24), "out_bits must be 8, 16 or 32"),
])
def test_bad_layers_are_refused_naming_the_field(args, message):
    with pytest.raises(InvalidArgumentError, match=message):
        intnet.Layer(*args)


def test_bad_networks_and_inputs_are_refused():
    a = intnet.Layer("conv", np.ones((4, 3, 3, 3), np.int16), np.zeros(4, np.int32), np.zeros(4, np.uint8))
    with pytest.raises(InvalidArgumentError, match="layer 1 takes 3 channels but layer 0 gives 4"):
        intnet.Network([a, a])
    wide = intnet.Layer("dense", np.ones((3, 3), np.int16), np.zeros(3, np.int32), np.zeros(3, np.uint8), out_bits=32)
    with pytest.raises(InvalidArgumentError, match="follows a 32-bit layer: only the last layer may have out_bits 8 or 32"):
        intnet.Network([wide, wide])
    with pytest.raises(InvalidArgumentError, match="at least one layer"):
        intnet.Network([])
    net = intnet.Network([a])
    with pytest.raises(InvalidArgumentError, match="x must be H x W x 3"):
        net.run(np.zeros((4, 4, 2), np.int16))
    with pytest.raises(InvalidArgumentError, match="x must hold integers"):
        net.run(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InvalidArgumentError, match=r"x\[0\]\[0\]\[0\] = 40000 does not fit int16"):
        net.run(np.full((4, 4, 3), 40000))
    with pytest.raises(InvalidArgumentError, match="x must be B x 3"):
        intnet.Network([wide]).run(np.zeros((2, 3, 3), np.int16))


def test_absurd_sizes_are_refused_before_any_allocation():
    net = intnet.Network([intnet.Layer("conv", np.ones((1, 1, 1, 1), np.int16), [0], [0])])
    huge = np.broadcast_to(np.int16(0), (2 ** 15, 2 ** 15, 1))  # 2^30 values, no memory
    with pytest.raises(LimitExceededError, match="exceeds the limit"):
        net.run(huge)
    with pytest.raises(LimitExceededError, match="exceeds the engine's limit"):
        intnet.Layer("dense", np.broadcast_to(np.int16(1), (2 ** 15, 2 ** 15)), np.zeros(2 ** 15, np.int32), np.zeros(2 ** 15, np.uint8))
    deconvs = intnet.Network([intnet.Layer("deconv", np.ones((1, 1, 3, 3), np.int16), [0], [0])] * 20)
    with pytest.raises(LimitExceededError, match="exceeds the limit"):
        deconvs.run(np.zeros((4, 4, 1), np.int16))  # 4 * 2^20 on a side
    joint = small_joint()
    with pytest.raises(InvalidArgumentError, match="grid must have shape"):
        joint.step(joint.empty_grid(2, 2), np.zeros((2, 2, 4), np.int16), 2 ** 40, 2, [0])


def test_bad_joint_models_and_calls_are_refused():
    ok = intnet.Layer("dense", np.ones((4, 24), np.int16), np.zeros(4, np.int32), np.zeros(4, np.uint8))
    ep = intnet.Layer("dense", np.ones((4, 8), np.int16), np.zeros(4, np.int32), np.zeros(4, np.uint8), out_bits=32)
    with pytest.raises(InvalidArgumentError, match="thresholds must increase strictly"):
        intnet.JointModel(ok, [ep], [0, 5, 5], 4)
    with pytest.raises(InvalidArgumentError, match="context must be dense layers on 12 M inputs"):
        intnet.JointModel(intnet.Layer("dense", np.ones((4, 20), np.int16), np.zeros(4, np.int32), np.zeros(4, np.uint8)), [ep], [0], 4)
    with pytest.raises(InvalidArgumentError, match="entropy parameters must be dense layers 4 M = 8 -> 2 M = 4"):
        intnet.JointModel(ok, [intnet.Layer("dense", np.ones((4, 8), np.int16), np.zeros(4, np.int32), np.zeros(4, np.uint8))], [0], 4)
    with pytest.raises(InvalidArgumentError, match="mean_frac must be an int in 0..31"):
        intnet.JointModel(ok, [ep], [0], 40)

    joint, h, w = small_joint(), 2, 3
    grid, params = joint.empty_grid(h, w), np.zeros((h, w, 4), np.int16)
    with pytest.raises(InvalidArgumentError, match=r"positions\[1\] = 6 is outside the 2 x 3 latent"):
        joint.step(grid, params, h, w, [0, 6])
    with pytest.raises(InvalidArgumentError, match="grid must be an int16 array"):
        joint.step(grid.astype(np.int32), params, h, w, [0])
    with pytest.raises(InvalidArgumentError, match="grid must be C-contiguous and writable"):
        joint.commit(np.asfortranarray(grid), h, w, [0], [[1, 2]], [[3, 4]])
    with pytest.raises(InvalidArgumentError, match="params must be h x w x 2M = 2 x 3 x 4"):
        joint.step(grid, params[:, :2], h, w, [0])
    with pytest.raises(InvalidArgumentError, match="symbols must hold count x M = 1 x 2 values"):
        joint.commit(grid, h, w, [0], [1, 2, 3], [3, 4])
    positions, starts = wavefront(h, w)
    y = np.zeros((h, w, 2), np.float32)
    with pytest.raises(InvalidArgumentError, match=r"y\[3\] \(position 1, channel 1\) is NaN"):
        joint.encode(params, np.where(np.arange(12).reshape(h, w, 2) == 3, np.nan, y), positions, starts)
    with pytest.raises(InvalidArgumentError, match="y must hold floats"):
        joint.encode(params, y.astype(np.int32), positions, starts)
    twice = positions.copy()
    twice[1] = twice[0]
    with pytest.raises(InvalidArgumentError, match=r"positions\[1\] = 0 appears twice"):
        joint.encode(params, y, twice, starts)
    with pytest.raises(InvalidArgumentError, match="step_starts must run from 0 to h \\* w = 6"):
        joint.encode(params, y, positions, starts[:-1])
    with pytest.raises(InvalidArgumentError, match="tableset must be a lic_core.coder.TableSet"):
        joint.decode(params, h, w, b"", "tables", positions, starts)


def test_bad_streams_fail_as_coder_decode_fails():
    joint, h, w = small_joint(), 3, 4
    rng = np.random.default_rng(1)
    params = rng.integers(-500, 500, (h, w, 4)).astype(np.int16)
    positions, starts = wavefront(h, w)
    symbols, indexes, _ = joint.encode(params, rng.normal(0, 20, (h, w, 2)).astype(np.float32), positions, starts)
    data = coder.encode(symbols, indexes, TABLESET)
    for bad in (data[:-4], data[:len(data) // 2], data[:3], data + b"\0\0\0\0"):
        with pytest.raises(CorruptStreamError) as expected:
            coder.decode(bad, indexes, TABLESET)
        with pytest.raises(type(expected.value)) as got:
            joint.decode(params, h, w, bad, TABLESET, positions, starts)
        assert type(got.value) is type(expected.value)
    with pytest.raises(TruncatedStreamError):
        joint.decode(params, h, w, data[:-4], TABLESET, positions, starts)
    # a stream of another size: the symbol count is checked before decoding anything
    with pytest.raises(CorruptStreamError, match="symbol"):
        joint.decode(params[:, :w - 1], h, w - 1, data, TABLESET, np.arange(h * (w - 1)), [0, h * (w - 1)])
