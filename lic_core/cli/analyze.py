"""``lic analyze IN [-m M1,M2] [-q Q] [--out DIR]``: where the bits go.

Per model: ideal bits (-sum log2 p) vs coded bits per stream, the split by conditioning,
the estimate I(y;z) against the side information's cost, bits per channel (CSV) and a
heatmap of the bits of y-hat per latent position (PNG). Definitions: docs/cli.md.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..limits import Limits
from .common import (ALIASES, DEFAULT_QUALITY, CommandError, input_file, model_for, model_list,
                     pick_quality, progress, quality_arg, refuse_overwriting_inputs,
                     savefig_atomic, shipped_models, use_agg, write_atomic)


def add_parser(sub, parents) -> None:
    p = sub.add_parser("analyze", parents=parents,
                       help="where the bits go: ideal vs coded, side information, per channel, heatmaps")
    p.add_argument("input", help="image file")
    p.add_argument("-m", "--models", type=model_list, default=None,
                   help="comma-separated models (default: all with trained weights at -q)")
    p.add_argument("-q", "--quality", type=quality_arg, default=None,
                   help=f"zoo quality (default {DEFAULT_QUALITY}, or the nearest quality each "
                        "model ships, with a note)")
    p.add_argument("--out", default="lic-analyze", help="directory for heatmaps and CSV files")
    p.add_argument("--random-init", action="store_true",
                   help="use random-init models (when no trained weights ship)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import images
    from ..analysis import info
    input_file(args.input)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"{args.out}: --out needs a directory, and this is a file")
    stem = Path(args.input).stem
    models, qualities = _plan(args)
    outputs = {name: (out_dir / f"{stem}-{name}-q{qualities[name] or 0}-channels.csv",
                      out_dir / f"{stem}-{name}-q{qualities[name] or 0}-bits.png")
               for name in models}
    refuse_overwriting_inputs([p for pair in outputs.values() for p in pair], [args.input])
    # --max-pixels (else $LIC_MAX_PIXELS), resolved once: checked here so that an image
    # over the limit is refused before any model loads or --out is made, and handed to
    # rate_report, which checks it again for library callers.
    limits = Limits.resolve(args.max_pixels)
    rgb = images.to_rgb_array(args.input, max_pixels=limits)  # checked before decoding
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    with progress(args, len(models), "analyze") as bar:
        for name in models:
            net, kind = model_for(name, qualities[name], args.random_init)
            bar.set_postfix_str(name)
            rep = info.rate_report(net, rgb, correction="miller-madow", max_pixels=limits)
            reports.append((rep, kind))
            csv, png = outputs[name]
            _write_channel_csv(csv, rep)
            _write_heatmap(png, rep, kind, rgb)
            bar.update()
    if args.json:
        print(json.dumps([_report_record(r, k) for r, k in reports], indent=2))
        return 0
    if not args.quiet:
        _print_analysis(args, rgb, reports, out_dir)
    return 0


def _plan(args):
    """(models, {model: quality}); quality None for a random-init model (it has none)."""
    models = args.models
    if args.random_init:
        return models or list(ALIASES), {n: None for n in models or ALIASES}
    shipped = shipped_models()
    if models is None:  # default: every model with trained weights (at -q, if given)
        models = [n for n, qs in shipped.items() if qs and (args.quality is None or args.quality in qs)]
        if not models:
            at = f" at quality {args.quality}" if args.quality is not None else ""
            raise CommandError(f"no trained weights ship{at}; pick models with -m and add "
                               "--random-init to see the pipeline")
    return models, {n: pick_quality(n, args.quality, shipped, random_init=True) for n in models}


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
    write_atomic(path, ("\n".join(lines) + "\n").encode())


def _write_heatmap(path: Path, rep, kind: str, rgb) -> None:
    """Image beside the ŷ bit allocation (bits per latent position, over all channels)."""
    plt = use_agg()
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
    savefig_atomic(fig, path, dpi=80)
    plt.close(fig)
