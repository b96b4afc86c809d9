"""Writes the page's sample files, web/samples/*.lic and web/samples/index.json.

    python web/make_samples.py

One file per zoo family, from the Kodak images bundled in lic_core/samples/, halved to
384 x 256 (Pillow's Lanczos) so the samples stay a few kB each; written by the current
zoo release (zoo-v5: container format 4, integer synthesis, so the page decodes them).
Encoding is deterministic, so the same release gives the same bytes again.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

import lic_core

HERE = Path(__file__).resolve().parent
SAMPLES = Path(lic_core.__file__).resolve().parent / "samples"
#: (image, family, quality): a spread of content, families and rates
CHOICES = [("kodim23", "joint", 6), ("kodim15", "hyperprior", 4), ("kodim03", "factorized", 2)]


def main() -> None:
    out = HERE / "samples"
    out.mkdir(exist_ok=True)
    entries = []
    for image, family, quality in CHOICES:
        with Image.open(SAMPLES / f"{image}.png") as im:
            rgb = np.asarray(im.convert("RGB").resize((im.width // 2, im.height // 2), Image.LANCZOS))
        data = lic_core.compress(rgb, family, quality)
        name = f"{image}-{family}-q{quality}.lic"
        (out / name).write_bytes(data)
        h, w = rgb.shape[:2]
        entries.append({"file": name, "title": f"{image} · {family} q{quality}",
                        "width": w, "height": h, "bytes": len(data)})
        print(f"{name}: {w}x{h}, {len(data)} bytes, {8 * len(data) / (w * h):.3f} bpp")
    (out / "index.json").write_text(json.dumps({"samples": entries}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
