"""Compress/decompress time of every zoo model on one Kodak image, next to CompressAI.

    python bench/models.py [--image PATH] [--qualities 3 6] [--threads 2] [--json out.json]

Families: factorized, hyperprior, mean-scale, joint and space-channel. Each model is built
at the quality's default N, M with random weights (seed 0), or with ``--zoo`` the shipped
weights (N=64, M=192). Random
initialisation rounds almost every latent to zero, which would time an empty stream, so
the layers that produce y, z and the scales are scaled up as in the CompressAI fixtures
(shared/compat/README.md: g_a.6 ×10, h_a.4 ×10, h_s.4 ×100, entropy_parameters.4 ×10;
the space-channel model's per-group ``entropy_parameters.<g>.4`` ×10 each), which gives
about 2 bpp on Kodak; --raw-init turns that off. Every round trip is verified (decoded image == the encoder's own
reconstruction) before a time is reported. When ``compressai`` imports, the same weights
are loaded into CompressAI's implementation of the architecture and timed the same way;
its reconstruction is compared with ours (space-channel has no CompressAI counterpart:
its CompressAI columns are skipped, and the output says so).

Each model is then timed on two more paths, the same weights throughout:

* ``integer`` rows (not the factorized model, which has no probability network): the
  integer probability path (docs/integer.md), converted with
  ``lic_core.zoo.integer.convert`` (the space-channel model through its own
  ``convert_integer`` hook) calibrated on the benchmark image; g_s still in torch floats;
* ``engine`` rows: that model with integer synthesis too, its decoder weights file
  written as tools/make_decoder_release.py writes a release's (``decoder_tensors``
  calibrated on the image's ŷ) and attached, so files are format 4 and decompress is the
  engine's whole-file decoder (lic_core.coding.decoder.FileDecoder, no torch) on
  --threads threads; encode includes the engine's synthesis of the encoder's
  reconstruction.

With ``--zoo`` every row comes from the current release (``$LIC_WEIGHTS_DIR`` or the
package's): the float rows are its model with the integer prior and the integer synthesis
detached (the same tensors on the float path), the integer rows with only the integer
synthesis detached, the engine rows as loaded. A family or quality that the release does
not ship (space-channel until its weights ship) is skipped with the reason printed.

After the rows, one summary line per quality states space-channel's time over the
hyperprior's (encode and decode, on each path), both measured in this run: the issue 25
acceptance ("within 1.5×").

Figures are measured on the machine that runs this script; timings are the median of
--repeat runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"
NAMES = ["factorized", "hyperprior", "mean-scale", "joint", "space-channel"]
# space-channel is ours alone: CompressAI 1.2.8 has no checkerboard/channel-group model
COMPRESSAI_CLASSES = {"factorized": "FactorizedPrior", "hyperprior": "ScaleHyperprior",
                      "mean-scale": "MeanScaleHyperprior",
                      "joint": "JointAutoregressiveHierarchicalPriors"}
#: the release label the random models' decoder weights files carry (a valid label, so
#: the header can record it; no installed release has it, nothing resolves it)
BENCH_RELEASE = "bench"
#: the paths each row is timed on, in the order printed
PATHS = ("ours", "integer", "engine")


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
            if name == "space-channel":
                # one entropy-parameter network per channel group; each one's last layer
                # is the joint model's entropy_parameters.4 (scales and means of its group)
                for group in model.entropy_parameters:
                    group[4].weight.mul_(10.0)
    model.update(force=True)
    # a zoo model's identity: the header records quality and release, and an attached
    # decoder weights file must hold this quality (attach_exact_decoder checks)
    model.quality, model.weights_release = quality, BENCH_RELEASE
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


def attach_engine(model, x) -> None:
    """Give a random model (its integer prior already converted) an integer synthesis:
    its decoder weights file, written as tools/make_decoder_release.py writes a release's
    (the synthesis calibrated on ŷ of the benchmark image), opened by the engine and
    attached, so that compress writes format 4 and decompress runs the whole-file
    decoder. The file lives in memory; the temporary copy write_safetensors needs is
    removed at once."""
    from lic_core.coding.decoder import FileDecoder
    from lic_core.zoo.synthesis import DECODER_FORMAT, SYNTHESIS_SPEC, decoder_tensors
    from lic_core.zoo.tensorfile import write_safetensors
    q = model.quality
    with torch.no_grad():
        _, _, y_hat = model._encode(model.pad(x), "native")  # ŷ as the decoder rebuilds it
        tensors = decoder_tensors({q: model}, {q: [y_hat]})
    metadata = {"format": DECODER_FORMAT, "architecture": model.name, "qualities": str(q),
                "N": str(model.N), "M": str(model.M), "integer_spec": SYNTHESIS_SPEC,
                "model_file": f"{model.name}-q{q}.safetensors", "release": BENCH_RELEASE,
                "calibration": "bench/models.py: the benchmark image"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model.name}-q{q}.decoder.safetensors"
        write_safetensors(path, tensors, metadata=metadata)
        data = path.read_bytes()
    model.attach_exact_decoder(FileDecoder(data=data))


def zoo_models(name: str, quality: int) -> dict:
    """The current release's model of ``name`` at ``quality`` on each path ({path: model}),
    each a fresh load, so that detaching a part from one leaves the others whole."""
    import lic_core.zoo as zoo
    out = {}
    for path in PATHS:
        if path == "integer" and name == "factorized":
            continue
        model = zoo.load(name, quality)
        if path != "engine":
            model.attach_exact_decoder(None)  # g_s in torch floats: format 3's synthesis
        if path == "ours" and model.integer is not None:
            model.attach_integer_prior(None)  # and the float probability networks
        out[path] = model
    return out


def not_shipped(name: str, quality: int) -> str | None:
    """Why ``--zoo`` cannot time ``name`` at ``quality`` with the current release, or None."""
    import lic_core.zoo as zoo
    from lic_core.zoo.catalog import qualities_text
    if quality in zoo.list_models().get(name, []):
        return None
    return (f"{name} q{quality} skipped: {qualities_text(name)} "
            f"({zoo.weights_dir()}; $LIC_WEIGHTS_DIR chooses another folder)")


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
    if name not in COMPRESSAI_CLASSES:
        return None, f"{name} has no CompressAI counterpart; its CompressAI columns skipped"
    try:
        _stub_compressai_extras()
        import compressai.models as cm
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        return None, f"compressai does not import ({type(exc).__name__}: {exc}); CompressAI columns skipped"
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


def ratios(rows) -> dict[int, dict[str, float]]:
    """{quality: {"<path>_<encode|decode>": space-channel's time / the hyperprior's}} for
    every quality and path this run timed both on."""
    by = {(r["model"], r["quality"]): r for r in rows}
    out = {}
    for (name, quality), sc in by.items():
        hp = by.get(("hyperprior", quality))
        if name != "space-channel" or hp is None:
            continue
        out[quality] = {f"{path}_{op}": sc[f"{path}_{op}_s"] / hp[f"{path}_{op}_s"]
                        for path in PATHS for op in ("encode", "decode")
                        if f"{path}_{op}_s" in sc and f"{path}_{op}_s" in hp}
    return out


def _summary(quality: int, r: dict, threads: int, image: str) -> str:
    label = {"ours": "float", "integer": "integer", "engine": "engine (whole-file decoder)"}
    parts = [f"{label[p]} encode {r[f'{p}_encode']:.2f}x, decode {r[f'{p}_decode']:.2f}x"
             for p in PATHS if f"{p}_encode" in r]
    return (f"summary q{quality}: space-channel / hyperprior time, {image}, {threads} threads, this run on "
            f"this machine: " + "; ".join(parts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--models", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--qualities", nargs="+", type=int, default=[3, 6])
    parser.add_argument("--threads", type=int, default=2,
                        help="torch's threads and the engine's (integer networks, whole-file decoder)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw-init", action="store_true", help="do not scale the random weights")
    parser.add_argument("--no-compressai", action="store_true")
    parser.add_argument("--zoo", action="store_true",
                        help="time the current release's shipped weights instead of random ones "
                             "(families it does not ship are skipped)")
    parser.add_argument("--no-integer", action="store_true",
                        help="skip the integer probability path rows (and the engine rows, built on them)")
    parser.add_argument("--no-engine", action="store_true",
                        help="skip the engine (integer synthesis, whole-file decoder) rows")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    from lic_core.coding import intnet
    intnet.set_default_threads(args.threads)  # the whole-file decoder's and the integer networks'
    if not args.image.exists():
        raise SystemExit(f"image not found: {args.image} (pass --image)")
    x = load_image(args.image)
    h, w = x.shape[-2:]
    print(f"lic-core model benchmark: {args.image.name} {w}x{h}, {args.threads} threads (torch and engine), "
          f"median of {args.repeat}; measured on this machine ({os.uname().machine}, "
          f"torch {torch.__version__})")
    rows, notes = [], []
    for name in args.models:
        for quality in args.qualities:
            if args.zoo:
                why = not_shipped(name, quality)
                if why is not None:
                    print(why, flush=True)
                    notes.append(why)
                    continue
                models = zoo_models(name, quality)
                model = models["ours"]
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
                if args.zoo:
                    model = models["integer"]
                else:
                    from lic_core.zoo.integer import convert
                    with torch.no_grad():
                        convert(model, [x])
                exact, _ = bench_ours(model, x, args.repeat)
                row.update({f"integer_{k}": v for k, v in exact.items()})
                row["integer_bpp"] = exact["bytes"] * 8 / (h * w)
                if "compressai_decode_s" in row:
                    row["integer_decode_speedup"] = row["compressai_decode_s"] / exact["decode_s"]
            # the engine row needs the integer prior (but for the factorized model, whose
            # tables are stored): what a release of format 4 ships
            if not args.no_engine and (name == "factorized" or not args.no_integer):
                if args.zoo:
                    model = models["engine"]
                else:
                    attach_engine(model, x)
                engine, _ = bench_ours(model, x, args.repeat)
                row.update({f"engine_{k}": v for k, v in engine.items()})
                row["engine_bpp"] = engine["bytes"] * 8 / (h * w)
            rows.append(row)
            print(_format_row(row), flush=True)
    for note in sorted(set(notes)):
        print(f"note: {note}")
    summary = ratios(rows)
    for quality, r in sorted(summary.items()):
        print(_summary(quality, r, args.threads, f"{args.image.name} {w}x{h}"))
    if "space-channel" in args.models and "hyperprior" in args.models and not summary:
        print("summary: no space-channel / hyperprior ratio: this run did not time both at any quality")
    result = {"image": str(args.image), "height": h, "width": w, "threads": args.threads,
              "repeat": args.repeat, "raw_init": args.raw_init, "zoo": args.zoo,
              "machine": os.uname().machine, "torch": torch.__version__, "rows": rows,
              "space_channel_over_hyperprior": {str(q): r for q, r in sorted(summary.items())},
              "notes": sorted(set(notes))}
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
        head = (f"{'model':<14}{'q':>2}{'N':>5}{'M':>5}{'bpp':>8}{'enc s':>8}{'dec s':>8}"
                f"{'CAI enc':>9}{'CAI dec':>9}{'enc x':>7}{'dec x':>7}{'|Δx̂|':>9}\n")
    cai = ""
    if "compressai_encode_s" in row:
        cai = (f"{row['compressai_encode_s']:>9.3f}{row['compressai_decode_s']:>9.3f}"
               f"{row['encode_speedup']:>7.2f}{row['decode_speedup']:>7.2f}"
               f"{row['compressai_max_abs_diff_vs_ours']:>9.1e}")
    line = (head + f"{row['model']:<14}{row['quality']:>2}{row['N']:>5}{row['M']:>5}{row['bpp']:>8.3f}"
            f"{row['ours_encode_s']:>8.3f}{row['ours_decode_s']:>8.3f}" + cai)
    if "integer_decode_s" in row:
        line += (f"\n{'  integer':<14}{'':>12}{row['integer_bpp']:>8.3f}{row['integer_encode_s']:>8.3f}"
                 f"{row['integer_decode_s']:>8.3f}")
        if "integer_decode_speedup" in row:
            line += f"{'':>25}{row['integer_decode_speedup']:>7.2f}"
    if "engine_decode_s" in row:
        line += (f"\n{'  engine':<14}{'':>12}{row['engine_bpp']:>8.3f}{row['engine_encode_s']:>8.3f}"
                 f"{row['engine_decode_s']:>8.3f}")
    return line


if __name__ == "__main__":
    sys.exit(main())
