"""Training checkpoints (``--checkpoint``, ``--resume``): what a run needs to continue.

A checkpoint holds the model, both optimisers, the step, the elapsed training seconds,
the crop sampler's NumPy generator and torch's RNG, and the run's config as JSON. It is
written with ``torch.save`` and read with ``torch.load(weights_only=True)``: tensors and
plain containers only, never pickled code. On one process a resumed run continues bit
for bit (tested). Shipped weights are never checkpoints: they are safetensors
(:func:`lic_core.zoo.save_weights`).
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from ..errors import InvalidArgumentError


def save(trainer, path: str) -> None:
    """Write ``trainer``'s state to ``path``, atomically (a crash leaves the previous one)."""
    state = {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "aux_optimizer": trainer.aux_optimizer.state_dict() if trainer.aux_optimizer else None,
        "step": trainer.step,
        "elapsed": trainer.elapsed,
        "numpy_rng": json.dumps(trainer.sampler.rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "config": json.dumps(trainer.cfg.__dict__),
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def restore(trainer, path: str) -> None:
    """Continue ``trainer`` from the checkpoint at ``path``."""
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"checkpoint not found: {path!r}")
    st = torch.load(path, map_location=trainer.device, weights_only=True)
    cfg = trainer.cfg
    saved = json.loads(st.get("config", "{}"))
    if cfg.qualities or saved.get("qualities"):
        theirs = tuple(saved.get("qualities") or ())
        if tuple(cfg.qualities or ()) != theirs:
            raise InvalidArgumentError(
                f"checkpoint {path!r} trained qualities {list(theirs) or 'one'}, this run "
                f"{list(cfg.qualities or ()) or 'one'}: resume with the same --qualities")
        # the gains and loss weights are relative to the checkpoint's reference λ
        cfg.lambda_ref = trainer.model.lambda_ref = float(saved["lambda_ref"])
    trainer.model.load_state_dict(st["model"], strict=False)
    trainer.optimizer.load_state_dict(st["optimizer"])
    if trainer.aux_optimizer and st.get("aux_optimizer"):
        trainer.aux_optimizer.load_state_dict(st["aux_optimizer"])
    trainer.step = int(st["step"])
    trainer.elapsed = float(st.get("elapsed", 0.0))
    if trainer.world > 1:  # ranks draw different crops after a resume, as at the start
        trainer.sampler.rng = np.random.default_rng([cfg.seed, trainer.rank, trainer.step])
    else:
        trainer.sampler.rng.bit_generator.state = json.loads(st["numpy_rng"])
    torch.set_rng_state(st["torch_rng"].cpu())


def read_model(path: str) -> tuple[dict, dict]:
    """(model tensors, metadata) of a checkpoint used as ``--init``; the metadata gives
    its reference λ, its qualities and where a training chain starts."""
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"weights file not found: {path!r}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise InvalidArgumentError(
            f"{path!r} is neither safetensors nor a lic train checkpoint: {e}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise InvalidArgumentError(f"{path!r} is not a lic train checkpoint (no 'model' state)")
    cfg = json.loads(ckpt.get("config", "{}"))
    # a checkpoint knows its own steps but not what its run was started from: the chain
    # of a file made from it begins here (docs/training.md)
    meta = {"lambda": cfg.get("lambda_ref") or cfg.get("lmbda"),
            "training_chain": f"checkpoint {os.path.basename(path)} ({ckpt.get('step', '?')} steps)",
            "steps_total": ckpt.get("step")}
    if cfg.get("qualities"):
        meta["variable_rate"] = ",".join(map(str, cfg["qualities"]))
    return ckpt["model"], meta
