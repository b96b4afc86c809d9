"""Write the decoder weights files of a zoo release: the integer synthesis and everything
else the engine's whole-file decoder reads (docs/format.md, "Decoder weights").

    python tools/make_decoder_release.py --from lic_core/zoo/weights/retired/zoo-v4 \\
        --out lic_core/zoo/weights --release zoo-v5 [--data ../shared/data/train] [--crops 12]

For every model file of the source release (``factorized-q4.safetensors``,
``hyperprior-q1-8.safetensors``, ...) the tool loads each quality it holds, runs the
calibration crops through the encoder to get the latents a decoder rebuilds, converts
g_s (lic_core.zoo.synthesis) and writes ``<stem>.decoder.safetensors`` beside a copy
of the model file (the model files are the source release's, byte for byte: the
float networks do not change). It prints, per quality, how far the integer synthesis
lands from the float one on the crops (PSNR of both against the crops, largest pixel
difference), then writes RELEASE.json with every file's SHA-256.

Deterministic: the crops are the first ``--crops`` images of ``--data`` in name order,
centre-cropped to 256x256; the same inputs give the same bytes. Release time only:
nothing at run time reads ../shared.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def crops(folder: Path, count: int, size: int = 256) -> list[torch.Tensor]:
    """The calibration crops (lic_core.datasets.calibration_crops) as 1x3xHxW tensors."""
    from lic_core.datasets import calibration_crops
    return [torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0) for a in calibration_crops(folder, count, size)]


def decoded_latent(model, x: torch.Tensor) -> torch.Tensor:
    """ŷ as the decoder rebuilds it from the streams the encoder writes for x."""
    _, _, y_hat = model._encode(model.pad(x), "native")
    return y_hat


def latent_input(model, tensors, quality: int, y_hat: torch.Tensor) -> np.ndarray:
    """The integer synthesis's input for ŷ, from the tensors about to be written."""
    from lic_core.zoo.synthesis import synthesis_input

    def get(name):
        return tensors.get(f"q{quality}.synthesis.{name}", tensors.get(f"synthesis.{name}"))

    mean_frac = int(model.integer.mean_frac[0]) if model.integer is not None else 0
    return synthesis_input(model, y_hat, int(get("input_frac")[0]), get("input_offset"), mean_frac)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255 ** 2 / mse) if mse > 0 else float("inf")


def convert_file(path: Path, out_dir: Path, images, label: str) -> Path:
    from lic_core.zoo.tensorfile import write_safetensors
    from lic_core.api import to_uint8
    from lic_core.zoo import weights as zw
    from lic_core.zoo.catalog import decoder_file_name, parse_model_file_name, read_metadata, variable_rate_qualities
    from lic_core.zoo.synthesis import DECODER_FORMAT, SYNTHESIS_SPEC, decoder_tensors, reference_synthesis

    metadata = read_metadata(path)
    variable = variable_rate_qualities(metadata)
    qualities = variable or [parse_model_file_name(path.name)[1]]
    models = {q: zw.load_file(path, quality=q if variable else None) for q in qualities}
    latents = {q: [decoded_latent(models[q], x) for x in images] for q in qualities}
    tensors = decoder_tensors(models, latents)
    name = models[qualities[0]].name
    for q in qualities:
        model = models[q]
        diffs, float_psnr, int_psnr = [], [], []
        for x, y in zip(images, latents[q]):
            original = to_uint8(x)
            floats = to_uint8(model.synthesize(y)[..., :x.shape[2], :x.shape[3]])
            ints = reference_synthesis(tensors, q, latent_input(model, tensors, q, y))[:x.shape[2], :x.shape[3]]
            diffs.append(int(np.abs(floats.astype(int) - ints.astype(int)).max()))
            float_psnr.append(psnr(original, floats))
            int_psnr.append(psnr(original, ints))
        print(f"{path.name} q{q}: PSNR float {np.mean(float_psnr):.3f} dB, integer {np.mean(int_psnr):.3f} dB "
              f"({np.mean(int_psnr) - np.mean(float_psnr):+.4f}), largest pixel difference {max(diffs)}")
    out = out_dir / decoder_file_name(path.name)
    write_safetensors(out, tensors, metadata={
        "format": DECODER_FORMAT, "architecture": name, "qualities": ",".join(map(str, qualities)),
        "N": str(models[qualities[0]].N), "M": str(models[qualities[0]].M), "integer_spec": SYNTHESIS_SPEC,
        "model_file": path.name, "release": label,
        "calibration": f"{len(images)} centre crops 256x256 of the training set, qualities "
                       f"{','.join(map(str, qualities))}"})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", type=Path, required=True, help="the source release's folder")
    p.add_argument("--out", type=Path, required=True, help="the new release's folder")
    p.add_argument("--release", required=True, help="the new release's label")
    p.add_argument("--description", default="")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "train")
    p.add_argument("--crops", type=int, default=12)
    p.add_argument("--only", nargs="*", help="model files to convert (default: all); no RELEASE.json then")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    images = crops(args.data, args.crops)
    manifest = json.loads((args.source / "RELEASE.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    from lic_core.zoo.catalog import parse_model_file_name
    from lic_core.zoo.release import release_files
    sources = release_files(args.source)
    for name in sorted(manifest["files"]):
        if parse_model_file_name(name) is None or (args.only and name not in args.only):
            continue
        source = sources[name]
        target = args.out / name
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        written += [target, convert_file(target, args.out, images, args.release)]
    if args.only:
        return 0
    files = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(written)}
    (args.out / "RELEASE.json").write_text(json.dumps(
        {"release": args.release, "description": args.description, "files": files}, indent=2) + "\n")
    print(f"{args.out / 'RELEASE.json'}: {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
