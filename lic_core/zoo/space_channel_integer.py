"""The space-channel model's integer probability path (docs/integer.md, "Space-channel").

Every network that decides a coding table runs in the engine on integers
(:class:`lic_core.coding.intnet.Network`): h_s gives ``params`` (h×w×2M int16); for each
channel group g the channel context (over the ŷ grids of groups 0..g−1) and, for each
step k ≥ 1, its spatial context (over the group's ŷ grid holding the steps before k
only) are integer convolutions; the entropy parameters are three dense layers run on
the step's positions only, the last giving 32-bit σ_q (grid Fs) and μ_q (grid Fm). The ŷ grid
holds ``sat16(symbol·2^Fm + μ_q)``, as the joint model's context grid does. The
encoder and the decoder run :func:`walk`, differing only by the ``code`` callback.

Conversion from the float networks (:func:`convert_space_channel`) follows the joint
model's rules (lic_core.zoo.integer): calibrated grids with headroom, params, channel
and spatial context on one shared grid (they are concatenated into one input).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from lic_core.errors import InvalidArgumentError

from .integer import (_OUTPUT_FRAC, LayerPlan, _frac_bits, _quantize_layer, _Recorder,
                      IntegerPrior)
from .checkerboard import step_positions

__all__ = ["plan_space_channel", "convert_space_channel", "walk", "encode_integer",
           "decode_integer"]


def plan_space_channel(model, sequential_plan) -> dict[str, list[LayerPlan]]:
    """{"h_s", "channel_context.i", "spatial_context.g.k", "entropy_parameters.g"}: h_s
    and the contexts end in 16 bits (one shared grid), each entropy-parameter stack in 32.
    Each spatial context (step k + 1 of group g) is a network of its own."""
    plans = {"h_s": sequential_plan("h_s", model.h_s, 16)}
    for i, cc in enumerate(model.channel_context):
        plans[f"channel_context.{i}"] = sequential_plan(f"channel_context.{i}", cc, 16)
    for g, convs in enumerate(model.spatial_context):
        for k in range(len(convs)):
            # convs[k:k + 1] is a one-layer stack named spatial_context.g.k.0; rename it
            (p,) = sequential_plan(f"spatial_context.{g}.{k}", nn.Sequential(convs[k]), 16)
            name = f"spatial_context.{g}.{k}"
            plans[name] = [LayerPlan(**{**p.__dict__, "name": name, "source": name})]
    for g, ep in enumerate(model.entropy_parameters):
        plans[f"entropy_parameters.{g}"] = sequential_plan(f"entropy_parameters.{g}", ep, 32, dense=True)
    return plans


# --------------------------------------------------------------------------- the walk

def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -32768, 32767).astype(np.int16)


def walk(prior: IntegerPrior, groups: tuple[int, ...], steps: tuple[int, ...], params: np.ndarray,
         code: Callable[[int, np.ndarray, np.ndarray, np.ndarray], np.ndarray],
         threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The integer walk over an h×w latent (``params``: h×w×2M int16 from h_s).

    Group after group, step after step (``steps[g]`` of them):
    ``code(g, positions, mu_q, indexes)``
    (positions flat, raster order; mu_q and indexes |P|×C_g int32) returns the
    symbols (|P|×C_g int32). Returns (symbols, mu_q), both h×w×M int32."""
    nets = prior.networks()
    f_m = int(prior.mean_frac[0])
    thresholds = prior.scale_thresholds.numpy()
    from lic_core.coding import intnet
    h, w, _ = params.shape
    M = sum(groups)
    symbols_all = np.zeros((h * w, M), dtype=np.int32)
    means_all = np.zeros((h * w, M), dtype=np.int32)
    grids: list[np.ndarray] = []
    start = 0
    for g, c in enumerate(groups):
        inputs = params
        if g:
            cc = nets[f"channel_context.{g - 1}"].run(np.concatenate(grids, axis=2), threads=threads)
            inputs = np.concatenate((params, cc), axis=2)
        flat_inputs = inputs.reshape(h * w, -1)
        grid = np.zeros((h, w, c), dtype=np.int16)
        for step, positions in enumerate(step_positions(h, w, steps[g])):
            if positions.size == 0:
                continue
            if step == 0:
                sc = np.zeros((positions.size, 2 * c), dtype=np.int16)
            else:  # the grid holds the steps before this one, 0 elsewhere
                sc = nets[f"spatial_context.{g}.{step - 1}"].run(grid, threads=threads).reshape(h * w, -1)[positions]
            e = nets[f"entropy_parameters.{g}"].run(
                np.concatenate((flat_inputs[positions], sc), axis=1), threads=threads)
            sigma_q, mu_q = e[:, :c], np.ascontiguousarray(e[:, c:])
            indexes = intnet.scale_indexes(np.ascontiguousarray(sigma_q), thresholds)
            sym = np.asarray(code(g, positions, mu_q, indexes), dtype=np.int32).reshape(positions.size, c)
            grid.reshape(h * w, c)[positions] = _sat16(sym.astype(np.int64) * (1 << f_m) + mu_q)
            symbols_all[positions, start:start + c] = sym
            means_all[positions, start:start + c] = mu_q
        grids.append(grid)
        start += c
    return symbols_all.reshape(h, w, M), means_all.reshape(h, w, M)


