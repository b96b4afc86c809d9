"""Integer networks: the exact probability path of docs/integer.md, NumPy in and out.

Everything the entropy coder depends on in the hyperprior families (table indexes,
means) is computed by these networks, whose result is one exact integer for every
input on every machine. A :class:`Layer` has int16 weights, an int32 bias and a
right shift (0..31) per output channel; for output channel ``o`` at one position::

    acc = wrap32(b[o] + sum w * x)                 # the sum modulo 2**32
    r   = floor((acc + h) / 2**s[o])               # h = 2**(s[o] - 1) if s[o] > 0 else 0
    a   = r | max(r, 0) | r if r >= 0 else floor(41 * r / 4096)   # none | relu | leaky
    out = a saturated to int16 or int32            # out_bits 16 | 32

Kinds, with torch's geometry: ``"conv"`` (k odd, stride 1, zero padding (k-1)/2;
weight ``[c_out, c_in, k, k]``), ``"deconv"`` (transposed convolution, k odd, stride
2, padding (k-1)/2, output padding 1, so the output is twice the input; weight
``[c_in, c_out, k, k]``), ``"dense"`` (weight ``[c_out, c_in]``). Tensors are
position-major: ``H x W x C`` (``B x C`` for a network of dense layers).

A :class:`Network` runs a stack; :class:`JointModel` is the joint model's
autoregressive step (context, entropy parameters, scale indexes, the context
grid) and its whole encode/decode walk. The arithmetic runs in the compiled
engine (``csrc/lic/intnet.cpp``, C ABI ``lic_intnet_*``) with the GIL released
for long calls, each large layer of :meth:`Network.run` split across up to
``threads`` threads (:func:`default_threads`; the integers do not depend on it);
``lic_core/testing/intnet_reference.py`` is an independent NumPy version.

Example::

    >>> import numpy as np
    >>> from lic_core.coding import intnet
    >>> layer = intnet.Layer("dense", [[1, 2], [3, -4]], [0, 8], [0, 4], "relu")
    >>> intnet.Network([layer]).run(np.array([[10, 20]], dtype=np.int16)).tolist()
    [[50, 0]]

Arguments are checked before any work: a wrong dtype, shape or value raises
:class:`~lic_core.errors.InvalidArgumentError` naming it; sizes past the engine's
limits raise :class:`~lic_core.errors.LimitExceededError`; a bad stream raises
the coder's :class:`~lic_core.errors.CorruptStreamError` family.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgumentError, LimitExceededError, MissingDependencyError

try:
    from . import _intnet
    from ._coder import TableSet
except ImportError as exc:  # pragma: no cover - a broken or partial build
    raise MissingDependencyError(
        f"lic_core.coding.intnet needs the compiled module lic_core.coding._intnet ({exc}); "
        "rebuild lic-core: pip install -e .") from exc

__all__ = ["Layer", "Network", "JointModel", "scale_indexes", "KINDS", "ACTIVATIONS", "MAX_THREADS",
           "default_threads", "set_default_threads"]

KINDS = ("conv", "deconv", "dense", "igdn")
ACTIVATIONS = ("none", "relu", "leaky")
_KIND = {name: i for i, name in enumerate(KINDS)}      # lic.h's LIC_INTNET_* numbers
_ACT = {name: i for i, name in enumerate(ACTIVATIONS)}
#: the padding of the context grid on each side (the 5x5 mask's reach)
GRID_PAD = 2
#: the most threads one :meth:`Network.run` may use (the engine's kMaxThreads)
MAX_THREADS = int(_intnet.MAX_THREADS)


# ----------------------------------------------------------------------------- threads

def _threads(n, name: str = "threads") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_THREADS:
        raise InvalidArgumentError(f"{name} must be an int in 1..{MAX_THREADS}, got {n!r}")
    return int(n)


_default_threads = max(1, min(os.cpu_count() or 1, 8))


def default_threads() -> int:
    """Threads :meth:`Network.run` uses when not told (initially ``min(os.cpu_count(), 8)``)."""
    return _default_threads


def set_default_threads(n: int) -> None:
    """Sets :func:`default_threads` (an int in 1..MAX_THREADS; InvalidArgumentError otherwise).
    The integers a run gives do not depend on it, only how fast they come."""
    global _default_threads
    _default_threads = _threads(n)


# ----------------------------------------------------------------------------- arguments

def _int_array(x, name: str, dtype) -> np.ndarray:
    """An integer array-like -> C-contiguous native ``dtype``, refusing floats and
    values the dtype cannot hold (the message names the field and the first bad value).
    Zero-copy when ``x`` already is such an array."""
    arr = np.asarray(x) if not (isinstance(x, (list, tuple)) and len(x) == 0) else np.empty(0, dtype)
    dtype = np.dtype(dtype)
    if arr.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name} must hold integers ({dtype.name}), got dtype {arr.dtype}")
    if arr.dtype != dtype and arr.size:
        info = np.iinfo(dtype)
        bad = np.flatnonzero((arr < info.min) | (arr > info.max))
        if bad.size:
            where = "".join(f"[{int(k)}]" for k in np.unravel_index(int(bad[0]), arr.shape))
            raise InvalidArgumentError(f"{name}{where} = {int(arr.reshape(-1)[bad[0]])} does not fit "
                                       f"{dtype.name} ({info.min}..{info.max})")
    return np.ascontiguousarray(arr, dtype=dtype)


def _flat(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(-1)


def _size(x, name: str) -> tuple[int, ...]:
    """The shape of an array-like, without converting it (a huge broadcast view stays free)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name} must be an array: {exc}") from None
    return x.shape


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def _positions(positions, name: str = "positions") -> np.ndarray:
    arr = _int_array(positions, name, np.int64)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D (flat r * w + c), got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------------------- layers

