"""Hyperprior models: the scale hyperprior (Ballé et al. 2018, "Variational image
compression with a scale hyperprior"; ``bmshj2018-hyperprior``) and its mean-and-scale
variant (Minnen, Ballé, Toderici 2018, "Joint autoregressive and hierarchical priors",
without the context model; ``mbt2018-mean``).

Both code side information z = h_a(·) with an EntropyBottleneck, decode ẑ, and let
h_s(ẑ) predict the Gaussian parameters of ŷ. Streams: [ŷ, ẑ] (CompressAI's order);
the image is padded to a multiple of 64 (g_a ÷16, h_a ÷4).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lic_core.models.entropy_models import EntropyBottleneck, GaussianConditional
from lic_core.models.layers import conv, deconv

from .base import (GAUSSIAN_CONDITIONAL_SIZE, CompressionModel, LatentInterface, bottleneck_size,
                   conv_size, last_convolution)
from .factorized import analysis_transform, synthesis_transform, transforms_size

__all__ = ["ScaleHyperprior", "MeanScaleHyperprior", "HyperpriorBase", "mean_scale_hyper_transforms",
           "mean_scale_hyper_size"]


def mean_scale_hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
    """h_a: M→N (÷4) and h_s: N→2M (×4) with LeakyReLU, as in Minnen et al. 2018.

    Shared by the mean-scale hyperprior and the joint model, whose state-dict keys
    (``h_a.{0,2,4}``, ``h_s.{0,2,4}``) are the same.
    """
    h_a = nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), conv(N, N),
                        nn.LeakyReLU(inplace=True), conv(N, N))
    h_s = nn.Sequential(deconv(N, M), nn.LeakyReLU(inplace=True),
                        deconv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
                        conv(M * 3 // 2, M * 2, 3, 1))
    return h_a, h_s


def mean_scale_hyper_size(N: int, M: int) -> int:
    """Elements of :func:`mean_scale_hyper_transforms`' h_a and h_s."""
    return (conv_size(M, N, 3) + 2 * conv_size(N, N)
            + conv_size(N, M) + conv_size(M, M * 3 // 2) + conv_size(M * 3 // 2, M * 2, 3))


class HyperpriorBase(CompressionModel):
    """ŷ coded with Gaussian parameters predicted from ẑ; subclasses say which."""

    stride = 64

    @classmethod
    def _shared_size(cls, N: int, M: int) -> int:
        """g_a, g_s and both entropy models: what every hyperprior family holds."""
        return transforms_size(N, M) + bottleneck_size(N) + GAUSSIAN_CONDITIONAL_SIZE

    def __init__(self, N: int, M: int):
        super().__init__(N, M)
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        self.g_a = analysis_transform(N, M)
        self.g_s = synthesis_transform(N, M)

    def latent_shapes(self, height, width):
        return ((height // 16, width // 16), (height // 64, width // 64))

    def latent_interface(self) -> LatentInterface:
        # h_a's first layer reads y (the scale hyperprior's |y| scales alike); h_s's last
        # convolution outputs σ (and μ)
        return LatentInterface(**self._transform_ends(), entropy_readers=("h_a.0",),
                               entropy_predictors=(last_convolution("h_s", self.h_s),))

    # ŷ's distribution given ẑ: (scales, means or None), each 1×M×h×w
    def hyper_analysis_input(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gaussian_parameters(self, z_hat: torch.Tensor):
        raise NotImplementedError

    def _forward(self, x, options=None):
        y = self.analysis(x, options)
        z = self.h_a(self.hyper_analysis_input(y))
        z_noisy, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self.gaussian_parameters(self.bottleneck_input(z_noisy, z, options))
        y_noisy, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        y_hat = self.decoder_input(y_noisy, y, means, options)
        return {"x_hat": self.synthesis(y_hat, options),
                "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def _latents(self, x, latents):
        """(y, z): g_a's and h_a's, or those an effort level refined (zoo.effort)."""
        if latents is not None:
            return latents
        y = self.analysis(x)
        return y, self.h_a(self.hyper_analysis_input(y))

    #: whether h_s predicts means as well as scales
    has_means = True

    def _encode_z(self, z, stream_format):
        """(ẑ's stream, ẑ's symbols N×h×w, ẑ = symbols + medians as 1×N×h×w)."""
        eb = self.entropy_bottleneck
        symbols, indexes = eb.symbols_and_indexes(z)
        stream = eb.encode_symbols(symbols[0], indexes[0], stream_format)
        return stream, symbols[0], eb.dequantize_symbols(symbols, z.dtype)

    def _decode_z(self, stream, shape, stream_format):
        """(ẑ's symbols N×h×w, ẑ as 1×N×h×w) from its stream."""
        eb = self.entropy_bottleneck
        indexes = np.broadcast_to(np.arange(eb.channels, dtype=np.int32)[:, None, None],
                                  (eb.channels, *shape))
        symbols = eb.decode_symbols(stream, indexes, stream_format)
        return symbols, eb.dequantize_symbols(symbols[None])

    def _indexes_and_means(self, z_symbols, z_hat):
        """ŷ's table indexes (M×h×w) and means (1×M×h×w or None): from the integer
        networks when the model has them (exact everywhere), else from float h_s."""
        if self.integer is not None:
            indexes, means = self.integer.gaussian_parameters(z_symbols, self.has_means)
            return indexes, (means.to(z_hat.device) if means is not None else None)
        scales, means = self.gaussian_parameters(z_hat)
        return self.gaussian_conditional.build_indexes(scales)[0], means

    def _encode(self, x, stream_format, latents=None):
        y, z = self._latents(x, latents)
        z_stream, z_symbols, z_hat = self._encode_z(z, stream_format)
        indexes, means = self._indexes_and_means(z_symbols, z_hat)
        gc = self.gaussian_conditional
        symbols = gc.quantize(y, "symbols", means).cpu().numpy()
        y_stream = gc.encode_symbols(symbols[0], indexes, stream_format)
        y_hat = gc.dequantize(symbols, means, y.dtype)
        return [y_stream, z_stream], [tuple(y.shape[-2:]), tuple(z.shape[-2:])], y_hat

    def _decode(self, streams, shapes, stream_format):
        z_symbols, z_hat = self._decode_z(streams[1], shapes[1], stream_format)
        indexes, means = self._indexes_and_means(z_symbols, z_hat)
        return self.gaussian_conditional.decompress([streams[0]], indexes[None], means, stream_format)


class ScaleHyperprior(HyperpriorBase):
    """z = h_a(|y|), σ = h_s(ẑ), μ = 0 (ReLU activations)."""

    name = "hyperprior"
    has_means = False

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        return (cls._shared_size(N, M) + conv_size(M, N, 3) + 2 * conv_size(N, N)
                + 2 * conv_size(N, N) + conv_size(N, M, 3))

    def __init__(self, N: int = 128, M: int = 192):
        super().__init__(N, M)
        self.h_a = nn.Sequential(conv(M, N, 3, 1), nn.ReLU(inplace=True), conv(N, N),
                                 nn.ReLU(inplace=True), conv(N, N))
        self.h_s = nn.Sequential(deconv(N, N), nn.ReLU(inplace=True), deconv(N, N),
                                 nn.ReLU(inplace=True), conv(N, M, 3, 1), nn.ReLU(inplace=True))

    def hyper_analysis_input(self, y):
        return torch.abs(y)

    def gaussian_parameters(self, z_hat):
        return self.h_s(z_hat), None


class MeanScaleHyperprior(HyperpriorBase):
    """z = h_a(y); h_s(ẑ) gives 2M channels: σ then μ (LeakyReLU activations)."""

    name = "mean-scale"

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        return cls._shared_size(N, M) + mean_scale_hyper_size(N, M)

    def __init__(self, N: int = 128, M: int = 192):
        super().__init__(N, M)
        self.h_a, self.h_s = mean_scale_hyper_transforms(N, M)

    def hyper_analysis_input(self, y):
        return y

    def gaussian_parameters(self, z_hat):
        scales, means = self.h_s(z_hat).chunk(2, 1)
        return scales, means
