#!/usr/bin/env python
"""The golden file of the mean-scale family: tests/fixtures/golden-mean-scale/.

    python tools/make_golden_mean_scale.py     # write the fixture (see WHEN TO WRITE)

The zoo ships no mean-scale weights, so tools/make_golden.py, which writes a golden file
per shipped model and quality, has none of this family. This script writes one, with
weights of its own committed beside it:

* ``weights.safetensors``: ``zoo.build("mean-scale", N=4, M=8)``, seeded, on the integer
  probability path (``zoo.integer.convert`` calibrated on the crop below), as every zoo
  release since zoo-v4 codes; its symbols then decode the same on every machine. A
  random init codes almost nothing, so three layers are scaled (the ``*_GAIN``
  constants): g_a's and h_a's last ones, so that neither ŷ nor ẑ is all zero, and h_s's
  σ outputs, so that the scales use most of the scale table (and a few symbols fall
  outside their table and take the escape) instead of all sitting in its first entry.
  The Gaussian conditional gets a short scale table (``SCALE_TABLE``): the default
  one's 64 coding tables up to σ = 256 are 800 kB, and the fixture stays under 100 kB.
* ``mean-scale-kodim23-64x48.lic``: a 64×48 crop of lic_core/samples/kodim23.png, written
  by ``lic_core.compress`` with the model ``zoo.load_file`` reads from those weights (so
  quality 0: weights not from the zoo; decoding needs ``model=``);
* ``mean-scale-kodim23-64x48.png``: what ``lic_core.decompress`` returns for it;
* ``manifest.json``: both files' SHA-256, the header fields, and per stream the count and
  SHA-256 of the entropy-decoded symbols, computed by ``lic_core.testing.golden.decode``
  (the same digests as every other golden file).

WHEN TO WRITE: once, when the fixture was introduced. NEVER rerun this script to make a
failing tests/system/test_golden_mean_scale.py pass: that test exists to catch a change that
alters how an existing mean-scale file decodes (the coder, the tables, the container, the
integer path, the weights loader, the synthesis). Writing and decoding for the manifest
run with lic_core.testing.golden's BASELINE_ENV (the process re-executes itself with it), so the
committed PNG is the portable-kernel reference.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

from lic_core.tables import SCALE_TABLE_MIN
from lic_core.testing.golden import BASELINE_ENV, decode, in_baseline_environment
# the golden writer beside this script (its folder is on sys.path when it runs): the
# tolerance, the kernels to write with, the encoder's image, the header fields
from make_golden import TOLERANCE, _baseline_torch, encoder_image, header_fields, written_with

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "fixtures" / "golden-mean-scale"

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
SEED = 16
N, M = 4, 8
#: g_a's and h_a's last layers are scaled by these: random-init analyses give latents
#: that round to zero, and an all-zero stream would pin little
LATENT_GAIN, HYPER_GAIN = 60.0, 10.0
#: h_s's σ outputs (its last layer's first M channels) are scaled by SCALE_GAIN and
#: shifted by SCALE_BIAS: a random-init h_s gives σ near zero, every symbol would use
#: the first coding table, and the file would not pin how scales select tables
SCALE_GAIN, SCALE_BIAS = 300.0, 4.0
#: 16 scales from the smallest the model codes (its scale bound, SCALE_TABLE_MIN = 0.11) to
#: 16, evenly spaced in log σ
SCALE_TABLE = [math.exp(math.log(SCALE_TABLE_MIN) + i * (math.log(16.0) - math.log(SCALE_TABLE_MIN)) / 15)
               for i in range(16)]
#: (sample, top, left, height, width): not a multiple of the stride 64, so padding and
#: cropping are part of the decode
CROP = ("kodim23.png", 220, 220, 64, 48)
NAME = f"mean-scale-{Path(CROP[0]).stem}-{CROP[3]}x{CROP[4]}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(folder: Path = FOLDER) -> None:
    import numpy as np
    from PIL import Image

    torch = _baseline_torch()
    import lic_core
    from lic_core import zoo
    from lic_core.api import sample_paths
    from lic_core.zoo.integer import convert

    sample, top, left, height, width = CROP
    path = next(p for p in sample_paths() if p.name == sample)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    crop = np.ascontiguousarray(rgb[top:top + height, left:left + width])
    assert crop.shape == (height, width, 3), crop.shape
    x = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).float().div(255.0)

    torch.manual_seed(SEED)
    model = zoo.build("mean-scale", N=N, M=M)
    with torch.no_grad():
        model.g_a[6].weight.mul_(LATENT_GAIN)
        model.h_a[4].weight.mul_(HYPER_GAIN)
        model.h_s[4].weight[:M].mul_(SCALE_GAIN)
        model.h_s[4].bias[:M].add_(SCALE_BIAS)
    model.gaussian_conditional.update_scale_table(SCALE_TABLE, force=True)
    model.eval()
    convert(model, [x])
    folder.mkdir(parents=True, exist_ok=True)
    zoo.save_weights(model, folder / WEIGHTS)

    # everything below uses the model as a user gets it back from the committed file
    model = zoo.load_file(folder / WEIGHTS)
    data = lic_core.compress(crop, model=model)
    again, x_hat = model.compress(x, return_x_hat=True)
    assert again == data, "the API and the model wrote different files"
    streams, image = decode(data, model=model)  # quality 0: the header names no weights
    assert np.array_equal(image, encoder_image(x_hat)), "decode != the encoder's x̂"
    for stream, gain in (("y", "LATENT_GAIN"), ("z", "HYPER_GAIN")):
        assert streams[stream]["nonzero"] > 0, f"{stream} is all zero: raise {gain}"

    (folder / f"{NAME}.lic").write_bytes(data)
    Image.fromarray(image).save(folder / f"{NAME}.png", optimize=True)
    manifest = {
        "about": "The mean-scale golden file: written by tools/make_golden_mean_scale.py. Do "
                 "not regenerate to make tests/system/test_golden_mean_scale.py pass; see that script.",
        "written_with": written_with(),
        "tolerance": TOLERANCE,
        "weights": {"file": WEIGHTS, "sha256": _sha256((folder / WEIGHTS).read_bytes()),
                    "seed": SEED, "N": N, "M": M},
        "file": {"name": NAME, "lic": f"{NAME}.lic", "png": f"{NAME}.png",
                 "sha256": _sha256(data), **header_fields(data),
                 "source": {"sample": sample, "top": top, "left": left},
                 "symbols": streams},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{NAME}: {len(data)} bytes, symbols "
          + ", ".join(f"{s} {v['count']} ({v['nonzero']} non-zero)" for s, v in streams.items()))
    print(f"wrote {folder} ({total} bytes in all)")


def main() -> int:
    if not in_baseline_environment():
        # the environment must be in place before torch loads: start again with it
        if "torch" in sys.modules:
            raise RuntimeError("make_golden_mean_scale: torch was imported before the "
                               "baseline environment was set")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                  dict(os.environ, **BASELINE_ENV))
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
