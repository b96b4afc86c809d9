"""Bounded-memory runs of a convolutional transform (g_a, float g_s) in tiles.

A whole-image run of g_a or g_s holds activations proportional to the image: about
275 bytes a pixel for the zoo's N=64 models, and every side is padded to 64 first, so a
1x65536 image runs on 64x65536 (docs/reliability.md, "Memory by decoding path"). Here
the output is cut into tiles; each tile is computed by running the unchanged modules on
a crop of the input that holds every input the tile's outputs read (the halo, derived
from the layers' kernel, stride, padding and dilation), and only the outputs whose
whole dependency cone lies inside the crop are kept. So every output element is
computed from exactly the inputs, and with the same zero padding at the image's
borders, as in the whole-image run; only the float rounding may differ (another tensor
shape can take another kernel).

The plan (:func:`plan`) is a pure function of the layers, the input shape, the element
size and the bound, so the same image is tiled the same way every time. It is None,
the whole-image run, when the largest activation of that run (input, every layer's
output: channels x height x width x batch x element size) is within the bound; else
the output is split into tiles, row and column counts grown until every tile's largest
activation is within it. The input and the output are the caller's whole tensors
(:func:`run` writes the tiles into one output); the bound is on everything between.

Layers it knows (anything else: no plan, the whole image): ``nn.Conv2d`` and
``nn.ConvTranspose2d`` with zero padding (any kernel, stride, padding, dilation and
output padding, ``groups`` included), and spatially pointwise layers: GDN / inverse GDN
(a 1x1 convolution across channels), ReLU, LeakyReLU, Identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lic_core.models.layers import GDN

__all__ = ["DEFAULT_BOUND", "Axis", "Span", "Tile", "Plan", "axes", "plan", "run",
           "largest_activation", "whole_largest"]

#: The largest activation (bytes) a transform may hold before it runs in tiles: 8 MiB,
#: what the zoo's N=64 models hold for a 256x512 image (g_a's first output and g_s's
#: last inverse GDN: 64 channels at half the resolution, 4 bytes, 64 B a pixel). Images
#: up to 2^17 padded pixels (for N=64; fewer for wider models) keep the whole-image
#: computation, every golden and determinism test among them. A tiled run holds about
#: 7x its largest activation (GDN's temporaries and the allocator's), so this keeps a
#: 1x65536 image, run on 64x65536, within 1.5x the peak RSS of a 256x256 one for the
#: encoder and the float decoder; 16 MiB left the encoder at 1.44-1.46x, and 4 MiB
#: saved the encoder nothing measurable while adding halo (docs/reliability.md,
#: "Memory by decoding path", has the figures).
DEFAULT_BOUND = 8 << 20


@dataclass(frozen=True)
class Axis:
    """One layer along one spatial axis: how output index o depends on input indexes."""
    kind: str  # "conv", "deconv" or "point"
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0

    def out_size(self, n: int) -> int:
        k, s, p, d = self.kernel, self.stride, self.padding, self.dilation
        if self.kind == "conv":
            return max(0, (n + 2 * p - d * (k - 1) - 1) // s + 1)
        if self.kind == "deconv":
            return max(0, (n - 1) * s - 2 * p + d * (k - 1) + self.output_padding + 1) if n else 0
        return n

    def window(self, o: int) -> tuple[int, int]:
        """Input indexes [lo, hi] (inclusive, unclipped) output o may read."""
        k, s, p, d = self.kernel, self.stride, self.padding, self.dilation
        if self.kind == "conv":
            return o * s - p, o * s - p + d * (k - 1)
        if self.kind == "deconv":  # o = i·s − p + j·d, 0 <= j < k
            return -((-(o + p - d * (k - 1))) // s), (o + p) // s
        return o, o

    def offset(self, c: int) -> int | None:
        """The global index of local output 0 when the input starts at global c (None
        when c is off the stride's grid)."""
        if self.kind == "conv":
            return c // self.stride if c % self.stride == 0 else None
        if self.kind == "deconv":
            return c * self.stride
        return c


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def axes(module: nn.Module) -> list[tuple[Axis, Axis, int | None]] | None:
    """Per layer of ``module`` (an nn.Sequential, or one layer): its (height, width) axes
    and output channels (None: as its input). None when a layer is of a kind this
    module does not know (its dependencies could not be derived)."""
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    out = []
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            inner = axes(layer)
            if inner is None:
                return None
            out.extend(inner)
        elif type(layer) in (nn.Conv2d, nn.ConvTranspose2d):
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                return None
            kind = "conv" if type(layer) is nn.Conv2d else "deconv"
            k, s, p, d = (_pair(v) for v in (layer.kernel_size, layer.stride, layer.padding,
                                             layer.dilation))
            op = _pair(getattr(layer, "output_padding", 0))
            out.append(tuple(Axis(kind, k[i], s[i], p[i], d[i], op[i] if kind == "deconv" else 0)
                             for i in range(2)) + (int(layer.out_channels),))
        elif isinstance(layer, (GDN, nn.ReLU, nn.LeakyReLU, nn.Identity)):
            out.append((Axis("point"), Axis("point"), None))
        else:
            return None
    return out


@dataclass(frozen=True)
class Span:
    """One tile along one axis: output [a, b) from input crop [c, e); the crop's local
    output j is global j + offset."""
    a: int
    b: int
    c: int
    e: int
    offset: int
    extents: tuple[int, ...]  # the crop's size at every tensor, input first


@dataclass(frozen=True)
class Tile:
    rows: Span
    cols: Span


@dataclass(frozen=True)
class Plan:
    """Tiles covering the output once each (rows x cols), and the largest activation
    (bytes) any of them holds."""
    out_shape: tuple[int, int, int, int]
    row_spans: tuple[Span, ...]
    col_spans: tuple[Span, ...]
    largest: int

    @property
    def tiles(self) -> list[Tile]:
        return [Tile(r, c) for r in self.row_spans for c in self.col_spans]


def _sizes(layer_axes: list[Axis], n: int) -> list[int]:
    sizes = [n]
    for ax in layer_axes:
        sizes.append(ax.out_size(sizes[-1]))
    return sizes


def _alignment(layer_axes: list[Axis]) -> int:
    """A multiple of which every crop start keeps each strided convolution on its grid."""
    a = 1
    for ax in layer_axes:
        if ax.kind == "conv":
            a *= ax.stride
    return a


def _first(pred, lo: int, hi: int) -> int:
    """The least o in [lo, hi) with pred(o) true (pred monotone false→true), else hi."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _span(layer_axes: list[Axis], sizes: list[int], a: int, b: int) -> Span | None:
    """The crop for outputs [a, b), checked: None if the crop's run cannot be shown to
    compute them exactly as the whole run does."""
    lo, hi = a, b - 1
    for ax, n in zip(reversed(layer_axes), reversed(sizes[:-1])):
        wl, _ = ax.window(lo)
        _, wh = ax.window(hi)
        lo, hi = max(wl, 0), min(wh, n - 1)
    align = _alignment(layer_axes)
    c, e = (lo // align) * align, hi + 1
    # forward: the crop's outputs whose every in-image input was computed exactly
    vlo, vhi, start, extents = c, e - 1, c, [e - c]
    for ax, n, n_out in zip(layer_axes, sizes[:-1], sizes[1:]):
        off = ax.offset(start)
        if off is None:
            return None
        m = ax.out_size(extents[-1])
        extents.append(m)
        first, last = off, min(off + m, n_out) - 1

        # o is exact when its window, clipped to the input (beyond it both runs read the
        # padding's zeros), lies inside the exact part [vlo, vhi]; both ends of a window
        # grow with o, so the exact outputs are one interval (an empty clipped window,
        # read as its clipped end, only ever counts as inexact: conservative)
        def low_ok(o, ax=ax, vlo=vlo):
            return max(ax.window(o)[0], 0) >= vlo

        def high_bad(o, ax=ax, n=n, vhi=vhi):
            return min(ax.window(o)[1], n - 1) > vhi

        new_lo = _first(low_ok, first, last + 1)
        new_hi = _first(high_bad, new_lo, last + 1) - 1
        vlo, vhi, start = new_lo, new_hi, off
    if vlo > a or vhi < b - 1:
        return None
    return Span(a, b, c, e, start, tuple(extents))


def _edges(n: int, count: int, granule: int) -> list[int]:
    units = -(-n // granule)
    return [min(n, (i * units // count) * granule) for i in range(count + 1)]


def largest_activation(layers, extents_h, extents_w, channels_in: int, batch: int,
                       itemsize: int) -> int:
    """Bytes of the largest tensor (the input or a layer's output) of a run whose tensors
    are extents_h[i] x extents_w[i]."""
    c, most = channels_in, batch * channels_in * extents_h[0] * extents_w[0] * itemsize
    for i, (_, _, out_channels) in enumerate(layers):
        c = c if out_channels is None else out_channels
        most = max(most, batch * c * extents_h[i + 1] * extents_w[i + 1] * itemsize)
    return most


def whole_largest(module: nn.Module, shape, itemsize: int) -> int | None:
    """Bytes of the largest activation of ``module``'s whole-image run on ``shape``
    (None for layers this module does not know)."""
    layers = axes(module)
    if layers is None:
        return None
    batch, channels, h, w = (int(s) for s in shape)
    return largest_activation(layers, _sizes([ax[0] for ax in layers], h),
                              _sizes([ax[1] for ax in layers], w), channels, batch, itemsize)


def plan(module: nn.Module, shape, itemsize: int, bound: int = DEFAULT_BOUND) -> Plan | None:
    """Tiles for running ``module`` on an input of ``shape`` (N, C, H, W), or None for the
    whole-image run: when its largest activation is within ``bound`` bytes, when a layer
    is of a kind whose dependencies are unknown, or when the output is empty."""
    layers = axes(module)
    if layers is None:
        return None
    batch, channels, h, w = (int(s) for s in shape)
    rows = [ax[0] for ax in layers]
    cols = [ax[1] for ax in layers]
    sh, sw = _sizes(rows, h), _sizes(cols, w)
    if min(sh[-1], sw[-1]) <= 0 or min(h, w) <= 0:
        return None
    whole = largest_activation(layers, sh, sw, channels, batch, itemsize)
    if whole <= bound:
        return None
    # split the output into nearly equal parts on whole input units (a tile edge of g_s
    # on a latent's 16 pixels), growing the count of the longer side by a quarter until
    # the largest tile's activations fit (or tiles are one unit: the bound is then not
    # reachable); a quarter keeps tiles within 25 % of the largest that fit, in a few
    # steps
    gh = sh[-1] // h if sh[-1] >= h else 1
    gw = sw[-1] // w if sw[-1] >= w else 1
    units_h, units_w = -(-sh[-1] // gh), -(-sw[-1] // gw)
    nh = nw = 1

    def spans(axis_layers, sizes, count, granule):
        edges = _edges(sizes[-1], count, granule)
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            if a < b:
                s = _span(axis_layers, sizes, a, b)
                if s is None:
                    return None
                out.append(s)
        return tuple(out)

    rs, cs = spans(rows, sh, nh, gh), spans(cols, sw, nw, gw)
    while True:
        if rs is None or cs is None:
            return None
        eh = [max(s.extents[i] for s in rs) for i in range(len(sh))]
        ew = [max(s.extents[i] for s in cs) for i in range(len(sw))]
        largest = largest_activation(layers, eh, ew, channels, batch, itemsize)
        if largest <= bound or (nh >= units_h and nw >= units_w):
            break
        tile_h, tile_w = -(-units_h // nh) * gh, -(-units_w // nw) * gw
        if (tile_h >= tile_w and nh < units_h) or nw >= units_w:
            nh = min(units_h, max(nh + 1, -(-nh * 5 // 4)))
            rs = spans(rows, sh, nh, gh)
        else:
            nw = min(units_w, max(nw + 1, -(-nw * 5 // 4)))
            cs = spans(cols, sw, nw, gw)
    out_channels = channels
    for _, _, c in layers:
        out_channels = out_channels if c is None else c
    return Plan((batch, out_channels, sh[-1], sw[-1]), rs, cs, largest)


def run(module: nn.Module, x: torch.Tensor, the_plan: Plan, prepare=lambda t: t) -> torch.Tensor:
    """``module(x)`` computed tile by tile as ``the_plan`` says, into one contiguous NCHW
    output. ``prepare`` turns each input crop into what the module runs on (a memory
    format): the whole-image run's own."""
    out = x.new_empty(the_plan.out_shape)
    for r in the_plan.row_spans:
        for c in the_plan.col_spans:
            y = module(prepare(x[:, :, r.c:r.e, c.c:c.e]))
            out[:, :, r.a:r.b, c.a:c.b] = y[:, :, r.a - r.offset:r.b - r.offset,
                                            c.a - c.offset:c.b - c.offset]
            del y
    return out