@dataclass(frozen=True, eq=False)
class Layer:
    """One integer layer (docs/integer.md, "A layer"), checked on construction.

    ``weight``, ``bias`` and ``shift`` become read-only C-contiguous int16, int32 and
    uint8 arrays (any integer dtype whose values fit is accepted; anything else raises
    InvalidArgumentError naming the field). ``act`` is "none", "relu" or "leaky";
    ``out_bits`` 16 or 32, or 8 for pixels (0..255, uint8); only a network's last layer
    may have 8 or 32. ``kind="igdn"`` is an inverse GDN (docs/integer.md, "Inverse GDN"):
    ``weight`` is gamma ``[c, c]``, ``bias`` beta, ``shift`` the norm's shift; it also
    takes ``square_shift`` (0..30) and ``out_shift`` (``[c]``, 0..62), act "none", out_bits 16.
    """
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    act: str = "none"
    out_bits: int = 16
    square_shift: int = 0
    out_shift: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.act not in ACTIVATIONS:
            raise InvalidArgumentError(f"act must be one of {ACTIVATIONS}, got {self.act!r}")
        if isinstance(self.out_bits, bool) or self.out_bits not in (8, 16, 32):
            raise InvalidArgumentError(f"out_bits must be 8, 16 or 32, got {self.out_bits!r}")
        shape = _size(self.weight, "weight")
        if int(np.prod(shape, dtype=object)) > _intnet.MAX_WEIGHTS:
            raise LimitExceededError(f"weight of shape {shape} exceeds the engine's limit of "
                                     f"{_intnet.MAX_WEIGHTS} weights per layer")
        weight = _int_array(self.weight, "weight", np.int16)
        if self.kind in ("dense", "igdn"):
            if weight.ndim != 2:
                raise InvalidArgumentError(f"a {self.kind} weight is [c_out, c_in], got shape {weight.shape}")
            if self.kind == "igdn" and weight.shape[0] != weight.shape[1]:
                raise InvalidArgumentError(f"an igdn weight (gamma) is [c, c], got shape {weight.shape}")
        elif weight.ndim != 4 or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 == 0:
            layout = "[c_out, c_in, k, k]" if self.kind == "conv" else "[c_in, c_out, k, k]"
            raise InvalidArgumentError(f"a {self.kind} weight is {layout} with k odd, got shape {weight.shape}")
        c_out = weight.shape[1] if self.kind == "deconv" else weight.shape[0]
        bias = _int_array(self.bias, "bias", np.int32)
        if bias.shape != (c_out,):
            raise InvalidArgumentError(f"bias must have shape ({c_out},) (one per output channel), "
                                       f"got {bias.shape}")
        shift = np.asarray(self.shift) if not isinstance(self.shift, np.ndarray) else self.shift
        if shift.dtype.kind not in "iu":
            raise InvalidArgumentError(f"shift must hold integers (uint8), got dtype {shift.dtype}")
        if shift.shape != (c_out,):
            raise InvalidArgumentError(f"shift must have shape ({c_out},) (one per output channel), "
                                       f"got {shift.shape}")
        bad = np.flatnonzero((shift < 0) | (shift > 31))
        if bad.size:
            raise InvalidArgumentError(f"shift[{int(bad[0])}] = {int(shift[bad[0]])} is outside 0..31")
        arrays = [("weight", weight), ("bias", bias), ("shift", shift.astype(np.uint8))]
        if self.kind == "igdn":
            if isinstance(self.square_shift, bool) or not isinstance(self.square_shift, (int, np.integer)) \
                    or not 0 <= self.square_shift <= 30:
                raise InvalidArgumentError(f"square_shift must be an int in 0..30, got {self.square_shift!r}")
            if self.out_shift is None:
                raise InvalidArgumentError("an igdn layer needs out_shift (one per channel)")
            out_shift = np.asarray(self.out_shift)
            if out_shift.dtype.kind not in "iu" or out_shift.shape != (c_out,):
                raise InvalidArgumentError(f"out_shift must be {c_out} integers, got {out_shift.dtype} "
                                           f"of shape {out_shift.shape}")
            bad = np.flatnonzero((out_shift < 0) | (out_shift > 62))
            if bad.size:
                raise InvalidArgumentError(f"out_shift[{int(bad[0])}] = {int(out_shift[bad[0]])} is outside 0..62")
            object.__setattr__(self, "square_shift", int(self.square_shift))
            arrays.append(("out_shift", out_shift.astype(np.uint8)))
        elif self.out_shift is not None or self.square_shift:
            raise InvalidArgumentError("square_shift and out_shift belong to igdn layers only")
        for name, arr in arrays:
            arr = arr.copy()  # our own, read-only: the layer cannot change under the engine
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def c_in(self) -> int:
        return int(self.weight.shape[0] if self.kind == "deconv" else self.weight.shape[1])

    @property
    def c_out(self) -> int:
        return int(self.bias.shape[0])

    @property
    def k(self) -> int:
        return 1 if self.kind in ("dense", "igdn") else int(self.weight.shape[2])

    def __repr__(self):
        k = "" if self.kind in ("dense", "igdn") else f", k={self.k}"
        return (f"Layer({self.kind!r}, {self.c_in} -> {self.c_out}{k}, act={self.act!r}, "
                f"out_bits={self.out_bits})")


