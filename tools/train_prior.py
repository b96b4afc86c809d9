#!/usr/bin/env python
"""Train a space-channel prior on the frozen transforms of a shipped variable-rate model.

The transforms (g_a, g_s and their per-quality gains) are the joint model's, unchanged;
the context networks learn (channel context, spatial context, entropy parameters), and
with ``--train-hyper`` h_a, the entropy bottleneck and h_s too (they start as the joint
model's, at their own, lower learning rate; the bottleneck's quantiles on its aux loss).
Without it they stay frozen, so ẑ costs what it costs there and every bit saved is ŷ's. Since g_a is frozen, y = g_a(x) is computed once per training
image (and its mirror image) and kept in RAM; a step draws latent crops, scales each by
a random quality's gains and minimises the rate −log2 p(ŷ, ẑ) alone (the distortion
cannot change: g_s sees ŷ = round(y − μ) + μ, whose error is at most ½ per element,
whatever the prior).

    python tools/train_prior.py --minutes 60 --checkpoint checkpoints/space-channel.pt
    python tools/train_prior.py --resume --minutes 60 --checkpoint checkpoints/space-channel.pt

Every ``--every`` steps it writes the checkpoint (model, optimisers, step, RNG) and
prints the rate on the evaluation images against the joint model's own prior, per
quality: bits of ŷ and ẑ under each, ideal (−log2 p in eval mode, rounding), on the same
latents. Heavy on CPU: run it alone (docs/training.md, "Space-channel prior").
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lic_core import zoo
from lic_core.datasets import list_images, load_rgb
from lic_core.zoo.checkerboard import step_masks
from lic_core.zoo.space_channel import SpaceChannelContext

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
QUALITIES = tuple(range(1, 9))


def quality_ratios(base):
    """Per quality q, the factor per channel r_q with y_q = r_q · y_1 (the variable-rate
    gains fold into g_a's last layer, so the ratio is that layer's, row by row)."""
    w1 = base.g_a[6].weight.detach().double().reshape(base.M, -1)
    ratios = []
    for q in QUALITIES:
        wq = zoo.load("joint", quality=q).g_a[6].weight.detach().double().reshape(base.M, -1)
        ratios.append(((wq * w1).sum(1) / (w1 * w1).sum(1)).float())
    return torch.stack(ratios)  # Q × M


@torch.no_grad()
def latents_of(model, folder, mirror: bool) -> list[torch.Tensor]:
    """y_1 = g_a(x) (quality 1's gains) per image, float16, 1×M×h×w (and its mirror's)."""
    out = []
    for f in list_images(folder):
        x = torch.from_numpy(load_rgb(f)).permute(2, 0, 1).float().div(255).unsqueeze(0)
        for flip in ((False, True) if mirror else (False,)):
            xi = torch.flip(x, dims=(3,)) if flip else x
            out.append(model.analysis(model.pad(xi)).half())
    return out


def cached_latents(model, folder, cache: Path, mirror: bool) -> list[torch.Tensor]:
    key = cache / f"{Path(folder).name}-{'mirror' if mirror else 'plain'}.pt"
    if key.exists():
        return torch.load(key, weights_only=True)
    t0 = time.time()
    lat = latents_of(model, folder, mirror)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(lat, key)
    print(f"latents of {folder}: {len(lat)} in {time.time() - t0:.0f} s -> {key}", flush=True)
    return lat


def draw(latents, ratios, rng, batch: int, crop: int):
    """(batch × M × crop × crop float32 latents scaled by random qualities)."""
    out = []
    for _ in range(batch):
        y = latents[rng.integers(len(latents))][0]
        _, h, w = y.shape
        ch, cw = min(crop, h), min(crop, w)
        top, left = rng.integers(h - ch + 1), rng.integers(w - cw + 1)
        patch = y[:, top:top + ch, left:left + cw].float()
        if (ch, cw) != (crop, crop):
            patch = torch.nn.functional.pad(patch, (0, crop - cw, 0, crop - ch), mode="replicate")
        q = rng.integers(len(QUALITIES))
        out.append(patch * ratios[q][:, None, None])
    return torch.stack(out)


def compact_optimizer_state(state: dict) -> dict:
    """An optimizer state dict with its floating tensors (Adam's moments) in bfloat16,
    which keeps float32's range; ``Optimizer.load_state_dict`` casts them back to the
    parameters' dtype."""
    return {**state, "state": {k: {n: v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point()
                                    and v.dim() else v for n, v in st.items()}
                               for k, st in state["state"].items()}}


def grown_kernels(saved: dict, own: dict) -> dict:
    """``saved`` with every convolution kernel smaller than the model's zero-padded to
    the model's size, centred (a 3×3 context becomes the 5×5 one that computes the same
    function), so a checkpoint survives a widened context."""
    out = dict(saved)
    for k, v in saved.items():
        t = own.get(k)
        if t is not None and v.dim() == 4 and t.dim() == 4 and v.shape[:2] == t.shape[:2] \
                and v.shape[2] < t.shape[2] and (t.shape[2] - v.shape[2]) % 2 == 0:
            p = (t.shape[2] - v.shape[2]) // 2
            out[k] = torch.nn.functional.pad(v, (p, p, p, p))
            print(f"{k}: {tuple(v.shape[2:])} kernel grown to {tuple(t.shape[2:])}", flush=True)
    return out


def grown_schedule(saved: dict, own: dict) -> dict:
    """``saved`` with a checkerboard group's one spatial context spread over the model's
    four steps of that group (checkerboard.py): the 2×2 pattern's steps 2 and 3 see at
    least the neighbours a checkerboard's second step sees, so they start from its
    kernel, restricted to the offsets a checkerboard reads (r + c odd: the others hold
    weights that never saw a decoded value, never trained); step 1 (the old anchors at
    odd rows) starts at zero, i.e. as an anchor. The grown model computes what the
    checkpoint's did."""
    out = dict(saved)
    groups = {k.split(".")[1] for k in own if k.startswith("spatial_context.")}
    for g in sorted(groups):
        key = f"spatial_context.{g}.{{}}.{{}}"
        have = sum(1 for k in saved if k.startswith(f"spatial_context.{g}.") and k.endswith(".weight"))
        want = sum(1 for k in own if k.startswith(f"spatial_context.{g}.") and k.endswith(".weight"))
        if have == 1 and want == 3:
            for field in ("weight", "bias"):
                old = saved[key.format(0, field)]
                if field == "weight":
                    r = torch.arange(old.shape[2])[:, None] - old.shape[2] // 2
                    c = torch.arange(old.shape[3])[None, :] - old.shape[3] // 2
                    old = old * ((r + c) % 2 != 0).to(old.dtype)
                out[key.format(0, field)] = torch.zeros_like(old)
                out[key.format(1, field)] = old.clone()
                out[key.format(2, field)] = old.clone()
            print(f"spatial_context.{g}: the checkerboard's context spread over four steps", flush=True)
    return out


def rate_bits(out) -> torch.Tensor:
    return sum(-torch.log2(l).sum() for l in out["likelihoods"].values())


@torch.no_grad()
def evaluate(model, joint_models, eval_latents, ratios, baseline_cache: dict, order=None) -> dict:
    """Ideal bits per pixel on the evaluation latents at each quality, new prior vs the
    joint model's (both in eval mode, on the same latents; ours sees the channels in
    ``order``, None: as they are)."""
    model.eval()
    report = {}
    for qi, q in enumerate(QUALITIES):
        ours = base = 0.0
        pixels = 0
        for i, y1 in enumerate(eval_latents):
            y = y1.float() * ratios[qi][None, :, None, None]
            ours += float(rate_bits(model.prior_forward(reordered(y, order))))
            if (q, i) not in baseline_cache:
                y_lik, z_lik = joint_likelihoods(joint_models[q], y)
                baseline_cache[(q, i)] = float(-torch.log2(y_lik).sum() - torch.log2(z_lik).sum())
            base += baseline_cache[(q, i)]
            pixels += y.shape[-2] * y.shape[-1] * 256
        report[q] = (ours / pixels, base / pixels)
    model.train()
    return report


def reordered(y: torch.Tensor, order) -> torch.Tensor:
    return y if order is None else y[:, order]


@torch.no_grad()
def channel_order(rule: str, joint_model, eval_latents, ratios) -> torch.Tensor | None:
    """The order in which the prior sees ŷ's channels (an experiment: the transforms
    were not trained for channel groups, so which channels form the early groups is
    free): "identity" (None), or the joint model's ideal bits per channel at quality 4
    on the evaluation latents, "bits-descending" or "bits-ascending". h_a's first layer
    is permuted to match (h_a(y[order]) = h_a(y)); h_s's output feeds every group
    whole, so it needs nothing."""
    if rule == "identity":
        return None
    bits = torch.zeros(ratios.shape[1], dtype=torch.float64)
    for y1 in eval_latents:
        y = y1.float() * ratios[3][None, :, None, None]
        y_lik, _ = joint_likelihoods(joint_model, y)
        bits += (-torch.log2(y_lik[0])).sum((1, 2)).double()
    return torch.argsort(bits, descending=rule == "bits-descending", stable=True)


def joint_likelihoods(jm, y):
    """(ŷ's, ẑ's likelihoods) under the joint model ``jm`` on its coded path: the context
    over round(y − μ) + μ, walked in its own schedule (its eval forward approximates
    that with round(y))."""
    z = jm.h_a(y)
    _, z_lik = jm.entropy_bottleneck(z)
    z_hat = jm.entropy_bottleneck.quantize(z, "dequantize", jm.entropy_bottleneck.medians().reshape(1, -1, 1, 1))
    params = jm.h_s(z_hat)
    y_hat = jm._autoregressive(params, jm._schedule(*y.shape[-2:], "native"), _quantiser(y, jm))
    ctx = jm.context_prediction(y_hat)
    s, m = jm.entropy_parameters(torch.cat((params, ctx), 1)).chunk(2, 1)
    _, y_lik = jm.gaussian_conditional(y, s, means=m, training=False)
    return y_lik, z_lik


@torch.no_grad()
def group_report(model, joint_models, eval_latents, ratios, order=None) -> dict:
    """Where the bits go, ours against the joint model's on the same latents: per
    quality, {"z": (ours, joint), "groups": [((anchors ours, joint), (others ours,
    joint)), ...]}, every figure a share of the joint model's total bits (ŷ and ẑ), so
    a row's differences add up to the rate change."""
    model.eval()
    out = {}
    for qi, q in enumerate(QUALITIES):
        ours, theirs = np.zeros((len(model.groups), 2)), np.zeros((len(model.groups), 2))
        z_bits = np.zeros(2)
        for y1 in eval_latents:
            y = y1.float() * ratios[qi][None, :, None, None]
            lik = model.prior_forward(reordered(y, order))["likelihoods"]
            y_lik, z_lik = joint_likelihoods(joint_models[q], y)
            y_lik = reordered(y_lik, order)  # the same channels in each group
            z_bits += (float(-torch.log2(lik["z"]).sum()), float(-torch.log2(z_lik).sum()))
            for g, (a, b) in enumerate(zip(model.group_starts[:-1], model.group_starts[1:])):
                # "anchors": the step without a spatial context
                anchors = torch.from_numpy(step_masks(*y.shape[-2:], model.steps[g])[0])
                for table, l in ((ours, lik["y"][0]), (theirs, y_lik[0])):
                    bits = -torch.log2(l[a:b])
                    table[g] += (float(bits[:, anchors].sum()), float(bits[:, ~anchors].sum()))
        total = theirs.sum() + z_bits[1]
        out[q] = {"z": tuple(z_bits / total),
                  "groups": [((ours[g, 0] / total, theirs[g, 0] / total), (ours[g, 1] / total, theirs[g, 1] / total))
                             for g in range(len(model.groups))]}
    model.train()
    return out


def _quantiser(y, jm):
    M, (h, w) = y.shape[1], y.shape[-2:]
    y_pm = y[0].reshape(M, h * w).t().contiguous()

    def code(positions, means, indexes):
        return torch.round(y_pm[torch.from_numpy(positions)] - means)
    return code


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(SHARED / "train"), help="training images (default %(default)s)")
    p.add_argument("--eval-data", default=str(SHARED / "kodak-dev"), help="evaluation images")
    p.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "lic-prior-latents"),
                   help="folder for the precomputed latents (default %(default)s)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--minutes", type=float, default=60.0, help="stop after this much training time")
    p.add_argument("--steps", type=int, default=10 ** 9)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=16, help="latent crop side (16 = 256 pixels)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-final", type=float, default=3e-5, help="cosine decay target over --total-steps")
    p.add_argument("--total-steps", type=int, default=20000, help="length of the learning-rate schedule")
    p.add_argument("--every", type=int, default=500, help="checkpoint and evaluation interval")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report-groups", action="store_true",
                   help="from the checkpoint, print per quality where the bits go (ẑ, each channel "
                        "group's anchors and others), ours against the joint model's; no training")
    p.add_argument("--channel-order", default="identity",
                   choices=("identity", "bits-descending", "bits-ascending"),
                   help="the order of ŷ's channels the prior sees (an experiment; "
                        "tools/export_space_channel.py exports identity only)")
    p.add_argument("--train-hyper", action="store_true",
                   help="train h_a, the bottleneck and h_s as well (from the joint model's)")
    p.add_argument("--hyper-lr", type=float, default=1e-4, help="their peak learning rate")
    p.add_argument("--aux-lr", type=float, default=1e-3, help="the bottleneck quantiles' learning rate")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    base = zoo.load("joint", quality=1)
    ratios = quality_ratios(base)
    model = SpaceChannelContext(N=base.N, M=base.M)
    # the transforms and the hyperprior start as the joint model's (quality 1's gains
    # folded into g_a; a release folds each quality's as the joint file does)
    state = base.state_dict()
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items()
                           if k in own and own[k].shape == v.shape and not k.startswith("integer.")},
                          strict=False)
    context = ("channel_context.", "spatial_context.", "entropy_parameters.")
    hyper = ("h_a.", "entropy_bottleneck.", "h_s.")
    trained = context + hyper if a.train_hyper else context
    for name, prm in model.named_parameters():
        prm.requires_grad = name.startswith(trained)
    named = [(n, q) for n, q in model.named_parameters() if q.requires_grad]
    groups = [{"params": [q for n, q in named if n.startswith(context)], "peak": a.lr}]
    if a.train_hyper:
        groups.append({"params": [q for n, q in named if n.startswith(hyper) and not n.endswith("quantiles")],
                       "peak": a.hyper_lr})
    main_params = [q for g in groups for q in g["params"]]
    opt = torch.optim.Adam(groups, lr=a.lr)
    aux_params = [q for n, q in named if n.endswith("quantiles")]
    aux_opt = torch.optim.Adam(aux_params, lr=a.aux_lr) if aux_params else None
    rng = np.random.default_rng(a.seed)
    step, elapsed, history = 0, 0.0, []
    cache = Path(a.cache)
    evals = cached_latents(base, a.eval_data, cache, mirror=False)
    joint_models = {q: zoo.load("joint", quality=q).eval() for q in QUALITIES}
    ck = torch.load(a.checkpoint, weights_only=True) \
        if (a.resume or a.report_groups) and os.path.exists(a.checkpoint) else None
    if ck is not None and "channel_order" in ck:
        order = torch.tensor(json.loads(ck["channel_order"]))
    else:
        order = channel_order(a.channel_order, joint_models[4], evals, ratios)
    if order is not None:  # before the checkpoint, whose h_a (if any) is already permuted
        with torch.no_grad():
            model.h_a[0].weight.copy_(model.h_a[0].weight[:, order])
        print(f"channel order ({a.channel_order}): {order.tolist()}", flush=True)
    if ck is not None:
        own = model.state_dict()
        model.load_state_dict(grown_schedule(grown_kernels(ck["model"], own), own), strict=False)
        try:
            opt.load_state_dict(ck["optimizer"])
            if aux_opt is not None and "aux_optimizer" in ck:
                aux_opt.load_state_dict(ck["aux_optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            # the trained set or a kernel changed since the checkpoint: Adam's moments
            # start again (the weights carry over)
            print(f"optimizer state not reused ({e}); Adam starts afresh", flush=True)
            opt = torch.optim.Adam(groups, lr=a.lr)
        step, elapsed = ck["step"], ck["elapsed"]
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        torch.set_rng_state(ck["torch_rng"])
        history = json.loads(ck.get("history", "[]"))
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)
        before = json.loads(ck.get("config", "{}"))
        changed = {k: v for k, v in vars(a).items()
                   if k not in ("resume", "minutes", "steps") and (k not in before or before[k] != v)}
        if changed:  # the run's record says where its recipe changed
            history.append({"step": step, "changed": changed})

    if a.report_groups:
        where = group_report(model, joint_models, evals, ratios, order)
        print("Share of the joint model's bits (ŷ and ẑ) on the evaluation latents, ours / joint's, "
              "per channel group: anchors, others")
        print("| quality | ẑ | " + " | ".join(f"group {g} ({c} ch)" for g, c in enumerate(model.groups)) + " |")
        print("|---:|---:|" + "---:|" * len(model.groups))
        for q, r in where.items():
            cells = [f"{100 * a[0]:.1f} / {100 * a[1]:.1f}, {100 * o[0]:.1f} / {100 * o[1]:.1f}"
                     for a, o in r["groups"]]
            print(f"| {q} | {100 * r['z'][0]:.1f} / {100 * r['z'][1]:.1f} | " + " | ".join(cells) + " |")
        return 0
    train = cached_latents(base, a.data, cache, mirror=True)
    baseline: dict = {}
    model.train()

    def save():
        tmp = a.checkpoint + ".tmp"
        # Adam's moments in bfloat16 (the load casts them back to float32): they only
        # steer the next steps, and the committed checkpoint is half the size
        os.makedirs(os.path.dirname(os.path.abspath(a.checkpoint)), exist_ok=True)
        torch.save({"model": {k: v for k, v in model.state_dict().items() if k.startswith(trained)},
                    "optimizer": compact_optimizer_state(opt.state_dict()),
                    **({"aux_optimizer": compact_optimizer_state(aux_opt.state_dict())} if aux_opt is not None else {}),
                    "step": step, "elapsed": elapsed,
                    "numpy_rng": json.dumps(rng.bit_generator.state),
                    "torch_rng": torch.get_rng_state(),
                    "config": json.dumps(vars(a)), "history": json.dumps(history),
                    **({"channel_order": json.dumps(order.tolist())} if order is not None else {})}, tmp)
        os.replace(tmp, a.checkpoint)

    def report():
        r = evaluate(model, joint_models, evals, ratios, baseline, order)
        deltas = [100 * (o / b - 1) for o, b in r.values()]
        line = " ".join(f"q{q}:{o:.4f}/{b:.4f}" for q, (o, b) in r.items())
        print(f"step {step} ({elapsed / 60:.1f} min): bpp ours/joint {line}; "
              f"mean rate change {np.mean(deltas):+.2f} %", flush=True)
        history.append({"step": step, "minutes": round(elapsed / 60, 2),
                        "bpp": {q: [round(o, 5), round(b, 5)] for q, (o, b) in r.items()},
                        "mean_change_percent": round(float(np.mean(deltas)), 3)})

    if step == 0 or "changed" in history[-1]:
        report()
    budget = a.minutes * 60
    t_start, e_start = time.time(), elapsed
    t_window = t_start
    running = []
    while step < a.steps and elapsed < e_start + budget:
        lr = a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(1.0, step / a.total_steps)))
        for g in opt.param_groups:
            g["lr"] = lr * g["peak"] / a.lr
        y = draw(train, ratios, rng, a.batch, a.crop)
        out = model.prior_forward(reordered(y, order), None, train_hyper=a.train_hyper)
        loss = rate_bits(out) / (a.batch * (a.crop * 16) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
        if aux_opt is not None:
            aux_opt.zero_grad(set_to_none=True)
            model.aux_loss().backward()
            aux_opt.step()
        running.append(float(loss.detach()))
        step += 1
        elapsed = e_start + time.time() - t_start
        if step % 100 == 0:
            now = time.time()
            print(f"step {step}: train bpp {np.mean(running):.4f} lr {lr:.2e} "
                  f"({(now - t_window) / len(running):.3f} s/step)", flush=True)
            running.clear()
            t_window = now
        if step % a.every == 0:
            report()
            save()
    report()
    save()
    print(f"stopped at step {step}, {elapsed / 60:.1f} min trained; checkpoint {a.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