def _threads() -> int:
    from lic_core.coding import intnet
    return max(1, min(torch.get_num_threads(), intnet.MAX_THREADS))


def _params(model, z_symbols, h: int, w: int) -> np.ndarray:
    params = model.integer.hyper_output(z_symbols)
    if params.shape[:2] != (h, w):
        raise InvalidArgumentError(f"latent shape {(h, w)} does not match ẑ's {tuple(z_symbols.shape[-2:])}")
    return params


def _y_hat(model, symbols: np.ndarray, means: np.ndarray) -> torch.Tensor:
    """ŷ = symbol + μ_q / 2^Fm as 1×M×h×w float32."""
    y = torch.from_numpy(symbols).float() + model.integer.means_to_float(means)
    return y.permute(2, 0, 1).unsqueeze(0).contiguous()


def encode_integer(model, y: torch.Tensor, z_symbols, stream_format: str):
    """(ŷ stream, ŷ) for the latent y (1×M×h×w). A symbol is
    round-half-even(y − μ_q / 2^Fm), the difference taken in float32."""
    _, M, h, w = y.shape
    params = _params(model, z_symbols, h, w)
    y_pm = y[0].detach().float().cpu().numpy().reshape(M, h * w).T
    f = np.float32(2.0 ** -int(model.integer.mean_frac[0]))
    starts = model.group_starts
    coded_symbols, coded_indexes = [], []

    def quantise(g, positions, mu_q, indexes):
        values = y_pm[positions, starts[g]:starts[g + 1]]
        sym = np.rint(values - mu_q.astype(np.float32) * f).astype(np.int32)
        coded_symbols.append(sym.reshape(-1))
        coded_indexes.append(np.asarray(indexes, dtype=np.int32).reshape(-1))
        return sym

    symbols, means = walk(model.integer, model.groups, model.steps, params, quantise, _threads())
    stream = model.gaussian_conditional.encode_symbols(
        np.concatenate(coded_symbols), np.concatenate(coded_indexes), stream_format)
    return stream, _y_hat(model, symbols, means).to(y.device)


def decode_integer(model, stream: bytes, shape, z_symbols, stream_format: str) -> torch.Tensor:
    h, w = shape
    params = _params(model, z_symbols, h, w)
    reader = model.gaussian_conditional.symbol_reader(stream, stream_format)

    def read(g, positions, mu_q, indexes):
        return reader.read(indexes)

    symbols, means = walk(model.integer, model.groups, model.steps, params, read, _threads())
    reader.finish()
    return _y_hat(model, symbols, means)


# --------------------------------------------------------------------------- conversion

