"""The ``lic`` command (also ``python -m lic_core``). Decisions: docs/cli.md.

Subcommands: compress, decompress, info, models, analyze, demo, and the thin
entries eval, train, bench. Exit status: 0 ok, 2 usage error (argparse), 1
failure with a one-line ``lic: error: ...`` message (``--debug`` shows the
traceback instead). Progress bars (tqdm, on stderr) appear on work that takes
more than a second; ``--quiet`` silences them and the informational output.

The CLI is a client of the public API (``lic_core.api``, ``lic_core.container``,
``lic_core.info``, ``lic_core.zoo``) like any other program.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from .. import __version__, container
from ..errors import LicError
from ..zoo.registry import QUALITIES, REGISTRY, resolve

__all__ = ["main", "build_parser"]

PROG = "lic"
#: canonical name -> aliases, from the zoo's registry (which imports without torch).
ALIASES = {spec.name: spec.aliases for spec in REGISTRY.values()}
PASS_THROUGH = ("eval", "train", "bench")
#: The zoo's qualities; the container allows 0..255.
MAX_QUALITY = QUALITIES[-1]
#: The demo codes whole samples by default: with the shipped N=64/M=96 weights, all 11
#: shipped models on the 3 whole 768x512 samples took 39 s on the 2-core dev machine.
#: The budget still protects the 2-minute promise when larger weights ship.
DEMO_CROP = 0
DEMO_BUDGET_S = 90.0


# --------------------------------------------------------------------------- helpers

class CommandError(LicError):
    """A failure the CLI reports in one line (exit status 1)."""


def canonical_model(name: str) -> str:
    try:
        return resolve(name).name
    except LicError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def model_list(text: str) -> list[str]:
    names = [canonical_model(t.strip()) for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of model names")
    return list(dict.fromkeys(names))


def quality_arg(text: str) -> int:
    try:
        q = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be an integer, got {text!r}") from None
    if not 1 <= q <= MAX_QUALITY:
        raise argparse.ArgumentTypeError(f"quality must be in 1..{MAX_QUALITY}, got {q}")
    return q


def quality_list(text: str) -> list[int]:
    return [quality_arg(t.strip()) for t in text.split(",") if t.strip()]


def _int_at_least(low: int, what: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v
    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer >= 0")


def _say(args, *parts) -> None:
    if not getattr(args, "quiet", False):
        print(*parts)


def _progress(args, total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr,
                disable=getattr(args, "quiet", False), mininterval=0.5, delay=1.0)


def _read_file(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    return p.read_bytes()


def _write_file(path: str, data: bytes) -> None:
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise FileNotFoundError(f"{p.parent}: output directory does not exist")
    p.write_bytes(data)


def _shipped_models() -> dict:
    """{canonical: [qualities with trained weights]} from the zoo (empty lists if none ship)."""
    from .. import zoo
    shipped = zoo.list_models()
    return {name: sorted(shipped.get(name, [])) for name in ALIASES}


def _resolve_model(name: str, quality: int, random_init: bool):
    """A zoo model with trained weights, or (asked for explicitly) a random-init one."""
    from .. import api, zoo
    if random_init:
        torch_seed(0)
        net = zoo.build(name)
        net.update(force=True)  # a fresh model has no coding tables yet
        net.eval()
        return net, "random-init"
    return api.load_model(name, quality), "trained"


def torch_seed(seed: int) -> None:
    import torch
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- compress / decompress / info

def cmd_compress(args) -> int:
    from .. import api
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", api.LossyConversionWarning)
        rgb = api.to_rgb_array(args.input)
    for w in caught:  # one line each, not Python's two-line warning format
        print(f"{PROG}: warning: {args.input}: {w.message}", file=sys.stderr)
    with _progress(args, 1, f"compress {args.model} q{args.quality}") as bar:
        data = api.compress(rgb, model=args.model, quality=args.quality, max_pixels=args.max_pixels)
        bar.update()
    _write_file(args.output, data)
    h, w = rgb.shape[:2]
    _say(args, f"{args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
               f"({args.model} q{args.quality}, {w}x{h}, {1000 * (time.perf_counter() - t0):.0f} ms)")
    return 0


def cmd_decompress(args) -> int:
    from PIL import Image

    from .. import api
    if Path(args.output).suffix.lower() == ".lic":
        raise CommandError(f"{args.output}: decompress writes an image (.png, .bmp, ...), not .lic")
    data = _read_file(args.input)
    header = container.unpack(data, max_pixels=args.max_pixels)  # fail fast, before torch loads
    if header.quality == 0:
        raise CommandError(f"{args.input} was written by a {header.model} model with weights not "
                           "from the zoo (quality 0); decode it in Python with "
                           "lic_core.decompress(data, model=that_model)")
    with _progress(args, 1, f"decompress {header.model} q{header.quality}") as bar:
        rgb = api.decompress(data, max_pixels=args.max_pixels)
        bar.update()
    out = Path(args.output)
    if not out.parent.exists():
        raise FileNotFoundError(f"{out.parent}: output directory does not exist")
    try:
        Image.fromarray(rgb).save(out)  # H×W×3 uint8 is RGB
    except (KeyError, ValueError) as e:
        raise CommandError(f"{out}: cannot write this image format ({e})") from None
    _say(args, f"{out}: {rgb.shape[1]}x{rgb.shape[0]} RGB from {header.model} q{header.quality}")
    return 0


def cmd_info(args) -> int:
    data = _read_file(args.input)
    f, crc = container.check_crcs(data, max_pixels=args.max_pixels)
    hsize = container.header_size(len(f.latent_shapes), len(f.streams))
    names = REGISTRY[f.model].stream_names if f.model in REGISTRY else ()
    if len(names) != len(f.streams):
        names = tuple(f"s{i}" for i in range(len(f.streams)))
    record = {
        "file": args.input, "bytes": len(data), "format_version": data[8],
        "model": f.model, "model_id": container.MODEL_IDS[f.model], "quality": f.quality,
        "height": f.height, "width": f.width, "latent_shapes": [list(s) for s in f.latent_shapes],
        "header_bytes": hsize, "streams": [{"name": n, "bytes": len(s)} for n, s in zip(names, f.streams)],
        "bpp": 8 * len(data) / f.num_pixels, "payload_bpp": 8 * f.payload_bytes / f.num_pixels,
        "header_crc_ok": crc.header_ok, "payload_crc_ok": crc.payload_ok,
    }
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        quality = f"quality {f.quality}" if f.quality else "quality 0 (weights not from the zoo)"
        lines = [
            ("file", f"{args.input} ({len(data)} bytes)"),
            ("format", f".lic version {record['format_version']}"),
            ("model", f"{f.model} (id {record['model_id']}), {quality}"),
            ("image", f"{f.width} x {f.height} ({f.num_pixels} pixels)"),
            ("latents", ", ".join(f"{h}x{w}" for h, w in f.latent_shapes)),
            ("header", f"{hsize} bytes"),
        ]
        lines += [(f"stream {s['name']}", f"{s['bytes']} bytes ({8 * s['bytes'] / f.num_pixels:.4f} bpp)")
                  for s in record["streams"]]
        lines += [
            ("bpp", f"{record['bpp']:.4f} (file), {record['payload_bpp']:.4f} (streams)"),
            ("CRC-32", f"header {'ok' if crc.header_ok else 'MISMATCH'}, "
                       f"payload {'ok' if crc.payload_ok else 'MISMATCH'}"),
        ]
        for key, value in lines:
            print(f"{key:<10} {value}")
    if not crc.ok:
        part = "header" if not crc.header_ok else "payload"
        raise CommandError(f"{args.input}: {part} CRC-32 mismatch, the file is damaged")
    return 0


def cmd_models(args) -> int:
    shipped = _shipped_models()
    rows = []
    for name, aliases in ALIASES.items():
        q = shipped[name]
        rows.append({"name": name, "id": container.MODEL_IDS[name], "aliases": list(aliases),
                     "qualities": q})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':>2}  {'model':<11} {'aliases':<22} trained qualities")
    for r in rows:
        q = ",".join(map(str, r["qualities"])) or "none shipped (use --random-init where offered)"
        print(f"{r['id']:>2}  {r['name']:<11} {', '.join(r['aliases']):<22} {q}")
    return 0


# --------------------------------------------------------------------------- analyze

def cmd_analyze(args) -> int:
    from .. import api
    from ..analysis import info
    rgb = api.to_rgb_array(args.input)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(args.input).stem
    models = args.models
    if models is None:  # default: every model with trained weights at this quality
        if args.random_init:
            models = list(ALIASES)
        else:
            models = [n for n, qs in _shipped_models().items() if args.quality in qs]
            if not models:
                raise CommandError(f"no trained weights ship for quality {args.quality}; "
                                   "pick models with -m and add --random-init to see the pipeline")
    reports = []
    with _progress(args, len(models), "analyze") as bar:
        for name in models:
            net, kind = _resolve_model(name, args.quality, args.random_init)
            bar.set_postfix_str(name)
            rep = info.rate_report(net, rgb, correction="miller-madow")
            reports.append((rep, kind))
            _write_channel_csv(out_dir / f"{stem}-{name}-q{rep.quality}-channels.csv", rep)
            _write_heatmap(out_dir / f"{stem}-{name}-q{rep.quality}-bits.png", rep, kind, rgb)
            bar.update()
    if args.json:
        print(json.dumps([_report_record(r, k) for r, k in reports], indent=2))
        return 0
    if not args.quiet:
        _print_analysis(args, rgb, reports, out_dir)
    return 0


def _report_record(rep, kind: str) -> dict:
    return {
        "model": rep.model, "quality": rep.quality, "weights": kind,
        "pixels": rep.num_pixels, "file_bytes": rep.file_bytes,
        "ideal_bits": rep.ideal_bits, "coded_bits": rep.coded_bits,
        "y_marginal_bits": rep.y_marginal_bits,
        "side_information_saving_bits": rep.side_information_saving,
        "streams": [{"name": s.name, "conditioning": s.conditioning, "ideal_bits": s.ideal_bits,
                     "coded_bits": s.coded_bits, "per_channel_bits": s.per_channel_bits.tolist()}
                    for s in rep.streams],
    }


def _print_analysis(args, rgb, reports, out_dir: Path) -> None:
    h, w = rgb.shape[:2]
    px = h * w
    print(f"{args.input}: {w}x{h}, {px} pixels. Ideal = -sum log2 p under the model; "
          f"coded = real stream bytes x 8.")
    print(f"{'model':<11} {'q':>3} {'weights':<12} {'stream':<7} {'measures':<12} "
          f"{'ideal bits':>11} {'coded bits':>11} {'ideal bpp':>9} {'coded bpp':>9} {'overhead':>8}")
    for rep, kind in reports:
        for s in rep.streams:
            over = (s.coded_bits / s.ideal_bits - 1) * 100 if s.ideal_bits > 0 else float("nan")
            print(f"{rep.model:<11} {rep.quality:>3} {kind:<12} {s.name:<7} {s.conditioning:<12} "
                  f"{s.ideal_bits:>11.0f} {s.coded_bits:>11d} {s.ideal_bits / px:>9.4f} "
                  f"{s.coded_bits / px:>9.4f} {over:>7.2f}%")
        print(f"{rep.model:<11} {rep.quality:>3} {kind:<12} {'total':<7} {'':<12} "
              f"{rep.ideal_bits:>11.0f} {rep.coded_bits:>11d} {rep.ideal_bits / px:>9.4f} "
              f"{8 * rep.file_bytes / px:>9.4f}  (file incl. header)")
    print()
    print("Side information: bits of y-hat under its own per-channel marginal (Miller-Madow "
          "corrected plug-in; the histogram is free, so it flatters a factorized prior) vs under "
          "the model's conditional:")
    negative_note = False
    for rep, kind in reports:
        y, z = rep.stream("y"), rep.stream("z")
        if z is None:
            print(f"  {rep.model:<11} H_marg(y) = {rep.y_marginal_bits:.0f} bits; model spends "
                  f"{y.ideal_bits:.0f} (no side information)")
            continue
        saving = rep.side_information_saving
        if saving < 0:
            negative_note = True
        print(f"  {rep.model:<11} H_marg(y) = {rep.y_marginal_bits:.0f}  {y.conditioning} = "
              f"{y.ideal_bits:.0f}  => I(y;z) ~ {saving:.0f} bits, side info costs H(z) = "
              f"{z.ideal_bits:.0f}, net {'gain' if saving > z.ideal_bits else 'loss'} "
              f"{abs(saving - z.ideal_bits):.0f} bits")
    if negative_note:
        print("  (a negative estimate: the model's conditional codes y-hat worse than the image's own "
              "histogram would; typical of untrained weights)")
    print()
    print("Bits per channel of y-hat (top 8 channels; all channels in the CSV files):")
    for rep, kind in reports:
        y = rep.stream("y")
        order = y.per_channel_bits.argsort()[::-1]
        total = max(y.ideal_bits, 1e-12)
        top = ", ".join(f"c{int(c)}:{y.per_channel_bits[c] / total * 100:.1f}%" for c in order[:8])
        active = int((y.per_channel_bits > 0.01 * total / len(order)).sum())
        print(f"  {rep.model:<11} {top}  ({active}/{len(order)} channels above 1% of the mean)")
    print(f"\nheatmaps and per-channel CSV files in {out_dir}/")


def _write_channel_csv(path: Path, rep) -> None:
    lines = ["stream,channel,ideal_bits"]
    for s in rep.streams:
        lines += [f"{s.name},{c},{b:.3f}" for c, b in enumerate(s.per_channel_bits)]
    path.write_text("\n".join(lines) + "\n")


def _write_heatmap(path: Path, rep, kind: str, rgb) -> None:
    """Image beside the ŷ bit allocation (bits per latent position, over all channels)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    y = rep.stream("y")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].imshow(rgb)
    axes[0].set_title("input")
    im = axes[1].imshow(y.bit_map, cmap="inferno")
    axes[1].set_title(f"{rep.model} q{rep.quality} ({kind}): bits of ŷ per position")
    fig.colorbar(im, ax=axes[1], label="bits")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --------------------------------------------------------------------------- demo

