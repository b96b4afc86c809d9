"""``lic demo``: the bundled Kodak samples through every model; table, RD plot, JSON.

Each decoded image must equal the encoder's own reconstruction bit for bit. The demo
announces the cases it will run and sized its default to finish them on a busy 2-core
machine: each family's lowest, middle and highest shipped quality, on 256x256 centre
crops of the three samples. Cases run image-major under a time budget that never stops
a model's first case; if the budget stops the run, the table, the plot and the closing
note say exactly which cases ran. Decisions and timings: docs/cli.md.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .. import container
from .common import (ALIASES, CommandError, model_for, model_list, non_negative_int, positive_int,
                     progress, quality_list, savefig_atomic, say, shipped_models, use_agg,
                     write_atomic)

#: Centre crops of 256x256 by default. Whole 768x512 samples with all 21 shipped models (63
#: cases) took 45.5 s on the idle 2-core dev machine but ran out of the 90 s budget after
#: 19 cases on a loaded one (issue 13); the default plan is 27 cases on 1/6 of the pixels
#: (docs/cli.md has the measured times). --crop 0 --qualities all runs everything.
DEMO_CROP = 256
DEMO_BUDGET_S = 90.0


def add_parser(sub, parents) -> None:
    p = sub.add_parser("demo", parents=parents,
                       help="compress the bundled Kodak samples with every model; table and RD plot")
    p.add_argument("--out", default="lic-demo", help="output directory (default ./lic-demo)")
    p.add_argument("--models", type=model_list, default=None,
                   help="comma-separated subset (default: every family with shipped weights, "
                        "or all four with random init if none ship)")
    p.add_argument("--qualities", type=_qualities, default=None,
                   help="comma-separated subset of the shipped qualities, or 'all' (default: "
                        "each model's lowest, middle and highest shipped quality)")
    p.add_argument("--images", type=positive_int, default=3, help="how many samples (default 3)")
    p.add_argument("--crop", type=non_negative_int, default=DEMO_CROP,
                   help=f"center-crop each sample to at most CROP x CROP pixels; 0 = whole "
                        f"768x512 images (default {DEMO_CROP})")
    p.add_argument("--random-init", action="store_true",
                   help="use random-init models even where trained weights ship")
    p.add_argument("--budget", type=float, default=DEMO_BUDGET_S,
                   help=f"stop starting new cases after this many seconds, 0 = no limit "
                        f"(default {DEMO_BUDGET_S:.0f}; every model gets the first image first)")
    p.set_defaults(run=run)


def _qualities(text: str):
    return "all" if text.strip().lower() == "all" else quality_list(text)


def default_qualities(shipped: list[int]) -> list[int]:
    """Lowest, middle and highest of a model's shipped qualities (fewer if it ships fewer):
    the ends and the bend of its RD curve, for a third of the cases. Middle = the lower
    median, so 1..8 and 1,2,4,6,8 both give 1, 4, 8: the same points for every family."""
    if len(shipped) <= 3:
        return list(shipped)
    return [shipped[0], shipped[(len(shipped) - 1) // 2], shipped[-1]]


def _plan(args, shipped: dict) -> list:
    """[(model, quality or None for random init)] in model order."""
    models = args.models
    if models is None:
        # Families without trained weights would only add meaningless random-init rows
        # to the table and plot; they run when named explicitly.
        models = [n for n in ALIASES if shipped[n]] or list(ALIASES)
        untrained = [n for n in ALIASES if n not in models]
        if untrained:
            say(args, f"NOTE: no trained weights ship for {', '.join(untrained)}; skipped "
                f"(name them with --models to run them with random init)")
    plan = []
    for name in models:
        qualities = shipped[name]
        if args.qualities is None:
            qualities = default_qualities(qualities)
        elif args.qualities != "all":
            qualities = [q for q in qualities if q in args.qualities]
        if qualities and not args.random_init:
            plan += [(name, q) for q in qualities]
        else:
            plan.append((name, None))
    return plan


def _describe_cases(cases) -> str:
    """"hyperprior q1,4,8 on kodim03, kodim15; joint q1 on kodim03": what a list of cases
    (image index, rank, model index, name, quality, stem, rgb) covers, model by model."""
    by_model = {}
    for _, _, _, name, quality, stem, _ in cases:
        qs, stems = by_model.setdefault(name, ({}, {}))
        qs[quality or 0] = None
        stems[stem] = None
    parts = []
    for name, (qs, stems) in by_model.items():
        q = "random-init" if list(qs) == [0] else "q" + ",".join(map(str, qs))
        parts.append(f"{name} {q} on {', '.join(stems)}")
    return "; ".join(parts)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plan_size(plan, images: int) -> str:
    """"3 families x 3 qualities x 3 images": how the cases multiply up. A plan entry is a
    (model, quality) pair, so counting entries as "models" said "9 models" for three
    families. Families with different numbers of qualities say so ("1-3 qualities (7
    model-quality pairs)"); random-init families have no quality to count."""
    per_family = {}
    for name, quality in plan:
        per_family.setdefault(name, []).append(quality)
    counts = sorted({len(qs) for qs in per_family.values()})
    factors = [_plural(len(per_family), "family", "families")]
    if all(q is None for _, q in plan):
        factors[0] += " (random-init)"
    elif len(counts) == 1:
        factors.append(_plural(counts[0], "quality", "qualities"))
    else:
        factors.append(f"{counts[0]}-{counts[-1]} qualities ({len(plan)} model-quality pairs)")
    return " x ".join(factors + [_plural(images, "image", "images")])