class Network:
    """A stack of layers (docs/integer.md, "A stack"), bound once in the engine.

    ``run(x)`` takes int16 ``H x W x C`` when the stack has a conv or deconv layer
    (dense layers then act as 1x1 convolutions), else ``B x C``, and returns the last
    layer's output: int16 or int32 per its ``out_bits``, ``H' x W' x C'`` (each deconv
    doubles H and W) or ``B x C'``. ``run(x, threads=n)`` lets up to n threads share
    each large layer (None: :func:`default_threads`); the output is the same.
    """

    def __init__(self, layers):
        layers = tuple(layers)
        if not layers:
            raise InvalidArgumentError("a Network needs at least one layer")
        net = _intnet.Net()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InvalidArgumentError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")
            net.add_layer(_KIND[layer.kind], layer.c_in, layer.c_out, layer.k, _flat(layer.weight),
                          layer.bias, layer.shift, _ACT[layer.act], layer.out_bits, layer.square_shift,
                          layer.out_shift)
        self.layers = layers
        self._net = net

    @property
    def in_channels(self) -> int:
        return self._net.in_channels

    @property
    def out_channels(self) -> int:
        return self._net.out_channels

    @property
    def out_bits(self) -> int:
        return self._net.out_bits

    @property
    def spatial(self) -> bool:
        """True when x is H x W x C (a conv or deconv layer), False for B x C."""
        return self._net.spatial

    def run(self, x, threads: int | None = None) -> np.ndarray:
        threads = _default_threads if threads is None else _threads(threads)
        shape = _size(x, "x")
        c = self.in_channels
        if self.spatial:
            if len(shape) != 3 or shape[2] != c:
                raise InvalidArgumentError(f"x must be H x W x {c} (position-major), got shape {shape}")
            h, w = shape[0], shape[1]
        else:
            if len(shape) != 2 or shape[1] != c:
                raise InvalidArgumentError(f"x must be B x {c} (a batch of vectors), got shape {shape}")
            h, w = shape[0], 1
        out_h, out_w = self._net.output_shape(h, w)  # limits, before x is converted
        out = self._net.run(_flat(_int_array(x, "x", np.int16)), h, w, threads)
        return out.reshape(out_h, out_w, -1) if self.spatial else out.reshape(h, -1)

    def input_rows(self, h: int, r0: int, r1: int) -> tuple[int, int]:
        """(a, b): the input rows [a, b) that output rows [r0, r1) of a run on ``h`` input rows
        read (docs/integer.md, "Bands")."""
        return self._net.input_rows(_count(h, "h"), _count(r0, "r0"), _count(r1, "r1"))

    def run_rows(self, x, h: int, r0: int, r1: int, x_row0: int = 0, threads: int | None = None) -> np.ndarray:
        """Output rows [r0, r1) of :meth:`run` on an ``h``-row input of which ``x`` (int16
        ``rows x W x C``, spatial networks only) holds rows ``x_row0 ..``: the same values as
        ``run(whole)[r0:r1]``, from the input rows :meth:`input_rows` names."""
        threads = _default_threads if threads is None else _threads(threads)
        if not self.spatial:
            raise InvalidArgumentError("run_rows takes a spatial network (a conv or deconv layer)")
        shape = _size(x, "x")
        c = self.in_channels
        if len(shape) != 3 or shape[2] != c:
            raise InvalidArgumentError(f"x must be rows x W x {c} (position-major), got shape {shape}")
        h, r0, r1, x_row0 = (_count(v, n) for v, n in ((h, "h"), (r0, "r0"), (r1, "r1"), (x_row0, "x_row0")))
        _, out_w = self._net.output_shape(h, shape[1])
        out = self._net.run_rows(_flat(_int_array(x, "x", np.int16)), h, shape[1], x_row0, shape[0], r0, r1,
                                 threads)
        return out.reshape(max(r1 - r0, 0), out_w, -1)

    def __repr__(self):
        return f"Network({list(self.layers)!r})"


