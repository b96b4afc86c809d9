"""Training of lic-core models: rate-distortion loss, RAM-cached crops, resume, DDP.

Loss (Ballé et al.; the λ scale used by CompressAI's zoo)::

    L = λ · 255² · MSE(x, x̂) + bpp,    bpp = Σ_k Σ −log2 p(ŷ_k) / (B·H·W)

The entropy bottleneck's ``quantiles`` (parameters whose name ends with
``quantiles``) are fitted by ``model.aux_loss()`` on their own Adam optimizer.

Command line (``python -m lic_core.train`` or ``lic train``)::

    python -m lic_core.train --arch hyperprior --quality 4 --N 64 --M 96 \\
        --steps 20000 --lr 1e-3 --out zoo/weights/hyperprior-q4.safetensors

Runs unchanged under ``torchrun --nproc_per_node K`` (DDP, gloo on CPU, nccl on
GPU): every rank draws different crops, gradients are averaged.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgumentError

# λ for quality 1..8 (MSE-optimised CompressAI zoo convention).
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.18)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp", ".tif", ".tiff")


def lambda_for_quality(quality: int) -> float:
    """λ of ``quality`` (1..8); raises InvalidArgumentError otherwise."""
    if not isinstance(quality, (int, np.integer)) or not 1 <= quality <= len(LAMBDAS):
        raise InvalidArgumentError(
            f"quality must be an integer in 1..{len(LAMBDAS)}, got {quality!r}")
    return LAMBDAS[int(quality) - 1]


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_folder(name: str) -> str | None:
    """``../shared/data/<name>`` relative to the repository, if it exists."""
    path = os.path.normpath(os.path.join(repo_root(), "..", "shared", "data", name))
    return path if os.path.isdir(path) else None


def list_images(folder: str) -> list[str]:
    if not folder or not os.path.isdir(folder):
        raise InvalidArgumentError(f"image folder not found: {folder!r}")
    files = sorted(f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise InvalidArgumentError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder!r}")
    return files


def load_rgb(path: str) -> np.ndarray:
    """Decode an image file to an H×W×3 uint8 array."""
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


class CropSampler:
    """Random crops with horizontal/vertical flips, drawn from images decoded once into RAM.

    Every PNG is decoded a single time at start-up (uint8, about 0.6 MB per
    512×384 image); a batch is then only slicing and one float conversion, so
    data loading stays a small fraction of a training step on CPU.
    Images smaller than the crop are reflect-padded.
    """

    def __init__(self, folder: str, crop: int, seed: int = 0):
        if crop <= 0 or crop % 16:
            raise InvalidArgumentError(f"crop must be a positive multiple of 16, got {crop}")
        self.crop = crop
        self.files = list_images(folder)
        self._images = None
        self.rng = np.random.default_rng(seed)

    @property
    def images(self) -> list[np.ndarray]:
        # decoded on the first batch, so a run that trains 0 steps (deriving a quality by
        # latent gain) does not spend a minute decoding the training set
        if self._images is None:
            self._images = [self._pad(load_rgb(f)) for f in self.files]
        return self._images

    def _pad(self, img: np.ndarray) -> np.ndarray:
        h, w, _ = img.shape
        ph, pw = max(0, self.crop - h), max(0, self.crop - w)
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
        return img

    def batch(self, size: int):
        """A float32 torch tensor of shape (size, 3, crop, crop) in [0, 1]."""
        import torch
        c = self.crop
        out = np.empty((size, c, c, 3), dtype=np.uint8)
        for i in range(size):
            img = self.images[self.rng.integers(len(self.images))]
            h, w, _ = img.shape
            top = self.rng.integers(h - c + 1)
            left = self.rng.integers(w - c + 1)
            patch = img[top:top + c, left:left + c]
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            if self.rng.random() < 0.5:
                patch = patch[::-1]
            out[i] = patch
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def rate_distortion(out: dict, x, lmbda: float) -> dict:
    """The training loss of one forward pass.

    ``out`` is a model's forward output ({"x_hat": B×3×H×W, "likelihoods": {name: tensor}});
    returns loss, bpp, mse (on the [0,1] scale) and psnr (dB, on the batch MSE).
    """
    import torch
    n, _, h, w = x.shape
    num_pixels = n * h * w
    bpp = sum(torch.log(lik).sum() for lik in out["likelihoods"].values()) / (-math.log(2) * num_pixels)
    if out["x_hat"] is None:  # synthesis skipped (frozen transforms): the rate is the loss
        return {"loss": bpp, "bpp": bpp, "mse": torch.full((), math.nan), "psnr": math.nan}
    mse = torch.mean((out["x_hat"] - x) ** 2)
    loss = lmbda * 255 ** 2 * mse + bpp
    psnr = 10 * math.log10(1.0 / max(mse.item(), 1e-12))
    return {"loss": loss, "bpp": bpp, "mse": mse, "psnr": psnr}


def split_parameters(model):
    """(main, aux) parameter lists: aux are the names ending with ``quantiles``."""
    main, aux = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (aux if name.endswith("quantiles") else main).append(p)
    if not main:
        raise InvalidArgumentError("model has no trainable parameters")
    return main, aux


@dataclass
class Schedule:
    """Learning rate as a function of progress p in [0, 1].

    Cosine decay from ``lr`` to ``lr * final_fraction`` over the run, multiplied
    during the first ``warmup`` steps by a linear ramp from 0.1 to 1. Progress is max(step/steps,
    elapsed/max_seconds), so a run with a wall-clock budget still completes
    its decay when the machine is slower than planned.
    """
    lr: float
    steps: int
    warmup: int = 500
    final_fraction: float = 0.05
    max_seconds: float | None = None

    def progress(self, step: int, elapsed: float) -> float:
        p = step / max(1, self.steps)
        if self.max_seconds:
            p = max(p, elapsed / self.max_seconds)
        return min(1.0, p)

    def __call__(self, step: int, elapsed: float) -> float:
        p = self.progress(step, elapsed)
        cos = 0.5 * (1 + math.cos(math.pi * p))
        lr = self.lr * (self.final_fraction + (1 - self.final_fraction) * cos)
        if step < self.warmup:
            lr *= 0.1 + 0.9 * step / self.warmup
        return lr


def copy_matching(model, state: dict) -> tuple[list[str], list[str]]:
    """Copy tensors of ``state`` into ``model`` where name and shape match.

    Returns (copied, skipped) names. Used by ``--init`` to fine-tune across λ or
    to start a joint model from a hyperprior's transforms.
    """
    import torch
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


def rescale_latents(state: dict, arch: str, gain: float) -> dict:
    """A copy of ``state`` (CompressAI/zoo keys) reparametrised so that y' = gain · y.

    Layers producing y are multiplied by the gain, layers reading it divided by it, and
    y's entropy model follows (scales and means scale with y; the factorized density
    F'(v) = F(v / gain) through its first matrix and quantiles). Only the quantisation
    step changes, to 1/gain in the old units: with gain = sqrt(λ_new / λ_old) (the
    high-rate optimum, step ∝ λ^-1/2) a model trained at λ_old starts close to λ_new's
    rate. ``--init`` applies it when the init file's λ differs from the run's.
    """
    import torch
    import torch.nn.functional as F
    from .. import zoo
    from ..models.entropy_models import TABLE_BUFFERS
    name = zoo.resolve(arch).name
    if not gain > 0:
        raise InvalidArgumentError(f"gain must be positive, got {gain}")
    out = dict(state)

    def mul(key, f):
        if key not in out:
            raise InvalidArgumentError(f"cannot rescale latents: {key} missing from the weights")
        out[key] = out[key].float() * f

    mul("g_a.6.weight", gain)
    mul("g_a.6.bias", gain)
    mul("g_s.0.weight", 1 / gain)
    if name == "factorized":
        m0 = out["entropy_bottleneck.matrices.0"].float()
        out["entropy_bottleneck.matrices.0"] = torch.log(torch.expm1(F.softplus(m0) / gain))
        mul("entropy_bottleneck.quantiles", gain)
    elif name == "hyperprior":
        mul("h_a.0.weight", 1 / gain)       # reads |y|
        mul("h_s.4.weight", gain)           # scales (ReLU commutes with a positive factor)
        mul("h_s.4.bias", gain)
    elif name == "mean-scale":
        mul("h_a.0.weight", 1 / gain)
        mul("h_s.4.weight", gain)           # scales and means, both linear in y
        mul("h_s.4.bias", gain)
    elif name == "joint":
        mul("h_a.0.weight", 1 / gain)
        mul("context_prediction.weight", 1 / gain)
        mul("entropy_parameters.4.weight", gain)
        mul("entropy_parameters.4.bias", gain)
    for key in [k for k in out if k.endswith(TABLE_BUFFERS)]:
        del out[key]  # coding tables no longer match; update() rebuilds them
    return out


def module_path(name: str) -> str:
    """The name ``--freeze`` (and tools/graft_modules.py) match a parameter or tensor by: a
    VariableRate wrapper's model names are the zoo's under "model.", and "gains" names its
    per-quality gains (frozen with the transforms they belong to)."""
    from .variable_rate import GAIN_KEYS
    short = name[len("model."):] if name.startswith("model.") else name
    return "gains." + short if short.startswith(GAIN_KEYS) else short


def freeze(model, prefixes) -> int:
    """Stop training parameters whose name starts with one of ``prefixes`` (e.g. "g_a", "g_s").

    Freezing both transforms fits only the entropy models (the rate term) on fixed latents,
    and skips the transforms' backward pass: how the shipped joint and factorized entropy
    models were fitted on the hyperprior's transforms. Returns the number frozen."""
    prefixes = tuple(p.strip().rstrip(".") + "." for p in prefixes if p.strip())
    if not prefixes:
        raise InvalidArgumentError("--freeze needs module names such as g_a,g_s")
    count = 0
    for name, p in model.named_parameters():
        if module_path(name).startswith(prefixes):
            p.requires_grad_(False)
            count += 1
    if count == 0:
        raise InvalidArgumentError(f"--freeze {','.join(prefixes)} matches no parameter")
    return count