def cmd_demo(args) -> int:
    import numpy as np
    import torch

    from .. import api

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = api.sample_paths()[:args.images]
    if not images:
        raise CommandError(f"no sample images found in {api.SAMPLES_DIR}")
    pictures = [(p.stem, _center_crop(api.to_rgb_array(p), args.crop)) for p in images]
    shipped = _shipped_models()
    models = args.models
    if models is None:
        # Families without trained weights would only add meaningless random-init rows
        # to the table and plot; they run when named explicitly.
        models = [n for n in ALIASES if shipped[n]] or list(ALIASES)
        untrained = [n for n in ALIASES if n not in models]
        if untrained:
            _say(args, f"NOTE: no trained weights ship for {', '.join(untrained)}; skipped "
                       f"(name them with --models to run them with random init)")
    plan = []  # (model, quality or None for random init)
    for name in models:
        qualities = shipped[name]
        if args.qualities:
            qualities = [q for q in qualities if q in args.qualities]
        if qualities and not args.random_init:
            plan += [(name, q) for q in qualities]
        else:
            plan.append((name, None))
    if any(q is None for _, q in plan):
        missing = sorted({n for n, q in plan if q is None})
        reason = "--random-init was given" if args.random_init else "no trained weights ship for them"
        _say(args, f"NOTE: {', '.join(missing)} run with RANDOM-INIT weights ({reason}); their "
                   f"bpp/PSNR say nothing about compression quality, only that the pipeline works.")
    # Image-major order: every (model, quality) sees the first image before any sees the
    # second, so a time budget that runs out still leaves a complete RD plot.
    # Order: image, then quality rank, then model; so the budget, which never stops
    # each model's first case, leaves every model in the table and a curve that grows
    # evenly. rank = position of the quality among that model's planned qualities.
    rank = {(name, quality): [q for n, q in plan if n == name].index(quality)
            for name, quality in plan}
    cases = sorted(((i, rank[name, quality], list(ALIASES).index(name), name, quality, stem, rgb)
                    for i, (stem, rgb) in enumerate(pictures) for name, quality in plan),
                   key=lambda c: c[:3])
    nets, rows, skipped = {}, [], 0
    start = time.perf_counter()
    with _progress(args, len(cases), "demo") as bar:
        for index, r, _, name, quality, stem, rgb in cases:
            protected = index == 0 and r == 0
            if not protected and args.budget and time.perf_counter() - start > args.budget:
                skipped = len(cases) - len(rows)
                break
            if (name, quality) not in nets:
                nets[name, quality] = _resolve_model(name, quality, quality is None)
                _warm_up(nets[name, quality][0], rgb, torch)
            net, kind = nets[name, quality]
            bar.set_postfix_str(f"{name} q{quality or 0} {stem}")
            rows.append(_demo_one(net, kind, stem, rgb, np, torch))
            bar.update()
    rows.sort(key=lambda r: (list(ALIASES).index(r["model"]), r["quality"], r["image"]))
    failed = [r for r in rows if not r["round_trip_ok"]]
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    plot = out_dir / "rd.png"
    _write_rd_plot(plot, rows)
    if not args.quiet:
        _print_demo_table(rows, pictures)
        print(f"\nRD plot: {plot}\nresults: {out_dir / 'results.json'}")
        print(f"total {time.perf_counter() - start:.1f} s")
    if skipped:
        _say(args, f"NOTE: the {args.budget:g} s budget ran out: {skipped} of {len(cases)} cases "
                   "were not run (use --budget 0, fewer --models/--qualities or a smaller --crop)")
    if failed:
        raise CommandError(f"round trip failed for {len(failed)} case(s), e.g. "
                           f"{failed[0]['model']} on {failed[0]['image']}")
    return 0


