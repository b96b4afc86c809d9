"""An independent NumPy int64 implementation of docs/integer.md, the integer networks'
specification: a reference to hold an implementation to, not a decoder to use.

Written from the specification, not from the engine: plain loops over taps, int64
everywhere, the accumulator wrapped modulo 2^32 at the end. Slow and obvious on
purpose; the engine (csrc/lic/intnet.cpp) must agree with it bit for bit
(tests/coding/test_intnet*.py), and tools/make_intnet_vectors.py computes the golden
vectors of tests/fixtures/intnet/ with it, never with the engine. Another
implementation of the specification (a port, a GPU kernel) can be checked against it
the same way. Needs NumPy only.
"""
from __future__ import annotations

import numpy as np

NONE, RELU, LEAKY = "none", "relu", "leaky"
CONV, DECONV, DENSE, IGDN = "conv", "deconv", "dense", "igdn"
# the 5x5 type-A mask's taps in raster order (docs/integer.md, "Joint")
MASK_TAPS = [(dy, dx) for dy in range(2) for dx in range(5)] + [(2, 0), (2, 1)]


def wrap32(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def finish(acc: np.ndarray, shift: np.ndarray, act: str, out_bits: int) -> np.ndarray:
    """acc (int64, already wrapped, channels last) -> the layer's output (int64 values)."""
    acc = np.asarray(acc, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    half = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    r = np.floor_divide(acc + half, np.left_shift(np.int64(1), s))
    if act == RELU:
        r = np.maximum(r, 0)
    elif act == LEAKY:
        r = np.where(r >= 0, r, np.floor_divide(41 * r, 4096))
    elif act != NONE:
        raise ValueError(act)
    if out_bits == 8:  # pixels
        return np.clip(r, 0, 255)
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return np.clip(r, lo, hi)


def round_shift(v, s):
    """floor((v + h) / 2^s), h = 2^(s-1) if s > 0 else 0, on Python ints (any size)."""
    return (int(v) + ((1 << (s - 1)) if s > 0 else 0)) >> s


def isqrt(v: int) -> int:
    """floor(sqrt(v)) by bisection on Python ints: no floating point at all."""
    lo, hi = 0, 1 << ((int(v).bit_length() + 1) // 2 + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid * mid <= v:
            lo = mid
        else:
            hi = mid - 1
    return lo


def igdn(weight, bias, shift, square_shift, out_shift, x: np.ndarray) -> np.ndarray:
    """docs/integer.md, "Inverse GDN", element by element on Python ints: x is ... x C."""
    x = np.asarray(x, dtype=np.int64)
    g = np.asarray(weight, dtype=np.int64)
    flat = x.reshape(-1, x.shape[-1])
    out = np.zeros_like(flat)
    C = flat.shape[1]
    for p in range(flat.shape[0]):
        sq = [min(max(round_shift(int(v) * int(v), square_shift), -32768), 32767) for v in flat[p]]
        for o in range(C):
            acc = int(bias[o]) + sum(int(g[o, j]) * sq[j] for j in range(C))
            acc = ((acc + (1 << 31)) % (1 << 32)) - (1 << 31)
            n = min(max(round_shift(acc, int(shift[o])), 0), (1 << 31) - 1)
            m = isqrt(n << 16)
            out[p, o] = min(max(round_shift(int(flat[p, o]) * m, int(out_shift[o])), -32768), 32767)
    return out.reshape(x.shape)


def layer(kind: str, weight, bias, shift, act: str, out_bits: int, x: np.ndarray) -> np.ndarray:
    """One layer on x: H x W x C_in (conv, deconv) or B x C_in (dense); int64 result."""
    w = np.asarray(weight, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    b = np.asarray(bias, dtype=np.int64)
    if kind == DENSE:
        acc = x @ w.T + b
    elif kind == CONV:
        cout, cin, k, _ = w.shape
        p = (k - 1) // 2
        H, W, _ = x.shape
        padded = np.zeros((H + 2 * p, W + 2 * p, cin), dtype=np.int64)
        padded[p:p + H, p:p + W] = x
        acc = np.broadcast_to(b, (H, W, cout)).copy()
        for dy in range(k):
            for dx in range(k):
                acc += padded[dy:dy + H, dx:dx + W] @ w[:, :, dy, dx].T
    elif kind == DECONV:
        cin, cout, k, _ = w.shape
        p = (k - 1) // 2
        H, W, _ = x.shape
        acc = np.broadcast_to(b, (2 * H, 2 * W, cout)).copy()
        for r in range(2 * H):
            for c in range(2 * W):
                for dy in range(k):
                    if (r + p - dy) % 2 or not 0 <= (r + p - dy) // 2 < H:
                        continue
                    for dx in range(k):
                        if (c + p - dx) % 2 or not 0 <= (c + p - dx) // 2 < W:
                            continue
                        acc[r, c] += x[(r + p - dy) // 2, (c + p - dx) // 2] @ w[:, :, dy, dx]
    else:
        raise ValueError(kind)
    return finish(wrap32(acc), shift, act, out_bits)


def stack(layers, x):
    """layers: [(kind, weight, bias, shift, act, out_bits)], an igdn layer with two more:
    (..., square_shift, out_shift)."""
    for spec in layers:
        if spec[0] == IGDN:
            _, weight, bias, shift, _act, _bits, square_shift, out_shift = spec
            x = igdn(weight, bias, shift, square_shift, out_shift, x)
        else:
            x = layer(*spec[:6], x)
    return x


def scale_indexes(sigma_q, thresholds) -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.int64)
    s = np.asarray(sigma_q, dtype=np.int64)
    return (t[None, :] < s.reshape(-1, 1)).sum(axis=1).reshape(s.shape)


def joint_walk(params, context, entropy_parameters, thresholds, mean_frac, symbols_at):
    """The joint model's loop in raster order (equivalent to the wavefront order: each
    position reads only positions before it in both).

    params: h x w x 2M (int16 values); context: a dense layer spec on 12*M inputs;
    entropy_parameters: three dense layer specs; symbols_at(r, c, indexes) -> M symbols.
    Returns (indexes h x w x M, mu_q h x w x M, the context grid h x w x M)."""
    h, w, two_m = params.shape
    M = two_m // 2
    grid = np.zeros((h + 4, w + 4, M), dtype=np.int64)
    indexes = np.zeros((h, w, M), dtype=np.int64)
    means = np.zeros((h, w, M), dtype=np.int64)
    for r in range(h):
        for c in range(w):
            taps = np.concatenate([grid[r + dy, c + dx] for dy, dx in MASK_TAPS])
            ctx = layer(*context, taps[None])[0]
            e = stack(entropy_parameters, np.concatenate([params[r, c], ctx])[None])[0]
            idx = scale_indexes(e[:M], thresholds)
            symbols = np.asarray(symbols_at(r, c, idx), dtype=np.int64)
            indexes[r, c], means[r, c] = idx, e[M:]
            grid[r + 2, c + 2] = np.clip(symbols * (1 << mean_frac) + e[M:], -32768, 32767)
    return indexes, means, grid[2:2 + h, 2:2 + w]
