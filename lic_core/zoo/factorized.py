"""Factorized prior (Ballé, Laparra, Simoncelli 2018, "End-to-end optimized image compression";
CompressAI's ``bmshj2018-factorized``).

x → g_a → y → ŷ = round(y − median) + median → g_s → x̂, with ŷ coded by one learned
density per channel (EntropyBottleneck). g_a: four 5×5 stride-2 convolutions with GDN
between them (3 → N → N → N → M); g_s mirrors it with transposed convolutions and
inverse GDN. One stream: ŷ, channel-major.
"""
from __future__ import annotations

from torch import nn

from lic_core.models.entropy_models import EntropyBottleneck
from lic_core.models.layers import GDN, conv, deconv

from .base import CompressionModel, LatentInterface, bottleneck_size, conv_size, gdn_size

__all__ = ["FactorizedPrior", "analysis_transform", "synthesis_transform", "transforms_size"]


def analysis_transform(N: int, M: int) -> nn.Sequential:
    """g_a: 1×3×H×W → 1×M×H/16×W/16."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis_transform(N: int, M: int) -> nn.Sequential:
    """g_s: 1×M×h×w → 1×3×16h×16w."""
    return nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))


def transforms_size(N: int, M: int) -> int:
    """Elements of g_a and g_s together, as the two functions above build them (a
    transposed convolution in→out holds as many as a convolution in→out)."""
    g_a = conv_size(3, N) + 2 * conv_size(N, N) + conv_size(N, M) + 3 * gdn_size(N)
    g_s = conv_size(M, N) + 2 * conv_size(N, N) + conv_size(N, 3) + 3 * gdn_size(N)
    return g_a + g_s


class FactorizedPrior(CompressionModel):
    name = "factorized"
    stride = 16

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        return transforms_size(N, M) + bottleneck_size(M)

    probability_networks = False  # coding tables stored in the weights: exact everywhere

    def __init__(self, N: int = 128, M: int = 192):
        super().__init__(N, M)
        self.entropy_bottleneck = EntropyBottleneck(M)
        self.g_a = analysis_transform(N, M)
        self.g_s = synthesis_transform(N, M)

    def latent_interface(self) -> LatentInterface:
        # no hyper network: y's own density is the entropy bottleneck
        return LatentInterface(**self._transform_ends(), density="entropy_bottleneck")

    def latent_shapes(self, height, width):
        return ((height // 16, width // 16),)

    def _forward(self, x, options=None):
        y = self.analysis(x, options)
        y_noisy, y_likelihoods = self.entropy_bottleneck(y)
        y_hat = self.bottleneck_input(y_noisy, y, options)
        return {"x_hat": self.synthesis(y_hat, options), "likelihoods": {"y": y_likelihoods}}

    def _encode(self, x, stream_format, latents=None):
        y = self.analysis(x) if latents is None else latents[0]
        symbols, indexes = self.entropy_bottleneck.symbols_and_indexes(y)
        stream = self.entropy_bottleneck.encode_symbols(symbols[0], indexes[0], stream_format)
        y_hat = self.entropy_bottleneck.dequantize_symbols(symbols, y.dtype)
        return [stream], [tuple(y.shape[-2:])], y_hat

    def _decode(self, streams, shapes, stream_format):
        return self.entropy_bottleneck.decompress([streams[0]], shapes[0], stream_format)