def _center_crop(rgb, size):
    if not size:
        return rgb
    h, w = rgb.shape[:2]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return rgb[top:top + ch, left:left + cw].copy()


def _warm_up(net, rgb, torch) -> None:
    """One small untimed round trip, so the table's times exclude first-call costs
    (table binding, allocator growth, lazy imports)."""
    from .. import api
    with torch.inference_mode():
        net.decompress(net.compress(api._to_tensor(_center_crop(rgb, 64))))


def _demo_one(net, kind: str, stem: str, rgb, np, torch) -> dict:
    """Compress, decompress and check one image; times are wall-clock on this machine."""
    from .. import api
    from ..analysis import info
    x = api._to_tensor(rgb)
    with torch.inference_mode():
        t0 = time.perf_counter()
        data, x_hat_enc = net.compress(x, return_x_hat=True)
        t1 = time.perf_counter()
        decoded = api.decompress(data, model=net)
        t2 = time.perf_counter()
        likelihoods = net(x)["likelihoods"]
    expected = api._to_uint8(x_hat_enc)
    ideal = sum(info.ideal_bits(v) for v in likelihoods.values())
    header = container.unpack(data)
    px = rgb.shape[0] * rgb.shape[1]
    mse = float(np.mean((decoded.astype(np.float64) - rgb.astype(np.float64)) ** 2))
    psnr = 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")
    return {
        "model": net.name, "quality": header.quality, "weights": kind, "image": stem,
        "width": rgb.shape[1], "height": rgb.shape[0], "bytes": len(data),
        "ideal_bytes": ideal / 8, "bpp": 8 * len(data) / px, "psnr": psnr,
        "encode_ms": 1000 * (t1 - t0), "decode_ms": 1000 * (t2 - t1),
        # The decoder must rebuild exactly the encoder's reconstruction.
        "round_trip_ok": bool(decoded.shape == rgb.shape and np.array_equal(decoded, expected)),
    }


