"""Space-channel context model: channel groups, a parallel spatial schedule within each
group (the fourth generation; after He et al. 2021 "Checkerboard context model" and He et
al. 2022 "ELIC", built for the transforms of the joint model, which it keeps frozen).

ŷ's M channels are split into uneven groups (``channel_groups``: 16, 16, 32, 64, 64 for
the zoo's M = 192). Group g is coded in ``steps[g]`` steps (lic_core.zoo.checkerboard:
four steps of a 2×2 pattern for the first two groups, a checkerboard's two after). The
Gaussian parameters of a step come from one 1×1 network per group
(``entropy_parameters.g``) over three inputs, concatenated in this order:

* ``params``: h_s(ẑ), 2M channels, as in the joint model;
* the *channel context* ``channel_context.(g−1)(ŷ of groups 0..g−1)`` (a 3×3
  convolution over every earlier group, fully decoded; absent for group 0);
* the *spatial context* of step k ≥ 1, ``spatial_context.g.(k−1)(ŷ_g at the positions
  of steps < k, 0 elsewhere)`` (a 5×5 convolution, one per step): zero for step 0,
  whose own group is not decoded yet.

So every step is one parallel step over the latent grid: 14 for the zoo's five groups,
for any image size, each a few dense convolutions, against the joint model's serial walk
of 3h + w wavefronts. The encoder and the decoder run the same function
(:meth:`SpaceChannelContext._walk`) and differ only by the ``code`` callback, as in the
joint model: quantise and record, or read the stream.

Stream order (docs/models.md, "Space-channel context"): the ŷ stream holds group after
group; within a group step after step; within a step the positions in raster order; at
each position the group's channels in order. Streams [ŷ, ẑ].
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lic_core.errors import InvalidArgumentError

from .base import conv_size
from .checkerboard import channel_groups, group_steps, step_positions
from .hyperprior import HyperpriorBase, mean_scale_hyper_size, mean_scale_hyper_transforms

__all__ = ["SpaceChannelContext", "channel_groups", "group_steps", "step_positions"]


#: the spatial context's kernel: 5×5 sees the twelve anchors within two rows and columns
#: of a checkerboard's second step (3×3 sees four); measured in training, docs/training.md
SPATIAL_KERNEL = 5


def _hidden(c: int) -> int:
    """Width of a group's entropy-parameter network: 3·C_g, at least 64."""
    return max(64, 3 * c)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def _entropy_parameters(cin: int, c: int) -> nn.Sequential:
    hid = _hidden(c)
    return nn.Sequential(_conv(cin, hid, 1), nn.LeakyReLU(inplace=True),
                         _conv(hid, hid, 1), nn.LeakyReLU(inplace=True),
                         _conv(hid, 2 * c, 1))


def _dense(layers: nn.Sequential, x: torch.Tensor, observer=None, name: str = "") -> torch.Tensor:
    """A stack of 1×1 convolutions and LeakyReLUs on B×C×n gathered positions, run as
    matrix products over the B·n rows (one GEMM per layer instead of a convolution over
    a B×C×n×1 image: about twice as fast on CPU at these shapes). ``observer(key, t)``,
    if given, sees each convolution's output (``<name>.<i>.pre``) and each activation's
    (``<name>.<i>.post``, i the convolution's index): the integer conversion's ranges."""
    B, C, n = x.shape
    h = x.permute(0, 2, 1).reshape(B * n, C)
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            h = F.linear(h, m.weight.reshape(m.out_channels, m.in_channels), m.bias)
            if observer is not None:
                observer(f"{name}.{i}.pre", h)
        else:
            h = F.leaky_relu(h, m.negative_slope)
            if observer is not None:
                observer(f"{name}.{i - 1}.post", h)
    return h.reshape(B, n, -1).permute(0, 2, 1)


