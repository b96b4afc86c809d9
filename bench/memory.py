"""Peak memory of encoding and decoding by image shape (issue 21 point 5): the peak RSS
of a fresh process that does one thing, as a user's ``lic compress`` or ``lic
decompress`` would.

    python bench/memory.py [--families hyperprior joint] [--sizes 256x256 65536x1 ...]
                           [--quality 4] [--threads 2] [--whole | --bound BYTES]
                           [--json out.json]

Per family and size (width x height), each in its own process (the weights loaded, the
one call made, VmHWM read from /proc: ru_maxrss survives exec on Linux):

* **encode**: ``lic_core.compress(image, family, quality)`` with the current release
  (g_a and h_a in torch; its file records integer synthesis);
* **encode zoo-v4**: the same with release zoo-v4, whose files record float synthesis
  (the file the next row decodes; its g_a is the current release's);
* **decode float**: ``lic_core.decompress`` of that zoo-v4 file (g_s in torch);
* **decode integer**: ``lic_core.decompress`` of the current release's file (the
  engine's whole-file decoder, no torch).

``--whole`` runs g_a and g_s on the whole image as before tiling
(``CompressionModel.tile_bound = None`` in every process): the figures before the fix;
``--bound`` sets another tile bound (bytes of the largest activation) to compare.

The image is kodim01 (768x512) tiled to the size, so the statistics are a photo's. Each
decode is checked to give the image the encoder's own reconstruction would
(``return_x_hat``) only where cheap (not here: the round trip tests pin it); this script
measures memory and time, nothing is asserted. The ratio column is the peak against the
same column's 256x256 (the issue's measure: the peak RSS of the process, everything
included). Figures are this machine's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"
SIZES = ("256x256", "65536x1", "65536x64", "4096x4096")  # width x height
PREVIOUS = "zoo-v4"


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(action: str, family: str, quality: int, release: str, src: str, dst: str,
          threads: int, bound: str) -> dict:
    """One measured action in this (fresh) process."""
    import lic_core

    def use_torch():
        import torch
        torch.set_num_threads(threads)
        if bound != "default":
            from lic_core.zoo.base import CompressionModel
            CompressionModel.tile_bound = None if bound == "whole" else int(bound)

    if action == "encode":
        use_torch()
        image = np.load(src)
        t = time.perf_counter()
        if release:
            from lic_core import zoo
            model = zoo.load(family, quality, release=release)
        else:
            model = family
        data = lic_core.compress(image, model, quality)
        seconds = time.perf_counter() - t
        Path(dst).write_bytes(data)
    else:
        data = Path(src).read_bytes()
        if "torch" in sys.modules or lic_core.codec.read_header(data).synthesis == 0:
            use_torch()
        from lic_core.coding import intnet
        intnet.set_default_threads(threads)
        t = time.perf_counter()
        out = lic_core.decompress(data)
        seconds = time.perf_counter() - t
        np.save(dst, out)
    return {"peak_rss": peak_rss(), "seconds": seconds, "torch": "torch" in sys.modules}


def tiled(image: np.ndarray, width: int, height: int) -> np.ndarray:
    reps = (-(-height // image.shape[0]), -(-width // image.shape[1]), 1)
    return np.ascontiguousarray(np.tile(image, reps)[:height, :width])


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--families", nargs="+", default=["hyperprior", "joint"])
    p.add_argument("--sizes", nargs="+", default=list(SIZES))
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--scratch", type=Path, default=Path("/tmp/lic-bench-memory"))
    p.add_argument("--whole", action="store_true",
                   help="g_a and g_s on the whole image, as before tiling (tile_bound = None)")
    p.add_argument("--bound", type=int, help="another tile bound, in bytes")
    p.add_argument("--json", type=Path)
    p.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        action, family, quality, release, src, dst, threads, bound = args.child
        print(json.dumps(child(action, family, int(quality), "" if release == "-" else release,
                               src, dst, int(threads), bound)))
        return 0
    bound = "whole" if args.whole else "default" if args.bound is None else str(args.bound)
    from PIL import Image
    with Image.open(args.image) as im:
        photo = np.asarray(im.convert("RGB"))
    args.scratch.mkdir(parents=True, exist_ok=True)
    rows, first = [], {}
    print(f"{'family':10s} {'size':>10s} {'action':15s} {'peak MB':>8s} {'x 256^2':>7s} {'s':>6s}")
    for family in args.families:
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            src = args.scratch / f"{size}.npy"
            if not src.exists():
                np.save(src, tiled(photo, w, h))
            current = args.scratch / f"{family}-{size}.lic"
            previous = args.scratch / f"{family}-{size}-{PREVIOUS}.lic"
            out = args.scratch / "decoded.npy"
            for action, release, a, b in (("encode", "-", src, current),
                                          ("encode", PREVIOUS, src, previous),
                                          ("decode", "-", previous, out),
                                          ("decode", "-", current, out)):
                label = {("encode", "-"): "encode", ("encode", PREVIOUS): f"encode {PREVIOUS}"}.get(
                    (action, release), "decode float" if a == previous else "decode integer")
                r = run_child(action, family, args.quality, release, a, b, args.threads, bound)
                first.setdefault((family, label), r["peak_rss"])
                ratio = r["peak_rss"] / first[(family, label)]
                rows.append({"family": family, "width": w, "height": h, "action": label, **r,
                             "ratio_to_first_size": ratio})
                print(f"{family:10s} {size:>10s} {label:15s} {r['peak_rss'] / 1e6:8.0f} {ratio:7.2f} "
                      f"{r['seconds']:6.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": os.uname().machine, "cpus": os.cpu_count(),
                                         "threads": args.threads, "bound": bound,
                                         "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
