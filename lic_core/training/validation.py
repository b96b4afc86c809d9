"""Validation during training (``--val``, every ``--val-every`` steps).

An eval-mode forward on each image cropped to whole 64-pixel blocks: likelihood bpp and
PSNR of the clamped x̂, averaged over the images. A fast estimate to watch a run by; the
real byte count is ``lic eval``'s job.
"""
from __future__ import annotations

import numpy as np
import torch

from .data import list_images, load_rgb
from .objective import psnr, rate_distortion


def load_images(folder: str | None) -> list[np.ndarray]:
    """The validation images of ``folder`` as H×W×3 uint8 arrays ([] without a folder)."""
    return [load_rgb(f) for f in list_images(folder)] if folder else []


def validate(model, images: list[np.ndarray], lmbda: float, qualities=None, device="cpu") -> dict:
    """{"val_bpp", "val_psnr"}; for a variable-rate model every quality of ``qualities``,
    keyed "val_bpp_q<q>" and "val_psnr_q<q>". Leaves the model in training mode."""
    if not images:
        return {}
    if not qualities:
        return _validate_one(model, images, lmbda, None, device)
    out = {}
    for i, q in enumerate(qualities):
        v = _validate_one(model, images, lmbda, i, device)
        out.update({f"{k}_q{q}": val for k, val in v.items()})
    return out


def _validate_one(model, images, lmbda, q_index, device) -> dict:
    model.eval()
    bpps, psnrs = [], []
    with torch.no_grad():
        for img in images:
            h, w, _ = img.shape
            # whole 64-pixel blocks, as every documented build's validation was measured
            h64, w64 = (h - h % 64 or h), (w - w % 64 or w)
            x = torch.from_numpy(img[:h64, :w64]).permute(2, 0, 1)[None].float().div(255).to(device)
            out = model(x) if q_index is None else model(x, torch.tensor([q_index]))
            bpps.append(rate_distortion(out, x, lmbda)["bpp"].item())
            psnrs.append(psnr(torch.mean((out["x_hat"].clamp(0, 1) - x) ** 2).item()))
    model.train()
    return {"val_bpp": float(np.mean(bpps)), "val_psnr": float(np.mean(psnrs))}