def scale_indexes(sigma_q, thresholds) -> np.ndarray:
    """Table index of each ``sigma_q`` (int32, any shape): the number of thresholds
    below it (docs/integer.md, "Scale index"). ``thresholds`` int32, 1-D, strictly
    increasing. Returns int32 of ``sigma_q``'s shape."""
    s = _int_array(sigma_q, "sigma_q", np.int32)
    t = _int_array(thresholds, "thresholds", np.int32)
    if t.ndim != 1:
        raise InvalidArgumentError(f"thresholds must be 1-D, got shape {t.shape}")
    return _intnet.scale_indexes(_flat(s), t).reshape(s.shape)


# ----------------------------------------------------------------------------- joint

def _network(layers, name: str) -> Network:
    if isinstance(layers, Network):
        return layers
    if isinstance(layers, Layer):
        return Network([layers])
    try:
        return Network(layers)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be a Layer, a list of Layers or a Network") from None


class JointModel:
    """The joint model's autoregressive step (docs/integer.md, "Joint").

    ``context``: dense layer(s) ``12 M -> 2 M`` (out_bits 16); ``entropy_parameters``:
    dense layers ``4 M -> ... -> 2 M``, the last with out_bits 32; ``thresholds``:
    int32, strictly increasing (one fewer than the tables); ``mean_frac``: the means'
    fractional bits, 0..31.

    Shapes: ``params`` (h_s's output) ``h x w x 2M`` int16; the context grid
    ``(h + 4) x (w + 4) x M`` int16 (:meth:`empty_grid`), cell ``(r + 2, c + 2)``
    holding position ``(r, c)``; positions are flat ``r * w + c`` (int64). A schedule
    is every position once in coding order plus ``step_starts`` (one more entry than
    steps, from 0 to h * w); a step's positions are computed from the grid as it was
    before the step.
    """

    def __init__(self, context, entropy_parameters, thresholds, mean_frac: int):
        if isinstance(mean_frac, bool) or not isinstance(mean_frac, (int, np.integer)) \
                or not 0 <= mean_frac <= 31:
            raise InvalidArgumentError(f"mean_frac must be an int in 0..31, got {mean_frac!r}")
        t = _int_array(thresholds, "thresholds", np.int32)
        if t.ndim != 1:
            raise InvalidArgumentError(f"thresholds must be 1-D, got shape {t.shape}")
        self.context = _network(context, "context")
        self.entropy_parameters = _network(entropy_parameters, "entropy_parameters")
        self.thresholds = t.copy()
        self.thresholds.setflags(write=False)
        self.mean_frac = int(mean_frac)
        self._joint = _intnet.Joint(self.context._net, self.entropy_parameters._net, self.thresholds,
                                    self.mean_frac)
        self.M = self._joint.channels

    def empty_grid(self, h: int, w: int) -> np.ndarray:
        """A zero context grid for an h x w latent: int16 ``(h + 4) x (w + 4) x M``."""
        return np.zeros((_count(h, "h") + 2 * GRID_PAD, _count(w, "w") + 2 * GRID_PAD, self.M), dtype=np.int16)

    # -- argument checks shared by the calls
    def _params(self, params, h: int, w: int) -> np.ndarray:
        shape = _size(params, "params")
        if int(np.prod(shape, dtype=object)) != h * w * 2 * self.M or (len(shape) == 3 and shape != (h, w, 2 * self.M)):
            raise InvalidArgumentError(f"params must be h x w x 2M = {h} x {w} x {2 * self.M}, got shape {shape}")
        return _flat(_int_array(params, "params", np.int16))

    def _grid(self, grid, h: int, w: int) -> np.ndarray:
        """The caller's grid itself (commit writes into it): int16, C-contiguous, writable."""
        need = (h + 2 * GRID_PAD, w + 2 * GRID_PAD, self.M)
        if not isinstance(grid, np.ndarray) or grid.dtype != np.int16 or not grid.dtype.isnative:
            raise InvalidArgumentError(f"grid must be an int16 array of shape {need} (see empty_grid), "
                                       f"got {type(grid).__name__} {getattr(grid, 'dtype', '')}")
        if grid.size != int(np.prod(need, dtype=object)) or (grid.ndim == 3 and grid.shape != need):
            raise InvalidArgumentError(f"grid must have shape {need} for an {h} x {w} latent, got {grid.shape}")
        if not grid.flags.c_contiguous or not grid.flags.writeable:
            raise InvalidArgumentError("grid must be C-contiguous and writable (see empty_grid)")
        return _flat(grid)

    def _schedule(self, positions, step_starts, h: int, w: int):
        p = _positions(positions)
        s = _positions(step_starts, "step_starts")
        if p.shape != (h * w,):
            raise InvalidArgumentError(f"positions must list all h * w = {h * w} positions, got {p.size}")
        if s.size < 1:
            raise InvalidArgumentError("step_starts needs at least one entry (0)")
        return p, s

    def step(self, grid, params, h: int, w: int, positions):
        """``(indexes, means)``, int32 ``[count, M]`` each, for ``positions`` (int64,
        count): their 12 mask taps from ``grid``, then context and entropy parameters."""
        h, w = _count(h, "h"), _count(w, "w")
        g = self._grid(grid, h, w)
        p = _positions(positions)
        indexes, means = self._joint.step(g, self._params(params, h, w), h, w, p)
        return indexes.reshape(-1, self.M), means.reshape(-1, self.M)

    def commit(self, grid, h: int, w: int, positions, symbols, means) -> None:
        """Writes ``sat16(symbol * 2**mean_frac + mu_q)`` into the grid cells of
        ``positions``; ``symbols`` and ``means`` int32 ``[count, M]`` (any shape of
        that size, read in C order)."""
        h, w = _count(h, "h"), _count(w, "w")
        g = self._grid(grid, h, w)
        p = _positions(positions)
        s = _int_array(symbols, "symbols", np.int32)
        m = _int_array(means, "means", np.int32)
        for name, arr in (("symbols", s), ("means", m)):
            if arr.size != p.size * self.M:
                raise InvalidArgumentError(f"{name} must hold count x M = {p.size} x {self.M} values, "
                                           f"got shape {arr.shape}")
        self._joint.commit(g, h, w, p, _flat(s), _flat(m))

    def decode(self, params, h: int, w: int, data, tableset, positions, step_starts):
        """Decodes a native stream of h * w * M symbols walking the schedule:
        ``(symbols, means)``, symbols int32 ``[h * w * M]`` in coding order (M per
        position), means int32 ``h x w x M`` position-major. The stream must end
        exactly there; errors are coder.decode's (CorruptStreamError family)."""
        h, w = _count(h, "h"), _count(w, "w")
        if not isinstance(tableset, TableSet):
            raise InvalidArgumentError(f"tableset must be a lic_core.coder.TableSet, got {type(tableset).__name__}")
        pp = self._params(params, h, w)
        p, s = self._schedule(positions, step_starts, h, w)
        symbols, means = self._joint.decode(pp, h, w, data, tableset, p, s)
        return symbols, means.reshape(h, w, self.M)

    def encode(self, params, y, positions, step_starts):
        """The encoder's walk: ``y`` float32 ``h x w x M`` (or ``[h * w, M]``)
        position-major, ``params`` ``h x w x 2M``. Returns ``(symbols, indexes,
        means)``: int32 ``[h * w * M]`` in coding order (what coder.encode takes),
        and means int32 ``h x w x M``. symbol = round-half-even(y - mu_q / 2**mean_frac),
        the difference taken in float32 (a float64 y is rounded to float32 first)."""
        shape = _size(params, "params")
        if len(shape) != 3:
            raise InvalidArgumentError(f"params must be h x w x 2M, got shape {shape}")
        h, w = shape[0], shape[1]
        pp = self._params(params, h, w)
        y = np.asarray(y)
        if y.dtype.kind != "f":
            raise InvalidArgumentError(f"y must hold floats (float32), got dtype {y.dtype}")
        if y.size != h * w * self.M:
            raise InvalidArgumentError(f"y must be h x w x M = {h} x {w} x {self.M}, got shape {y.shape}")
        p, s = self._schedule(positions, step_starts, h, w)
        yf = _flat(np.ascontiguousarray(y, dtype=np.float32))
        symbols, indexes, means = self._joint.encode(pp, yf, h, w, p, s)
        return symbols, indexes, means.reshape(h, w, self.M)

    def __repr__(self):
        return (f"JointModel(M={self.M}, context={self.context!r}, "
                f"entropy_parameters={self.entropy_parameters!r}, "
                f"{self.thresholds.size} thresholds, mean_frac={self.mean_frac})")