def _print_demo_table(rows, pictures) -> None:
    print(f"{'model':<11} {'q':>3} {'weights':<12} {'image':<8} {'bytes':>7} {'ideal':>8} "
          f"{'over':>6} {'bpp':>7} {'PSNR dB':>8} {'enc ms':>8} {'dec ms':>8} round trip")
    for r in rows:
        over = (r["bytes"] / r["ideal_bytes"] - 1) * 100 if r["ideal_bytes"] > 0 else float("nan")
        print(f"{r['model']:<11} {r['quality']:>3} {r['weights']:<12} {r['image']:<8} {r['bytes']:>7d} "
              f"{r['ideal_bytes']:>8.0f} {over:>5.1f}% {r['bpp']:>7.4f} {r['psnr']:>8.2f} "
              f"{r['encode_ms']:>8.0f} {r['decode_ms']:>8.0f} {'ok' if r['round_trip_ok'] else 'FAILED'}")
    sizes = {f"{p.shape[1]}x{p.shape[0]}" for _, p in pictures}
    print(f"({len(pictures)} image(s), {', '.join(sorted(sizes))}; 'ideal' = -sum log2 p / 8 under the "
          f"model, 'over' = file bytes vs ideal, header included)")


def _write_rd_plot(path: Path, rows) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        points = {}
        for r in mine:
            points.setdefault(r["quality"], []).append((r["bpp"], r["psnr"]))
        xs = [sum(b for b, _ in v) / len(v) for _, v in sorted(points.items())]
        ys = [sum(p for _, p in v) / len(v) for _, v in sorted(points.items())]
        label = model + (" (random init)" if mine[0]["weights"] != "trained" else "")
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR (dB, RGB)")
    ax.set_title("lic demo: rate-distortion on the bundled Kodak samples")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------- pass-through entries

