"""The integer probability path of the hyperprior families (docs/integer.md).

:class:`IntegerPrior` holds the integer tensors (state-dict prefix ``integer.``) that
compute, exactly and identically on every machine, what the entropy coder depends on:
the scale indexes and means of ŷ given the symbols of ẑ (and, for the joint model, the
symbols of ŷ already coded). The arithmetic runs in the engine
(:mod:`lic_core.coding.intnet`); this module only lays out the tensors, feeds the engine
and converts float weights once, at release time (:func:`convert`).

A model carries an IntegerPrior when its weights do (zoo release zoo-v4 on); it then
codes with it, and writes files whose header says so (docs/format.md). Training never
uses it: the float networks stay the trained ones, and :func:`convert` is rerun
when they change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lic_core.errors import InvalidArgumentError, WeightsError

__all__ = ["IntegerPrior", "LayerPlan", "plan_layers", "convert"]

#: torch's LeakyReLU slope the integer path approximates by 41/4096
_LEAKY_SLOPE = 0.01
_INT16_MAX = 32767
#: most fractional bits of any grid: keeps every conversion step exact in float64
_MAX_FRAC = 24
#: fractional bits of the scales and of the mean-scale model's means (32-bit outputs)
_OUTPUT_FRAC = 12


@dataclass(frozen=True)
class LayerPlan:
    """One integer layer: its state-dict name (under ``integer.``), the float module it
    replaces (its name in the model), its geometry and activation."""
    name: str
    source: str
    kind: str        # "conv", "deconv" or "dense"
    cin: int
    cout: int
    k: int
    act: str         # "none", "relu" or "leaky"
    out_bits: int    # 16 or 32


def _sequential_plan(prefix: str, layers: nn.Sequential, last_bits: int, dense: bool = False) -> list[LayerPlan]:
    """Plans for the (transposed) convolutions of ``layers``, each taking the activation
    that follows it."""
    plans = []
    modules = list(layers)
    for i, m in enumerate(modules):
        if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(nxt, nn.ReLU):
            act = "relu"
        elif isinstance(nxt, nn.LeakyReLU):
            if abs(nxt.negative_slope - _LEAKY_SLOPE) > 1e-12:
                raise InvalidArgumentError(f"{prefix}.{i + 1}: the integer path implements "
                                           f"LeakyReLU({_LEAKY_SLOPE}), not {nxt.negative_slope}")
            act = "leaky"
        else:
            act = "none"
        k = m.kernel_size[0]
        if isinstance(m, nn.ConvTranspose2d):
            if m.stride != (2, 2) or m.padding != ((k - 1) // 2,) * 2 or m.output_padding != (1, 1):
                raise InvalidArgumentError(f"{prefix}.{i}: only stride-2 'same' transposed convolutions")
            kind, cin, cout = "deconv", m.in_channels, m.out_channels
        else:
            if m.stride != (1, 1) or m.padding != ((k - 1) // 2,) * 2:
                raise InvalidArgumentError(f"{prefix}.{i}: only stride-1 'same' convolutions")
            kind, cin, cout = ("dense" if dense else "conv"), m.in_channels, m.out_channels
        plans.append(LayerPlan(f"{prefix}.{i}", f"{prefix}.{i}", kind, cin, cout, k, act, 16))
    if not plans:
        raise InvalidArgumentError(f"{prefix} has no convolution")
    plans[-1] = LayerPlan(**{**plans[-1].__dict__, "out_bits": last_bits})
    return plans


def plan_layers(model) -> dict[str, list[LayerPlan]]:
    """{"h_s": [...]} and, for the joint model, "context" and "entropy_parameters"; for
    the space-channel model one network per context module (space_channel_integer)."""
    if hasattr(model, "integer_plan"):  # a family that plans its own networks
        return model.integer_plan(_sequential_plan)
    joint = hasattr(model, "context_prediction")
    plans = {"h_s": _sequential_plan("h_s", model.h_s, 16 if joint else 32)}
    if joint:
        M = model.M
        plans["context"] = [LayerPlan("context", "context_prediction", "dense", 12 * M, 2 * M, 1,
                                      "none", 16)]
        plans["entropy_parameters"] = _sequential_plan("entropy_parameters",
                                                       model.entropy_parameters, 32, dense=True)
    return plans


def _weight_shape(p: LayerPlan) -> tuple[int, ...]:
    if p.kind == "dense":
        return (p.cout, p.cin)
    if p.kind == "deconv":
        return (p.cin, p.cout, p.k, p.k)
    return (p.cout, p.cin, p.k, p.k)


class IntegerPrior(nn.Module):
    """The integer tensors of one model (docs/integer.md) and the engine objects built
    from them. Buffers only: nothing here is trained."""

    def __init__(self, model):
        super().__init__()
        self.plans = plan_layers(model)
        self.M = model.M
        self.joint = "context" in self.plans
        levels = int(model.gaussian_conditional.scale_table.numel())
        for scalar in ("z_frac", "sigma_frac", "mean_frac"):
            self.register_buffer(scalar, torch.zeros(1, dtype=torch.int32))
        self.register_buffer("z_offset", torch.zeros(model.N, dtype=torch.int32))
        self.register_buffer("scale_thresholds", torch.zeros(max(levels - 1, 0), dtype=torch.int32))
        self.layers = nn.ModuleDict()
        for group in self.plans.values():
            for p in group:
                layer = nn.Module()
                layer.register_buffer("weight", torch.zeros(_weight_shape(p), dtype=torch.int16))
                layer.register_buffer("bias", torch.zeros(p.cout, dtype=torch.int32))
                layer.register_buffer("shift", torch.zeros(p.cout, dtype=torch.uint8))
                self.layers[p.name.replace(".", "_")] = layer
        self._engine = None
        self._networks = None

    # ----------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "scale_thresholds"
        if key in state_dict:  # as long as the file's scale table
            self.scale_thresholds = torch.zeros_like(state_dict[key], dtype=torch.int32)
        self._engine = None
        self._networks = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_state(self, state, source: str, levels: int) -> None:
        """Every ``integer.*`` tensor of a state dict, checked before any is used (issue 21
        point 18: a defect found at load, not at the first compress): present, holding
        integers, of the shape this model's layers need, and within what the engine
        takes. WeightsError naming the tensor otherwise. ``levels`` is the scale-table
        length (the thresholds are one fewer).

        * ``z_frac``, ``sigma_frac``, ``mean_frac``: shape (1,), 0.._MAX_FRAC;
        * ``z_offset``: (N,), int32; ``scale_thresholds``: (levels − 1,), int32, strictly
          increasing (the engine's scale-index rule);
        * each layer's ``weight`` (its plan's shape, int16), ``bias`` (C_out,), int32, and
          ``shift`` (C_out,), 0..31."""
        def tensor(name: str, shape: tuple, lo: int, hi: int):
            key = f"integer.{name}"
            t = state.get(key)
            if not isinstance(t, torch.Tensor):
                raise WeightsError(f"{source}: {key} is missing")
            if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
                raise WeightsError(f"{source}: {key} must hold integers, got {t.dtype}")
            if tuple(t.shape) != shape:
                raise WeightsError(f"{source}: {key} has shape {tuple(t.shape)}, expected {shape}")
            if t.numel():
                a, b = int(t.min()), int(t.max())
                if a < lo or b > hi:
                    raise WeightsError(f"{source}: {key} holds values in [{a}, {b}], outside "
                                       f"{lo}..{hi}")
            return t.long()

        int16, int32 = (-(1 << 15), (1 << 15) - 1), (-(1 << 31), (1 << 31) - 1)
        for name in ("z_frac", "sigma_frac", "mean_frac"):
            t = state.get(f"integer.{name}")
            if isinstance(t, torch.Tensor) and t.numel() == 1 and not t.dtype.is_floating_point:
                value = int(t.reshape(-1)[0])
                if not 0 <= value <= _MAX_FRAC:
                    raise WeightsError(f"{source}: integer.{name} is {value}, outside 0..{_MAX_FRAC}")
            tensor(name, (1,), 0, _MAX_FRAC)
        tensor("z_offset", tuple(self.z_offset.shape), *int32)
        raw = state.get("integer.scale_thresholds")
        if isinstance(raw, torch.Tensor) and raw.dim() != 1:
            raise WeightsError(f"{source}: integer.scale_thresholds must be 1-D (one threshold "
                               f"between two scale levels), got shape {tuple(raw.shape)}")
        if isinstance(raw, torch.Tensor) and raw.numel() != levels - 1:
            raise WeightsError(f"{source}: integer.scale_thresholds has {raw.numel()} entries; "
                               f"the scale table's {levels} levels need {levels - 1}")
        t = tensor("scale_thresholds", (max(levels - 1, 0),), *int32)
        if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
            raise WeightsError(f"{source}: integer.scale_thresholds must increase strictly")
        for group in self.plans.values():
            for p in group:
                key = f"layers.{p.name.replace('.', '_')}"
                tensor(f"{key}.weight", _weight_shape(p), *int16)
                tensor(f"{key}.bias", (p.cout,), *int32)
                shift = state.get(f"integer.{key}.shift")
                if isinstance(shift, torch.Tensor) and shift.numel() \
                        and not shift.dtype.is_floating_point and int(shift.max()) > 31:
                    raise WeightsError(f"{source}: integer.{key}.shift exceeds 31")
                tensor(f"{key}.shift", (p.cout,), 0, 31)

    # ----------------------------------------------------------------- the engine
    def engine(self):
        """(h_s network, joint model or None), built once from the buffers."""
        if self._engine is None:
            from lic_core.coding import intnet

            def layer(p: LayerPlan):
                b = self.layers[p.name.replace(".", "_")]
                return intnet.Layer(p.kind, b.weight.numpy(), b.bias.numpy(), b.shift.numpy(),
                                    p.act, p.out_bits)

            h_s = intnet.Network([layer(p) for p in self.plans["h_s"]])
            joint = None
            if self.joint:
                joint = intnet.JointModel(layer(self.plans["context"][0]),
                                          [layer(p) for p in self.plans["entropy_parameters"]],
                                          self.scale_thresholds.numpy(), int(self.mean_frac[0]))
            self._engine = (h_s, joint)
        return self._engine

    def networks(self) -> dict:
        """{plan name: intnet.Network}, every network of the plan bound once in the engine
        (the space-channel model's walk runs them one by one)."""
        if getattr(self, "_networks", None) is None:
            from lic_core.coding import intnet
            self._networks = {
                key: intnet.Network([intnet.Layer(p.kind, *(getattr(self.layers[p.name.replace(".", "_")], t).numpy()
                                                            for t in ("weight", "bias", "shift")),
                                                  p.act, p.out_bits) for p in plans])
                for key, plans in self.plans.items()}
        return self._networks

    def hyper_input(self, z_symbols: np.ndarray) -> np.ndarray:
        """ẑ's symbols (N×h×w) as h_s's int16 input (h×w×N): sat16(s·2^Fz + offset)."""
        s = np.asarray(z_symbols, dtype=np.int64).transpose(1, 2, 0)
        q = s * (1 << int(self.z_frac[0])) + self.z_offset.numpy().astype(np.int64)
        return np.ascontiguousarray(np.clip(q, -32768, _INT16_MAX).astype(np.int16))

    def hyper_output(self, z_symbols: np.ndarray) -> np.ndarray:
        """h_s on ẑ: h×w×C (int32 for the hyperpriors' σ (and μ), int16 joint params)."""
        from lic_core.coding import intnet
        h_s, _ = self.engine()
        # The float path's threads (torch's count); the integers do not depend on it.
        threads = max(1, min(torch.get_num_threads(), intnet.MAX_THREADS))
        return h_s.run(self.hyper_input(z_symbols), threads=threads)

    def scale_indexes(self, sigma_q: np.ndarray) -> np.ndarray:
        from lic_core.coding import intnet
        return intnet.scale_indexes(sigma_q, self.scale_thresholds.numpy())

    def means_to_float(self, mu_q: np.ndarray) -> torch.Tensor:
        """μ_q / 2^Fm as float32 (exact for |μ_q| < 2^24; a division by a power of two)."""
        return torch.from_numpy((np.asarray(mu_q, dtype=np.float64)
                                 / float(1 << int(self.mean_frac[0]))).astype(np.float32))

    def gaussian_parameters(self, z_symbols: np.ndarray, means: bool):
        """Scale indexes (M×h×w int32) and μ (1×M×h×w float32, or None) for the
        hyperprior and mean-scale families."""
        out = self.hyper_output(z_symbols)  # h×w×C
        M = self.M
        indexes = np.ascontiguousarray(self.scale_indexes(out[..., :M]).transpose(2, 0, 1))
        if not means:
            return indexes, None
        mu = self.means_to_float(np.ascontiguousarray(out[..., M:2 * M].transpose(2, 0, 1)))
        return indexes, mu.unsqueeze(0)


# --------------------------------------------------------------------------- conversion

def _frac_bits(max_abs: float, limit: int = _INT16_MAX, headroom: float = 1.25) -> int:
    """Most fractional bits that keep headroom·max_abs within ±limit (0..14).

    Headroom 1.25 was measured best on the joint model (file sizes of four Kodak crops
    at q1/q4/q8 against the float path: +0.15/+0.02/+0.00 %, against +0.47/+0.11/+0.03 %
    at 2 and +0.20/+0.04/+0.03 % at 1, where calibrated maxima already saturate)."""
    if max_abs <= 0:
        return 14
    return int(max(0, min(14, math.floor(math.log2(limit / (headroom * max_abs))))))


def _quantize_layer(w: np.ndarray, b: np.ndarray, out_axis: int, f_in: int, f_out: np.ndarray,
                    acc_max: np.ndarray, name: str):
    """(weight int16, bias int32, shift uint8) for float ``w``, ``b`` (float64): per output
    channel o a power of two 2^e with the largest |w·2^e| ≤ 2^14, lowered until 4× the
    calibrated |pre-activation| (``acc_max``, real units) fits 31 bits; shift = e + F_in −
    F_out[o]. Every step is exact in float64 (powers of two, one rounding)."""
    cout = w.shape[out_axis]
    wo = np.moveaxis(w, out_axis, 0).reshape(cout, -1)
    q = np.zeros_like(wo)
    bias = np.zeros(cout, dtype=np.int64)
    shift = np.zeros(cout, dtype=np.int64)
    for o in range(cout):
        wmax = float(np.abs(wo[o]).max(initial=0.0))
        e_w = math.floor(math.log2(16384.0 / wmax)) if wmax > 0 else 30
        bound = 4.0 * float(acc_max[o]) + abs(float(b[o])) + 2.0 ** -f_in
        e_acc = math.floor(math.log2(2.0 ** 31 / bound)) - f_in
        e = min(e_w, e_acc, 30)
        s = e + f_in - int(f_out[o])
        if s < 0:
            e, s = int(f_out[o]) - f_in, 0
        if s > 31:
            e, s = 31 + int(f_out[o]) - f_in, 31
        q[o] = np.round(wo[o] * 2.0 ** e)
        bias[o] = int(np.round(float(b[o]) * 2.0 ** (e + f_in)))
        shift[o] = s
        if np.abs(q[o]).max(initial=0) > _INT16_MAX or abs(bias[o]) >= 2 ** 31:
            raise InvalidArgumentError(f"cannot convert {name}: output channel {o} needs "
                                       f"weights or a bias beyond int16/int32")
    weight = np.moveaxis(q.reshape(np.moveaxis(w, out_axis, 0).shape), 0, out_axis)
    return weight.astype(np.int16), bias.astype(np.int32), shift.astype(np.uint8)


class _Recorder:
    """Largest |value| per channel of named tensors over calibration forwards."""

    def __init__(self):
        self.stats: dict[str, np.ndarray] = {}

    def add(self, name: str, x: torch.Tensor, channel_dim: int = 1) -> None:
        x = x.detach().double()
        dims = [d for d in range(x.dim()) if d != channel_dim]
        m = x.abs().amax(dim=dims).numpy() if dims else x.abs().numpy()
        old = self.stats.get(name)
        self.stats[name] = m if old is None else np.maximum(old, m)

    def max(self, name: str) -> float:
        return float(self.stats[name].max())


def _calibrate(model, images, qualities_models) -> _Recorder:
    """Run the float probability side on ``images`` (1×3×H×W each) under every model in
    ``qualities_models`` (the same h_s at several latent gains) and record ranges."""
    rec = _Recorder()
    joint = hasattr(model, "context_prediction")
    for m in qualities_models:
        for x in images:
            x = m.pad(x)
            y = m.analysis(x)
            z = m.h_a(m.hyper_analysis_input(y))
            symbols, _ = m.entropy_bottleneck.symbols_and_indexes(z)
            z_hat = m.entropy_bottleneck.dequantize_symbols(symbols)
            rec.add("z_hat", z_hat)
            h = z_hat
            for i, layer in enumerate(m.h_s):
                h = layer(h)
                if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                    rec.add(f"h_s.{i}.pre", h)
                else:
                    rec.add(f"h_s.{i - 1}.post", h)
            rec.add("h_s.out", h)
            if joint:
                y_hat = torch.round(y)
                rec.add("y_hat", y_hat)
                ctx = m.context_prediction(y_hat)
                rec.add("context.pre", ctx)
                e = torch.cat((h, ctx), dim=1)
                for i, layer in enumerate(m.entropy_parameters):
                    e = layer(e)
                    if isinstance(layer, nn.Conv2d):
                        rec.add(f"entropy_parameters.{i}.pre", e)
                    else:
                        rec.add(f"entropy_parameters.{i - 1}.post", e)
                rec.add("entropy_parameters.out", e)
                # μ meets ŷ in the context grid: y_hat's range covers symbol + μ
    return rec


@torch.no_grad()
def convert(model, images, qualities_models=None) -> IntegerPrior:
    """Derive ``model``'s IntegerPrior from its float networks, calibrated on ``images``
    (list of 1×3×H×W float tensors) run through every model of ``qualities_models``
    (default: ``model`` alone; a variable-rate release passes each quality, as they share
    the probability networks). Attaches and returns it."""
    if hasattr(model, "convert_integer"):  # a family that converts its own networks
        return model.convert_integer(images, qualities_models)
    qualities_models = qualities_models or [model]
    rec = _calibrate(model, images, qualities_models)
    prior = IntegerPrior(model)
    plans = prior.plans
    M = model.M
    joint = prior.joint
    f_z = _frac_bits(rec.max("z_hat"))
    medians = model.entropy_bottleneck.medians().detach().double().numpy().reshape(-1)
    prior.z_frac[0] = f_z
    prior.z_offset.copy_(torch.from_numpy(np.round(medians * 2.0 ** f_z).astype(np.int32)))

    if joint:
        # the context grid (ŷ) and the means share Fm; h_s's output and the context's
        # are concatenated, so they share one grid too
        f_m = _frac_bits(rec.max("y_hat") + 1.0)
        last_hs = plans["h_s"][-1].name
        f_params = min(_frac_bits(rec.max(f"{last_hs}.pre")), _frac_bits(rec.max("context.pre")))
    else:
        f_m = _OUTPUT_FRAC
    f_s = _OUTPUT_FRAC
    prior.sigma_frac[0], prior.mean_frac[0] = f_s, f_m
    table = model.gaussian_conditional.scale_table.detach().double().numpy()
    prior.scale_thresholds = torch.from_numpy(
        np.floor(table[:-1] * 2.0 ** f_s).astype(np.int32))

    modules = dict(model.named_modules())

    def out_grid(p: LayerPlan, last_group: bool) -> np.ndarray:
        if p.out_bits == 32:  # σ channels then μ channels
            grid = np.full(p.cout, f_s)
            grid[M:] = f_m
            return grid
        if not last_group:
            return np.full(p.cout, _frac_bits(rec.max(f"{p.source}.post" if p.act != "none"
                                                      else f"{p.source}.pre")))
        return np.full(p.cout, f_params)

    def emit(p: LayerPlan, f_in: int, f_out: np.ndarray):
        m = modules[p.source]
        if p.name == "context":
            taps = torch.nonzero(m.mask[0, 0], as_tuple=False)
            w = m.weight[:, :, taps[:, 0], taps[:, 1]].permute(0, 2, 1).reshape(m.weight.shape[0], -1)
            w, axis = w.double().numpy(), 0
        else:
            w = m.weight.double().numpy()
            if p.kind == "dense":
                w = w.reshape(w.shape[0], w.shape[1])
            axis = 1 if p.kind == "deconv" else 0
        acc = rec.stats[f"{p.source}.pre" if p.name != "context" else "context.pre"]
        weight, bias, shift = _quantize_layer(w, m.bias.double().numpy(), axis, f_in, f_out,
                                              acc, p.name)
        b = prior.layers[p.name.replace(".", "_")]
        b.weight.copy_(torch.from_numpy(weight))
        b.bias.copy_(torch.from_numpy(bias))
        b.shift.copy_(torch.from_numpy(shift))
        return int(f_out[0])

    f = f_z
    for i, p in enumerate(plans["h_s"]):
        last = i == len(plans["h_s"]) - 1
        f = emit(p, f, out_grid(p, joint and last))
    if joint:
        emit(plans["context"][0], f_m, np.full(2 * M, f_params))
        f = f_params
        for p in plans["entropy_parameters"]:
            f = emit(p, f, out_grid(p, False))
    model.attach_integer_prior(prior)
    return prior
