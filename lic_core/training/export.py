"""A run's result as zoo weight files (``--out``), with metadata that says how they were made.

Every file records its run's settings and a ``training_chain``: the ``--init`` file's
chain followed by this run's stage, so a shipped file names every stage behind it and
``steps_total`` counts their steps.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from .. import zoo
from ..models.entropy_models import TABLE_BUFFERS
from .objective import lambda_for_quality
from .variable_rate import VariableRate
from .warm_start import copy_matching


def export(model: nn.Module, path: str, metadata: dict, half=(), gains=None) -> str:
    """Write ``model`` (a zoo model) with ``metadata`` through :func:`lic_core.zoo.save_weights`,
    which rounds the ``half`` prefixes to float16 and then builds the coding tables.
    ``gains`` = (qualities, gain, inv_gain) writes a variable-rate zoo file."""
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    zoo.save_weights(model, path, half=half, gains=gains,
                     **{k: str(v) for k, v in metadata.items()})
    return path


def lineage(init_meta: dict, arch: str, lmbda: float, steps: int, gain: float,
            frozen: str | None, init_name: str = "", stage: str | None = None) -> dict:
    """``training_chain`` and ``steps_total`` of an exported file: its --init file's chain
    (or that file's own stage) followed by this run, so a file says how it was made."""
    stage = stage or f"{arch}@lambda={lmbda:g}:{steps} steps"
    if abs(gain - 1) > 1e-6:
        stage += f" (latents x{gain:.4f} first)"
    if frozen:
        stage += f" ({frozen} frozen)"
    if not init_name:
        return {"training_chain": stage, "steps_total": steps}
    before = init_meta.get("training_chain") or init_name
    if "training_chain" not in init_meta and init_meta.get("lambda") and init_meta.get("steps"):
        before = (f"{init_meta.get('architecture', '?')}@lambda={init_meta['lambda']}:"
                  f"{init_meta['steps']} steps")
    try:
        total = int(init_meta.get("steps_total") or init_meta.get("steps") or 0) + steps
    except ValueError:
        total = steps
    return {"training_chain": f"{before} -> {stage}", "steps_total": total}


def export_run(model: nn.Module, out: str, meta: dict, init_meta: dict, result: dict, *,
               gain: float = 1.0, frozen: str | None = None, init_name: str = "",
               half=()) -> list[str]:
    """Every file a run writes: one file at ``out``, or for a variable-rate run the files of
    :func:`export_variable_rate` (``out`` then contains ``{q}``). ``meta`` holds the run's
    settings (with "architecture", "lambda", "steps"), ``result`` the final validation."""
    if isinstance(model, VariableRate):
        return export_variable_rate(model, out, meta, init_meta, result, frozen=frozen,
                                    init_name=init_name, half=half)
    meta = dict(meta, **lineage(init_meta, meta["architecture"], meta["lambda"],
                                int(meta["steps"]), gain, frozen, init_name))
    return [export(model, out, meta, half=half)]


def export_variable_rate(wrapper: VariableRate, out: str, meta: dict, init_meta: dict,
                         result: dict, *, frozen: str | None = None, init_name: str = "",
                         half=()) -> list[str]:
    """The variable-rate zoo file (e.g. hyperprior-q1-8.safetensors: the model once plus
    every quality's gains; what the zoo ships, and the --init of a later stage) and one
    ordinary zoo file per quality with its gains folded into g_a and g_s."""
    arch = meta["architecture"]
    span = f"{wrapper.qualities[0]}-{wrapper.qualities[-1]}"
    steps = int(meta["steps"])
    stage = f"{arch} variable-rate q{span}:{steps} steps"
    common = dict(meta, variable_rate=",".join(map(str, wrapper.qualities)))
    # "lambda" of a variable-rate file is the reference its gains started from (an --init
    # of a later stage reads it); "lambdas" are the qualities' own; no single quality
    wmeta = dict(common, quality="", lambdas=",".join(f"{lam:g}" for lam in wrapper.lambdas),
                 **{"lambda": wrapper.lambda_ref})
    wmeta.update(lineage(init_meta, arch, wrapper.lambda_ref, steps, 1.0, frozen, init_name,
                         stage=stage))
    # first: it rounds the half prefixes in place, so the folds below start from what ships
    paths = [export(wrapper.model, out.replace("{q}", span), wmeta, half=half,
                    gains=(wrapper.qualities, *wrapper.gains()))]
    for q in wrapper.qualities:
        # the wrapper's channels: a quality's default N, M may differ from the run's
        model = zoo.build(arch, quality=q, N=wrapper.model.N, M=wrapper.model.M)
        copied, skipped = copy_matching(model, wrapper.folded_state(q))
        missing = {k for k in model.state_dict() if not k.endswith(TABLE_BUFFERS)} - set(copied)
        if missing or skipped:
            raise RuntimeError(f"folding quality {q}: missing {sorted(missing)}, unmatched {skipped}")
        lam = lambda_for_quality(q)
        m = dict(common, quality=q, **{"lambda": lam},
                 val_bpp=result.get(f"val_bpp_q{q}", ""), val_psnr=result.get(f"val_psnr_q{q}", ""))
        m.update(lineage(init_meta, arch, lam, steps, 1.0, frozen, init_name,
                         stage=f"{stage}, gains folded for q{q}"))
        paths.append(export(model, out.replace("{q}", str(q)), m, half=half))
    return paths