def _calibrate(model, images, qualities_models) -> _Recorder:
    """Ranges of every probability-side tensor over the calibration images at each
    quality: forward hooks on the float networks while the eval-mode prior runs."""
    rec = _Recorder()
    handles = []
    names = ("h_s", "channel_context", "spatial_context", "entropy_parameters")
    for m in qualities_models:
        for name, module in m.named_modules():
            if not name.startswith(names) or name.startswith("entropy_parameters") \
                    or not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.LeakyReLU)):
                continue
            prefix, index = name.rsplit(".", 1)
            if isinstance(module, nn.LeakyReLU):
                key = f"{prefix}.{int(index) - 1}.post"
            else:
                key = f"{name}.pre"
            handles.append(module.register_forward_hook(
                lambda mod, inp, out, key=key: rec.add(key, out)))
        handles.append(m.h_s.register_forward_pre_hook(lambda mod, inp: rec.add("z_hat", inp[0])))
    try:
        for m in qualities_models:
            m.observer = rec.add
            for x in images:
                y = m.analysis(m.pad(x))
                out = m.prior_forward(y)
                rec.add("y_hat", out["y_hat"])
    finally:
        for m in qualities_models:
            m.observer = None
        for h in handles:
            h.remove()
    return rec


@torch.no_grad()
def convert_space_channel(model, images, qualities_models=None) -> IntegerPrior:
    """The space-channel model's IntegerPrior, calibrated on ``images`` under every model
    of ``qualities_models`` (default ``model``); attached and returned."""
    qualities_models = [m.eval() for m in (qualities_models or [model])]
    rec = _calibrate(model, images, qualities_models)
    prior = IntegerPrior(model)
    plans = prior.plans
    f_z = _frac_bits(rec.max("z_hat"))
    medians = model.entropy_bottleneck.medians().detach().double().numpy().reshape(-1)
    prior.z_frac[0] = f_z
    prior.z_offset.copy_(torch.from_numpy(np.round(medians * 2.0 ** f_z).astype(np.int32)))
    f_m = _frac_bits(rec.max("y_hat") + 1.0)
    f_s = _OUTPUT_FRAC
    shared = [f"{plans['h_s'][-1].source}.pre"] + [f"{ps[-1].source}.pre" for k, ps in plans.items()
                                                    if k.startswith(("channel_context", "spatial_context"))]
    f_params = min(_frac_bits(rec.max(k)) for k in shared)
    prior.sigma_frac[0], prior.mean_frac[0] = f_s, f_m
    table = model.gaussian_conditional.scale_table.detach().double().numpy()
    prior.scale_thresholds = torch.from_numpy(np.floor(table[:-1] * 2.0 ** f_s).astype(np.int32))
    modules = dict(model.named_modules())

    def emit(p: LayerPlan, f_in: int, f_out: np.ndarray) -> int:
        m = modules[p.source]
        w = m.weight.double().numpy()
        if p.kind == "dense":
            w = w.reshape(w.shape[0], w.shape[1])
        axis = 1 if p.kind == "deconv" else 0
        weight, bias, shift = _quantize_layer(w, m.bias.double().numpy(), axis, f_in, f_out,
                                              rec.stats[f"{p.source}.pre"], p.name)
        b = prior.layers[p.name.replace(".", "_")]
        b.weight.copy_(torch.from_numpy(weight))
        b.bias.copy_(torch.from_numpy(bias))
        b.shift.copy_(torch.from_numpy(shift))
        return int(f_out[0])

    def hidden(p: LayerPlan) -> np.ndarray:
        return np.full(p.cout, _frac_bits(rec.max(f"{p.source}.post" if p.act != "none" else f"{p.source}.pre")))

    f = f_z
    for i, p in enumerate(plans["h_s"]):
        f = emit(p, f, np.full(p.cout, f_params) if i == len(plans["h_s"]) - 1 else hidden(p))
    for key, ps in plans.items():
        if key.startswith(("channel_context", "spatial_context")):
            (p,) = ps
            emit(p, f_m, np.full(p.cout, f_params))
        elif key.startswith("entropy_parameters"):
            f = f_params
            for i, p in enumerate(ps):
                if i == len(ps) - 1:
                    c = p.cout // 2
                    f = emit(p, f, np.concatenate((np.full(c, f_s), np.full(c, f_m))))
                else:
                    f = emit(p, f, hidden(p))
    model.attach_integer_prior(prior)
    return prior
