"""Whole-file decode: time and peak memory of the engine's exact decoder (integer
synthesis, zoo-v5) next to the float decoder of the release before it (zoo-v4, torch)
and AVIF, on this machine.

    python bench/decode.py [--image PATH] [--quality 4] [--threads 2] [--repeat 5]
                           [--memory] [--json out.json]

Speed: one image (default kodim01, 768x512) encoded by every family at ``--quality``
(factorized, hyperprior, joint, space-channel) with the current release (format 4,
integer synthesis) and with zoo-v4 (format 3, the same transforms and probability path,
g_s in torch floats); a family a release does not ship is skipped with the reason
printed (space-channel: no shipped weights yet, never in zoo-v4); each file decoded
``--repeat`` times with ``lic_core.decompress`` on ``--threads`` threads (the engine's
threads and torch's), median reported, after checking that the exact decode equals the
encoder's reconstruction. AVIF (Pillow) at a quality of about the same size is timed
the same way.

Memory (``--memory``): each case runs in a fresh process, which first decodes a small
file (the weights loaded, the engine warm), records its peak RSS, decodes the case's
file and reports how much the peak grew, per pixel of the image. Cases: 256x256,
1x65536 (the same number of pixels), 2048x2048 and 4096x4096 (16 MP), hyperprior
zoo-v5; their files are coded from latents tiled from the image's own (g_a and h_a on
the image, tiled to the size), so their statistics are a photo's, without running the
analysis transform on 16 MP.

Figures are what this machine measured; nothing here is asserted.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"
FAMILIES = ("factorized", "hyperprior", "joint", "space-channel")
PREVIOUS = "zoo-v4"
MEMORY_CASES = [(256, 256), (1, 65536), (2048, 2048), (4096, 4096)]


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def speed(image: np.ndarray, quality: int, threads: int, repeat: int) -> list[dict]:
    import torch

    import lic_core
    from lic_core import container, zoo
    from lic_core.api import to_tensor, to_uint8
    from lic_core.coding import intnet
    from lic_core.zoo.catalog import locate, qualities_text
    torch.set_num_threads(threads)
    intnet.set_default_threads(threads)
    rows = []
    h, w = image.shape[:2]
    for name in FAMILIES:
        for release in (None, PREVIOUS):
            # a family a release does not ship (space-channel: no weights yet, and none in
            # zoo-v4 ever) is skipped, saying so, rather than ending the run
            path, folder = locate(name, quality, release)
            if path is None:
                print(f"{name:10s} q{quality} {release or 'current release'}: skipped, "
                      + (qualities_text(name, folder) if folder is not None else "release not installed"))
                continue
            model = zoo.load(name, quality, release=release)
            data, x_hat = model.compress(to_tensor(image), return_x_hat=True)
            header = container.unpack(data)
            decoded = lic_core.decompress(data)
            if not np.array_equal(decoded, to_uint8(x_hat)):
                raise SystemExit(f"{name} {release}: the decode differs from the encoder's reconstruction")
            t = median_time(lambda: lic_core.decompress(data), repeat)
            mse = float(np.mean((decoded.astype(np.float64) - image) ** 2))
            rows.append({"model": name, "quality": quality, "release": header.weights_release,
                         "synthesis": "integer" if header.synthesis else "float", "bytes": len(data),
                         "bpp": 8 * len(data) / (h * w), "psnr": 10 * np.log10(255 ** 2 / mse),
                         "decode_s": t})
            print(f"{name:10s} q{quality} {header.weights_release} ({rows[-1]['synthesis']:7s}): "
                  f"{rows[-1]['bpp']:.3f} bpp, {rows[-1]['psnr']:.2f} dB, decode {t * 1000:.1f} ms")
    from PIL import Image
    target = np.median([r["bytes"] for r in rows])
    best = None
    for q in range(20, 90, 2):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="AVIF", quality=q)
        if best is None or abs(len(buf.getvalue()) - target) < abs(len(best[1]) - target):
            best = (q, buf.getvalue())
    q, avif = best

    def decode_avif():
        with Image.open(io.BytesIO(avif)) as im:
            im.load()

    t = median_time(decode_avif, repeat)
    rows.append({"model": "avif", "quality": q, "bytes": len(avif), "bpp": 8 * len(avif) / (h * w),
                 "decode_s": t})
    print(f"avif       q{q}: {rows[-1]['bpp']:.3f} bpp, decode {t * 1000:.1f} ms")
    return rows


def make_file(image: np.ndarray, height: int, width: int, quality: int) -> bytes:
    """A hyperprior .lic of height x width coded from the image's latents, tiled."""
    import torch

    from lic_core import zoo
    from lic_core.api import to_tensor
    model = zoo.load("hyperprior", quality)
    with torch.no_grad():
        x = model.pad(to_tensor(image))
        y = model.analysis(x)
        z = model.h_a(model.hyper_analysis_input(y))
    ph, pw = -(-height // 64) * 64, -(-width // 64) * 64

    def tile(t, h, w):
        reps = (-(-h // t.shape[2]), -(-w // t.shape[3]))
        return t.repeat(1, 1, *reps)[..., :h, :w].contiguous()

    y_t, z_t = tile(y, ph // 16, pw // 16), tile(z, ph // 64, pw // 64)
    return model.compress(torch.zeros(1, 3, height, width), latents=(y_t, z_t))


def peak_rss() -> int:
    """The process's peak resident memory in bytes: /proc's VmHWM on Linux (ru_maxrss
    survives exec there, so a child would report its parent's peak), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_case(path: str, small: str, threads: int) -> dict:
    """In this process: warm up on ``small``, then decode ``path``; the peak's growth."""
    import lic_core
    from lic_core import container
    from lic_core.coding import intnet
    intnet.set_default_threads(threads)
    lic_core.decompress(Path(small).read_bytes())
    base = peak_rss()
    data = Path(path).read_bytes()
    header = container.unpack(data)
    t = time.perf_counter()
    lic_core.decompress(data)
    seconds = time.perf_counter() - t
    peak = peak_rss()
    pixels = header.height * header.width
    return {"height": header.height, "width": header.width, "decode_s": seconds,
            "peak_growth_bytes": peak - base, "bytes_per_pixel": (peak - base) / pixels,
            "torch_imported": "torch" in sys.modules}


def memory(image: np.ndarray, quality: int, threads: int, scratch: Path) -> list[dict]:
    scratch.mkdir(parents=True, exist_ok=True)
    small = scratch / "small.lic"
    small.write_bytes(make_file(image, 64, 64, quality))
    rows = []
    for h, w in MEMORY_CASES:
        path = scratch / f"hyperprior-{h}x{w}.lic"
        path.write_bytes(make_file(image, h, w, quality))
        out = subprocess.run([sys.executable, __file__, "--memory-case", str(path), str(small), str(threads)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"hyperprior {w}x{h}: decode {row['decode_s']:.3f} s, peak RSS +{row['peak_growth_bytes'] / 2**20:.1f} "
              f"MiB = {row['bytes_per_pixel']:.1f} B/pixel (torch imported: {row['torch_imported']})")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--memory", action="store_true", help="also the peak-memory cases")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/lic-bench-decode"))
    p.add_argument("--json", type=Path)
    p.add_argument("--memory-case", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_case:
        print(json.dumps(memory_case(args.memory_case[0], args.memory_case[1], int(args.memory_case[2]))))
        return 0
    from PIL import Image
    with Image.open(args.image) as im:
        image = np.asarray(im.convert("RGB"))
    result = {"image": str(args.image), "threads": args.threads, "machine": os.uname().machine,
              "cpus": os.cpu_count()}
    if not args.no_speed:
        result["speed"] = speed(image, args.quality, args.threads, args.repeat)
    if args.memory:
        result["memory"] = memory(image, args.quality, args.threads, args.scratch)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
