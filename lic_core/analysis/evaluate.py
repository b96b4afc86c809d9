"""Rate-distortion evaluation of zoo models against JPEG, WebP and AVIF.

``lic eval DIR --models hyperprior joint --qualities 1 3 5 7`` compresses every
image of DIR with each model (bpp from the real ``model.compress`` bytes), decodes
it, and measures PSNR-RGB and MS-SSIM on the 8-bit reconstruction plus encode and
decode time. Classic codecs go through Pillow over a quality sweep. Writes:

* ``<out>/<name>.json`` per codec, CompressAI-style::

      {"name": ..., "description": ..., "results": {"bpp": [...], "psnr-rgb": [...],
       "ms-ssim": [...], "encoding_time": [...], "decoding_time": [...], "quality": [...]},
       "effort": E}

  (one entry per quality point, each the mean over the images; ``effort``, the encoder
  effort level, for lic-core models only);
* ``<out>/bd_rate.json`` and a Markdown table of BD-rates (PSNR) of each model
  against each baseline, also printed; both name the Bjøntegaard interpolation they
  used (``method``: ``rd.DEFAULT_BD_METHOD``, pchip, unless told ``cubic``);
* ``<out>/rd.png``: bpp versus PSNR for all codecs.

This module is the library; ``lic eval`` (:mod:`lic_core.cli.eval`) parses the
arguments and calls it.
"""
from __future__ import annotations

import io
import json
import os
import time

import numpy as np

from . import rd
from ..errors import InvalidArgumentError
from ..datasets import list_images, load_rgb, default_folder

