"""The training loop: a config, a trainer that owns the optimisers, and the step itself.

Two optimisers: Adam on every trainable parameter except the entropy bottlenecks'
``quantiles``, and a second Adam (``aux_lr``) on those, driven by ``model.aux_loss()``
only. The gradient norm of the main parameters is clipped (``clip``). Under torchrun each
rank trains on its own crops and the gradients are averaged (:mod:`.distributed`).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import InvalidArgumentError
from . import checkpoint, distributed
from .data import CropSampler
from .freeze import synthesis_frozen
from .objective import balance_weights, rate_distortion, rate_distortion_per_sample
from .options import TrainingOptions
from .schedule import Schedule
from .validation import load_images, validate


@dataclass
class TrainConfig:
    """One run's settings (saved in its checkpoints as JSON); ``lic train``'s options of
    the same names, with ``ckpt_every_s`` in seconds."""
    lmbda: float
    steps: int
    batch: int = 8
    crop: int = 128
    lr: float = 1e-3
    aux_lr: float = 1e-3
    warmup: int = 500
    final_fraction: float = 0.05
    max_minutes: float | None = None
    clip: float = 1.0
    val_every: int = 2000
    ckpt_every_s: float = 300.0
    seed: int = 0
    channels_last: bool = False
    #: g_a and g_s under bfloat16 autocast in training forwards (.options.TrainingOptions)
    bf16: bool = False
    #: what the decoder side sees in training forwards: "noise" (the model's own default,
    #: CompressAI's forward) or "mixed" (what ``lic train`` uses unless told otherwise)
    quantization: str = "noise"
    quiet: bool = False
    #: variable-rate training (.variable_rate): the model is a VariableRate wrapper and
    #: every sample draws one of these qualities; lambda_ref is the gains' reference λ
    qualities: tuple[int, ...] | None = None
    lambda_ref: float | None = None


def split_parameters(model: nn.Module) -> tuple[list, list]:
    """(main, aux) trainable parameters: aux are those whose name ends with ``quantiles``."""
    main, aux = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (aux if name.endswith("quantiles") else main).append(p)
    if not main:
        raise InvalidArgumentError("model has no trainable parameters")
    return main, aux


class RunLog:
    """The JSON-lines log (``--log-file``): written by rank 0 only, one record a line."""

    def __init__(self, path: str | None):
        self.path = path
        if path:  # fail now, not at the end of a long run
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, record: dict) -> None:
        if not self.path:
            return
        # NaN (no distortion measured in a rate-only fit) is written as null: valid JSON
        record = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


class Trainer:
    """Owns the model, the optimisers, the sampler and the step counter.

    ``model`` is a zoo model, or a VariableRate wrapper of one (``cfg.qualities``). The
    trainer builds the training forwards' ``options`` (quantization, bf16 transforms, and
    skipping the synthesis when nothing that shapes x̂ trains: freeze before building it)
    and passes them to every training forward; the model itself keeps none.
    """

    def __init__(self, model: nn.Module, sampler: CropSampler, cfg: TrainConfig,
                 val_folder: str | None = None, checkpoint: str | None = None,
                 log: str | None = None):
        self.cfg = cfg
        self.model = model
        self.sampler = sampler
        self.checkpoint = checkpoint
        self.rank, self.world = distributed.rank_and_world()
        self.log = RunLog(log if self.rank == 0 else None)
        self.val_images = load_images(val_folder)
        self.device = torch.device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available()
                                   else "cpu")
        model.to(self.device)
        if cfg.channels_last:  # about 14 % faster convolutions on CPU (oneDNN)
            model.to(memory_format=torch.channels_last)
        self.options = TrainingOptions(
            quantization=cfg.quantization,
            transform_autocast=torch.bfloat16 if cfg.bf16 else None,
            skip_synthesis=synthesis_frozen(model))
        self.main_params, self.aux_params = split_parameters(model)
        self.optimizer = torch.optim.Adam(self.main_params, lr=cfg.lr)
        self.aux_optimizer = torch.optim.Adam(self.aux_params, lr=cfg.aux_lr) if self.aux_params else None
        self.schedule = Schedule(cfg.lr, cfg.steps, cfg.warmup, cfg.final_fraction,
                                 cfg.max_minutes * 60 if cfg.max_minutes else None)
        self.step = 0
        self.elapsed = 0.0  # training seconds, carried across resumes
        if self.world > 1:
            distributed.broadcast_from_first_rank(model)

    # -- checkpoints (.checkpoint)
    def save_checkpoint(self, path: str | None = None) -> None:
        path = path or self.checkpoint
        if path and self.rank == 0:
            checkpoint.save(self, path)

    def resume(self, path: str) -> None:
        checkpoint.restore(self, path)

    # -- one optimisation step
    def _loss(self, x: torch.Tensor) -> dict:
        qualities = self.cfg.qualities
        if not qualities:
            return rate_distortion(self.model(x, options=self.options), x, self.cfg.lmbda)
        # drawn from the sampler's generator, so a resumed run draws the same ones
        q_index = torch.from_numpy(
            self.sampler.rng.integers(len(qualities), size=x.shape[0])).to(self.device)
        out = self.model(x, q_index, options=self.options)
        lambdas = self.model.lambda_tensor(q_index)
        return rate_distortion_per_sample(out, x, lambdas,
                                          balance_weights(lambdas, self.cfg.lambda_ref))

    def train_step(self) -> dict:
        lr = self.schedule(self.step, self.elapsed)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        x = self.sampler.batch(self.cfg.batch).to(self.device)
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        rd = self._loss(x)
        rd["loss"].backward()
        if self.world > 1:
            distributed.average_gradients(self.main_params, self.world)
        if self.cfg.clip:
            torch.nn.utils.clip_grad_norm_(self.main_params, self.cfg.clip)
        self.optimizer.step()
        aux = self._aux_step()
        self.step += 1
        return {"loss": rd["loss"].item(), "bpp": rd["bpp"].item(), "psnr": rd["psnr"],
                "aux": aux.item(), "lr": lr}

    def _aux_step(self) -> torch.Tensor:
        """One step of the quantiles on the aux loss alone."""
        if not self.aux_optimizer:
            return torch.zeros(())
        self.aux_optimizer.zero_grad(set_to_none=True)
        aux = self.model.aux_loss()
        aux.backward()
        if self.world > 1:
            distributed.average_gradients(self.aux_params, self.world)
        self.aux_optimizer.step()
        return aux

    def validate(self) -> dict:
        """Likelihood bpp and PSNR on the validation images (.validation)."""
        return validate(self.model, self.val_images, self.cfg.lmbda, self.cfg.qualities, self.device)

    # -- the loop
    def run(self) -> dict:
        """Train until ``cfg.steps`` or the schedule's end; checkpoint every
        ``cfg.ckpt_every_s`` seconds and at the end; returns the last averaged statistics
        and the final validation."""
        from tqdm import tqdm
        cfg = self.cfg
        show = self.rank == 0 and not cfg.quiet
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not show, dynamic_ncols=True,
                   mininterval=2.0)
        last_ckpt = time.time()
        avg = None
        while self.step < cfg.steps and self.schedule.progress(self.step, self.elapsed) < 1.0:
            t0 = time.time()
            last = self.train_step()
            self.elapsed += time.time() - t0
            avg = dict(last) if avg is None else {k: 0.98 * avg[k] + 0.02 * last[k] for k in last}
            bar.update(1)
            if self.step % 20 == 0:
                bar.set_postfix(loss=f"{avg['loss']:.3f}", bpp=f"{avg['bpp']:.3f}",
                                psnr=f"{avg['psnr']:.2f}", lr=f"{last['lr']:.1e}")
            if self.step % 200 == 0:
                self.log.write({"step": self.step, "elapsed": round(self.elapsed, 1), **avg})
            if cfg.val_every and self.step % cfg.val_every == 0:
                v = self.validate()
                if v:
                    self.log.write({"step": self.step, **v})
                    if show:
                        bar.write(f"step {self.step}: " + ", ".join(f"{k} {val:.4f}" for k, val in v.items()))
            if time.time() - last_ckpt > cfg.ckpt_every_s:
                self.save_checkpoint()
                last_ckpt = time.time()
        bar.close()
        self.save_checkpoint()
        final = self.validate()
        self.log.write({"step": self.step, "final": True, **final})
        return {"step": self.step, "elapsed": self.elapsed, **(avg or {}), **final}
