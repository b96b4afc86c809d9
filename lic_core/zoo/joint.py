"""Joint autoregressive and hierarchical priors (Minnen, Ballé, Toderici 2018; CompressAI's
``mbt2018``).

ŷ's Gaussian parameters at latent position (r, c) come from two sources: the hyperprior
h_s(ẑ) at (r, c) and a context, a 5×5 type-A masked convolution over the ŷ values already
decoded (rows r−2, r−1 at columns c−2…c+2, and (r, c−2), (r, c−1)). A stack of 1×1
convolutions (``entropy_parameters``) maps both to (σ, μ).

Coding is sequential by nature; we make it cheap:

* Position-major ŷ: ŷ lives in a (h+4)(w+4) × M matrix (2 rows/columns of zero padding
  on each side), so the context of a batch of positions is one row gather of its 12
  causal taps followed by one GEMM with the masked kernel reshaped to 2M × 12M.
* A wavefront schedule: every causal tap of (r, c) has a smaller t = 3r + c, so all
  positions with the same t are independent and are processed together (141 steps for a
  32 × 48 latent instead of 1536).
* Tables are bound once (``TableSet``); the decoder keeps one ``StreamDecoder`` and asks it
  for the symbols of one wavefront at a time.
* The encoder and the decoder run the SAME function (:meth:`_autoregressive`) with the same
  schedule and batching; only the per-step "code" callback differs (quantise and record, or
  decode). So their σ, μ and table indexes agree bit for bit.

Native streams use the wavefront order (positions by t, then by row; M channels per
position). CompressAI's stream format uses raster order, one position per step, so its
strings are CompressAI's layout (slower: it exists for compatibility).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lic_core.errors import InvalidArgumentError
from lic_core.models.entropy_models import notify_decoded
from lic_core.models.layers import MaskedConv2d
from lic_core.models.threads import run_single_threaded

from .base import conv_size
from .hyperprior import HyperpriorBase, mean_scale_hyper_size, mean_scale_hyper_transforms

__all__ = ["JointAutoregressiveHierarchicalPriors", "wavefront_schedule", "raster_schedule",
           "flat_schedule"]

_PAD = 2  # (kernel 5 − 1) / 2


def wavefront_schedule(h: int, w: int) -> list[np.ndarray]:
    """Positions (flat r·w + c, int64) grouped by t = 3r + c, rows ascending within a group.

    Valid for a 5×5 type-A mask: each causal tap (r−i, c+j), i ∈ {1, 2}, |j| ≤ 2, or
    (r, c−j), j ∈ {1, 2}, has t' = t − 3i + j ≤ t − 1 or t − j < t."""
    steps = []
    for t in range(3 * (h - 1) + (w - 1) + 1):
        r_lo = max(0, -(-(t - (w - 1)) // 3))
        r_hi = min(h - 1, t // 3)
        rows = np.arange(r_lo, r_hi + 1, dtype=np.int64)
        steps.append(rows * w + (t - 3 * rows))
    return steps


def raster_schedule(h: int, w: int) -> list[np.ndarray]:
    """One position per step, row by row (CompressAI's order)."""
    return [np.array([p], dtype=np.int64) for p in range(h * w)]


class JointAutoregressiveHierarchicalPriors(HyperpriorBase):
    name = "joint"

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        entropy_parameters = (conv_size(M * 12 // 3, M * 10 // 3, 1)
                              + conv_size(M * 10 // 3, M * 8 // 3, 1)
                              + conv_size(M * 8 // 3, M * 6 // 3, 1))
        context = conv_size(M, 2 * M) + 2 * M * M * 25  # weight, bias and the mask buffer
        return cls._shared_size(N, M) + mean_scale_hyper_size(N, M) + entropy_parameters + context

    def __init__(self, N: int = 192, M: int = 192):
        super().__init__(N, M)
        self.h_a, self.h_s = mean_scale_hyper_transforms(N, M)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(M * 12 // 3, M * 10 // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 10 // 3, M * 8 // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 8 // 3, M * 6 // 3, 1))
        self.context_prediction = MaskedConv2d(M, 2 * M, kernel_size=5, padding=_PAD)

    def hyper_analysis_input(self, y):
        return y

    def latent_interface(self):
        # the context model reads ŷ too; σ and μ come out of entropy_parameters' last
        # layer (h_s's output only feeds it, and does not move: ẑ does not)
        from .base import LatentInterface, last_convolution
        return LatentInterface(**self._transform_ends(),
                               entropy_readers=("h_a.0", "context_prediction"),
                               entropy_predictors=(last_convolution("entropy_parameters",
                                                                    self.entropy_parameters),))

    # ----------------------------------------------------------------- training graph
    def _forward(self, x, options=None):
        # As CompressAI: the context sees round(y) (or y + noise), not round(y − μ) + μ,
        # because μ is not known before the context is; hence eval-mode x̂ here is not
        # the decoded image (the compressed path is exact instead).
        y = self.analysis(x, options)
        z = self.h_a(y)
        z_noisy, z_likelihoods = self.entropy_bottleneck(z)
        params = self.h_s(self.bottleneck_input(z_noisy, z, options))
        gc = self.gaussian_conditional
        y_hat = self.decoder_input(gc.quantize(y, "noise" if self.training else "dequantize"), y,
                                   options=options)
        ctx = self.context_prediction(y_hat)
        scales, means = self.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
        _, y_likelihoods = gc(y, scales, means=means)
        return {"x_hat": self.synthesis(y_hat, options),
                "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    # ----------------------------------------------------------------- shared AR core
    def _context_weights(self):
        """(taps 12×2 as (dy, dx), the masked kernel as a 2M × (12·M) matrix ordered tap-major
        to match the gathered rows, the bias)."""
        mask = self.context_prediction.mask[0, 0]
        taps = torch.nonzero(mask, as_tuple=False)  # 12 × 2, raster order of the kernel
        weight = self.context_prediction.weight  # 2M × M × 5 × 5
        w_taps = weight[:, :, taps[:, 0], taps[:, 1]]  # 2M × M × 12
        w_taps = w_taps.permute(0, 2, 1).reshape(weight.shape[0], -1).contiguous()
        return taps, w_taps, self.context_prediction.bias

    def _autoregressive(self, params: torch.Tensor, schedule: list[np.ndarray],
                        code: Callable[[np.ndarray, torch.Tensor, np.ndarray], torch.Tensor]
                        ) -> torch.Tensor:
        """Walk ŷ in ``schedule`` order; return ŷ (1×M×h×w).

        At each step, for the positions P (flat indices): gather the 12 causal taps of
        each, ctx = taps · W_ctxᵀ + b, (σ, μ) = entropy_parameters([h_s(ẑ)_P, ctx]),
        indexes = scale_indexes(σ); then ``code(P, μ, indexes)`` returns the integer
        symbols (B×M, as float) and ŷ_P = symbols + μ. The encoder and the decoder both call
        this, so σ, μ and indexes are computed by one function with one batching.
        """
        M = self.M
        _, _, h, w = params.shape
        wp = w + 2 * _PAD
        taps, w_taps, b_ctx = self._context_weights()
        tap_offsets = taps[:, 0] * wp + taps[:, 1]
        y_hat = torch.zeros(((h + 2 * _PAD) * wp, M), dtype=params.dtype)
        params_pm = params[0].reshape(2 * M, h * w).t().contiguous()  # (h·w) × 2M
        layers = [m for m in self.entropy_parameters if isinstance(m, nn.Conv2d)]
        ep = [(m.weight.reshape(m.weight.shape[0], -1), m.bias) for m in layers]
        # on one torch thread, without touching the caller's or any other thread's
        # setting (lic_core.models.threads: g_s elsewhere must compute what it would alone)
        run_single_threaded(self._walk, schedule, y_hat, params_pm, w, wp, tap_offsets, w_taps,
                            b_ctx, ep, code)
        y_hat = y_hat.reshape(h + 2 * _PAD, wp, M)[_PAD:_PAD + h, _PAD:_PAD + w]
        return y_hat.permute(2, 0, 1).unsqueeze(0).contiguous()

    def _walk(self, schedule, y_hat, params_pm, w, wp, tap_offsets, w_taps, b_ctx, ep, code):
        """The loop of :meth:`_autoregressive`; fills the position-major ``y_hat`` in place."""
        M = self.M
        gc = self.gaussian_conditional
        for positions in schedule:
            pos = torch.from_numpy(positions)
            rows, cols = pos // w, pos % w
            corner = rows * wp + cols  # top-left of the 5×5 window in padded coordinates
            ctx_in = y_hat[corner[:, None] + tap_offsets[None, :]].reshape(len(pos), -1)
            h_act = torch.cat((params_pm[pos], F.linear(ctx_in, w_taps, b_ctx)), dim=1)
            for k, (weight, bias) in enumerate(ep):
                h_act = F.linear(h_act, weight, bias)
                if k < len(ep) - 1:
                    h_act = F.leaky_relu(h_act)
            scales, means = h_act[:, :M], h_act[:, M:]
            indexes = gc.build_indexes(scales)
            symbols = code(positions, means, indexes)
            y_hat[corner + (_PAD * wp + _PAD)] = symbols + means

    def _schedule(self, h: int, w: int, stream_format: str) -> list[np.ndarray]:
        return raster_schedule(h, w) if stream_format == "compressai" else wavefront_schedule(h, w)

    # ----------------------------------------------------------------- coding
    def _encode(self, x, stream_format, latents=None):
        y, z = self._latents(x, latents)
        z_stream, z_symbols, z_hat = self._encode_z(z, stream_format)
        if self.integer is not None:
            return self._encode_integer(y, z, z_stream, z_symbols, stream_format)
        params = self.h_s(z_hat)
        _, M, h, w = y.shape
        y_pm = y[0].reshape(M, h * w).t().contiguous()
        all_symbols, all_indexes = [], []

        def quantise(positions, means, indexes):
            symbols = torch.round(y_pm[torch.from_numpy(positions)] - means)
            all_symbols.append(symbols.to(torch.int32).numpy().reshape(-1))
            all_indexes.append(indexes.reshape(-1))
            return symbols

        y_hat = self._autoregressive(params, self._schedule(h, w, stream_format), quantise)
        symbols = np.concatenate(all_symbols)
        indexes = np.concatenate(all_indexes)
        y_stream = self.gaussian_conditional.encode_symbols(symbols, indexes, stream_format)
        return [y_stream, z_stream], [(h, w), tuple(z.shape[-2:])], y_hat

    def _decode(self, streams, shapes, stream_format):
        z_symbols, z_hat = self._decode_z(streams[1], shapes[1], stream_format)
        if self.integer is not None:
            return self._decode_integer(streams[0], shapes[0], z_symbols, stream_format)
        params = self.h_s(z_hat)
        (h, w) = shapes[0]
        if tuple(params.shape[-2:]) != (h, w):
            raise InvalidArgumentError(f"latent shape {(h, w)} does not match ẑ's {tuple(z_hat.shape[-2:])}")
        reader = self.gaussian_conditional.symbol_reader(streams[0], stream_format)

        def read(positions, means, indexes):
            return torch.from_numpy(reader.read(indexes)).to(means.dtype)

        y_hat = self._autoregressive(params, self._schedule(h, w, stream_format), read)
        reader.finish()
        return y_hat

    # ----------------------------------------------------------------- integer path
    # docs/integer.md, "Joint": h_s, the context and the entropy parameters run in the
    # engine on integers; the engine walks the schedule itself (native streams) or one
    # wavefront at a time under a SymbolReader (CompressAI's stream format).
    def _integer_hyper(self, z_symbols, h: int, w: int) -> np.ndarray:
        params = self.integer.hyper_output(z_symbols)  # h × w × 2M int16
        if params.shape[:2] != (h, w):
            raise InvalidArgumentError(f"latent shape {(h, w)} does not match ẑ's "
                                       f"{tuple(z_symbols.shape[-2:])}")
        return params

    def _integer_y_hat(self, symbols, means, positions, h: int, w: int) -> torch.Tensor:
        """ŷ (1×M×h×w float32) from symbols in coding order and μ_q position-major."""
        M = self.M
        by_position = np.empty((h * w, M), dtype=np.int32)
        by_position[positions] = np.asarray(symbols).reshape(-1, M)
        y_hat = torch.from_numpy(by_position).float()
        del by_position  # the latent's copies are what a wide image's coding costs
        y_hat += self.integer.means_to_float(np.asarray(means).reshape(h * w, M))
        return y_hat.t().reshape(M, h, w).unsqueeze(0).contiguous()

    def _encode_integer(self, y, z, z_stream, z_symbols, stream_format):
        _, M, h, w = y.shape
        params = self._integer_hyper(z_symbols, h, w)
        positions, starts = flat_schedule(self._schedule(h, w, stream_format))
        y_pm = y[0].reshape(M, h * w).t().contiguous().cpu().numpy()
        _, joint = self.integer.engine()
        symbols, indexes, means = joint.encode(params, y_pm, positions, starts)
        del params, y_pm  # each a copy of the latent's size: freed before the next ones
        y_stream = self.gaussian_conditional.encode_symbols(symbols, indexes, stream_format)
        del indexes
        y_hat = self._integer_y_hat(symbols, means, positions, h, w).to(y.device)
        return [y_stream, z_stream], [(h, w), tuple(z.shape[-2:])], y_hat

    def _decode_integer(self, stream, shape, z_symbols, stream_format):
        (h, w), M = shape, self.M
        params = self._integer_hyper(z_symbols, h, w)
        positions, starts = flat_schedule(self._schedule(h, w, stream_format))
        _, joint = self.integer.engine()
        gc = self.gaussian_conditional
        if stream_format == "native":
            symbols, means = joint.decode(params, h, w, stream, gc.tableset(), positions, starts)
            notify_decoded(gc, symbols)  # the engine decoded ŷ: its observers see it here
            return self._integer_y_hat(symbols, means, positions, h, w)
        reader = gc.symbol_reader(stream, stream_format)
        grid = joint.empty_grid(h, w)
        symbols = np.empty(h * w * M, dtype=np.int32)
        means = np.empty((h * w, M), dtype=np.int32)
        for a, b in zip(starts[:-1], starts[1:]):
            batch = positions[a:b]
            indexes, mu = joint.step(grid, params, h, w, batch)
            read = reader.read(indexes)
            joint.commit(grid, h, w, batch, read, mu)
            symbols[a * M:b * M] = read.reshape(-1)
            means[batch] = mu.reshape(-1, M)
        reader.finish()
        return self._integer_y_hat(symbols, means, positions, h, w)


def flat_schedule(steps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A schedule as the engine takes it: every position in coding order (int64) and
    where each step starts (int64, one more entry than steps, last = h·w)."""
    positions = np.concatenate(steps).astype(np.int64)
    starts = np.zeros(len(steps) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in steps], out=starts[1:])
    return positions, starts