# Down to quality 2 so that weak (early-training) models still share a PSNR range with
# the baselines; BD-rate only integrates where the curves overlap.
BASELINE_QUALITIES = {
    "jpeg": (2, 3, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
    "webp": (2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
    "avif": (10, 20, 30, 40, 50, 60, 70, 80, 90),
}
_PIL_FORMAT = {"jpeg": ("JPEG", {"optimize": True}), "webp": ("WEBP", {"method": 6}),
               "avif": ("AVIF", {})}


def _metrics(orig: np.ndarray, recon: np.ndarray) -> tuple[float, float]:
    return rd.psnr(orig, recon), rd.ms_ssim(orig, recon)


def _aggregate(name: str, description: str, per_quality: list[dict]) -> dict:
    keys = ("bpp", "psnr-rgb", "ms-ssim", "encoding_time", "decoding_time")
    results = {k: [float(np.mean(p[k])) for p in per_quality] for k in keys}
    results["quality"] = [p["quality"] for p in per_quality]
    return {"name": name, "description": description, "results": results}


# --------------------------------------------------------------------------- classic codecs


def pillow_roundtrip(img: np.ndarray, codec: str, quality: int) -> tuple[bytes, np.ndarray, float, float]:
    """Encode with Pillow and decode back: (bytes, H×W×3 uint8, encode s, decode s)."""
    from PIL import Image
    fmt, extra = _PIL_FORMAT[codec]
    pil = Image.fromarray(img)
    buf = io.BytesIO()
    t0 = time.perf_counter()
    pil.save(buf, fmt, quality=int(quality), **extra)
    t1 = time.perf_counter()
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as dec:
        recon = np.asarray(dec.convert("RGB"))
    t2 = time.perf_counter()
    return data, recon, t1 - t0, t2 - t1


def measure(images: list[np.ndarray], roundtrip, quality) -> dict:
    """One rate point: per-image lists of bpp (from the real byte count), PSNR-RGB, MS-SSIM
    and encode/decode seconds, where ``roundtrip(img)`` → (bytes, H×W×3 uint8, enc s, dec s)."""
    acc = {"quality": quality, "bpp": [], "psnr-rgb": [], "ms-ssim": [], "encoding_time": [],
           "decoding_time": []}
    for img in images:
        data, recon, te, td = roundtrip(img)
        p, m = _metrics(img, recon)
        acc["bpp"].append(len(data) * 8 / (img.shape[0] * img.shape[1]))
        acc["psnr-rgb"].append(p)
        acc["ms-ssim"].append(m)
        acc["encoding_time"].append(te)
        acc["decoding_time"].append(td)
    return acc


def evaluate_baseline(images: list[np.ndarray], codec: str, qualities=None) -> dict:
    if codec not in _PIL_FORMAT:
        raise InvalidArgumentError(f"unknown baseline {codec!r}; choose from {sorted(_PIL_FORMAT)}")
    from PIL import features
    if codec in ("webp", "avif") and not features.check(codec):
        raise InvalidArgumentError(f"this Pillow build cannot encode {codec}")
    per_quality = []
    for q in qualities or BASELINE_QUALITIES[codec]:
        per_quality.append(measure(images, lambda img: pillow_roundtrip(img, codec, q), int(q)))
    import PIL
    return _aggregate(codec, f"Pillow {PIL.__version__} {codec}", per_quality)


# --------------------------------------------------------------------------- learned models


def _to_uint8(decoded, h: int, w: int) -> np.ndarray:
    """A model's decode output (tensor 1×3×H'×W' in [0,1], or {"x_hat": tensor}) as H×W×3 uint8."""
    import torch
    if isinstance(decoded, dict):
        decoded = decoded["x_hat"]
    if isinstance(decoded, np.ndarray) and decoded.dtype == np.uint8:
        return decoded[:h, :w]
    t = torch.as_tensor(decoded).detach().float()
    if t.dim() == 4:
        t = t[0]
    t = t[:, :h, :w].clamp(0, 1).mul(255).round().to(torch.uint8)
    return t.permute(1, 2, 0).contiguous().numpy()


def model_roundtrip(model, img: np.ndarray, effort: int = 0) -> tuple[bytes, np.ndarray, float, float]:
    """``model.compress`` (at ``effort``, zoo.effort) then ``model.decompress``: (bytes,
    H×W×3 uint8, encode s, decode s)."""
    import torch

    from ..images import to_tensor
    h, w, _ = img.shape
    x = to_tensor(img)
    with torch.no_grad():
        t0 = time.perf_counter()
        data = model.compress(x, effort=effort) if effort else model.compress(x)
        t1 = time.perf_counter()
        decoded = model.decompress(data)
        t2 = time.perf_counter()
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidArgumentError(f"model.compress returned {type(data).__name__}, expected bytes")
    return bytes(data), _to_uint8(decoded, h, w), t1 - t0, t2 - t1


def load_model(spec: str, quality: int | None):
    """A zoo model (``name`` with ``quality``; ``name@zoo-v3`` for an older release's
    weights) or a weights file (``path.safetensors``)."""
    from .. import zoo
    if spec.endswith(".safetensors"):
        if not os.path.isfile(spec):
            raise InvalidArgumentError(f"weights file not found: {spec!r}")
        meta = zoo.read_metadata(spec)
        if "architecture" not in meta:
            raise InvalidArgumentError(f"{spec}: no 'architecture' in its metadata")
        # our own file format (load_file: zoo numerics and validation; a variable-rate
        # file needs the quality), not from_compressai, which switches to CompressAI's layout
        variable = bool(str(meta.get("variable_rate", "")).strip())
        model = zoo.load_file(spec, quality if variable else None)
        q = meta.get("quality", "")
        model.quality = quality if variable else (int(q) if q.isdigit() else None)
        return model
    name, _, release = spec.partition("@")
    return zoo.load(name, quality, release=release or None)


def evaluate_model(images: list[np.ndarray], name: str, qualities, label: str | None = None,
                   effort: int = 0) -> dict:
    """One model at each quality; ``effort`` > 0 encodes at that effort level and names
    the result ``<name>-e<effort>`` unless ``label`` says otherwise."""
    per_quality = []
    for q in qualities:
        model = load_model(name, q)
        model.eval()
        quality = int(q) if q is not None else model.quality
        per_quality.append(measure(images, lambda img: model_roundtrip(model, img, effort), quality))
    label = label or (f"{name}-e{effort}" if effort else name)
    out = _aggregate(label, f"lic-core {name}" + (f" effort {effort}" if effort else ""), per_quality)
    out["effort"] = int(effort)
    out["model"] = name
    return out


# --------------------------------------------------------------------------- reports


def bd_table(model_results: list[dict], baseline_results: list[dict],
             method: str = rd.DEFAULT_BD_METHOD) -> dict:
    """{model: {baseline: BD-rate % or None}} (None where the curves do not overlap, or
    have too few points for ``method``)."""
    rd.check_bd_method(method)
    table = {}
    for m in model_results:
        row = {}
        for b in baseline_results:
            try:
                row[b["name"]] = rd.bd_rate(b["results"]["bpp"], b["results"]["psnr-rgb"],
                                            m["results"]["bpp"], m["results"]["psnr-rgb"], method)
            except InvalidArgumentError:
                row[b["name"]] = None
        table[m["name"]] = row
    return table


def _model_of(r: dict) -> str:
    """The model a result measured (results written before "model" was recorded: the
    name without its "-e<effort>")."""
    suffix = f"-e{r.get('effort', 0)}"
    return r.get("model") or (r["name"][:-len(suffix)] if r["name"].endswith(suffix) else r["name"])


def bd_rate_vs_effort_0(model_results: list[dict], method: str = rd.DEFAULT_BD_METHOD) -> dict:
    """{label: BD-rate % against the same model at effort 0, or None where the curves do
    not overlap or have too few points for ``method``} for every result at an effort above 0 whose effort-0 run is among
    ``model_results``: what the encoder's search buys, with the decoder unchanged."""
    rd.check_bd_method(method)
    at_zero = {_model_of(r): r for r in model_results if not r.get("effort", 0)}
    bd = {}
    for r in model_results:
        base = at_zero.get(_model_of(r))
        if not r.get("effort", 0) or base is None:
            continue
        try:
            bd[r["name"]] = rd.bd_rate(base["results"]["bpp"], base["results"]["psnr-rgb"],
                                       r["results"]["bpp"], r["results"]["psnr-rgb"], method)
        except InvalidArgumentError:
            bd[r["name"]] = None
    return bd


def markdown_tables(model_results, baseline_results, table, vs_effort_0: dict | None = None,
                    method: str = rd.DEFAULT_BD_METHOD) -> str:
    """The per-quality table and the BD-rate table (``table`` from :func:`bd_table` and
    ``vs_effort_0`` from :func:`bd_rate_vs_effort_0`, computed here when not given, both
    with ``method``, which the BD table's header names)."""
    lines = ["| model | quality | bpp | PSNR (dB) | MS-SSIM | enc (s) | dec (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in model_results:
        res = r["results"]
        for i, q in enumerate(res["quality"]):
            lines.append(f"| {r['name']} | {q} | {res['bpp'][i]:.3f} | {res['psnr-rgb'][i]:.2f} | "
                         f"{res['ms-ssim'][i]:.4f} | {res['encoding_time'][i]:.2f} | "
                         f"{res['decoding_time'][i]:.2f} |")
    names = [b["name"] for b in baseline_results]
    if not names:  # --baselines with nothing after it: no BD-rate to report
        return "\n".join(lines)
    psnr_of = {r["name"]: r["results"]["psnr-rgb"] for r in list(model_results) + list(baseline_results)}
    # one row per model and effort level: BD-rate against each baseline, and what the
    # encoder's search cost (mean encode seconds per image over the model's qualities)
    result_of = {r["name"]: r for r in model_results}
    # and, when efforts above 0 were run with their effort 0, what the search bought
    if vs_effort_0 is None:
        vs_effort_0 = bd_rate_vs_effort_0(model_results, method)
    extra = ["effort 0"] if vs_effort_0 else []
    least = rd.min_bd_points(method)
    zero_of = {_model_of(r): r["name"] for r in model_results if not r.get("effort", 0)}

    def shared(a: str, b: str) -> tuple[float, float]:  # the PSNR range two curves share
        return max(min(psnr_of[a]), min(psnr_of[b])), min(max(psnr_of[a]), max(psnr_of[b]))

    def not_available(a: str, b: str) -> str:  # why bd_table or bd_rate_vs_effort_0 gave None
        lo, hi = shared(a, b)
        if hi > lo and min(len(psnr_of[a]), len(psnr_of[b])) < least:
            return f"n/a (fewer than {least} points for {method})"
        return "n/a (no shared PSNR range)"

    lines += ["", f"| BD-rate (PSNR, {method}), shared PSNR range | effort | "
              + " | ".join(f"vs {n}" for n in names + extra) + " | encode s/image |",
              "|---|---|" + "---|" * len(names + extra) + "---|"]
    for model, row in table.items():
        cells = []
        for n in names:
            if row[n] is None:
                cells.append(not_available(model, n))
                continue
            lo, hi = shared(model, n)
            cells.append(f"{row[n]:+.1f} % ({lo:.1f}–{hi:.1f} dB)")
        r = result_of[model]
        if vs_effort_0:
            bd = vs_effort_0.get(model)
            cells.append("—" if model not in vs_effort_0 else f"{bd:+.1f} %" if bd is not None
                         else not_available(model, zero_of[_model_of(r)]))
        effort = r.get("effort", 0)
        seconds = float(np.mean(r["results"]["encoding_time"]))
        lines.append(f"| {model} | {effort} | " + " | ".join(cells) + f" | {seconds:.2f} |")
    return "\n".join(lines)


def plot(results: list[dict], path: str, title: str = ""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for r in results:
        res = r["results"]
        style = "--" if r.get("baseline") else "-"
        axes[0].plot(res["bpp"], res["psnr-rgb"], style, marker="o", ms=3, label=r["name"])
        axes[1].plot(res["bpp"], res["ms-ssim"], style, marker="o", ms=3, label=r["name"])
    axes[0].set_ylabel("PSNR-RGB (dB)")
    axes[1].set_ylabel("MS-SSIM")
    for ax in axes:
        ax.set_xlabel("bits per pixel")
        ax.set_xlim(0, 2.0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[0].set_ylim(24, 40)
    axes[1].set_ylim(0.85, 1.0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_images(folder: str | None = None, limit: int | None = None):
    """(folder, files, images): the first ``limit`` images (all if None) of ``folder``
    (default ../shared/data/kodak-dev), sorted by path, decoded to H×W×3 uint8."""
    folder = folder or default_folder("kodak-dev")
    if folder is None:
        raise InvalidArgumentError("give an image folder (../shared/data/kodak-dev does not exist)")
    files = list_images(folder)[:limit]
    return folder, files, [load_rgb(f) for f in files]


def shipped_qualities(name: str) -> list[int]:
    """The qualities whose weights ship for zoo model ``name`` (canonical or alias)."""
    from .. import zoo
    shipped = zoo.list_models()
    canonical = zoo.resolve(name.partition("@")[0]).name
    if not shipped.get(canonical):
        raise InvalidArgumentError(f"no shipped weights for {name!r}; shipped: {shipped}")
    return shipped[canonical]


def evaluate_weight_files(images: list[np.ndarray], paths: list[str]) -> list[dict]:
    """One curve per architecture from weight files (each file one rate point), sorted by bpp."""
    from .. import zoo
    by_arch: dict[str, list[str]] = {}
    for path in paths:
        if not os.path.isfile(path):
            raise InvalidArgumentError(f"weights file not found: {path!r}")
        arch = zoo.read_metadata(path).get("architecture", os.path.basename(path))
        by_arch.setdefault(arch, []).append(path)
    curves = []
    for arch, specs in by_arch.items():
        per_file = [evaluate_model(images, s, [None], label=arch) for s in specs]
        merged = {"name": arch, "description": "lic-core weight files: " + ", ".join(specs),
                  "results": {k: [v for r in per_file for v in r["results"][k]]
                              for k in per_file[0]["results"]}}
        order = np.argsort(merged["results"]["bpp"])
        merged["results"] = {k: [v[i] for i in order] for k, v in merged["results"].items()}
        curves.append(merged)
    return curves


def write_report(out: str, model_results: list[dict], baseline_results: list[dict],
                 files: list[str], folder: str,
                 method: str = rd.DEFAULT_BD_METHOD) -> tuple[str, str]:
    """Write ``<out>/<name>.json`` per codec, ``bd_rate.json``, ``rd_table.md`` and
    ``rd.png``, the BD-rates with ``method`` (named in bd_rate.json's ``bd_method`` and
    the table's header); returns (the Markdown tables, the plot's path)."""
    os.makedirs(out, exist_ok=True)
    for r in baseline_results + model_results:
        with open(os.path.join(out, f"{r['name']}.json"), "w") as f:
            json.dump({k: v for k, v in r.items() if k != "baseline"}, f, indent=2)
    table = bd_table(model_results, baseline_results, method)
    vs_effort_0 = bd_rate_vs_effort_0(model_results, method)
    with open(os.path.join(out, "bd_rate.json"), "w") as f:
        json.dump({"images": [os.path.basename(p) for p in files], "folder": folder,
                   "bd_method": method,
                   "bd_rate_psnr_percent": table,
                   "bd_rate_psnr_percent_vs_effort_0": vs_effort_0}, f, indent=2)
    md = markdown_tables(model_results, baseline_results, table, vs_effort_0, method)
    with open(os.path.join(out, "rd_table.md"), "w") as f:
        f.write(md + "\n")
    png = plot(baseline_results + model_results, os.path.join(out, "rd.png"),
               f"{os.path.basename(os.path.normpath(folder))} ({len(files)} images)")
    return md, png
