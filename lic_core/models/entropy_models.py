"""Entropy models: the probability side of learned compression, in torch.

One base class, :class:`EntropyModel`, owns what every family shares: the coding-table
buffers, quantisation, binding the tables to the compiled coder once, and encoding or
decoding symbol arrays in either stream format. The families only say how their
parameters become probabilities (TensorFlow Compression's layout):

* :class:`EntropyBottleneck`: a learned, non-parametric density per channel (Ballé et
  al. 2018, "Variational image compression with a scale hyperprior", appendix 6.1).
  One table per channel; symbols are ``round(x - median)``.
* :class:`GaussianConditional`: a discretised Gaussian N(mean, scale²) convolved with
  U(-½, ½); one table per entry of a scale table, selected by the deterministic
  scale → index rule of :func:`lic_core.tables.scale_indexes`.

Tables are built by :mod:`lic_core.tables` (never here) and coding happens in
:mod:`lic_core.coder` (native streams) or :mod:`lic_core.ans` (CompressAI 1.2.8 byte
format). State-dict keys equal CompressAI 1.2.8's, so its checkpoints load unchanged.
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..coding.coder import PRECISION  # the engine's default: CompressAI's, so checkpoints mix
# the engine's defaults (csrc/lic/lic.h), read through the table builder's face
from ..coding.tables import DEFAULT_TAIL_MASS, SCALE_TABLE_MIN
from ..errors import InvalidArgumentError
from .layers import LowerBound

__all__ = ["EntropyModel", "SymbolReader", "EntropyBottleneck", "GaussianConditional",
           "default_scale_table", "STREAM_FORMATS", "observe_decoded_symbols", "notify_decoded"]

#: "native": lic_core.coder streams (what .lic files hold);
#: "compressai": CompressAI 1.2.8's rANS byte format via lic_core.ans.
STREAM_FORMATS = ("native", "compressai")
TABLE_METHODS = ("greedy", "compressai")

#: the coding-table buffers of every entropy model: derived from the weights by update(),
#: so any change to the weights (rescaling, folding) must drop them
TABLE_BUFFERS = ("_quantized_cdf", "_cdf_length", "_offset")

#: lower bound of every likelihood (CompressAI's default; a training choice, not a
#: coding one: the tables' tail mass is DEFAULT_TAIL_MASS, the engine's)
LIKELIHOOD_BOUND = 1e-9


def default_scale_table() -> torch.Tensor:
    """The default scale table as a float32 tensor: :func:`lic_core.tables.scale_table`
    with its defaults (the engine's: ``SCALE_TABLE_LEVELS`` = 64 scales log-spaced from
    ``SCALE_TABLE_MIN`` = 0.11 to ``SCALE_TABLE_MAX`` = 256), which equals CompressAI's
    ``get_scale_table()`` bit for bit."""
    from ..coding import tables as lic_tables
    return torch.from_numpy(lic_tables.scale_table())


def _check_stream_format(stream_format: str) -> str:
    if stream_format not in STREAM_FORMATS:
        raise InvalidArgumentError(
            f"stream_format must be one of {STREAM_FORMATS}, got {stream_format!r}")
    return stream_format


def _check_method(method: str) -> str:
    if method not in TABLE_METHODS:
        raise InvalidArgumentError(f"method must be one of {TABLE_METHODS}, got {method!r}")
    return method


#: the callbacks of observe_decoded_symbols, outermost first; a tuple replaced whole, so a
#: decoding thread always reads a consistent one
_OBSERVERS: tuple = ()


@contextlib.contextmanager
def observe_decoded_symbols(callback):
    """Within the block, call ``callback(entropy_model, symbols)`` with every array of
    symbols an entropy model decodes, in decode order: ``symbols`` is the int32 array
    the decoder returns (do not modify it), ``entropy_model`` the
    :class:`EntropyModel` whose stream it came from (``type(m).__name__`` tells ẑ's
    :class:`EntropyBottleneck` from ŷ's :class:`GaussianConditional`). Whole streams
    (:meth:`EntropyModel.decode_symbols`), each batch of a :class:`SymbolReader` (the
    joint model's wavefront) and ŷ of the joint model's integer path (decoded in the
    engine in one call) are all seen, whichever stream format.

    For tools that pin what a file decodes to (tools/make_golden.py writes the symbol
    digests of the golden files with it, through :func:`lic_core.testing.golden.decode`)
    and for debugging. The observers are process-wide (the joint model's float loop
    decodes on a worker thread), so concurrent decodes in other threads are seen too;
    files decoded whole by the engine (integer synthesis, format 4) never reach them.
    Blocks nest; each callback sees every array. Yields ``callback``.

    Example (needs torch)::

        >>> seen = []
        >>> with observe_decoded_symbols(lambda m, s: seen.append((type(m).__name__, s.size))):
        ...     image = model.decompress(data)                     # doctest: +SKIP
    """
    global _OBSERVERS
    _OBSERVERS = _OBSERVERS + (callback,)
    try:
        yield callback
    finally:
        i = max(i for i, c in enumerate(_OBSERVERS) if c is callback)
        _OBSERVERS = _OBSERVERS[:i] + _OBSERVERS[i + 1:]


def notify_decoded(entropy_model: "EntropyModel", symbols: np.ndarray) -> np.ndarray:
    """Hands ``symbols`` (int32), decoded from a stream of ``entropy_model``, to the
    callbacks of :func:`observe_decoded_symbols`, and returns them. A decoder that
    decodes such a stream without :meth:`EntropyModel.decode_symbols` or a
    :class:`SymbolReader` (the joint model's integer walk in the engine) calls it."""
    for callback in _OBSERVERS:
        callback(entropy_model, symbols)
    return symbols


def _standard_normal_cdf(u: torch.Tensor) -> torch.Tensor:
    """Φ(u) = ½ erfc(-u / √2); erfc keeps precision in the far lower tail."""
    return 0.5 * torch.erfc(u * (-(2.0 ** -0.5)))


class EntropyModel(nn.Module):
    """Shared machinery: table buffers, quantisation, coder binding.

    Buffers (int32, empty until :meth:`update` or a checkpoint fills them):
    ``_quantized_cdf`` [T, W] (rows left-aligned, zero-padded), ``_cdf_length`` [T],
    ``_offset`` [T]. Table t codes symbol s in slot ``s - _offset[t]``; its last slot
    before the total is the escape for out-of-range symbols.
    """

    _offset: torch.Tensor
    _quantized_cdf: torch.Tensor
    _cdf_length: torch.Tensor

    def __init__(self, likelihood_bound: float = LIKELIHOOD_BOUND,
                 tail_mass: float = DEFAULT_TAIL_MASS):
        super().__init__()
        self.tail_mass = float(tail_mass)
        self.likelihood_lower_bound = LowerBound(likelihood_bound)
        self.register_buffer("_offset", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_quantized_cdf", torch.zeros(0, 0, dtype=torch.int32))
        self.register_buffer("_cdf_length", torch.zeros(0, dtype=torch.int32))
        self._bound_tables = None  # (key, TableSet) cache; see tableset()

    # ----------------------------------------------------------------- quantisation
    @staticmethod
    def quantize(x: torch.Tensor, mode: str, means: torch.Tensor | None = None) -> torch.Tensor:
        """``"noise"``: x + U(-½, ½) (training proxy); ``"dequantize"``:
        round(x - means) + means; ``"symbols"``: round(x - means) as int32.
        Rounding is half to even, as torch.round (and CompressAI) does."""
        if mode == "noise":
            return x + torch.empty_like(x).uniform_(-0.5, 0.5)
        centred = x - means if means is not None else x
        rounded = torch.round(centred)
        if mode == "symbols":
            return rounded.to(torch.int32)
        if mode == "dequantize":
            return rounded + means if means is not None else rounded
        raise InvalidArgumentError(f'mode must be "noise", "dequantize" or "symbols", got {mode!r}')

    @staticmethod
    def dequantize(symbols, means: torch.Tensor | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        values = torch.as_tensor(np.asarray(symbols)).to(dtype)
        return values + means if means is not None else values

    def _bounded_likelihood(self, likelihood: torch.Tensor) -> torch.Tensor:
        return self.likelihood_lower_bound(likelihood)

    # ----------------------------------------------------------------- tables
    @property
    def has_tables(self) -> bool:
        return self._offset.numel() > 0

    def _set_tables(self, cdfs, cdf_lengths, offsets) -> None:
        self._quantized_cdf = torch.as_tensor(np.ascontiguousarray(cdfs, dtype=np.int32)).clone()
        self._cdf_length = torch.as_tensor(np.ascontiguousarray(cdf_lengths, dtype=np.int32)).clone()
        self._offset = torch.as_tensor(np.ascontiguousarray(offsets, dtype=np.int32)).clone()
        self._bound_tables = None

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cdfs [T, W], cdf_lengths [T], offsets [T]) as int32 NumPy arrays."""
        if not self.has_tables:
            raise InvalidArgumentError(
                f"{type(self).__name__} has no coding tables: call update() first")
        return (self._quantized_cdf.detach().cpu().numpy().astype(np.int32, copy=False),
                self._cdf_length.detach().cpu().numpy().astype(np.int32, copy=False),
                self._offset.detach().cpu().numpy().astype(np.int32, copy=False))

    def _tables_key(self):
        bufs = (self._quantized_cdf, self._cdf_length, self._offset)
        return tuple((b.data_ptr(), b._version, tuple(b.shape)) for b in bufs)

    def tableset(self):
        """The tables bound once to the native coder (a validated ``lic_core.coder.TableSet``).

        Cached until the buffers change (update(), load_state_dict()), so coding many
        small chunks never re-marshals or re-validates the tables.
        """
        key = self._tables_key()
        if self._bound_tables is None or self._bound_tables[0] != key:
            from ..coding import coder
            self._bound_tables = (key, coder.TableSet(*self.tables(), precision=PRECISION))
        return self._bound_tables[1]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        # Table buffers change shape with the weights: take the checkpoint's shape.
        for name in TABLE_BUFFERS:
            key = prefix + name
            if key in state_dict:
                value = state_dict[key]
                if not isinstance(value, torch.Tensor):
                    value = torch.as_tensor(value)
                setattr(self, name, torch.zeros(value.shape, dtype=torch.int32))
        self._bound_tables = None
        self._resize_extra_buffers(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _resize_extra_buffers(self, state_dict, prefix) -> None:
        """Hook for families with other variable-size buffers."""

    # ----------------------------------------------------------------- coding
    def encode_symbols(self, symbols, indexes, stream_format: str = "native") -> bytes:
        """Entropy-code int32 ``symbols`` with tables ``indexes`` (same shape, C order)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32).reshape(-1)
        indexes = np.ascontiguousarray(indexes, dtype=np.int32).reshape(-1)
        if _check_stream_format(stream_format) == "native":
            from ..coding import coder
            return coder.encode(symbols, indexes, self.tableset())
        from ..coding import ans
        return ans.RansEncoder().encode_with_indexes(symbols, indexes, *self.tables())

    def symbol_reader(self, data: bytes, stream_format: str = "native") -> "SymbolReader":
        """A reader that decodes ``data`` a batch of symbols at a time (what a sequential
        context model needs: the tables of the next batch depend on the symbols before)."""
        return SymbolReader(self, data, stream_format)

    def decode_symbols(self, data: bytes, indexes, stream_format: str = "native") -> np.ndarray:
        """Inverse of :meth:`encode_symbols`: int32 symbols shaped like ``indexes``."""
        indexes = np.asarray(indexes, dtype=np.int32)
        flat = np.ascontiguousarray(indexes).reshape(-1)
        if _check_stream_format(stream_format) == "native":
            from ..coding import coder
            out = coder.decode(data, flat, self.tableset())
        else:
            from ..coding import ans
            out = ans.RansDecoder().decode_with_indexes_np(data, flat, *self.tables())
        return notify_decoded(self, np.asarray(out, dtype=np.int32).reshape(indexes.shape))


class SymbolReader:
    """Decodes one stream of an :class:`EntropyModel` in batches: ``read(indexes)`` returns
    the next ``indexes.size`` symbols (int32, shaped like ``indexes``) and ``finish()``
    checks that the stream ended exactly there.

    The one place that chooses between the native streaming decoder and CompressAI's
    format for incremental decoding, as :meth:`EntropyModel.decode_symbols` does for
    whole streams; the joint model's wavefront loop reads through it.
    """

    def __init__(self, model: EntropyModel, data: bytes, stream_format: str = "native"):
        self._model = model
        if _check_stream_format(stream_format) == "native":
            from ..coding import coder
            self._decoder = coder.StreamDecoder(data, model.tableset())
            self._decode = self._decoder.decode
            self.finish = self._decoder.finish
        else:
            from ..coding import ans
            self._decoder = ans.RansDecoder()
            self._decoder.set_stream(data)
            tables = model.tables()
            self._decode = lambda flat: self._decoder.decode_stream_np(flat, *tables)
            self.finish = self._decoder.check_end  # the stream must end exactly after ŷ

    def read(self, indexes) -> np.ndarray:
        indexes = np.asarray(indexes)
        flat = np.ascontiguousarray(indexes, dtype=np.int32).reshape(-1)
        return notify_decoded(self._model,
                              np.asarray(self._decode(flat), dtype=np.int32).reshape(indexes.shape))


class EntropyBottleneck(EntropyModel):
    r"""Factorized prior: a learned univariate density per channel.

    The cumulative is c(x) = σ(F(x)) with F a small monotone network per channel
    (widths 1→3→3→3→3→1): for each layer k, h ← softplus(H_k) h + b_k and, except after
    the last, h ← h + tanh(a_k) ⊙ tanh(h). softplus keeps the matrices positive, so F is
    increasing. The probability of the bin around x is p(x) = c(x+½) − c(x−½).

    ``quantiles`` [C, 1, 3] are trained by :meth:`loss` (the aux loss) so that
    F(q) = (−t, 0, t) with t = log(2/tail_mass − 1): the lower and upper tail_mass/2
    quantiles and the median. The median is the rounding centre; the outer quantiles
    bound the table support.

    forward(x) takes N×C×H×W (C = ``channels``) and returns (x̂, likelihoods), both
    N×C×H×W: x̂ = x + U(-½, ½) in training, round(x − median) + median otherwise.
    """

    def __init__(self, channels: int, *, tail_mass: float = DEFAULT_TAIL_MASS, init_scale: float = 10.0,
                 filters: Sequence[int] = (3, 3, 3, 3), likelihood_bound: float = LIKELIHOOD_BOUND):
        super().__init__(likelihood_bound=likelihood_bound, tail_mass=tail_mass)
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        widths = (1,) + self.filters + (1,)
        # Spread init_scale over the layers so that F starts as a wide, gentle ramp.
        layer_scale = float(init_scale) ** (1.0 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(self.filters) + 1):
            fan_out, fan_in = widths[k + 1], widths[k]
            init = math.log(math.expm1(1.0 / layer_scale / fan_out))  # softplus⁻¹
            self.matrices.append(nn.Parameter(torch.full((channels, fan_out, fan_in), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, fan_out, 1).uniform_(-0.5, 0.5)))
            if k < len(self.filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, fan_out, 1)))
        self.quantiles = nn.Parameter(
            torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))
        t = math.log(2.0 / self.tail_mass - 1.0)
        self.register_buffer("target", torch.tensor([-t, 0.0, t]))

    # ----------------------------------------------------------------- density
    def _logits_cumulative(self, x: torch.Tensor, stop_gradient: bool = False) -> torch.Tensor:
        """F(x) for x of shape C × 1 × K (one row of K values per channel)."""
        h = x
        for k, matrix in enumerate(self.matrices):
            bias = self.biases[k]
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            h = torch.matmul(F.softplus(matrix), h) + bias
            if k < len(self.factors):
                factor = self.factors[k].detach() if stop_gradient else self.factors[k]
                h = h + torch.tanh(factor) * torch.tanh(h)
        return h

    def _likelihood(self, x: torch.Tensor, stop_gradient: bool = False):
        """(p, F(x−½), F(x+½)) for x of shape C × 1 × K.

        p = |σ(s·F(x+½)) − σ(s·F(x−½))| with s = −sign(F(x−½) + F(x+½)): evaluating both
        sigmoids on the side where they are small keeps float32 precision in the tails.
        """
        lower = self._logits_cumulative(x - 0.5, stop_gradient)
        upper = self._logits_cumulative(x + 0.5, stop_gradient)
        sign = -torch.sign(lower + upper).detach()
        pmf = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return pmf, lower, upper

    def medians(self) -> torch.Tensor:
        """The per-channel rounding centres, shape C (detached)."""
        return self.quantiles[:, 0, 1].detach()

    def loss(self) -> torch.Tensor:
        """Aux loss Σ|F(quantiles) − target|; trains only ``quantiles`` (density detached)."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    def forward(self, x: torch.Tensor, training: bool | None = None):
        if training is None:
            training = self.training
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise InvalidArgumentError(
                f"EntropyBottleneck({self.channels}) needs N x {self.channels} x ..., "
                f"got {tuple(x.shape)}")
        # N×C×... → C×1×(N·...): each channel's values form one row for the density.
        perm = [1, 0] + list(range(2, x.dim()))
        inv_perm = [perm.index(i) for i in range(len(perm))]
        values = x.permute(*perm).contiguous()
        shape = values.shape
        values = values.reshape(self.channels, 1, -1)
        medians = self.quantiles[:, :, 1:2].detach()
        outputs = self.quantize(values, "noise" if training else "dequantize", medians)
        likelihood = self._bounded_likelihood(self._likelihood(outputs)[0])
        outputs = outputs.reshape(shape).permute(*inv_perm).contiguous()
        likelihood = likelihood.reshape(shape).permute(*inv_perm).contiguous()
        return outputs, likelihood

    # ----------------------------------------------------------------- tables
    @torch.no_grad()
    def update(self, force: bool = False, method: str = "greedy") -> bool:
        """Build one coding table per channel from the learned density.

        Channel c codes v = median_c − a_c + j, j = 0 … n_c−1, with
        a_c = max(⌈median − lower quantile⌉, 0), b_c likewise above, n_c = a_c + b_c + 1,
        plus an escape slot holding the two tails σ(F(v_0 − ½)) + σ(−F(v_{n−1} + ½)).

        ``method="greedy"`` (default) quantises with lic-core's rate-optimal quantiser and
        takes the upper tail at the channel's own last sample. ``method="compressai"``
        reproduces CompressAI 1.2.8 bit for bit (SPEC §4): the same float32 operations in
        the same order, p = σ(F(v+½)) − σ(F(v−½)) evaluated plainly, and its quirk of
        taking the upper tail at the last column of the grid shared by all channels, which
        gives channels shorter than the longest a slightly wrong escape probability.
        Returns False (and does nothing) if tables exist and ``force`` is False.
        """
        _check_method(method)
        if self.has_tables and not force:
            return False
        from ..coding import tables as lic_tables

        medians = self.quantiles[:, 0, 1]
        below = torch.clamp(torch.ceil(medians - self.quantiles[:, 0, 0]).to(torch.int32), min=0)
        above = torch.clamp(torch.ceil(self.quantiles[:, 0, 2] - medians).to(torch.int32), min=0)
        lengths = below + above + 1
        width = int(lengths.max())
        grid = torch.arange(width, dtype=medians.dtype, device=medians.device)
        samples = (medians - below.to(medians.dtype))[:, None, None] + grid  # C × 1 × width
        pmf, lower, upper = self._likelihood(samples, stop_gradient=True)
        if method == "compressai":
            # CompressAI 1.2.8 takes the plain difference, without the sign trick of
            # _likelihood: equal in exact arithmetic but not in float32, and the last bit
            # moves a quantised entry in about 3% of random channels.
            pmf = torch.sigmoid(upper) - torch.sigmoid(lower)
        pmf = pmf[:, 0, :]
        lower_tail = torch.sigmoid(lower[:, 0, 0])
        if method == "compressai":
            upper_tail = torch.sigmoid(-upper[:, 0, -1])
        else:
            last = (lengths - 1).to(torch.int64)[:, None]
            upper_tail = torch.sigmoid(-upper[:, 0, :].gather(1, last)[:, 0])
        tail = (lower_tail + upper_tail).cpu().numpy()
        pmf = pmf.cpu().numpy()
        lengths_np = lengths.cpu().numpy().astype(np.int64)
        rows = np.zeros((self.channels, width + 1), dtype=np.float64)
        for c in range(self.channels):
            n = lengths_np[c]
            rows[c, :n] = pmf[c, :n]
            rows[c, n] = tail[c]
        cdfs, cdf_lengths, offsets = lic_tables.pmfs_to_tables(
            rows.astype(np.float32), (lengths_np + 1).astype(np.int32),
            (-below).cpu().numpy().astype(np.int32), precision=PRECISION, method=method)
        self._set_tables(cdfs, cdf_lengths, offsets)
        return True

    # ----------------------------------------------------------------- coding
    def symbols_and_indexes(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """For x of N×C×H×W: symbols round(x − median_c) and table indexes c (int32, same shape)."""
        medians = self.medians().reshape(1, -1, *([1] * (x.dim() - 2))).to(x.dtype)
        symbols = self.quantize(x.detach(), "symbols", medians).cpu().numpy()
        indexes = np.broadcast_to(
            np.arange(self.channels, dtype=np.int32).reshape(1, -1, *([1] * (x.dim() - 2))),
            symbols.shape)
        return symbols, np.ascontiguousarray(indexes)

    def dequantize_symbols(self, symbols: np.ndarray, dtype=torch.float32) -> torch.Tensor:
        """symbols (N×C×...) → symbols + median_c."""
        medians = self.medians().reshape(1, -1, *([1] * (symbols.ndim - 2))).to(dtype)
        return self.dequantize(symbols, medians, dtype)

    def compress(self, x: torch.Tensor, stream_format: str = "native") -> list[bytes]:
        """One stream per batch item; symbols in C order (channel, row, column)."""
        symbols, indexes = self.symbols_and_indexes(x)
        return [self.encode_symbols(symbols[i], indexes[i], stream_format)
                for i in range(symbols.shape[0])]

    def decompress(self, strings: Sequence[bytes], size: Sequence[int],
                   stream_format: str = "native") -> torch.Tensor:
        """Inverse of :meth:`compress`: N×C×size tensor of x̂ = symbol + median."""
        shape = (self.channels, *[int(s) for s in size])
        indexes = np.broadcast_to(
            np.arange(self.channels, dtype=np.int32).reshape(-1, *([1] * len(size))), shape)
        symbols = np.stack([self.decode_symbols(s, indexes, stream_format) for s in strings])
        return self.dequantize_symbols(symbols)


class GaussianConditional(EntropyModel):
    r"""Discretised Gaussian: p(ŷ) = Φ((ŷ − μ + ½)/σ) − Φ((ŷ − μ − ½)/σ).

    σ is bounded below by ``scale_bound`` (by default the default scale table's first
    entry, ``SCALE_TABLE_MIN`` = 0.11, as in CompressAI) and the likelihood by
    ``LIKELIHOOD_BOUND``. Evaluated as Φ((½ − v)/σ) − Φ((−½ − v)/σ) with v = |ŷ − μ|
    (symmetry: both terms in the lower tail where erfc is accurate). Coding uses one table
    per ``scale_table`` entry; a scale picks the first table scale ≥ it
    (``lic_core.tables.scale_indexes``).
    """

    scale_table: torch.Tensor
    scale_bound: torch.Tensor

    def __init__(self, scale_table: Sequence[float] | torch.Tensor | None = None, *,
                 scale_bound: float = SCALE_TABLE_MIN, tail_mass: float = DEFAULT_TAIL_MASS,
                 likelihood_bound: float = LIKELIHOOD_BOUND):
        super().__init__(likelihood_bound=likelihood_bound, tail_mass=tail_mass)
        table = default_scale_table() if scale_table is None else torch.as_tensor(
            scale_table, dtype=torch.float32)
        if table.dim() != 1 or table.numel() < 1 or not bool(torch.all(table[1:] > table[:-1])):
            raise InvalidArgumentError("scale_table must be a non-empty increasing 1-D sequence")
        self.register_buffer("scale_table", table.clone())
        self.register_buffer("scale_bound", torch.tensor([float(scale_bound)]))
        self.lower_bound_scale = LowerBound(scale_bound)

    def _resize_extra_buffers(self, state_dict, prefix) -> None:
        key = prefix + "scale_table"
        if key in state_dict:
            self.scale_table = torch.zeros(tuple(state_dict[key].shape), dtype=torch.float32)

    def _likelihood(self, inputs: torch.Tensor, scales: torch.Tensor,
                    means: torch.Tensor | None = None) -> torch.Tensor:
        values = torch.abs(inputs - means if means is not None else inputs)
        scales = self.lower_bound_scale(scales)
        upper = _standard_normal_cdf((0.5 - values) / scales)
        lower = _standard_normal_cdf((-0.5 - values) / scales)
        return upper - lower

    def forward(self, inputs: torch.Tensor, scales: torch.Tensor,
                means: torch.Tensor | None = None, training: bool | None = None):
        """(ŷ, likelihoods) for inputs, scales (and means) of the same shape.

        ŷ = y + U(-½, ½) in training, round(y − μ) + μ otherwise."""
        if training is None:
            training = self.training
        outputs = self.quantize(inputs, "noise" if training else "dequantize", means)
        return outputs, self._bounded_likelihood(self._likelihood(outputs, scales, means))

    @torch.no_grad()
    def update(self, force: bool = False, method: str = "greedy") -> bool:
        """Build one table per scale of ``scale_table`` (lic_core.tables.gaussian_tables).

        ``method="compressai"`` gives CompressAI 1.2.8's tables exactly."""
        _check_method(method)
        if self.has_tables and not force:
            return False
        from ..coding import tables as lic_tables
        table = self.scale_table.detach().cpu().numpy().astype(np.float32)
        self._set_tables(*lic_tables.gaussian_tables(
            table, precision=PRECISION, tail_mass=self.tail_mass, method=method))
        return True

    def update_scale_table(self, scale_table, force: bool = False, method: str = "greedy") -> bool:
        """Replace the scale table and rebuild its coding tables."""
        if self.has_tables and not force:
            return False
        self.scale_table = torch.as_tensor(scale_table, dtype=torch.float32).clone()
        return self.update(force=True, method=method)

    def build_indexes(self, scales: torch.Tensor) -> np.ndarray:
        """Table index per scale (int32, same shape): the first table scale ≥ max(σ, scale_bound)."""
        from ..coding import tables as lic_tables
        scales = self.lower_bound_scale(scales.detach()).cpu().numpy().astype(np.float32)
        table = self.scale_table.detach().cpu().numpy().astype(np.float32)
        return np.asarray(lic_tables.scale_indexes(scales, table), dtype=np.int32)

    def compress(self, inputs: torch.Tensor, indexes: np.ndarray,
                 means: torch.Tensor | None = None, stream_format: str = "native") -> list[bytes]:
        """One stream per batch item of symbols round(y − μ), in C order."""
        symbols = self.quantize(inputs.detach(), "symbols", means).cpu().numpy()
        return [self.encode_symbols(symbols[i], indexes[i], stream_format)
                for i in range(symbols.shape[0])]

    def decompress(self, strings: Sequence[bytes], indexes: np.ndarray,
                   means: torch.Tensor | None = None, stream_format: str = "native",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Inverse of :meth:`compress`: ŷ = symbol + μ, shaped like ``indexes``."""
        symbols = np.stack([self.decode_symbols(s, indexes[i], stream_format)
                            for i, s in enumerate(strings)])
        return self.dequantize(symbols, means, dtype)
