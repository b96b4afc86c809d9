"""Compress/decompress time of every zoo model on one Kodak image, next to CompressAI.

    python bench/models.py [--image PATH] [--qualities 3 6] [--threads 2] [--json out.json]

Each model is built at the quality's default N, M with random weights (seed 0), or with
``--zoo`` the shipped weights (N=64, M=192). Random
initialisation rounds almost every latent to zero, which would time an empty stream, so
the layers that produce y, z and the scales are scaled up as in the CompressAI fixtures
(shared/compat/README.md: g_a.6 ×10, h_a.4 ×10, h_s.4 ×100, entropy_parameters.4 ×10),
which gives about 2 bpp on Kodak; --raw-init turns that off. Every round trip is verified (decoded image == the encoder's own
reconstruction) before a time is reported. When ``compressai`` imports, the same weights
are loaded into CompressAI's implementation of the architecture and timed the same way;
its reconstruction is compared with ours. The hyperprior families are then timed again
on the integer probability path (docs/integer.md): the same weights converted with
``lic_core.zoo.integer.convert``, calibrated on the benchmark image (``integer`` rows).

Figures are measured on the machine that runs this script; timings are the median of
--repeat runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"
NAMES = ["factorized", "hyperprior", "mean-scale", "joint"]
COMPRESSAI_CLASSES = {"factorized": "FactorizedPrior", "hyperprior": "ScaleHyperprior",
                      "mean-scale": "MeanScaleHyperprior",
                      "joint": "JointAutoregressiveHierarchicalPriors"}


def load_image(path: Path) -> torch.Tensor:
    from PIL import Image
    with Image.open(path) as im:
        array = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def build_model(name: str, quality: int, raw_init: bool):
    import lic_core.zoo as zoo
    torch.manual_seed(0)
    model = zoo.build(name, quality)
    if not raw_init:
        with torch.no_grad():
            model.g_a[6].weight.mul_(10.0)
            if name != "factorized":
                model.h_a[4].weight.mul_(10.0)
                model.h_s[4].weight.mul_(100.0)
            if name == "joint":
                model.entropy_parameters[4].weight.mul_(10.0)
    model.update(force=True)
    return model.eval()


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def bench_ours(model, x, repeat):
    data, x_hat_encoder = model.compress(x, return_x_hat=True)
    x_hat = model.decompress(data)
    if not torch.equal(x_hat, x_hat_encoder):
        raise SystemExit(f"{model.name}: round trip FAILED (decoded image != encoder's reconstruction)")
    _, t_enc = timed(lambda: model.compress(x), repeat)
    _, t_dec = timed(lambda: model.decompress(data), repeat)
    return {"bytes": len(data), "encode_s": t_enc, "decode_s": t_dec}, x_hat


def _stub_compressai_extras():
    """CompressAI 1.2.8's package imports torchvision and torch_geometric for its registry
    of data transforms; its models never call them. Where they are not installed (or do
    not load against this torch), empty stand-ins let ``compressai.models`` import."""
    import types
    for parent, child in (("torchvision", "transforms"), ("torch_geometric", "transforms")):
        try:
            __import__(f"{parent}.{child}")
        except Exception:  # noqa: BLE001 - absent or built for another torch
            for name in (parent, f"{parent}.{child}"):
                sys.modules.pop(name, None)
            top, sub = types.ModuleType(parent), types.ModuleType(f"{parent}.{child}")
            setattr(top, child, sub)
            sys.modules[parent], sys.modules[f"{parent}.{child}"] = top, sub


def compressai_model(name, model):
    try:
        _stub_compressai_extras()
        import compressai.models as cm
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        return None, f"compressai does not import ({type(exc).__name__}: {exc})"
    cls = getattr(cm, COMPRESSAI_CLASSES[name])
    theirs = cls(N=model.N, M=model.M)
    theirs.load_state_dict(model.state_dict())
    return theirs.eval(), None


def bench_compressai(theirs, x, x_hat_ours, repeat):
    with torch.no_grad():
        out = theirs.compress(x)
        x_hat = theirs.decompress(out["strings"], out["shape"])["x_hat"]
        diff = float((x_hat - x_hat_ours).abs().max())
        _, t_enc = timed(lambda: theirs.compress(x), repeat)
        _, t_dec = timed(lambda: theirs.decompress(out["strings"], out["shape"]), repeat)
    nbytes = sum(len(s[0]) for s in out["strings"])
    return {"bytes": nbytes, "encode_s": t_enc, "decode_s": t_dec, "max_abs_diff_vs_ours": diff}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--models", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--qualities", nargs="+", type=int, default=[3, 6])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw-init", action="store_true", help="do not scale the random weights")
    parser.add_argument("--no-compressai", action="store_true")
    parser.add_argument("--zoo", action="store_true",
                        help="time the shipped zoo weights (float rows: release zoo-v3; "
                             "integer rows: the current release) instead of random ones")
    parser.add_argument("--no-integer", action="store_true",
                        help="skip the integer probability path rows")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    import lic_core.zoo as zoo
    if not args.image.exists():
        raise SystemExit(f"image not found: {args.image} (pass --image)")
    x = load_image(args.image)
    h, w = x.shape[-2:]
    print(f"lic-core model benchmark: {args.image.name} {w}x{h}, {args.threads} torch threads, "
          f"median of {args.repeat}; measured on this machine ({os.uname().machine}, "
          f"torch {torch.__version__})")
    rows, notes = [], []
    for name in args.models:
        for quality in args.qualities:
            if args.zoo and quality not in zoo.list_models().get(name, []):
                notes.append(f"{name} q{quality} is not shipped")
                continue
            if args.zoo:
                # the shipped weights: zoo-v3 is the float path of the very tensors
                # zoo-v4 runs on the integer path
                model = zoo.load(name, quality, release="zoo-v3" if name != "factorized" else None)
            else:
                model = build_model(name, quality, args.raw_init)
            ours, x_hat = bench_ours(model, x, args.repeat)
            row = {"model": name, "quality": quality, "N": model.N, "M": model.M,
                   "bpp": ours["bytes"] * 8 / (h * w), **{f"ours_{k}": v for k, v in ours.items()}}
            if not args.no_compressai:
                theirs, note = compressai_model(name, model)
                if theirs is None:
                    notes.append(note)
                else:
                    cai = bench_compressai(theirs, x, x_hat, args.repeat)
                    row.update({f"compressai_{k}": v for k, v in cai.items()})
                    row["encode_speedup"] = cai["encode_s"] / ours["encode_s"]
                    row["decode_speedup"] = cai["decode_s"] / ours["decode_s"]
            if name != "factorized" and not args.no_integer:
                # the same weights on the integer probability path (docs/integer.md),
                # calibrated on this image; the float row above is the float path
                from lic_core.zoo.integer import convert
                if args.zoo:
                    model = zoo.load(name, quality)
                else:
                    with torch.no_grad():
                        convert(model, [x])
                exact, _ = bench_ours(model, x, args.repeat)
                row.update({f"integer_{k}": v for k, v in exact.items()})
                row["integer_bpp"] = exact["bytes"] * 8 / (h * w)
                if "compressai_decode_s" in row:
                    row["integer_decode_speedup"] = row["compressai_decode_s"] / exact["decode_s"]
            rows.append(row)
            print(_format_row(row), flush=True)
    for note in sorted(set(notes)):
        print(f"note: {note}" + ("" if "not shipped" in note else "; CompressAI columns skipped"))
    result = {"image": str(args.image), "height": h, "width": w, "threads": args.threads,
              "repeat": args.repeat, "raw_init": args.raw_init, "machine": os.uname().machine,
              "torch": torch.__version__, "rows": rows}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


_HEADER_PRINTED = False


def _format_row(row):
    global _HEADER_PRINTED
    head = ""
    if not _HEADER_PRINTED:
        _HEADER_PRINTED = True
        head = (f"{'model':<11}{'q':>2}{'N':>5}{'M':>5}{'bpp':>8}{'enc s':>8}{'dec s':>8}"
                f"{'CAI enc':>9}{'CAI dec':>9}{'enc x':>7}{'dec x':>7}{'|Δx̂|':>9}\n")
    cai = ""
    if "compressai_encode_s" in row:
        cai = (f"{row['compressai_encode_s']:>9.3f}{row['compressai_decode_s']:>9.3f}"
               f"{row['encode_speedup']:>7.2f}{row['decode_speedup']:>7.2f}"
               f"{row['compressai_max_abs_diff_vs_ours']:>9.1e}")
    line = (head + f"{row['model']:<11}{row['quality']:>2}{row['N']:>5}{row['M']:>5}{row['bpp']:>8.3f}"
            f"{row['ours_encode_s']:>8.3f}{row['ours_decode_s']:>8.3f}" + cai)
    if "integer_decode_s" in row:
        line += (f"\n{'  integer':<11}{'':>12}{row['integer_bpp']:>8.3f}{row['integer_encode_s']:>8.3f}"
                 f"{row['integer_decode_s']:>8.3f}")
        if "integer_decode_speedup" in row:
            line += f"{'':>25}{row['integer_decode_speedup']:>7.2f}"
    return line


if __name__ == "__main__":
    sys.exit(main())