def load_tensors(path: str) -> dict:
    """Tensors of a safetensors file, or the model of a training checkpoint."""
    return read_init(path)[0]


def read_init(path: str) -> tuple[dict, dict]:
    """(tensors, metadata) of a safetensors file, or of a training checkpoint (``.pt``, read
    once with ``weights_only=True``: tensors and plain containers, never pickled code), whose
    metadata is its reference λ from the saved config."""
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"weights file not found: {path!r}")
    if path.endswith(".safetensors"):
        from safetensors import safe_open
        with safe_open(path, "pt") as f:
            tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
        from .variable_rate import GAIN_KEYS
        from ..zoo.weights import FILE_GAIN_KEYS
        if all(k in tensors for k in FILE_GAIN_KEYS):
            # a variable-rate zoo file stores the gains; training learns their logarithms
            for file_key, key in zip(FILE_GAIN_KEYS, GAIN_KEYS):
                tensors[key] = tensors.pop(file_key).double().log().float()
        return tensors, meta
    import torch
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise InvalidArgumentError(f"{path!r} is neither safetensors nor a lic train checkpoint: {e}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise InvalidArgumentError(f"{path!r} is not a lic train checkpoint (no 'model' state)")
    cfg = json.loads(ckpt.get("config", "{}"))
    # a checkpoint knows its own steps but not what its run was started from: the chain
    # of a file made from it begins here (say the rest in the docs)
    meta = {"lambda": cfg.get("lambda_ref") or cfg.get("lmbda"),
            "training_chain": f"checkpoint {os.path.basename(path)} ({ckpt.get('step', '?')} steps)",
            "steps_total": ckpt.get("step")}
    if cfg.get("qualities"):
        meta["variable_rate"] = ",".join(map(str, cfg["qualities"]))
    return ckpt["model"], meta


# --------------------------------------------------------------------------- DDP


def dist_info() -> tuple[int, int]:
    """(rank, world_size) from torchrun's environment, (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def replicas_identical(model) -> bool:
    """True if every rank holds bit-identical parameters (DDP averaged the gradients)."""
    import torch
    import torch.distributed as dist
    flat = torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])


def init_distributed():
    import torch
    import torch.distributed as dist
    rank, world = dist_info()
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return rank, world


def average_gradients(params, world: int):
    """All-reduce mean of the gradients of ``params`` (the aux parameters, kept out of DDP)."""
    import torch.distributed as dist
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)


# --------------------------------------------------------------------------- loop


@dataclass
class TrainConfig:
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
    threads: int | None = None
    channels_last: bool = False
    bf16: bool = False
    quiet: bool = False
    #: variable-rate training (lic_core.variable_rate): the model is a VariableRate
    #: wrapper and every sample draws one of these qualities
    qualities: tuple[int, ...] | None = None
    lambda_ref: float | None = None


class Trainer:
    """Owns model, optimizers, sampler and step counter; checkpoints all of them.

    ``model`` is any module with ``forward(x) -> {"x_hat", "likelihoods"}`` and
    ``aux_loss()``; ``ddp_model`` is what forward passes go through (the
    DistributedDataParallel wrapper under torchrun, the model itself otherwise).
    """

    def __init__(self, model, sampler: CropSampler, cfg: TrainConfig, val_folder=None,
                 checkpoint=None, log=None):
        import torch
        self.cfg = cfg
        self.model = model
        self.sampler = sampler
        self.val_images = [load_rgb(f) for f in list_images(val_folder)] if val_folder else []
        self.checkpoint = checkpoint
        self.log_path = log
        self.rank, self.world = dist_info()
        if log and self.rank == 0:  # fail now, not at the end of a long run
            os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
        self.device = torch.device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available()
                                   else "cpu")
        self.model.to(self.device)
        if cfg.channels_last:  # about 14% faster convolutions on CPU (oneDNN)
            self.model.to(memory_format=torch.channels_last)
        inner = getattr(model, "model", model)  # a VariableRate wrapper's zoo model
        if cfg.bf16:  # g_a and g_s under bfloat16 autocast in training forwards only
            inner.transform_autocast = torch.bfloat16
        main, aux = split_parameters(model)
        self.aux_params = aux
        if hasattr(inner, "skip_synthesis") and hasattr(inner, "g_a") and hasattr(inner, "g_s"):
            # only the rate can change when g_a, g_s (and a wrapper's gains) are all frozen
            transforms = [p for t in ("g_a", "g_s") for p in getattr(inner, t).parameters()]
            transforms += [p for n, p in model.named_parameters() if n.startswith("log_")]
            inner.skip_synthesis = not any(p.requires_grad for p in transforms)
        self.optimizer = torch.optim.Adam(main, lr=cfg.lr)
        self.aux_optimizer = torch.optim.Adam(aux, lr=cfg.aux_lr) if aux else None
        self.schedule = Schedule(cfg.lr, cfg.steps, cfg.warmup, cfg.final_fraction,
                                 cfg.max_minutes * 60 if cfg.max_minutes else None)
        self.step = 0
        self.elapsed = 0.0  # training seconds, carried across resumes
        self.ddp_model = model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            aux_names = [n for n, _ in model.named_parameters() if n.endswith("quantiles")]
            DDP._set_params_and_buffers_to_ignore_for_model(model, aux_names)
            self.ddp_model = DDP(model, device_ids=[self.device.index] if self.device.type == "cuda"
                                 else None)

    # -- checkpoints: model + both optimizers + step + elapsed + RNG states
    def state(self) -> dict:
        import torch
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict() if self.aux_optimizer else None,
            "step": self.step,
            "elapsed": self.elapsed,
            "numpy_rng": json.dumps(self.sampler.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(self.cfg.__dict__),
        }

    def save_checkpoint(self, path=None):
        import torch
        path = path or self.checkpoint
        if not path or self.rank != 0:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".tmp"
        torch.save(self.state(), tmp)
        os.replace(tmp, path)

    def resume(self, path: str):
        import torch
        if not os.path.isfile(path):
            raise InvalidArgumentError(f"checkpoint not found: {path!r}")
        st = torch.load(path, map_location=self.device, weights_only=True)
        saved = json.loads(st.get("config", "{}"))
        if self.cfg.qualities or saved.get("qualities"):
            theirs = tuple(saved.get("qualities") or ())
            if tuple(self.cfg.qualities or ()) != theirs:
                raise InvalidArgumentError(
                    f"checkpoint {path!r} trained qualities {list(theirs) or 'one'}, this run "
                    f"{list(self.cfg.qualities or ()) or 'one'}: resume with the same --qualities")
            # the gains and loss weights are relative to the checkpoint's reference λ
            self.cfg.lambda_ref = self.model.lambda_ref = float(saved["lambda_ref"])
        self.model.load_state_dict(st["model"], strict=False)
        self.optimizer.load_state_dict(st["optimizer"])
        if self.aux_optimizer and st.get("aux_optimizer"):
            self.aux_optimizer.load_state_dict(st["aux_optimizer"])
        self.step = int(st["step"])
        self.elapsed = float(st.get("elapsed", 0.0))
        rng_state = json.loads(st["numpy_rng"])
        if self.world > 1:  # decorrelate ranks after resume as at start
            self.sampler.rng = np.random.default_rng([self.cfg.seed, self.rank, self.step])
        else:
            self.sampler.rng.bit_generator.state = rng_state
        torch.set_rng_state(st["torch_rng"].cpu())

    # -- one optimisation step
    def train_step(self) -> dict:
        import torch
        lr = self.schedule(self.step, self.elapsed)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        x = self.sampler.batch(self.cfg.batch).to(self.device)
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.aux_optimizer:
            self.aux_optimizer.zero_grad(set_to_none=True)
        if self.cfg.qualities:
            from . import variable_rate as vr
            # drawn from the sampler's generator, so a resumed run draws the same ones
            q_index = torch.from_numpy(
                self.sampler.rng.integers(len(self.cfg.qualities), size=x.shape[0])).to(self.device)
            out = self.ddp_model(x, q_index)
            lambdas = self.model.lambda_tensor(q_index)
            rd = vr.rate_distortion(out, x, lambdas, vr.balance_weights(lambdas, self.cfg.lambda_ref))
        else:
            out = self.ddp_model(x)
            rd = rate_distortion(out, x, self.cfg.lmbda)
        rd["loss"].backward()
        if self.cfg.clip:
            torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.cfg.clip)
        self.optimizer.step()
        aux = torch.zeros(())
        if self.aux_optimizer:
            # the main backward may leave gradients on the quantiles: fit them by aux loss only
            self.aux_optimizer.zero_grad(set_to_none=True)
            aux = self.model.aux_loss()
            aux.backward()
            if self.world > 1:
                average_gradients(self.aux_params, self.world)
            self.aux_optimizer.step()
        self.step += 1
        return {"loss": rd["loss"].item(), "bpp": rd["bpp"].item(), "psnr": rd["psnr"],
                "aux": aux.item(), "lr": lr}

    def validate(self) -> dict:
        """Forward-pass estimate on the validation images (likelihood bpp, rounded latents)."""
        import torch
        if not self.val_images:
            return {}
        if self.cfg.qualities:  # every trained quality, keyed by it
            out = {}
            for i, q in enumerate(self.cfg.qualities):
                v = self._validate_one(i)
                out.update({f"{k}_q{q}": val for k, val in v.items()})
            return out
        return self._validate_one(None)

    def _validate_one(self, q_index) -> dict:
        import torch
        self.model.eval()
        bpps, psnrs = [], []
        with torch.no_grad():
            for img in self.val_images:
                h, w, _ = img.shape
                # whole 64-pixel blocks (zoo models pad any size; plain modules may not)
                h64, w64 = (h - h % 64 or h), (w - w % 64 or w)
                x = torch.from_numpy(img[:h64, :w64]).permute(2, 0, 1)[None].float().div(255).to(self.device)
                out = self.model(x) if q_index is None else self.model(x, torch.tensor([q_index]))
                rd = rate_distortion(out, x, self.cfg.lmbda)
                x_hat = out["x_hat"].clamp(0, 1)
                mse = torch.mean((x_hat - x) ** 2).item()
                bpps.append(rd["bpp"].item())
                psnrs.append(10 * math.log10(1 / max(mse, 1e-12)))
        self.model.train()
        return {"val_bpp": float(np.mean(bpps)), "val_psnr": float(np.mean(psnrs))}

    def _log(self, record: dict):
        if self.rank != 0 or not self.log_path:
            return
        # NaN (no distortion measured in a rate-only fit) is written as null: valid JSON
        record = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def run(self) -> dict:
        from tqdm import tqdm
        cfg = self.cfg
        show = self.rank == 0 and not cfg.quiet
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not show, dynamic_ncols=True,
                   mininterval=2.0)
        last_ckpt = time.time()
        avg = None
        last = {}
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
                self._log({"step": self.step, "elapsed": round(self.elapsed, 1), **avg})
            if cfg.val_every and self.step % cfg.val_every == 0:
                v = self.validate()
                if v:
                    self._log({"step": self.step, **v})
                    if show:
                        bar.write(f"step {self.step}: " + ", ".join(
                            f"{k} {val:.4f}" for k, val in v.items()))
            if time.time() - last_ckpt > cfg.ckpt_every_s:
                self.save_checkpoint()
                last_ckpt = time.time()
        bar.close()
        self.save_checkpoint()
        final = self.validate()
        self._log({"step": self.step, "final": True, **final})
        return {"step": self.step, "elapsed": self.elapsed, **(avg or {}), **final}


# --------------------------------------------------------------------------- CLI


def build_model(arch: str, quality: int, N: int | None, M: int | None, factory: str | None = None):
    """A random-init model: ``lic_core.zoo.build`` or, with ``factory='file.py:function'``,
    ``function(arch, N=N, M=M)`` from a user file (custom architectures)."""
    if factory:
        import importlib.util
        path, _, fn = factory.partition(":")
        spec = importlib.util.spec_from_file_location("lic_user_factory", path)
        if spec is None or not fn:
            raise InvalidArgumentError(f"--factory must be FILE.py:FUNCTION, got {factory!r}")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return getattr(mod, fn)(arch, N=N, M=M)
    from .. import zoo
    return zoo.build(arch, quality=quality, N=N, M=M)


def export(model, path: str, metadata: dict, half=(), gains=None):
    """``update()`` the entropy models and write safetensors through the zoo (or plainly).
    ``gains`` = (qualities, log_gain, log_inv_gain): a variable-rate zoo file."""
    import torch
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    if hasattr(model, "update"):
        model.update(force=True)
    meta = {k: str(v) for k, v in metadata.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    from .. import zoo
    if getattr(model, "name", None) in zoo.REGISTRY:
        zoo.save_weights(model, path, half=half, gains=gains, **meta)
    else:  # a --factory model outside the zoo
        if gains is not None:
            raise InvalidArgumentError("variable-rate export needs a zoo model")
        from safetensors.torch import save_file
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, path, metadata=meta)
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


def export_variable_rate(wrapper, args, meta: dict, init_meta: dict, result: dict,
                         half=()) -> list[str]:
    """The variable-rate zoo file (e.g. hyperprior-q1-8.safetensors: the model once plus
    every quality's gains; what the zoo ships, and the --init of a later stage) and one
    ordinary zoo file per quality with its gains folded into g_a and g_s."""
    from ..models.entropy_models import TABLE_BUFFERS
    span = f"{wrapper.qualities[0]}-{wrapper.qualities[-1]}"
    steps = int(meta["steps"])
    init_name = os.path.basename(args.init) if args.init else ""
    common = dict(meta, variable_rate=",".join(map(str, wrapper.qualities)))
    # first: rounds the half prefixes in place, so the folds below start from what ships
    # "lambda" of a variable-rate file is the reference its gains started from (an --init
    # of a later stage reads it); "lambdas" are the qualities' own; no single quality
    wmeta = dict(common, quality="", lambdas=",".join(f"{lam:g}" for lam in wrapper.lambdas),
                 **{"lambda": wrapper.lambda_ref})
    wmeta.update(lineage(init_meta, args.arch, wrapper.lambda_ref, steps, 1.0, args.freeze,
                         init_name, stage=f"{args.arch} variable-rate q{span}:{steps} steps"))
    paths = [export(wrapper.model, args.out.replace("{q}", span), wmeta, half=half,
                    gains=(wrapper.qualities, *wrapper.gains()))]
    for q in wrapper.qualities:
        # the wrapper's channels: a quality's default N, M may differ from the run's
        model = build_model(args.arch, q, wrapper.model.N, wrapper.model.M, args.factory)
        copied, skipped = copy_matching(model, wrapper.folded_state(q))
        missing = {k for k in model.state_dict() if not k.endswith(TABLE_BUFFERS)} - set(copied)
        if missing or skipped:
            raise RuntimeError(f"folding quality {q}: missing {sorted(missing)}, unmatched {skipped}")
        lam = lambda_for_quality(q)
        m = dict(common, quality=q, **{"lambda": lam},
                 val_bpp=result.get(f"val_bpp_q{q}", ""), val_psnr=result.get(f"val_psnr_q{q}", ""))
        m.update(lineage(init_meta, args.arch, lam, steps, 1.0, args.freeze, init_name,
                         stage=f"{args.arch} variable-rate q{span}:{steps} steps, gains folded for q{q}"))
        paths.append(export(model, args.out.replace("{q}", str(q)), m, half=half))
    return paths


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="lic train", description=__doc__.split("\n")[0])
    p.add_argument("--arch", required=True, help="factorized, hyperprior, mean-scale or joint")
    p.add_argument("--quality", type=int, default=None,
                   help="1..8, selects λ (with --qualities: the reference λ of the gains' start)")
    p.add_argument("--qualities", default=None,
                   help="variable-rate training of one model for several qualities, e.g. 1-8: "
                        "per-quality latent gains, folded into one zoo file per quality at export "
                        "(--out must then contain {q})")
    p.add_argument("--lambda", dest="lmbda", type=float, default=None, help="override λ")
    p.add_argument("--N", type=int, default=None)
    p.add_argument("--M", type=int, default=None)
    p.add_argument("--data", default=None, help="training image folder (default ../shared/data/train)")
    p.add_argument("--val", default=None, help="validation folder (default ../shared/data/kodak-dev)")
    p.add_argument("--no-val", action="store_true")
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget; the LR schedule follows whichever of steps/time ends first")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--aux-lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--final-fraction", type=float, default=0.05)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--val-every", type=int, default=2000)
    p.add_argument("--ckpt-every", type=float, default=300.0, help="seconds between checkpoints")
    p.add_argument("--checkpoint", default=None, help="checkpoint path (torch.save of tensors, weights_only)")
    p.add_argument("--resume", default=None, help="resume from this checkpoint")
    p.add_argument("--init", default=None, help="safetensors to copy matching tensors from")
    p.add_argument("--freeze", default=None,
                   help="comma-separated module prefixes not to train, e.g. g_a,g_s")
    p.add_argument("--no-rescale", action="store_true",
                   help="with --init at another λ: do not rescale the latents by sqrt(λ/λ_init)")
    p.add_argument("--out", default=None, help="export safetensors here at the end")
    p.add_argument("--log-file", dest="log", default=None, help="JSON-lines log file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--bf16", action="store_true",
                   help="run g_a and g_s under bfloat16 autocast in training (about 2x faster on "
                        "CPUs with AVX512-BF16; entropy models, loss and exports stay float32)")
    p.add_argument("--half", default="",
                   help="module prefixes stored as float16 in the exported file, e.g. g_a,g_s "
                        "(how the zoo ships its transforms)")
    p.add_argument("--quantization", choices=("mixed", "noise"), default="mixed",
                   help="what g_s, h_s and the context model see in training: 'mixed' "
                        "(default) the rounded values with a straight-through gradient, "
                        "'noise' the uniform-noise proxy (CompressAI's forward); the rate "
                        "term always uses the noise proxy")
    p.add_argument("--factory", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import torch
    args = parse_args(argv)
    from . import variable_rate as vr
    qualities = None
    if args.qualities:
        qualities = vr.parse_qualities(args.qualities)
        if args.out and "{q}" not in args.out:
            raise InvalidArgumentError("with --qualities, --out must contain {q} (one file per quality)")
        if args.quality is None:
            args.quality = qualities[len(qualities) // 2]
    if args.quality is None:
        raise InvalidArgumentError("--quality is required (or --qualities for a variable-rate run)")
    lmbda = args.lmbda if args.lmbda is not None else lambda_for_quality(args.quality)
    rank, world = init_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    elif world > 1 and not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(args.seed)  # same init on every rank (DDP also broadcasts it)
    data = args.data or default_folder("train")
    if data is None:
        raise InvalidArgumentError("no --data folder given and ../shared/data/train does not exist")
    val = None if args.no_val else (args.val or default_folder("kodak-dev"))
    model = build_model(args.arch, args.quality, args.N, args.M, args.factory)
    if hasattr(model, "train_quantization"):
        model.train_quantization = args.quantization
    init_meta, gain = {}, 1.0
    target = model
    if args.init:
        state, init_meta = read_init(args.init)
        variable = any(k in state for k in vr.GAIN_KEYS)
        if variable and not qualities:
            raise InvalidArgumentError(
                f"--init {args.init} is a variable-rate model (per-quality gains): start a "
                f"single-quality run from one of its per-quality files, or train with --qualities")
        if qualities and init_meta.get("lambda"):
            # the gains are relative to the init's λ (a variable-rate file keeps its own)
            lmbda = float(init_meta["lambda"])
        if variable:  # transforms and gains go in together
            model = target = vr.VariableRate(model, qualities, lambda_ref=lmbda)
        elif not qualities and not args.no_rescale and init_meta.get("lambda") \
                and init_meta.get("architecture"):
            gain = math.sqrt(lmbda / float(init_meta["lambda"]))
            if abs(gain - 1) > 1e-6:
                state = rescale_latents(state, init_meta["architecture"], gain)
        copied, skipped = copy_matching(target, state)
        if not copied:
            raise InvalidArgumentError(f"--init {args.init}: no tensor matches this {args.arch} model")
        if variable and any(k in skipped for k in vr.GAIN_KEYS):
            raise InvalidArgumentError(
                f"--init {args.init} has gains for qualities {init_meta.get('variable_rate', '?')}, "
                f"this run trains {','.join(map(str, qualities))}: use the same list")
        if rank == 0:
            print(f"--init: copied {len(copied)} tensors, skipped {len(skipped)}, latent gain "
                  f"{gain:.4f}", file=sys.stderr)
    if qualities and not isinstance(model, vr.VariableRate):
        model = vr.VariableRate(model, qualities, lambda_ref=lmbda)
    if args.freeze:
        frozen = freeze(model, args.freeze.split(","))
        if rank == 0:
            print(f"--freeze: {frozen} tensors fixed", file=sys.stderr)
    sampler = CropSampler(data, args.crop, seed=args.seed * 1000 + rank)
    cfg = TrainConfig(lmbda=lmbda, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                      aux_lr=args.aux_lr, warmup=args.warmup, final_fraction=args.final_fraction,
                      max_minutes=args.max_minutes, clip=args.clip, val_every=args.val_every,
                      ckpt_every_s=args.ckpt_every, seed=args.seed, channels_last=args.channels_last,
                      bf16=args.bf16,
                      quiet=args.quiet, qualities=qualities, lambda_ref=lmbda)
    trainer = Trainer(model, sampler, cfg, val_folder=val, checkpoint=args.checkpoint, log=args.log)
    if args.resume:
        trainer.resume(args.resume)
    t0 = time.time()
    result = trainer.run()
    if world > 1:
        in_sync = replicas_identical(model)
        trainer._log({"step": trainer.step, "world_size": world, "replicas_identical": in_sync})
        if not in_sync:
            raise RuntimeError("DDP replicas diverged: parameters differ between ranks")
    if rank == 0 and args.out:
        from .. import __version__
        meta = {
            "architecture": args.arch, "quality": args.quality, "N": args.N, "M": args.M,
            "lambda": lmbda, "steps": trainer.step, "crop": args.crop, "batch": args.batch * world,
            "data": os.path.relpath(data, repo_root()) if data else "", "lic_core_version": __version__,
            "quantization": (args.quantization if hasattr(getattr(model, "model", model),
                                                          "train_quantization") else ""),
            "lr": args.lr, "lr_schedule": f"warmup {args.warmup} then cosine to x{args.final_fraction}",
            "train_seconds": round(trainer.elapsed, 1),
            "train_precision": "bfloat16 autocast in g_a, g_s" if args.bf16 else "float32",
            "init": os.path.basename(args.init) if args.init else "",
            "val_bpp": result.get("val_bpp", ""), "val_psnr": result.get("val_psnr", ""),
            "world_size": world,
        }
        half = [p for p in args.half.split(",") if p.strip()]
        if qualities:
            export_variable_rate(model, args, meta, init_meta, result, half=half)
        else:
            meta.update(lineage(init_meta, args.arch, lmbda, trainer.step, gain, args.freeze,
                                os.path.basename(args.init) if args.init else ""))
            export(model, args.out, meta, half=half)
        print(f"exported {args.out} after {trainer.step} steps ({time.time() - t0:.0f} s)", file=sys.stderr)
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
