"""Build a zoo release whose hyperprior families carry the integer probability path.

    python tools/make_integer_release.py --from lic_core/zoo/weights/retired/zoo-v3 --out lic_core/zoo/weights \\
        --release zoo-v4 [--data ../shared/data/train] [--crops 12]

For each variable-rate file of the source release (hyperprior, joint, ...): every
quality is folded, all of them run on the calibration crops, and one IntegerPrior is
derived from the shared probability networks (lic_core.zoo.integer.convert; the gains
touch only g_a and g_s). The float tensors are copied unchanged; the integer tensors are
added under ``model.integer.``. One-quality files without a probability network
(factorized) are copied byte for byte. A RELEASE.json with every file's SHA-256 is
written last. Deterministic: the crops are the first ``--crops`` images of ``--data`` in
name order, centre-cropped to 256×256, and the files are written by
lic_core.zoo.tensorfile.write_safetensors (zoo-v4's were written by the safetensors
library, whose metadata order varies between runs).

Release time only: nothing at run time reads ../shared.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def crops(folder: Path, count: int, size: int = 256) -> list[torch.Tensor]:
    """The calibration crops (lic_core.datasets.calibration_crops) as 1x3xHxW tensors."""
    from lic_core.datasets import calibration_crops
    return [torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0) for a in calibration_crops(folder, count, size)]


def convert_file(path: Path, out: Path, images, label: str) -> None:
    """Write ``out``: the variable-rate file ``path`` plus its integer tensors, calibrated
    on ``images`` at every quality it holds, labelled ``label`` (one file: also what
    tools/make_space_channel_release.py calls)."""
    from safetensors.torch import load_file
    from safetensors import safe_open
    from lic_core.zoo.tensorfile import write_safetensors
    from lic_core.zoo import weights as zw
    from lic_core.zoo.catalog import variable_rate_qualities
    from lic_core.zoo.integer import convert
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata() or {})
    qualities = variable_rate_qualities(metadata)
    models = [zw.load_file(path, quality=q) for q in qualities]
    prior = convert(models[0], images, qualities_models=models)
    tensors = load_file(str(path))
    for key, value in prior.state_dict().items():
        tensors[f"model.integer.{key}"] = value.detach().cpu().contiguous().clone()
    metadata.update({"probability_path": "integer/1", "release": label,
                     "integer_calibration": f"{len(images)} centre crops 256x256 of the training set, "
                                            f"qualities {','.join(map(str, qualities))}"})
    # not safetensors' save_file: it orders the metadata by hash, so its bytes change
    # from process to process, and a release is pinned by SHA-256
    write_safetensors(out, {k: v.contiguous().numpy() for k, v in tensors.items()}, metadata=metadata)
    print(f"{out.name}: z_frac {int(prior.z_frac)}, sigma_frac {int(prior.sigma_frac)}, "
          f"mean_frac {int(prior.mean_frac)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--release", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "train")
    p.add_argument("--crops", type=int, default=12)
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    images = crops(args.data, args.crops)
    args.out.mkdir(parents=True, exist_ok=True)
    files = {}
    for path in sorted(args.source.glob("*.safetensors")):
        target = args.out / path.name
        from lic_core.zoo.catalog import parse_model_file_name
        named = parse_model_file_name(path.name)
        if named is not None and named[2] is not None:  # a variable-rate file
            convert_file(path, target, images, args.release)
        else:
            shutil.copyfile(path, target)
        target.chmod(0o644)
        files[path.name] = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest = {"release": args.release, "description": args.description, "files": files}
    (args.out / "RELEASE.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