def run(args) -> int:
    import numpy as np
    import torch

    from .. import images

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"{args.out}: --out needs a directory, and this is a file")
    # Only the bundled samples (768x512 at most) reach a model here, never a user's image,
    # so --max-pixels, which guards against those, is not passed on (the models'
    # compress() still applies $LIC_MAX_PIXELS, as for every caller that gives no limit).
    paths = images.sample_paths()[:args.images]
    if not paths:
        raise CommandError(f"no sample images found in {images.SAMPLES_DIR}")
    pictures = [(p.stem, _center_crop(images.to_rgb_array(p), args.crop)) for p in paths]
    plan = _plan(args, shipped_models())
    if any(q is None for _, q in plan):
        missing = sorted({n for n, q in plan if q is None})
        reason = "--random-init was given" if args.random_init else "no trained weights ship for them"
        say(args, f"NOTE: {', '.join(missing)} run with RANDOM-INIT weights ({reason}); their "
            f"bpp/PSNR say nothing about compression quality, only that the pipeline works.")
    # Order: image, then quality rank, then model; so the budget, which never stops
    # each model's first case, leaves every model in the table and a curve that grows
    # evenly. rank = position of the quality among that model's planned qualities.
    rank = {(name, quality): [q for n, q in plan if n == name].index(quality)
            for name, quality in plan}
    cases = sorted(((i, rank[name, quality], list(ALIASES).index(name), name, quality, stem, rgb)
                    for i, (stem, rgb) in enumerate(pictures) for name, quality in plan),
                   key=lambda c: c[:3])
    sizes = sorted({f"{rgb.shape[1]}x{rgb.shape[0]}" for _, rgb in pictures})
    budget = f"budget {args.budget:g} s" if args.budget else "no time budget"
    say(args, f"lic demo: {len(cases)} cases ({_plan_size(plan, len(pictures))}, "
              f"{', '.join(sizes)} {'centre crops' if args.crop else 'whole images'}; {budget}): "
              f"{_describe_cases(cases)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    nets, rows, ran = {}, [], []
    start = time.perf_counter()
    with progress(args, len(cases), "demo", "case") as bar:
        for case in cases:  # (image index, rank, model index, name, quality, stem, rgb)
            index, r, _, name, quality, stem, rgb = case
            protected = index == 0 and r == 0
            if not protected and args.budget and time.perf_counter() - start > args.budget:
                break
            if (name, quality) not in nets:
                nets[name, quality] = model_for(name, quality, quality is None)
                _warm_up(nets[name, quality][0], rgb, torch)
            net, kind = nets[name, quality]
            bar.set_postfix_str(f"{name} q{quality or 0} {stem}")
            rows.append(_demo_one(net, kind, stem, rgb, np, torch))
            ran.append(case)
            bar.update()
    elapsed = time.perf_counter() - start
    not_run = cases[len(ran):]  # the budget stops the loop; the rest did not run
    rows.sort(key=lambda r: (list(ALIASES).index(r["model"]), r["quality"], r["image"]))
    failed = [r for r in rows if not r["round_trip_ok"]]
    write_atomic(out_dir / "results.json", json.dumps(rows, indent=2).encode())
    plot = out_dir / "rd.png"
    _write_rd_plot(plot, rows, complete=not not_run)
    if not args.quiet:
        _print_demo_table(rows, len(cases))
        print(f"\nRD plot: {plot}\nresults: {out_dir / 'results.json'}")
        print(f"total {elapsed:.1f} s")
    if not_run:
        say(args, f"NOTE: the {args.budget:g} s budget ran out: {len(ran)} of {len(cases)} cases "
            f"ran ({_describe_cases(ran)}); not run: {_describe_cases(not_run)}. Use --budget 0, "
            "fewer --models/--qualities or a smaller --crop.")
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
    from ..images import to_tensor
    with torch.inference_mode():
        net.decompress(net.compress(to_tensor(_center_crop(rgb, 64))))


def _demo_one(net, kind: str, stem: str, rgb, np, torch) -> dict:
    """Compress, decompress and check one image; times are wall-clock on this machine."""
    from .. import api
    from ..analysis import info
    from ..images import to_tensor, to_uint8
    x = to_tensor(rgb)
    with torch.inference_mode():
        t0 = time.perf_counter()
        data, x_hat_enc = net.compress(x, return_x_hat=True)
        t1 = time.perf_counter()
        decoded = api.decompress(data, model=net)
        t2 = time.perf_counter()
        likelihoods = net(x)["likelihoods"]
    expected = to_uint8(x_hat_enc)
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


def _print_demo_table(rows, planned: int) -> None:
    print(f"{'model':<11} {'q':>3} {'weights':<12} {'image':<8} {'bytes':>7} {'ideal':>8} "
          f"{'over':>6} {'bpp':>7} {'PSNR dB':>8} {'enc ms':>8} {'dec ms':>8} round trip")
    for r in rows:
        over = (r["bytes"] / r["ideal_bytes"] - 1) * 100 if r["ideal_bytes"] > 0 else float("nan")
        print(f"{r['model']:<11} {r['quality']:>3} {r['weights']:<12} {r['image']:<8} {r['bytes']:>7d} "
              f"{r['ideal_bytes']:>8.0f} {over:>5.1f}% {r['bpp']:>7.4f} {r['psnr']:>8.2f} "
              f"{r['encode_ms']:>8.0f} {r['decode_ms']:>8.0f} {'ok' if r['round_trip_ok'] else 'FAILED'}")
    # Counted from the rows, so the line says what ran, whatever was planned.
    images = sorted({r["image"] for r in rows})
    sizes = sorted({f"{r['width']}x{r['height']}" for r in rows})
    print(f"({len(rows)} of {planned} planned cases: {len(images)} image(s) "
          f"({', '.join(images)}), {', '.join(sizes)}; 'ideal' = -sum log2 p / 8 under the "
          f"model, 'over' = file bytes vs ideal, header included)")


def _write_rd_plot(path: Path, rows, complete: bool) -> None:
    plt = use_agg()
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
    images = len({r["image"] for r in rows})
    sizes = ", ".join(sorted({f"{r['width']}x{r['height']}" for r in rows}))
    title = f"lic demo: rate-distortion, mean of {images} Kodak sample(s), {sizes}"
    if not complete:  # a point may then average fewer images than its neighbours
        title += "\n(time budget ran out: some points average fewer images)"
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    savefig_atomic(fig, path, dpi=90)
    plt.close(fig)
