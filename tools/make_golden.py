#!/usr/bin/env python
"""Golden .lic files of the shipped zoo, and their pinned decodes: tests/fixtures/golden/.

    python tools/make_golden.py              # write tests/fixtures/golden/<current release>/
    python tools/make_golden.py --decode OUT # decode every committed file into OUT/ (the test)
    python tools/make_golden.py --decode OUT --kernels default --release zoo-v4
                                             # ... one release, with torch's default kernels
    python tools/make_golden.py --digests    # digests.txt of the current release's folder
                                             # from its manifest.json (no torch)

Layout: ``golden/`` itself holds the files of release zoo-v3 (format 2, written by the
release before issue 12, commit b96cf4f, for the 21 cases of the qualities it shipped), ``golden/format1/`` their
format-1 twins (written before format 2), and ``golden/<label>/`` the files of each later
release (``zoo-v4``: format 3, the integer probability path):
``lic_core.testing.golden.release_folders``, where the layout is defined.
Each release's folder covers every model and quality that release ships.

WHEN TO WRITE: only when a new container format version or a new zoo weights release
is deliberately introduced, in the same commit, saying so; a release's folder is written
once and never rewritten. Never to make a failing
tests/system/test_golden_files.py pass: that test exists to catch a change that alters how
files already written decode (the coder, the tables, the container, the models'
decoding path, the shipped weights). Files of an older release keep decoding as long as
that release's weights ship (docs/format.md), so a new release adds golden files; it does
not need to replace these.

What is written, for each case of CASES (every shipped family, three qualities, small
crops of lic_core/samples): ``<name>.lic`` (written by ``zoo.load(model, quality)``),
``<name>.png`` (what ``lic_core.decompress`` returns for it), and in ``manifest.json`` its
header fields, its SHA-256, and per stream the count and SHA-256 of the entropy-decoded
integer symbols (int32 little-endian, in the order the decoder reads them;
``lic_core.testing.golden.decode``). For files of
integer synthesis (format 4, zoo-v5 on) the manifest also pins ``image_sha256``, the
SHA-256 of the decoded H x W x 3 RGB bytes row by row, and ``digests.txt`` repeats it as
plain text for readers without JSON (the C engine's tests/c_abi/golden_decode.c and
examples/c_decode's ctest): one line per file, ``<name>.lic <image_sha256>``, sorted.
``--digests`` writes that file from a manifest already written (it is derived, never new
information: it refuses to change an existing digests.txt that disagrees).

Baseline kernels. The synthesis g_s, and for files of zoo-v3 (the float probability
path) also h_s and the joint model's context networks, run in float32 in torch, whose CPU kernels depend on the instruction set (AVX-512 vs AVX2 vs SSE), on
oneDNN's and MKL's code paths and on the thread count. Writing and decoding always run
in a process with ``BASELINE_ENV`` (lic_core.testing.golden: ATen's portable default
kernels, oneDNN capped at SSE4.1, MKL in its conditional-numerical-reproducibility mode
COMPATIBLE,STRICT, one thread) and with oneDNN convolutions switched off (torch's own im2col + MKL GEMM), so
that an x86-64 CI machine with another instruction set computes the same floats as the
machine that wrote the files. This script re-executes itself with that environment when
it is not set (it must be set before torch loads).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

# the golden files' layout, the baseline kernels and the symbol digests: one definition,
# shared with the tests that check the files
from lic_core.testing.golden import (BASELINE_ENV, DIGESTS, MANIFEST, decode, digests_text,
                                     in_baseline_environment, release_folders)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "golden"

#: Decoded pixels may differ by one level where g_s is float (see docs/reliability.md);
#: files of integer synthesis (format 4, zoo-v5 on) decode to the same bytes everywhere.
TOLERANCE = {"max_abs_diff": 1, "min_identical_fraction": 0.99}
EXACT_TOLERANCE = {"max_abs_diff": 0, "min_identical_fraction": 1.0}

#: (model, quality, sample, top, left, height, width): every model and quality a release
#: may ship, textured 64×48 and 48×80 crops (neither a multiple of the hyperprior's stride
#: 64, so padding and cropping are part of every decode). write() writes the cases of the
#: qualities the current release ships, and refuses a shipped one without a case here.
#: The first nine are the cases of the golden files before zoo-v4 (q1/4/8), and the next
#: twelve those of zoo-v3's and zoo-v4's other qualities: unchanged, so that every
#: release's file of a quality encodes the same crop. The rest (factorized q10, hyperprior
#: and joint q9/10, and factorized q3/5/7/9 for a release that ships them) re-use crops of
#: the cases above; write() takes only the qualities the current release ships.
CASES = [
    ("factorized", 1, "kodim03.png", 260, 260, 64, 48),
    ("factorized", 4, "kodim15.png", 220, 280, 48, 80),
    ("factorized", 8, "kodim23.png", 200, 160, 64, 48),
    ("hyperprior", 1, "kodim15.png", 200, 220, 48, 80),
    ("hyperprior", 4, "kodim23.png", 220, 220, 64, 48),
    ("hyperprior", 8, "kodim03.png", 240, 260, 48, 80),
    ("joint", 1, "kodim23.png", 200, 140, 48, 80),
    ("joint", 4, "kodim03.png", 60, 60, 64, 48),
    ("joint", 8, "kodim15.png", 440, 260, 64, 48),
    ("factorized", 2, "kodim15.png", 200, 220, 48, 80),
    ("factorized", 6, "kodim03.png", 240, 260, 48, 80),
    ("hyperprior", 2, "kodim03.png", 260, 260, 64, 48),
    ("hyperprior", 3, "kodim15.png", 220, 280, 48, 80),
    ("hyperprior", 5, "kodim23.png", 200, 160, 64, 48),
    ("hyperprior", 6, "kodim15.png", 440, 260, 64, 48),
    ("hyperprior", 7, "kodim03.png", 60, 60, 64, 48),
    ("joint", 2, "kodim15.png", 200, 220, 48, 80),
    ("joint", 3, "kodim03.png", 240, 260, 48, 80),
    ("joint", 5, "kodim23.png", 220, 220, 64, 48),
    ("joint", 6, "kodim03.png", 260, 260, 64, 48),
    ("joint", 7, "kodim15.png", 220, 280, 48, 80),
    ("factorized", 3, "kodim23.png", 220, 220, 64, 48),
    ("factorized", 5, "kodim15.png", 440, 260, 64, 48),
    ("factorized", 7, "kodim03.png", 60, 60, 64, 48),
    ("factorized", 9, "kodim23.png", 200, 140, 48, 80),
    ("factorized", 10, "kodim15.png", 220, 280, 48, 80),
    ("hyperprior", 9, "kodim23.png", 200, 140, 48, 80),
    ("hyperprior", 10, "kodim03.png", 240, 260, 48, 80),
    ("joint", 9, "kodim03.png", 260, 260, 64, 48),
    ("joint", 10, "kodim23.png", 200, 160, 64, 48),
]


def _reexec_in_baseline_environment() -> None:
    if "torch" in sys.modules:
        raise RuntimeError("make_golden: torch was imported before the baseline environment was set")
    env = dict(os.environ, **BASELINE_ENV)
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


def _baseline_torch():
    """torch, configured for the baseline kernels (the environment is already set)."""
    import torch
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    return torch


def case_name(model: str, quality: int, sample: str, height: int, width: int) -> str:
    return f"{model}-q{quality}-{Path(sample).stem}-{height}x{width}"


def encoder_image(x_hat):
    """The encoder's x̂ as the decoder's 8-bit H×W×3 image (a written file must decode to it)."""
    import numpy as np
    import torch
    return np.ascontiguousarray(
        (x_hat.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy())


def written_with() -> dict:
    """What a manifest records about the writing process: versions and the kernels."""
    import torch
    import lic_core
    return {"lic_core": lic_core.__version__, "torch": torch.__version__,
            "environment": BASELINE_ENV, "mkldnn": False, "threads": 1}


def header_fields(data: bytes) -> dict:
    from lic_core import container
    f = container.unpack(data)
    return {"model": f.model, "quality": f.quality, "height": f.height, "width": f.width,
            "format_version": f.version, "weights_release": f.weights_release,
            "weights_fingerprint": f"{f.weights_fingerprint:016x}",
            "probability_path": f.probability_path, "synthesis": f.synthesis,
            "latent_shapes": [list(s) for s in f.latent_shapes]}


def write(folder: Path) -> None:
    import numpy as np
    from PIL import Image

    torch = _baseline_torch()
    import lic_core
    from lic_core import zoo
    from lic_core.api import sample_paths
    samples = {p.name: p for p in sample_paths()}
    # the release's golden files cover exactly what it ships (the test compares the two)
    shipped = {(name, q) for name, qualities in zoo.list_models().items() for q in qualities}
    cases = [case for case in CASES if case[:2] in shipped]
    missing = shipped - {case[:2] for case in cases}
    if missing:
        raise SystemExit(f"make_golden: no case in CASES for {sorted(missing)}: add one "
                         "(a crop of lic_core/samples) before writing")
    folder.mkdir(parents=True, exist_ok=True)
    for old in list(folder.glob("*.lic")) + list(folder.glob("*.png")):
        old.unlink()  # (format1/ is never touched: its writer is an older release)
    (folder / DIGESTS).unlink(missing_ok=True)  # derived from the manifest written below
    entries = []
    for model_name, quality, sample, top, left, height, width in cases:
        rgb = np.asarray(Image.open(samples[sample]).convert("RGB"))
        crop = np.ascontiguousarray(rgb[top:top + height, left:left + width])
        assert crop.shape == (height, width, 3), (sample, crop.shape)
        model = zoo.load(model_name, quality)
        data = lic_core.compress(crop, model_name, quality)
        x = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).float().div(255.0)
        again, x_hat = model.compress(x, return_x_hat=True)
        assert again == data, f"{model_name} q{quality}: the API and the model wrote different files"
        streams, image = decode(data)
        assert np.array_equal(image, encoder_image(x_hat)), \
            f"{model_name} q{quality}: decode != encoder's x̂"
        assert streams["y"]["nonzero"] > 0, f"{model_name} q{quality}: ŷ is all zero, pick another crop"
        name = case_name(model_name, quality, sample, height, width)
        (folder / f"{name}.lic").write_bytes(data)
        Image.fromarray(image).save(folder / f"{name}.png", optimize=True)
        entries.append({"name": name, "lic": f"{name}.lic", "png": f"{name}.png",
                        "sha256": hashlib.sha256(data).hexdigest(), **header_fields(data),
                        # the decoded pixels, H x W x 3 bytes row by row: what every
                        # decoder of an integer-synthesis file must give, bit for bit
                        "image_sha256": hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(),
                        "source": {"sample": sample, "top": top, "left": left},
                        "symbols": streams})
        print(f"{name}: {len(data)} bytes, symbols "
              + ", ".join(f"{s} {v['count']} ({v['nonzero']} non-zero)" for s, v in streams.items()))
    manifest = {
        "about": "Golden .lic files: written and decoded by tools/make_golden.py. Do not "
                 "regenerate to make tests/system/test_golden_files.py pass; see that script.",
        "written_with": written_with(),
        "tolerance": (EXACT_TOLERANCE if all(e["synthesis"] == 1 for e in entries) else TOLERANCE),
        "files": entries,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    write_digests(folder)
    total = sum(p.stat().st_size for p in folder.iterdir())
    print(f"wrote {len(entries)} golden files to {folder} ({total} bytes in all)")


def write_digests(folder: Path) -> Path | None:
    """Writes ``folder``/digests.txt from its manifest.json (the files of integer synthesis);
    None when it has none. An existing digests.txt is left as it is when it agrees and
    refused when it does not (golden files are never rewritten)."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for e in manifest["files"]:
        if e.get("synthesis") == 1 and not re.fullmatch(r"[0-9a-f]{64}", str(e.get("image_sha256", ""))):
            raise SystemExit(f"make_golden: {folder / MANIFEST}: {e['lic']} is of integer synthesis "
                             "but has no image_sha256")
    text = digests_text(manifest)
    if not text:
        return None
    path = folder / DIGESTS
    if path.exists():
        if path.read_text(encoding="utf-8") != text:
            raise SystemExit(f"make_golden: {path} disagrees with {MANIFEST}: golden files are never "
                             "rewritten; find out which is wrong")
        return path
    path.write_text(text, encoding="utf-8")
    return path


