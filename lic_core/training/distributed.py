"""Data-parallel training under ``torchrun --nproc_per_node K`` (gloo on CPU, nccl on GPU).

Every rank draws its own crops and computes gradients on them; :func:`average_gradients`
makes the gradients the same on every rank before each optimiser step, so the replicas
stay bit-identical (checked at the end by :func:`replicas_identical`).

Why not DistributedDataParallel: the entropy bottleneck's ``quantiles`` get no gradient
from the main loss and are trained by a second backward (the aux loss) outside any
forward pass, which DDP can only be told about through a private method. Averaging by
hand, one flat all-reduce per backward, uses public calls only; what it gives up, DDP's
overlap of communication with the backward pass, is a few milliseconds for models of a
few megabytes.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(rank, world_size) from torchrun's environment, (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def start() -> tuple[int, int]:
    """Join torchrun's process group (nccl with one GPU per rank, gloo on CPU); returns
    (rank, world_size). Does nothing in a single process."""
    rank, world = rank_and_world()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return rank, world


def stop() -> None:
    """Leave the process group, if one was joined, once every rank has arrived here: rank 0
    exports files after the last collective, and a rank that tore its connections down
    meanwhile could make gloo abort the slower one."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_from_first_rank(model: torch.nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers, so the replicas start identical
    whatever each rank's random initialisation was."""
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.numel():
                buf = t.contiguous()  # a channels-last weight is sent as a dense copy
                dist.broadcast(buf, src=0)
                if buf.data_ptr() != t.data_ptr():
                    t.copy_(buf)


def average_gradients(params, world: int) -> None:
    """Replace each gradient of ``params`` by its mean over the ranks: one all-reduce of
    all of them, flattened. A parameter without a gradient on this rank contributes
    zeros, so every rank sends a buffer of the same layout."""
    params = list(params)
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    # divided before the sum, as DDP does: exact for a power-of-two world size
    flat = torch.cat([g.reshape(-1) for g in grads]).div_(world)
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        mean = flat[offset:offset + p.numel()].view(p.shape)
        offset += p.numel()
        if p.grad is None:
            p.grad = mean.clone()
        else:
            p.grad.copy_(mean)


def replicas_identical(model: torch.nn.Module) -> bool:
    """True if every rank holds bit-identical parameters."""
    flat = torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])
