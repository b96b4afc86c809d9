"""What a run's model starts from: random weights, or the tensors of an ``--init`` file.

``--init`` copies every tensor whose name and shape match: fine-tune to another λ, or
start a joint model from a hyperprior (g_a, g_s, h_a and the bottleneck match; h_s and
the context model do not). float16 files are accepted (cast on copy). A one-quality
file trained at another λ has its latents rescaled first (:func:`rescale_latents`); a
variable-rate file brings its per-quality gains, so the run trains the same qualities or
more of them (:func:`extend_gains`: how zoo-v5 grew from qualities 1-8 to 1-10).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidArgumentError, WeightsError
from ..models.entropy_models import TABLE_BUFFERS
from ..zoo.catalog import variable_rate_qualities
from ..zoo.layout import family_latent_interface
from ..zoo.weights import FILE_GAIN_KEYS
from . import checkpoint
from .objective import lambda_for_quality
from .variable_rate import GAIN_KEYS, VariableRate, zoo_model


def read_init(path: str) -> tuple[dict, dict]:
    """(tensors, metadata) of a safetensors file, or of a training checkpoint (``.pt``).

    A variable-rate zoo file stores its gains as factors (``gain``, ``inv_gain``);
    training learns their logarithms, so they come back as ``log_gain``, ``log_inv_gain``.
    """
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"weights file not found: {path!r}")
    if not path.endswith(".safetensors"):
        return checkpoint.read_model(path)
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    if all(k in tensors for k in FILE_GAIN_KEYS):
        for file_key, key in zip(FILE_GAIN_KEYS, GAIN_KEYS):
            tensors[key] = tensors.pop(file_key).double().log().float()
    return tensors, meta


def copy_matching(model: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    """Copy the tensors of ``state`` into ``model`` where name and shape match; returns
    the (copied, skipped) names."""
    own = model.state_dict()
    copied, skipped = [], []
    with torch.no_grad():
        for name, tensor in state.items():
            if name in own and tuple(own[name].shape) == tuple(tensor.shape):
                own[name].copy_(tensor.to(own[name].dtype))
                copied.append(name)
            else:
                skipped.append(name)
    return copied, skipped


def extend_gains(state: dict, trained: tuple[int, ...], qualities: tuple[int, ...]) -> dict:
    """``state``'s gains (rows for the ``trained`` qualities) grown to rows for
    ``qualities``, a superset: a trained row is kept, a new quality starts from the nearest
    trained one's gains times √(λ_new / λ_near) (the high-rate optimum of the quantisation
    step, as :class:`VariableRate` starts its gains), so it begins at a sensible rate."""
    missing = sorted(set(trained) - set(qualities))
    if missing:
        raise InvalidArgumentError(
            f"the --init file has gains for qualities {','.join(map(str, trained))}; this run "
            f"trains {','.join(map(str, qualities))}, which leaves out {missing}: train them all")
    out = dict(state)
    for key, sign in zip(GAIN_KEYS, (1.0, -1.0)):
        rows = state[key]  # one row per trained quality (checked by _trained_qualities)
        grown = []
        for q in qualities:
            near = min(trained, key=lambda t: (abs(t - q), t))
            shift = 0.5 * math.log(lambda_for_quality(q) / lambda_for_quality(near))
            grown.append(rows[trained.index(near)] + sign * shift)
        out[key] = torch.stack(grown)
    return out


def rescale_latents(state: dict, arch: str, gain: float) -> dict:
    """A copy of ``state`` (zoo keys of architecture ``arch``) reparametrised so that
    y' = gain · y.

    The layers the family's ``latent_interface()`` names follow: the one producing y is
    multiplied by the gain, those reading it divided by it, those predicting y's σ and μ
    multiplied by it, and a factorized density is stretched, F'(v) = F(v / gain), through
    its first matrix and its quantiles. Only the quantisation step changes, to 1/gain in
    the old units: with gain = √(λ_new / λ_old) (the high-rate optimum, step ∝ λ^-1/2) a
    model trained at λ_old starts close to λ_new's rate.
    """
    if not gain > 0:
        raise InvalidArgumentError(f"gain must be positive, got {gain}")
    latent = family_latent_interface(arch)
    out = dict(state)

    def scale(key: str, factor: float) -> None:
        if key not in out:
            raise InvalidArgumentError(f"cannot rescale latents: {key} missing from the weights")
        out[key] = out[key].float() * factor

    for layer in (latent.analysis_output, *latent.entropy_predictors):
        scale(f"{layer}.weight", gain)
        scale(f"{layer}.bias", gain)
    for layer in (latent.synthesis_input, *latent.entropy_readers):
        scale(f"{layer}.weight", 1 / gain)
    if latent.density:
        # softplus(matrix 0) multiplies v first: divide it by the gain, in its own domain
        key = f"{latent.density}.matrices.0"
        out[key] = torch.log(torch.expm1(F.softplus(out[key].float()) / gain))
        scale(f"{latent.density}.quantiles", gain)
    for key in [k for k in out if k.endswith(TABLE_BUFFERS)]:
        del out[key]  # the coding tables no longer match; update() rebuilds them
    return out


@dataclass
class Start:
    """A run's model and what it was started from."""
    model: nn.Module                # the zoo model, or a VariableRate wrapping it
    lmbda: float                    # the run's λ (variable rate: the gains' reference)
    init_meta: dict = field(default_factory=dict)  # the --init file's metadata
    gain: float = 1.0               # the latent rescale applied to a one-quality init
    copied: int = 0                 # tensors copied from the --init file
    skipped: int = 0                # and those that matched nothing


