"""The synthesis layers of docs/integer.md (specification version 2): the inverse GDN,
8-bit pixel outputs and bands of rows, against the independent NumPy reference.

lic_core/testing/intnet_reference.py computes the inverse GDN element by element on Python ints
(its square root by bisection, no floating point), so the engine's isqrt (a double
square root corrected by integer comparisons) and its vectorised sums are judged by
arithmetic that shares nothing with them. Bands: a run cut into bands of rows, each
computed from only the input rows ``input_rows`` names, equals the whole run bit for
bit, and a band given one row too few is refused.
"""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lic_core.coding import intnet
from lic_core.errors import InvalidArgumentError
from lic_core.testing import intnet_reference as ref
from tests.coding.intnet_draw import INT16, INT32, MODES, examples, values, weight_shape

#: the repository root, on the PYTHONPATH of the per-kernel subprocesses (tests is a package)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: intnet_draw.values, its "small" mode within ±300 here (±40 in test_intnet.py)
draw_values = functools.partial(values, small=300)


@st.composite
def igdn_specs(draw, c=None):
    """The reference's igdn tuple: (kind, gamma, beta, shift, act, out_bits, square_shift,
    out_shift), over the whole ranges the specification allows."""
    c = c or draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    gamma = draw_values(rng, (c, c), draw(MODES), *INT16, np.int16)
    beta = draw_values(rng, (c,), draw(MODES), *INT32, np.int32)
    shift = rng.integers(0, 31, size=c, endpoint=True).astype(np.uint8)
    out_shift = rng.integers(0, 62, size=c, endpoint=True).astype(np.uint8)
    if draw(st.booleans()):  # realistic: norms of ~2^29, outputs back near the input grid
        shift[:] = draw(st.sampled_from([0, 1, 2]))
        out_shift[:] = draw(st.sampled_from([12, 16, 20, 28]))
    square_shift = draw(st.sampled_from([0, 1, 14, 15, 16, 30]))
    return "igdn", gamma, beta, shift, "none", 16, square_shift, out_shift


def layer_of(spec):
    if spec[0] == "igdn":
        return intnet.Layer(spec[0], spec[1], spec[2], spec[3], spec[4], spec[5], square_shift=spec[6],
                            out_shift=spec[7])
    return intnet.Layer(*spec)


@examples(150)
@given(st.data())
def test_inverse_gdn_equals_the_reference(data):
    spec = data.draw(igdn_specs())
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    x = draw_values(rng, (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), spec[1].shape[0]),
                    data.draw(MODES), *INT16, np.int16)
    np.testing.assert_array_equal(intnet.Network([layer_of(spec)]).run(x), ref.stack([spec], x))


def test_inverse_gdn_at_its_extremes():
    """With gamma 0 and beta 2^31 - 1 the norm is 2^31 - 1 and m = floor(sqrt((2^31 - 1)
    2^16)) = 11863283: x = -32768 with out_shift 0 saturates at -32768, x = 32767 with
    out_shift 30 gives round(32767 m / 2^30) = 362; a norm whose sum wraps negative is
    0, and so is its output. Squares of -32768 saturate at 32767 (square_shift 0, 15)."""
    x = np.array([[[-32768, 32767, 1]]], np.int16)
    spec = ("igdn", np.zeros((3, 3), np.int16), np.full(3, 2 ** 31 - 1, np.int32), np.zeros(3, np.uint8),
            "none", 16, 0, np.array([0, 30, 62], np.uint8))
    got = intnet.Network([layer_of(spec)]).run(x)
    np.testing.assert_array_equal(got, ref.stack([spec], x))
    assert ref.isqrt(((1 << 31) - 1) << 16) == 11863283
    assert got.tolist() == [[[-32768, 362, 0]]]
    for square_shift in (0, 15, 16, 30):  # sums that wrap, squares that saturate
        gamma = np.array([[32767, 0, 0], [0, 32767, 0], [-32768, -32768, 0]], np.int16)
        spec = ("igdn", gamma, np.array([2 ** 31 - 1, 0, 0], np.int32), np.zeros(3, np.uint8), "none", 16,
                square_shift, np.array([0, 30, 40], np.uint8))
        np.testing.assert_array_equal(intnet.Network([layer_of(spec)]).run(x), ref.stack([spec], x))
    wrapped = ("igdn", np.full((1, 1), 32767, np.int16), np.array([2 ** 31 - 1], np.int32), np.zeros(1, np.uint8),
               "none", 16, 0, np.zeros(1, np.uint8))
    assert intnet.Network([layer_of(wrapped)]).run(np.full((1, 1, 1), 200, np.int16)).tolist() == [[[0]]]


@examples(100)
@given(st.data())
def test_pixel_outputs_clamp_to_0_255(data):
    kind = data.draw(st.sampled_from(["conv", "deconv", "dense"]))
    k = {"conv": 3, "deconv": 5, "dense": 1}[kind]
    c_in, c_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    shape = weight_shape(kind, c_in, c_out, k)
    spec = (kind, draw_values(rng, shape, data.draw(MODES), *INT16, np.int16),
            draw_values(rng, (c_out,), data.draw(MODES), *INT32, np.int32),
            rng.integers(0, 31, c_out, endpoint=True).astype(np.uint8), "none", 8)
    x = draw_values(rng, (6, c_in) if kind == "dense" else (2, 3, c_in), data.draw(MODES), *INT16, np.int16)
    got = intnet.Network([layer_of(spec)]).run(x)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, ref.layer(*spec, x))


