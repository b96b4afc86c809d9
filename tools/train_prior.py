#!/usr/bin/env python
"""Train a space-channel prior on the frozen transforms of a shipped variable-rate model.

The transforms (g_a, g_s and their per-quality gains) are the joint model's, unchanged;
only the context networks learn (channel context, spatial context, entropy parameters);
h_a, the entropy bottleneck and h_s are the joint model's, frozen too, so ẑ costs what
it costs there and every bit saved is ŷ's. Since g_a is frozen, y = g_a(x) is computed once per training
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


def rate_bits(out) -> torch.Tensor:
    return sum(-torch.log2(l).sum() for l in out["likelihoods"].values())


@torch.no_grad()
def evaluate(model, joint_models, eval_latents, ratios, baseline_cache: dict) -> dict:
    """Ideal bits per pixel on the evaluation latents at each quality, new prior vs the
    joint model's (both in eval mode, on the same latents)."""
    model.eval()
    report = {}
    for qi, q in enumerate(QUALITIES):
        ours = base = 0.0
        pixels = 0
        for i, y1 in enumerate(eval_latents):
            y = y1.float() * ratios[qi][None, :, None, None]
            ours += float(rate_bits(model.prior_forward(y)))
            if (q, i) not in baseline_cache:
                jm = joint_models[q]
                z = jm.h_a(y)
                _, z_lik = jm.entropy_bottleneck(z)
                z_hat = jm.entropy_bottleneck.quantize(z, "dequantize", jm.entropy_bottleneck.medians().reshape(1, -1, 1, 1))
                params = jm.h_s(z_hat)
                # the joint model's coded path: context over round(y − μ) + μ, walked in
                # its own schedule (the eval forward approximates it with round(y))
                y_hat = jm._autoregressive(params, jm._schedule(*y.shape[-2:], "native"),
                                           _quantiser(y, jm))
                ctx = jm.context_prediction(y_hat)
                s, m = jm.entropy_parameters(torch.cat((params, ctx), 1)).chunk(2, 1)
                _, y_lik = jm.gaussian_conditional(y, s, means=m, training=False)
                baseline_cache[(q, i)] = float(-torch.log2(y_lik).sum() - torch.log2(z_lik).sum())
            base += baseline_cache[(q, i)]
            pixels += y.shape[-2] * y.shape[-1] * 256
        report[q] = (ours / pixels, base / pixels)
    model.train()
    return report


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
    trained = ("channel_context.", "spatial_context.", "entropy_parameters.")
    for name, prm in model.named_parameters():
        prm.requires_grad = name.startswith(trained)
    main_params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.Adam(main_params, lr=a.lr)
    rng = np.random.default_rng(a.seed)
    step, elapsed, history = 0, 0.0, []
    if a.resume and os.path.exists(a.checkpoint):
        ck = torch.load(a.checkpoint, weights_only=True)
        model.load_state_dict(ck["model"], strict=False)
        opt.load_state_dict(ck["optimizer"])
        step, elapsed = ck["step"], ck["elapsed"]
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        torch.set_rng_state(ck["torch_rng"])
        history = json.loads(ck.get("history", "[]"))
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)

    cache = Path(a.cache)
    train = cached_latents(base, a.data, cache, mirror=True)
    evals = cached_latents(base, a.eval_data, cache, mirror=False)
    joint_models = {q: zoo.load("joint", quality=q).eval() for q in QUALITIES}
    baseline: dict = {}
    model.train()

    def save():
        tmp = a.checkpoint + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(a.checkpoint)), exist_ok=True)
        torch.save({"model": {k: v for k, v in model.state_dict().items() if k.startswith(trained)},
                    "optimizer": opt.state_dict(),
                    "step": step, "elapsed": elapsed,
                    "numpy_rng": json.dumps(rng.bit_generator.state),
                    "torch_rng": torch.get_rng_state(),
                    "config": json.dumps(vars(a)), "history": json.dumps(history)}, tmp)
        os.replace(tmp, a.checkpoint)

    def report():
        r = evaluate(model, joint_models, evals, ratios, baseline)
        deltas = [100 * (o / b - 1) for o, b in r.values()]
        line = " ".join(f"q{q}:{o:.4f}/{b:.4f}" for q, (o, b) in r.items())
        print(f"step {step} ({elapsed / 60:.1f} min): bpp ours/joint {line}; "
              f"mean rate change {np.mean(deltas):+.2f} %", flush=True)
        history.append({"step": step, "minutes": round(elapsed / 60, 2),
                        "bpp": {q: [round(o, 5), round(b, 5)] for q, (o, b) in r.items()},
                        "mean_change_percent": round(float(np.mean(deltas)), 3)})

    if step == 0:
        report()
    budget = a.minutes * 60
    t_start, e_start = time.time(), elapsed
    t_window = t_start
    running = []
    while step < a.steps and elapsed < e_start + budget:
        lr = a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(1.0, step / a.total_steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        y = draw(train, ratios, rng, a.batch, a.crop)
        out = model.prior_forward(y, None, train_hyper=False)
        loss = rate_bits(out) / (a.batch * (a.crop * 16) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
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
