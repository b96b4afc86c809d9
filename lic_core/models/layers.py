"""Layers of the learned transforms: GDN, the non-negative reparametrization, a masked conv.

State-dict keys follow CompressAI 1.2.8 so its checkpoints load unchanged:

* ``GDN``: ``beta``, ``gamma``, ``beta_reparam.pedestal``,
  ``beta_reparam.lower_bound.bound``, ``gamma_reparam.pedestal``,
  ``gamma_reparam.lower_bound.bound``.
* ``MaskedConv2d``: ``weight``, ``bias``, ``mask``.

References: Ballé, Laparra, Simoncelli, "Density modeling of images using a generalized
normalization transformation" (ICLR 2016) for GDN; van den Oord et al., "Conditional image
generation with PixelCNN decoders" (2016) for the type-A mask.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LowerBound", "NonNegativeParametrizer", "GDN", "MaskedConv2d", "conv", "deconv"]


class _LowerBoundFn(torch.autograd.Function):
    """y = max(x, bound), with a gradient that still lets x climb back above the bound.

    Plain ``max`` has zero gradient below the bound, so a parameter that falls under it
    would be stuck there. We pass the gradient through wherever it would push x upwards
    (grad < 0 under gradient descent) or where x is already above the bound.
    """

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad_output):
        x, bound = ctx.saved_tensors
        passes = (x >= bound) | (grad_output < 0)
        return passes.type_as(grad_output) * grad_output, None


class LowerBound(nn.Module):
    """``max(x, bound)`` with the gradient rule of ``_LowerBoundFn``; ``bound`` is a buffer."""

    bound: torch.Tensor

    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting() or not torch.is_grad_enabled():
            return torch.max(x, self.bound.to(x.dtype))
        return _LowerBoundFn.apply(x, self.bound.to(x.dtype))


class NonNegativeParametrizer(nn.Module):
    """Keeps a parameter v >= minimum by storing u with v = max(u, b)^2 - pedestal.

    pedestal = 2^-36 keeps the square root in ``init`` away from zero; the bound
    b = sqrt(minimum + pedestal) makes v >= minimum. Squaring gives small values a
    finer gradient than a plain clamp would (Ballé 2018, "Efficient nonlinear transforms").
    """

    pedestal: torch.Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2.0 ** -18):
        super().__init__()
        pedestal = float(reparam_offset) ** 2
        self.register_buffer("pedestal", torch.tensor([pedestal]))
        self.lower_bound = LowerBound((float(minimum) + pedestal) ** 0.5)

    def init(self, value: torch.Tensor) -> torch.Tensor:
        """Stored u for a wanted value v: u = sqrt(max(v + pedestal, pedestal))."""
        return torch.sqrt(torch.max(value + self.pedestal, self.pedestal))

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(stored) ** 2 - self.pedestal


class GDN(nn.Module):
    r"""Generalized divisive normalization, per pixel across channels.

    Forward:  y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)
    Inverse:  y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)

    Input and output are N x C x H x W. beta (C) starts at 1, gamma (C x C) at
    ``gamma_init`` times the identity; both are kept non-negative (beta >= beta_min).
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1):
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)

    def extra_repr(self) -> str:
        return f"inverse={self.inverse}"


class MaskedConv2d(nn.Conv2d):
    """Conv2d whose kernel only sees causal positions (raster order).

    Type A (autoregressive context) hides the centre and everything after it; type B
    keeps the centre. For a 5 x 5 type-A kernel the 12 visible taps are rows 0-1 and
    row 2, columns 0-1. The mask is a buffer (key ``mask``) and is applied on every
    call, never written into ``weight``, so an unmasked checkpoint weight is harmless.
    """

    mask: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5,
                 stride: int = 1, padding: int | None = None, mask_type: str = "A"):
        if mask_type not in ("A", "B"):
            raise ValueError(f'mask_type must be "A" or "B", got {mask_type!r}')
        if padding is None:
            padding = kernel_size // 2
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.mask_type = mask_type
        kh, kw = self.weight.shape[-2:]
        mask = torch.ones_like(self.weight)
        # Hide the centre row from the centre on (type A) or after it (type B), and all later rows.
        mask[:, :, kh // 2, kw // 2 + (mask_type == "B"):] = 0
        mask[:, :, kh // 2 + 1:] = 0
        self.register_buffer("mask", mask)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.masked_weight(), self.bias)


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """'Same'-padded convolution; stride 2 halves H and W (rounding up)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                     padding=kernel_size // 2)


def deconv(in_channels: int, out_channels: int, kernel_size: int = 5,
           stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that exactly multiplies H and W by ``stride``."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                              output_padding=stride - 1, padding=kernel_size // 2)