def synthesis_like(rng, c_in=5, c=4, extreme=False):
    """A g_s-shaped stack: deconv, igdn, deconv, igdn, conv 3x3, deconv to 3 pixel channels."""
    def w(shape):
        return draw_values(rng, shape, "extreme" if extreme else "full", *INT16, np.int16)

    def b(n):
        return draw_values(rng, (n,), "full", -(2 ** 20), 2 ** 20, np.int32)

    def s(n, lo=10, hi=20):
        return rng.integers(lo, hi, n, endpoint=True).astype(np.uint8)

    def g(n):
        return ("igdn", np.abs(w((n, n))).astype(np.int16), np.abs(b(n)), s(n, 0, 4), "none", 16, 15, s(n, 10, 24))

    return [("deconv", w((c_in, c, 5, 5)), b(c), s(c), "none", 16), g(c),
            ("deconv", w((c, c, 5, 5)), b(c), s(c), "none", 16), g(c),
            ("conv", w((c, c, 3, 3)), b(c), s(c), "leaky", 16),
            ("deconv", w((c, 3, 5, 5)), b(3), s(3, 16, 24), "none", 8)]


@examples(40)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 7), st.integers(1, 5), st.integers(1, 40),
       st.sampled_from([1, 2, 4]))
def test_bands_equal_the_whole_run(seed, h, w, band, threads):
    rng = np.random.default_rng(seed)
    specs = synthesis_like(rng)
    net = intnet.Network([layer_of(s) for s in specs])
    x = draw_values(rng, (h, w, 5), "full", *INT16, np.int16)
    whole = net.run(x)
    assert whole.dtype == np.uint8 and whole.shape == (8 * h, 8 * w, 3)
    pieces = []
    for r0 in range(0, 8 * h, band):
        r1 = min(8 * h, r0 + band)
        a, b = net.input_rows(h, r0, r1)
        assert 0 <= a < b <= h
        pieces.append(net.run_rows(x[a:b], h, r0, r1, x_row0=a, threads=threads))
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_the_whole_run_equals_the_reference_stack():
    rng = np.random.default_rng(11)
    specs = synthesis_like(rng, c_in=3, c=3)
    x = draw_values(rng, (2, 2, 3), "full", *INT16, np.int16)
    np.testing.assert_array_equal(intnet.Network([layer_of(s) for s in specs]).run(x), ref.stack(specs, x))


def test_a_band_missing_an_input_row_is_refused():
    rng = np.random.default_rng(5)
    net = intnet.Network([layer_of(s) for s in synthesis_like(rng)])
    x = draw_values(rng, (6, 3, 5), "full", *INT16, np.int16)
    a, b = net.input_rows(6, 16, 24)
    # pixel rows 16..23 (of 48) -> rows 7..12 of the last deconv's input -> 6..13 through
    # the 3x3 conv -> 2..7 of the second deconv's input -> 0..4 of the latent
    assert (a, b) == (0, 5)
    with pytest.raises(InvalidArgumentError, match="read input rows 0 .. 5"):
        net.run_rows(x[a + 1:b], 6, 16, 24, x_row0=a + 1)
    with pytest.raises(InvalidArgumentError, match="not within the output"):
        net.run_rows(x, 6, 40, 60)


@pytest.mark.parametrize("kwargs, message", [
    (dict(square_shift=31), "square_shift must be an int in 0..30"),
    (dict(square_shift=0, out_shift=np.array([63, 0], np.uint8)), r"out_shift\[0\] = 63"),
    (dict(square_shift=0), "needs out_shift"),
])
def test_bad_igdn_layers_are_refused(kwargs, message):
    kwargs.setdefault("out_shift", None)
    with pytest.raises(InvalidArgumentError, match=message):
        intnet.Layer("igdn", np.eye(2, dtype=np.int16), [1, 1], [0, 0], **kwargs)
    with pytest.raises(InvalidArgumentError, match="igdn layers only"):
        intnet.Layer("dense", np.eye(2, dtype=np.int16), [1, 1], [0, 0], square_shift=3)
    with pytest.raises(InvalidArgumentError, match=r"\[c, c\]"):
        intnet.Layer("igdn", np.ones((2, 3), np.int16), [1, 1], [0, 0], square_shift=1,
                     out_shift=np.zeros(2, np.uint8))


def test_every_kernel_gives_the_same_synthesis():
    """Each instruction-set path this CPU runs, forced with LIC_INTNET_KERNEL, gives the
    reference's pixels on a g_s-shaped stack wide enough to use the vector loops."""
    script = (
        "import numpy as np\n"
        "from lic_core.testing import intnet_reference as ref\n"
        "from tests.coding import test_intnet_synthesis as t\n"
        "from lic_core.coding import intnet, _intnet\n"
        "rng = np.random.default_rng(9)\n"
        "specs = t.synthesis_like(rng, c_in=40, c=36)\n"
        "x = t.draw_values(rng, (2, 2, 40), 'full', -32768, 32767, np.int16)\n"
        "got = intnet.Network([t.layer_of(s) for s in specs]).run(x)\n"
        "np.save(__import__('sys').argv[1], got)\n"
        "print(_intnet.kernel_name())\n")
    outs, ran = [], set()
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lic-kernels-{os.getpid()}")
    for name in ("portable", "avx2", "avx512", "avx512vnni"):
        env = dict(os.environ, LIC_INTNET_KERNEL=name,
                   PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        out = subprocess.run([sys.executable, "-c", script, f"{tmp}-{name}.npy"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        ran.add(out.stdout.strip())
        outs.append(np.load(f"{tmp}-{name}.npy"))
        os.unlink(f"{tmp}-{name}.npy")
    assert "portable" in ran
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    rng = np.random.default_rng(9)
    specs = synthesis_like(rng, c_in=40, c=36)
    x = draw_values(rng, (2, 2, 40), "full", *INT16, np.int16)
    np.testing.assert_array_equal(outs[0], ref.stack(specs, x))