def _run_module_main(module: str, argv: list[str]) -> int:
    import importlib
    try:
        mod = importlib.import_module(f"lic_core.{module}")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("lic_core"):
            raise CommandError(f"lic_core.{module} is not part of this installation") from None
        raise
    rc = mod.main(argv)
    return int(rc or 0)


def _run_bench(argv: list[str]) -> int:
    script = Path(__file__).resolve().parents[2] / "bench" / "coder.py"
    if not script.is_file():
        raise CommandError(f"{script} not found: `lic bench` runs bench/coder.py from a source "
                           "checkout (pip install -e .), and this installation has none")
    return subprocess.call([sys.executable, str(script), *argv])


def _dispatch_pass_through(argv: list[str]):
    """`lic [--debug] {eval,train,bench} ARGS...`: everything after the name goes to the tool."""
    flags = []
    for i, token in enumerate(argv):
        if token in PASS_THROUGH:
            return token, argv[i + 1:], flags
        if not token.startswith("-"):
            return None
        flags.append(token)
    return None


# --------------------------------------------------------------------------- parser and main

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-Q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or informational output")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of a failure")
    common.add_argument("--max-pixels", type=positive_int, default=argparse.SUPPRESS,
                        help="refuse images larger than this (default: $LIC_MAX_PIXELS or 2^24)")

    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common],
        description="lic-core: learned image compression with a compiled rANS coder.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    model_help = f"zoo model: {', '.join(ALIASES)} (or a CompressAI alias)"

    p = sub.add_parser("compress", parents=[common], help="compress an image to a .lic file")
    p.add_argument("input", help="image file (PNG, JPEG, ...)")
    p.add_argument("output", help="output .lic file")
    p.add_argument("-m", "--model", type=canonical_model, default="hyperprior", help=model_help)
    p.add_argument("-q", "--quality", type=quality_arg, default=3, help="zoo quality (default 3)")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("decompress", parents=[common], help="decode a .lic file to an image")
    p.add_argument("input", help=".lic file")
    p.add_argument("output", help="output image (format from the extension, e.g. .png)")
    p.set_defaults(func=cmd_decompress)

    p = sub.add_parser("info", parents=[common], help="show a .lic file's header, streams and CRCs")
    p.add_argument("input", help=".lic file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("models", parents=[common], help="list zoo models, ids and trained qualities")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("analyze", parents=[common],
                       help="where the bits go: ideal vs coded, side information, per channel, heatmaps")
    p.add_argument("input", help="image file")
    p.add_argument("-m", "--models", type=model_list, default=None,
                   help="comma-separated models (default: all with trained weights at -q)")
    p.add_argument("-q", "--quality", type=quality_arg, default=3, help="zoo quality (default 3)")
    p.add_argument("--out", default="lic-analyze", help="directory for heatmaps and CSV files")
    p.add_argument("--random-init", action="store_true",
                   help="use random-init models (when no trained weights ship)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("demo", parents=[common],
                       help="compress the bundled Kodak samples with every model; table and RD plot")
    p.add_argument("--out", default="lic-demo", help="output directory (default ./lic-demo)")
    p.add_argument("--models", type=model_list, default=None,
                   help="comma-separated subset (default: every family with shipped weights, "
                        "or all four with random init if none ship)")
    p.add_argument("--qualities", type=quality_list, default=None,
                   help="comma-separated subset of the shipped qualities")
    p.add_argument("--images", type=positive_int, default=3, help="how many samples (default 3)")
    p.add_argument("--crop", type=non_negative_int, default=DEMO_CROP,
                   help=f"center-crop each sample to at most CROP x CROP pixels; 0 = whole "
                        f"768x512 images (default {DEMO_CROP})")
    p.add_argument("--random-init", action="store_true",
                   help="use random-init models even where trained weights ship")
    p.add_argument("--budget", type=float, default=DEMO_BUDGET_S,
                   help=f"stop starting new cases after this many seconds, 0 = no limit "
                        f"(default {DEMO_BUDGET_S:.0f}; every model gets the first image first)")
    p.set_defaults(func=cmd_demo)

    sub.add_parser("eval", help="rate-distortion evaluation (lic_core.evaluate; args passed on)")
    sub.add_parser("train", help="train a zoo model (lic_core.train; args passed on)")
    sub.add_parser("bench", help="coder benchmark (bench/coder.py in a checkout; args passed on)")
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError):
        text = f"missing key {text}"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = _dispatch_pass_through(argv)
    debug = "--debug" in (passthrough[2] if passthrough else argv)
    try:
        if passthrough:
            command, rest, _ = passthrough
            return _run_bench(rest) if command == "bench" else _run_module_main(
                "analysis.evaluate" if command == "eval" else "training.train", rest)
        args = build_parser().parse_args(argv)  # usage errors exit 2 here
        args.quiet = getattr(args, "quiet", False)
        args.max_pixels = getattr(args, "max_pixels", None)
        debug = getattr(args, "debug", False)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `lic info x.lic | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except (LicError, OSError, ValueError, ImportError, RuntimeError, KeyError) as exc:
        if debug:
            raise
        kind = "" if isinstance(exc, (LicError, OSError)) else f"{type(exc).__name__}: "
        print(f"{PROG}: error: {kind}{_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, with a hint
        if debug:
            raise
        print(f"{PROG}: error: internal {type(exc).__name__}: {_one_line(exc)} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