def _trained_qualities(meta: dict, state: dict) -> tuple[int, ...]:
    """The qualities a variable-rate file's gain rows belong to: its metadata's list (read
    by the zoo's one parser), checked against both gain tensors' rows."""
    try:
        trained = tuple(variable_rate_qualities(meta))
    except WeightsError as exc:
        raise InvalidArgumentError(f"--init: {exc}") from None
    if not trained:
        raise InvalidArgumentError(
            "a variable-rate --init file must name its qualities (metadata 'variable_rate')")
    for key in GAIN_KEYS:
        rows = state[key].shape[0] if key in state else None
        if rows != len(trained):
            raise InvalidArgumentError(
                f"the --init file names qualities {trained} but its {key} has "
                f"{'no' if rows is None else rows} rows")
    return trained


def start_model(model: nn.Module, lmbda: float, qualities=None, init: str | None = None,
                rescale: bool = True) -> Start:
    """``model`` (a new zoo model) started from ``init`` if given, and wrapped in a
    VariableRate when ``qualities`` lists several. ``lmbda`` is the run's λ; with
    ``qualities`` an init file's λ replaces it, since its gains are relative to it."""
    if not init:
        if qualities:
            model = VariableRate(model, qualities, lambda_ref=lmbda)
        return Start(model, lmbda)
    state, meta = read_init(init)
    variable = any(k in state for k in GAIN_KEYS)
    if variable and not qualities:
        raise InvalidArgumentError(
            f"--init {init} is a variable-rate model (per-quality gains): start a "
            f"single-quality run from one of its per-quality files, or train with --qualities")
    if qualities and meta.get("lambda"):
        lmbda = float(meta["lambda"])
    gain = 1.0
    if variable:  # transforms and gains go in together
        model = VariableRate(model, qualities, lambda_ref=lmbda)
        trained = _trained_qualities(meta, state)
        if trained != model.qualities:
            state = extend_gains(state, trained, model.qualities)
    elif not qualities and rescale and meta.get("lambda") and meta.get("architecture"):
        gain = math.sqrt(lmbda / float(meta["lambda"]))
        if abs(gain - 1) > 1e-6:
            state = rescale_latents(state, meta["architecture"], gain)
    copied, skipped = copy_matching(model, state)
    if not copied:
        raise InvalidArgumentError(f"--init {init}: no tensor matches this "
                                   f"{zoo_model(model).name} model")
    if variable and any(k in skipped for k in GAIN_KEYS):
        raise InvalidArgumentError(
            f"--init {init} has gains for qualities {meta.get('variable_rate', '?')}, "
            f"which do not fit this {zoo_model(model).name} model's latent")
    if qualities and not variable:
        model = VariableRate(model, qualities, lambda_ref=lmbda)
    return Start(model, lmbda, meta, gain, len(copied), len(skipped))