class SpaceChannelContext(HyperpriorBase):
    name = "space-channel"
    #: sees the entropy-parameter layers' outputs when set (space_channel_integer's
    #: calibration; those layers run as matrix products, which module hooks do not see)
    observer = None

    @classmethod
    def _prior_size(cls, M: int) -> int:
        groups = channel_groups(M)
        size, done = 0, 0
        for g, (c, steps) in enumerate(zip(groups, group_steps(len(groups)))):
            cin = 2 * M + 2 * c + (2 * c if g else 0)
            hid = _hidden(c)
            size += conv_size(cin, hid, 1) + conv_size(hid, hid, 1) + conv_size(hid, 2 * c, 1)
            size += (steps - 1) * conv_size(c, 2 * c, SPATIAL_KERNEL)
            if g:
                size += conv_size(done, 2 * c, 3)
            done += c
        return size

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        return cls._shared_size(N, M) + mean_scale_hyper_size(N, M) + cls._prior_size(M)

    def __init__(self, N: int = 192, M: int = 192):
        super().__init__(N, M)
        self.groups = channel_groups(M)
        self.steps = group_steps(len(self.groups))
        self.h_a, self.h_s = mean_scale_hyper_transforms(N, M)
        starts = np.cumsum((0,) + self.groups)
        self.group_starts = tuple(int(s) for s in starts)
        self.channel_context = nn.ModuleList(
            nn.Sequential(_conv(self.group_starts[g], 2 * c, 3))
            for g, c in enumerate(self.groups) if g)
        # spatial_context[g][k − 1] serves step k of group g
        self.spatial_context = nn.ModuleList(
            nn.ModuleList(_conv(c, 2 * c, SPATIAL_KERNEL) for _ in range(steps - 1))
            for c, steps in zip(self.groups, self.steps))
        self.entropy_parameters = nn.ModuleList(
            _entropy_parameters(2 * M + 2 * c + (2 * c if g else 0), c)
            for g, c in enumerate(self.groups))

    def hyper_analysis_input(self, y):
        return y

    # the integer path lives in space_channel_integer; lic_core.zoo.integer reaches it
    # through these two hooks (it does not import the family)
    def integer_plan(self, sequential_plan):
        from .space_channel_integer import plan_space_channel
        return plan_space_channel(self, sequential_plan)

    def convert_integer(self, images, qualities_models=None):
        from .space_channel_integer import convert_space_channel
        return convert_space_channel(self, images, qualities_models)

    def latent_interface(self):
        from .base import LatentInterface, last_convolution
        readers = ("h_a.0",) + tuple(f"channel_context.{i}.0" for i in range(len(self.channel_context))) \
            + tuple(f"spatial_context.{g}.{k}" for g, steps in enumerate(self.steps)
                    for k in range(steps - 1))
        return LatentInterface(**self._transform_ends(), entropy_readers=readers,
                               entropy_predictors=tuple(
                                   last_convolution(f"entropy_parameters.{g}", ep)
                                   for g, ep in enumerate(self.entropy_parameters)))

    # ----------------------------------------------------------------- the shared core
    def group_inputs(self, g: int, params: torch.Tensor, decoded: list[torch.Tensor]) -> torch.Tensor:
        """[params, channel context] of group g (B×C×h×w): what both halves share.
        ``decoded``: ŷ of groups 0..g−1."""
        if not g:
            return params
        return torch.cat((params, self.channel_context[g - 1](torch.cat(decoded, dim=1))), dim=1)

    def group_parameters(self, g: int, inputs: torch.Tensor, step: int, decoded_hat: torch.Tensor | None,
                         positions: torch.Tensor):
        """(σ, μ) of group g at the positions of its step ``step`` (flat r·w + c), each
        B×C_g×|P|.

        ``inputs`` from :meth:`group_inputs`; ``decoded_hat``: ŷ_g at the positions of
        the steps before ``step`` and 0 elsewhere (B×C_g×h×w); unused at step 0, whose
        spatial context is 0. The entropy parameters are 1×1 convolutions, so they run on
        the gathered positions only."""
        c = self.groups[g]
        x = inputs.flatten(2)[:, :, positions]
        if step == 0:
            sc = x.new_zeros(x.shape[0], 2 * c, x.shape[2])
        else:
            sc = self.spatial_context[g][step - 1](decoded_hat).flatten(2)[:, :, positions]
        e = _dense(self.entropy_parameters[g], torch.cat((x, sc), dim=1), self.observer,
                   f"entropy_parameters.{g}")
        scales, means = e.chunk(2, 1)
        return scales, means

    def _walk(self, params: torch.Tensor,
              code: Callable[[int, np.ndarray, torch.Tensor, np.ndarray], torch.Tensor]) -> torch.Tensor:
        """ŷ (1×M×h×w) group by group, step by step (module docstring).

        For each step, σ and μ of the group at the step's positions P (flat, raster
        order) come from :meth:`group_parameters`; ``code(g, P, μ_P, indexes_P)`` (μ and
        indexes as |P|×C_g, position-major) returns the integer symbols (|P|×C_g, as
        float), and ŷ_P = symbols + μ_P. Encoder and decoder both call this."""
        _, _, h, w = params.shape
        gc = self.gaussian_conditional
        decoded: list[torch.Tensor] = []
        for g, c in enumerate(self.groups):
            inputs = self.group_inputs(g, params, decoded)
            y_g = params.new_zeros(1, c, h, w)
            for step, positions in enumerate(step_positions(h, w, self.steps[g])):
                if positions.size == 0:
                    continue
                pos = torch.from_numpy(positions).to(params.device)
                # the spatial context reads y_g, whose positions of this step and later
                # are still 0: exactly "ŷ_g at the steps before, 0 elsewhere"
                scales, means = self.group_parameters(g, inputs, step, y_g, pos)
                mu, sigma = means[0].t(), scales[0].t()
                symbols = code(g, positions, mu, gc.build_indexes(sigma))
                y_g.view(c, h * w)[:, pos] = (symbols + mu).t()
            decoded.append(y_g)
        return torch.cat(decoded, dim=1)

    # ----------------------------------------------------------------- training graph
    def _forward(self, x, options=None):
        y = self.analysis(x, options)
        out = self.prior_forward(y, options)
        y_hat = out.pop("y_hat")
        out["x_hat"] = self.synthesis(y_hat, options)
        return out

    def prior_forward(self, y: torch.Tensor, options=None, *, train_hyper: bool = True) -> dict:
        """The entropy model on y alone (what training on frozen transforms optimises):
        {"y_hat", "likelihoods": {"y", "z"}}. The context networks see what the decoder
        will see, round(y − μ) + μ (the rounding without gradient, μ with it); the
        likelihoods see y + U(−½, ½) in training (the usual proxy), round(y − μ) + μ
        otherwise. ``train_hyper=False`` runs h_a, the bottleneck and h_s without
        gradients (a prior trained on a frozen hyperprior)."""
        with torch.set_grad_enabled(train_hyper and torch.is_grad_enabled()):
            z = self.h_a(y)
            z_noisy, z_likelihoods = self.entropy_bottleneck(z)
            params = self.h_s(self.bottleneck_input(z_noisy, z, options))
        scales, means, y_hat = self.parameters_for(
            y, params, lambda v, mu: torch.round(v - mu).detach() + mu)
        _, likelihoods = self.gaussian_conditional(y, scales, means=means)
        return {"y_hat": y_hat, "likelihoods": {"y": likelihoods, "z": z_likelihoods}}

    def parameters_for(self, y: torch.Tensor, params: torch.Tensor, quantise) -> tuple:
        """(σ, μ, ŷ), each B×M×h×w, for latents y given h_s's ``params``, the walk's
        schedule run on the whole batch at once: ``quantise(values, μ)`` stands for the
        coder's round(y − μ) + μ where the contexts read decoded values (training passes
        that rounding, the effort search a differentiable stand-in)."""
        B, _, h, w = y.shape
        all_scales, all_means, decoded = [], [], []
        for g, (a, b) in enumerate(zip(self.group_starts[:-1], self.group_starts[1:])):
            c = b - a
            y_g = y[:, a:b].flatten(2)
            inputs = self.group_inputs(g, params, decoded)
            y_hat = y_g.new_zeros(B, c, h * w)
            scales_g, means_g = y_g.new_zeros(B, c, h * w), y_g.new_zeros(B, c, h * w)
            for step, positions in enumerate(step_positions(h, w, self.steps[g])):
                if positions.size == 0:
                    continue
                pos = torch.from_numpy(positions).to(y.device)
                scales, means = self.group_parameters(g, inputs, step, y_hat.view(B, c, h, w), pos)
                scales_g = scales_g.index_copy(2, pos, scales)
                means_g = means_g.index_copy(2, pos, means)
                y_hat = y_hat.index_copy(2, pos, quantise(y_g[:, :, pos], means))
            all_scales.append(scales_g.view(B, c, h, w))
            all_means.append(means_g.view(B, c, h, w))
            decoded.append(y_hat.view(B, c, h, w))
        return (torch.cat(all_scales, dim=1), torch.cat(all_means, dim=1), torch.cat(decoded, dim=1))

    # ----------------------------------------------------------------- coding
    def _encode(self, x, stream_format, latents=None):
        y, z = self._latents(x, latents)
        z_stream, z_symbols, z_hat = self._encode_z(z, stream_format)
        if self.integer is not None:
            from .space_channel_integer import encode_integer
            y_stream, y_hat = encode_integer(self, y, z_symbols, stream_format)
            return [y_stream, z_stream], [tuple(y.shape[-2:]), tuple(z.shape[-2:])], y_hat
        params = self.h_s(z_hat)
        _, M, h, w = y.shape
        if tuple(params.shape[-2:]) != (h, w):
            raise InvalidArgumentError(f"latent shape {(h, w)} does not match ẑ's {tuple(z.shape[-2:])}")
        y_pm = y[0].reshape(M, h * w)
        all_symbols, all_indexes = [], []

        def quantise(g, positions, means, indexes):
            a, b = self.group_starts[g], self.group_starts[g + 1]
            values = y_pm[a:b][:, torch.from_numpy(positions)].t()
            symbols = torch.round(values - means)
            all_symbols.append(symbols.to(torch.int32).numpy().reshape(-1))
            all_indexes.append(indexes.reshape(-1))
            return symbols

        y_hat = self._walk(params, quantise)
        y_stream = self.gaussian_conditional.encode_symbols(
            np.concatenate(all_symbols), np.concatenate(all_indexes), stream_format)
        return [y_stream, z_stream], [(h, w), tuple(z.shape[-2:])], y_hat

    def _decode(self, streams, shapes, stream_format):
        z_symbols, z_hat = self._decode_z(streams[1], shapes[1], stream_format)
        (h, w) = shapes[0]
        if self.integer is not None:
            from .space_channel_integer import decode_integer
            return decode_integer(self, streams[0], (h, w), z_symbols, stream_format)
        params = self.h_s(z_hat)
        if tuple(params.shape[-2:]) != (h, w):
            raise InvalidArgumentError(f"latent shape {(h, w)} does not match ẑ's {tuple(z_hat.shape[-2:])}")
        reader = self.gaussian_conditional.symbol_reader(streams[0], stream_format)

        def read(g, positions, means, indexes):
            return torch.from_numpy(reader.read(indexes)).to(means.dtype)

        y_hat = self._walk(params, read)
        reader.finish()
        return y_hat