def _decode_to(data: bytes, npy: Path) -> dict:
    """{"symbols": ...} of one file, its image saved to ``npy``; or {"error": "..."} when it
    no longer decodes (the test reports which files, not just the first)."""
    import numpy as np

    from lic_core.errors import LicError
    try:
        streams, image = decode(data)
    except LicError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    np.save(npy, image)
    return {"symbols": streams}


def decode_all(folder: Path, out: Path, releases: list[str] | None = None) -> None:
    """Decode every file of the golden releases (:func:`release_folders`; only those
    labelled ``releases`` when given); write OUT/<label>-<name>.npy, and for the format-1
    twins, decoded with the root folder's release, OUT/format1-<name>.npy; and
    OUT/decoded.json ({"releases": {label: {name: {"symbols": ...} or {"error": "..."}}},
    "format1": {name: ...}} and the kernels it ran with)."""
    torch = _baseline_torch() if in_baseline_environment() else __import__("torch")
    folders = release_folders(folder)
    unknown = set(releases or ()) - set(folders)
    if unknown:
        raise SystemExit(f"make_golden: no golden files of {sorted(unknown)} in {folder}")
    out.mkdir(parents=True, exist_ok=True)
    results = {"capability": torch.backends.cpu.get_cpu_capability(),
               "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.enabled,
               "releases": {}, "format1": {}}
    for label, sub in folders.items():
        if releases and label not in releases:
            continue
        decoded = results["releases"][label] = {}
        for entry in json.loads((sub / MANIFEST).read_text(encoding="utf-8"))["files"]:
            decoded[entry["name"]] = _decode_to((sub / entry["lic"]).read_bytes(),
                                                out / f"{label}-{entry['name']}.npy")
        if sub == folder:
            # format-1 twins written by the release before format 2 (format1/manifest.json);
            # they decode with the root's release (zoo-v3), so they go with its selection
            for path in sorted((folder / "format1").glob("*.lic")):
                results["format1"][path.stem] = _decode_to(path.read_bytes(),
                                                            out / f"format1-{path.stem}.npy")
    (out / "decoded.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decode", metavar="OUT", help="decode the committed golden files into OUT")
    p.add_argument("--folder", help="the golden folder (default: tests/fixtures/golden, and "
                                    "for writing its subfolder named after the current release)")
    p.add_argument("--kernels", choices=("baseline", "default"), default="baseline",
                   help="decode with the baseline kernels (default) or torch's default ones")
    p.add_argument("--release", action="append", metavar="LABEL",
                   help="with --decode: decode only this release's files (repeatable; "
                        "default: every golden release; format1/ goes with the root's)")
    p.add_argument("--digests", action="store_true",
                   help=f"write {DIGESTS} of the golden folder (default: the current release's) "
                        f"from its {MANIFEST}: nothing else is written, torch is not needed")
    args = p.parse_args(argv)
    if args.digests:
        if args.decode:
            p.error("--digests and --decode are separate modes")
        from lic_core.zoo.release import release_label
        folder = Path(args.folder) if args.folder else GOLDEN / release_label()
        existed = (folder / DIGESTS).exists()
        written = write_digests(folder)
        print(f"{folder}: no files of integer synthesis" if written is None
              else f"{written}: {'agrees with' if existed else 'written from'} {MANIFEST}")
        return 0
    if args.kernels == "baseline" and not in_baseline_environment():
        _reexec_in_baseline_environment()
    if args.decode:
        decode_all(Path(args.folder or GOLDEN), Path(args.decode), args.release)
    else:
        from lic_core.zoo.release import release_label
        write(Path(args.folder) if args.folder else GOLDEN / release_label())
    return 0


if __name__ == "__main__":
    sys.exit(main())
