"""The integer synthesis: g_s converted once, at release time, to the integer network
of docs/integer.md ("The synthesis network"), and the decoder weights file that holds it.

A file written with integer synthesis (container format 4, synthesis path 1) decodes
to the same pixels on every machine: the engine reads the release's decoder file
(``<stem>.decoder.safetensors``, docs/format.md "Decoder weights") and runs the
entropy decoding, h_s, the joint model's walk and g_s in integers. This module makes
those files; nothing here runs at decode time, and the float transforms stay the
trained ones (the conversion is rerun when they change).

Conversion (:func:`synthesis_tensors`), per tensor grid as for the probability path
(lic_core.zoo.integer): calibrate the largest magnitude of every activation on
calibration images at every quality, give int16 activations the most fractional bits
that keep 1.25x that maximum in range, quantise each layer's weights per output
channel to at most 2^14 with an accumulator bound (4x the calibrated pre-activation,
within 2^31), and derive biases and shifts. The inverse GDN's squares take the shift
that puts 1.25x their calibrated maximum within int16, and its norm the finest even
grid the accumulator allows (even, so that its square root has an integer grid).
The last layer's outputs are pixels: weights and bias times 255, grid 0, clamped to
0..255, which is ``round(255 clamp(x_hat, 0, 1))``, the float decoder's rounding.

In a variable-rate file the gains fold into g_s's first layer, so that layer and the
latent's grid are converted per quality (tensors under ``q<Q>.``) and the others once
(calibrated over every quality).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lic_core.errors import InvalidArgumentError
from lic_core.models.layers import GDN

from .catalog import decoder_file_name  # noqa: F401  (where decoder files are named)

__all__ = ["DECODER_FORMAT", "SYNTHESIS_SPEC", "synthesis_tensors", "decoder_tensors", "prior_tensors",
           "table_tensors", "synthesis_input", "reference_synthesis"]

#: the ``format`` metadata of a decoder weights file
DECODER_FORMAT = "lic-core-decoder/1"
#: the version of docs/integer.md that defines the synthesis
SYNTHESIS_SPEC = "2"
_INT16_MAX = 32767
_HEADROOM = 1.25
#: an inverse GDN's square root reads n * 2^16: sixteen more bits of the root
_ROOT_BITS = 16


def _frac_bits(max_abs: float, limit: float = _INT16_MAX) -> int:
    """Most fractional bits (0..24) keeping 1.25 x max_abs within +-limit."""
    if max_abs <= 0:
        return 14
    return int(max(0, min(24, math.floor(math.log2(limit / (_HEADROOM * max_abs))))))


@dataclass
class _Quantised:
    weight: np.ndarray   # int16, the float weight's layout
    bias: np.ndarray     # int32
    shift: np.ndarray    # uint8
    f_out: np.ndarray    # the output grid per channel


def _quantise(w: np.ndarray, b: np.ndarray, out_axis: int, f_in: int, f_out, acc_max: np.ndarray,
              name: str) -> _Quantised:
    """Per output channel o: the power of two 2^e putting the largest |w| at most 2^14,
    lowered until 4x the calibrated |pre-activation| plus the bias fits 31 bits; then
    shift = e + f_in - f_out[o]. ``f_out=None`` asks for the finest even grid the
    accumulator allows (an inverse GDN's norm: shift 0 or 1). Every step is exact in
    float64 (powers of two, one rounding)."""
    cout = w.shape[out_axis]
    wo = np.moveaxis(w, out_axis, 0).reshape(cout, -1)
    q = np.zeros_like(wo)
    bias = np.zeros(cout, dtype=np.int64)
    shift = np.zeros(cout, dtype=np.int64)
    grid = np.zeros(cout, dtype=np.int64)
    for o in range(cout):
        wmax = float(np.abs(wo[o]).max(initial=0.0))
        e_w = math.floor(math.log2(16384.0 / wmax)) if wmax > 0 else 40
        bound = 4.0 * float(acc_max[o]) + abs(float(b[o])) + 2.0 ** -f_in
        e_acc = math.floor(math.log2(2.0 ** 31 / bound)) - f_in
        e = min(e_w, e_acc, 40)
        fo = (e + f_in) // 2 * 2 if f_out is None else int(np.broadcast_to(f_out, (cout,))[o])
        s = e + f_in - fo
        if s < 0:
            e, s = fo - f_in, 0
        if s > 31:
            e, s = 31 + fo - f_in, 31
        q[o] = np.round(wo[o] * 2.0 ** e)
        bias[o] = int(np.round(float(b[o]) * 2.0 ** (e + f_in)))
        shift[o], grid[o] = s, fo
        if np.abs(q[o]).max(initial=0) > _INT16_MAX or abs(bias[o]) >= 2 ** 31:
            raise InvalidArgumentError(f"cannot convert {name}: output channel {o} needs weights or a bias "
                                       f"beyond int16/int32")
    weight = np.moveaxis(q.reshape(np.moveaxis(w, out_axis, 0).shape), 0, out_axis)
    return _Quantised(weight.astype(np.int16), bias.astype(np.int32), shift.astype(np.uint8), grid)


def _check_synthesis(model) -> list[nn.Module]:
    """g_s's modules, checked to be what the integer synthesis implements: 'same'
    stride-2 transposed convolutions (k odd, output padding 1) alternating with inverse
    GDNs, the last a transposed convolution to 3 channels."""
    layers = list(model.g_s)
    if not layers or len(layers) % 2 == 0:
        raise InvalidArgumentError(f"{model.name}: g_s has {len(layers)} modules, not deconv (igdn deconv)*")
    for i, m in enumerate(layers):
        if i % 2 == 0:
            k = m.kernel_size[0] if isinstance(m, nn.ConvTranspose2d) else 0
            if (not isinstance(m, nn.ConvTranspose2d) or m.stride != (2, 2) or k % 2 == 0
                    or m.padding != ((k - 1) // 2,) * 2 or m.output_padding != (1, 1)):
                raise InvalidArgumentError(f"{model.name}: g_s.{i} is not a 'same' stride-2 transposed convolution")
        elif not (isinstance(m, GDN) and m.inverse):
            raise InvalidArgumentError(f"{model.name}: g_s.{i} is not an inverse GDN")
    if layers[-1].out_channels != 3:
        raise InvalidArgumentError(f"{model.name}: g_s ends in {layers[-1].out_channels} channels, not 3")
    return layers


def _gdn_parameters(m: GDN) -> tuple[np.ndarray, np.ndarray]:
    beta = m.beta_reparam(m.beta).detach().double().numpy()
    gamma = m.gamma_reparam(m.gamma).detach().double().numpy()
    return beta, gamma


class _Ranges:
    """Largest |value| per channel of the float synthesis's tensors over calibration runs."""

    def __init__(self):
        self.stats: dict[str, np.ndarray] = {}

    def add(self, key: str, t: torch.Tensor) -> None:
        m = t.detach().double().abs().amax(dim=(0, 2, 3)).numpy()
        old = self.stats.get(key)
        self.stats[key] = m if old is None else np.maximum(old, m)

    def max(self, key: str) -> float:
        return float(self.stats[key].max())


@torch.no_grad()
def _calibrate(model, latents: list[torch.Tensor], ranges: _Ranges) -> None:
    """Run the float g_s on the latents ŷ (1 x M x h x w each) and record every range."""
    for y in latents:
        h = y.double()
        for i, m in enumerate(model.g_s):
            if isinstance(m, GDN):
                beta, gamma = _gdn_parameters(m)
                c = len(beta)
                sq = h * h
                norm = F.conv2d(sq, torch.from_numpy(gamma).reshape(c, c, 1, 1), torch.from_numpy(beta))
                ranges.add(f"{i}.square", sq)
                ranges.add(f"{i}.norm", norm)
                h = h * torch.sqrt(norm)
            else:
                h = F.conv_transpose2d(h, m.weight.double(), m.bias.double(), stride=2, padding=m.padding,
                                       output_padding=1)
            ranges.add(f"{i}.out", h)


def synthesis_tensors(models: dict[int, object], latents: dict[int, list[torch.Tensor]],
                      mean_frac: int | None = None) -> dict[str, np.ndarray]:
    """The integer synthesis of ``models`` ({quality: model}, one family, the same g_s but
    for the first layer, which carries the quality's gains), calibrated on ``latents``
    ({quality: [ŷ as the decoder rebuilds it, 1 x M x h x w]}). Returns the decoder
    file's ``synthesis.*`` tensors: shared ones, and ``q<Q>.synthesis.*`` for what
    differs by quality (with one quality, everything is shared). ``mean_frac``: the
    mean families' grid of ŷ (Fm; the synthesis input grid is at most it)."""
    qualities = sorted(models)
    if not qualities:
        raise InvalidArgumentError("no models to convert")
    first = models[qualities[0]]
    layers = _check_synthesis(first)
    for q in qualities[1:]:
        other = dict(models[q].g_s.named_parameters())
        for name, p in first.g_s.named_parameters():
            if not name.startswith("0.") and not torch.equal(p, other[name]):
                raise InvalidArgumentError(f"quality {q}'s g_s.{name} differs from quality {qualities[0]}'s: "
                                           f"only g_s's first layer may differ between qualities")
    ranges = _Ranges()
    for q in qualities:
        _calibrate(models[q], latents[q], ranges)
    per_quality = len(qualities) > 1
    out: dict[str, np.ndarray] = {}
    grids = {i: _frac_bits(ranges.max(f"{i}.out")) for i in range(len(layers)) if i % 2 == 0}
    for i in range(len(layers)):  # an inverse GDN's output grid: what it feeds the next layer
        if i % 2 == 1:
            grids[i] = _frac_bits(ranges.max(f"{i}.out"))

    def put(q: int, key: str, value, quality_specific: bool) -> None:
        name = f"q{q}.synthesis.{key}" if quality_specific and per_quality else f"synthesis.{key}"
        out[name] = np.ascontiguousarray(value)

    for q in qualities:
        m = models[q]
        y_max = max(float(y.abs().max()) for y in latents[q])
        f_y = _frac_bits(y_max)
        if mean_frac is not None:
            f_y = min(f_y, int(mean_frac))
        put(q, "input_frac", np.array([f_y], np.int32), True)
        if m.name == "factorized":  # ŷ = symbol + median: the median on the input grid
            medians = m.entropy_bottleneck.medians().detach().double().numpy().reshape(-1)
            put(q, "input_offset", np.round(medians * 2.0 ** f_y).astype(np.int32), True)
        f = f_y
        for i, layer in enumerate(m.g_s):
            if i > 0 and q != qualities[0]:
                break  # shared from here on: converted once, with the first quality
            last = i == len(layers) - 1
            if i % 2 == 0:
                w = layer.weight.detach().double().numpy()
                b = layer.bias.detach().double().numpy()
                acc = ranges.stats[f"{i}.out"]
                f_out = grids[i]
                if last:  # pixels: round(255 x_hat) on grid 0
                    w, b, acc, f_out = w * 255.0, b * 255.0, acc * 255.0, 0
                qd = _quantise(w, b, 1, f, np.full(w.shape[1], f_out), acc, f"g_s.{i}")
                put(q, f"{i}.weight", qd.weight, i == 0)
                put(q, f"{i}.bias", qd.bias, i == 0)
                put(q, f"{i}.shift", qd.shift, i == 0)
                f = f_out
            else:
                beta, gamma = _gdn_parameters(layer)
                sq_max = ranges.max(f"{i}.square") * 4.0 ** f
                a = max(0, math.ceil(math.log2(sq_max * _HEADROOM / _INT16_MAX))) if sq_max > 0 else 0
                a = min(a, 30)
                qd = _quantise(gamma, beta, 0, 2 * f - a, None, ranges.stats[f"{i}.norm"], f"g_s.{i}")
                f_o = grids[i]
                out_shift = f + (qd.f_out + _ROOT_BITS) // 2 - f_o
                if (out_shift < 0).any() or (out_shift > 62).any():
                    raise InvalidArgumentError(f"cannot convert g_s.{i}: output shifts {out_shift.tolist()} "
                                               f"leave 0..62")
                put(q, f"{i}.weight", qd.weight, False)
                put(q, f"{i}.bias", qd.bias, False)
                put(q, f"{i}.shift", qd.shift, False)
                put(q, f"{i}.square_shift", np.array([a], np.int32), False)
                put(q, f"{i}.out_shift", out_shift.astype(np.uint8), False)
                f = f_o
    return out


def table_tensors(prefix: str, entropy_model) -> dict[str, np.ndarray]:
    """An entropy model's coding tables as the decoder file stores them."""
    cdf, length, offset = entropy_model.tables()
    return {f"{prefix}.cdf": np.ascontiguousarray(cdf, np.int32),
            f"{prefix}.cdf_length": np.ascontiguousarray(length, np.int32),
            f"{prefix}.offset": np.ascontiguousarray(offset, np.int32)}


def prior_tensors(model) -> dict[str, np.ndarray]:
    """The integer probability path (model.integer) under ``prior.``, each layer under
    its plan's dotted name, as docs/format.md ("Decoder weights") names them:
    ``prior.h_s.0.weight`` for ``layers.h_s_0.weight``, ``prior.context.weight``,
    ``prior.entropy_parameters.4.bias``, and the space-channel model's
    ``prior.channel_context.<i>.0``, ``prior.spatial_context.<g>.<j>`` (``j`` = 0..2
    for groups 0 and 1, 0 after: one per step after the first) and
    ``prior.entropy_parameters.<g>.{0,2,4}``."""
    if model.integer is None:
        raise InvalidArgumentError(f"{model.name} has no integer probability path to store")
    dotted = {f"layers.{p.name.replace('.', '_')}": p.name
              for plans in model.integer.plans.values() for p in plans}
    out = {}
    for key, value in model.integer.state_dict().items():
        layer, _, field = key.rpartition(".")
        name = f"{dotted[layer]}.{field}" if layer in dotted else key
        out[f"prior.{name}"] = np.ascontiguousarray(value.detach().cpu().numpy())
    return out


def decoder_tensors(models: dict[int, object], latents: dict[int, list[torch.Tensor]]) -> dict[str, np.ndarray]:
    """Every tensor of a decoder file for ``models`` ({quality: model} of one family and
    weights file): coding tables, the integer prior, the integer synthesis."""
    qualities = sorted(models)
    first = models[qualities[0]]
    shared = {}
    if first.name == "factorized":
        if len(qualities) != 1:
            raise InvalidArgumentError("factorized weights hold one quality per file")
        shared.update(table_tensors("bottleneck", first.entropy_bottleneck))
        return {**shared, **synthesis_tensors(models, latents)}
    shared.update(table_tensors("bottleneck", first.entropy_bottleneck))
    shared.update(table_tensors("conditional", first.gaussian_conditional))
    shared.update(prior_tensors(first))
    for q in qualities[1:]:  # the probability side is shared by every quality of the file
        other = {**table_tensors("bottleneck", models[q].entropy_bottleneck),
                 **table_tensors("conditional", models[q].gaussian_conditional), **prior_tensors(models[q])}
        for name, value in other.items():
            if not np.array_equal(value, shared[name]):
                raise InvalidArgumentError(f"quality {q}'s {name} differs from quality {qualities[0]}'s")
    has_means = first.name != "hyperprior"
    mean_frac = int(first.integer.mean_frac[0]) if has_means else None
    return {**shared, **synthesis_tensors(models, latents, mean_frac=mean_frac)}


def synthesis_input(model, y_hat: torch.Tensor, input_frac: int, input_offset, mean_frac: int) -> np.ndarray:
    """The integer synthesis's input (docs/integer.md, "Synthesis input") for the ŷ a
    decoder rebuilds (1 x M x h x w, float): h x w x M int16, exactly what the engine
    forms from the stream's symbols and means. ŷ is exact in float: symbol + median for
    the factorized model (the symbol is recovered by rounding), the symbol itself for
    the hyperprior, symbol + mu_q / 2^Fm for the mean families (times 2^Fm, an integer)."""
    y = y_hat.detach()[0].double().cpu().numpy().transpose(1, 2, 0)
    f_y = int(input_frac)
    if model.name == "factorized":
        medians = model.entropy_bottleneck.medians().detach().double().cpu().numpy().reshape(-1)
        v = np.round(y - medians) * 2.0 ** f_y + np.asarray(input_offset, dtype=np.float64)
    elif model.name == "hyperprior":
        v = y * 2.0 ** f_y
    else:
        shift = int(mean_frac) - f_y
        fine = np.round(y * 2.0 ** int(mean_frac))  # symbol 2^Fm + mu_q, exactly
        v = np.floor((fine + (2.0 ** (shift - 1) if shift > 0 else 0.0)) / 2.0 ** shift)
    return np.ascontiguousarray(np.clip(v, -32768, 32767).astype(np.int16))


def reference_synthesis(tensors: dict[str, np.ndarray], quality: int, y_int16: np.ndarray) -> np.ndarray:
    """The integer synthesis of ``tensors`` for ``quality`` on an int16 latent (h x w x M),
    through lic_core.coding.intnet: H x W x 3 uint8. For checking a conversion."""
    from lic_core.coding import intnet

    def get(name):
        return tensors.get(f"q{quality}.synthesis.{name}", tensors.get(f"synthesis.{name}"))

    layers, i = [], 0
    while get(f"{i}.weight") is not None:
        if i % 2 == 0:
            last = get(f"{i + 1}.weight") is None
            layers.append(intnet.Layer("deconv", get(f"{i}.weight"), get(f"{i}.bias"), get(f"{i}.shift"), "none",
                                       8 if last else 16))
        else:
            layers.append(intnet.Layer("igdn", get(f"{i}.weight"), get(f"{i}.bias"), get(f"{i}.shift"),
                                       square_shift=int(get(f"{i}.square_shift")[0]),
                                       out_shift=get(f"{i}.out_shift")))
        i += 1
    return intnet.Network(layers).run(y_int16)
