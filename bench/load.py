"""Where the time of a first ``lic compress`` goes: imports, zoo.load, first compress.

    python bench/load.py [--families factorized hyperprior joint] [--repeat 3] [--json out.json]

Imports are paid once per process, so every measurement runs in a fresh interpreter:

1. **imports** (``python -X importtime``, one ``lic compress -Q`` of a 64x64 crop): the
   self time of every imported module summed by top-level package (torch, numpy, PIL,
   lic_core, ...), and the total.
2. **per family** (a child process each): ``import lic_core.cli.main``, ``import torch``,
   the first ``zoo.load`` (with the zoo's own imports) and a second one, ``zoo.build``
   at the loaded N, M alone (the construction and random initialisation that a load
   does and then overwrites with the file's tensors), the first and second
   compress and the first decompress of the 64x64 image, the round trip checked.
3. **end to end**: ``lic compress`` of the 64x64 image in a subprocess, wall seconds.

Medians of --repeat runs. Every round trip is verified (the decoded image equals the
encoder's reconstruction) before a time is reported. Figures are of the machine that
runs this script; on a shared machine, compare rows of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = 64  # the image of issue 13's measurement: a 64x64 crop


def _child(family: str, quality: int, image: str) -> dict:
    """Timings in this (fresh) process, in seconds; runs in the child."""
    t = {}
    t0 = time.perf_counter()
    import lic_core.cli.main  # noqa: F401  (what `lic` imports before any command runs)
    t["import lic_core.cli"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import torch
    t["import torch"] = time.perf_counter() - t0
    from lic_core import images, zoo
    t0 = time.perf_counter()
    net = zoo.load(family, quality)
    t["zoo.load (first)"] = time.perf_counter() - t0
    # Coding first, as `lic compress` does: models built and dropped before it made the
    # first compress up to 4x slower here (fresh memory to fault in), which no run sees.
    x = images.to_tensor(images.to_rgb_array(image))
    with torch.inference_mode():
        t0 = time.perf_counter()
        data = net.compress(x)
        t["compress (first)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        decoded = net.decompress(data)
        t["decompress (first)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = net.compress(x)
        t["compress (again)"] = time.perf_counter() - t0
        same, x_hat = net.compress(x, return_x_hat=True)  # the reference, untimed
    t0 = time.perf_counter()
    zoo.load(family, quality)
    t["zoo.load (again)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    zoo.build(family, N=net.N, M=net.M)  # the construction load() does before reading
    t["zoo.build (random init)"] = time.perf_counter() - t0
    import numpy as np
    if not again == same == data or not np.array_equal(images.to_uint8(decoded), images.to_uint8(x_hat)):
        raise SystemExit(f"{family} q{quality}: round trip failed; no times reported")
    return t


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r


def _import_profile(image: str, out: str) -> dict[str, float]:
    """Self import time (s) by top-level package of one `lic compress -Q` run."""
    code = f"from lic_core.cli.main import main; main(['compress', {image!r}, {out!r}, '-Q', '-f'])"
    r = _run([sys.executable, "-X", "importtime", "-c", code])
    totals: dict[str, float] = {}
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            root = m.group(2).split(".")[0]
            totals[root] = totals.get(root, 0.0) + int(m.group(1)) / 1e6
    return totals


def _quality(family: str) -> int:
    """The quality the CLI would use: 3, or the nearest shipped one (ties upwards)."""
    from lic_core.cli.common import nearest_quality, shipped_models
    shipped = shipped_models()[family]
    if not shipped:
        raise SystemExit(f"no weights ship for {family}")
    return nearest_quality(3, shipped)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=["factorized", "hyperprior", "joint"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", default=None, help="write the figures here too")
    p.add_argument("--child", nargs=3, metavar=("FAMILY", "QUALITY", "IMAGE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]), args.child[2])))
        return 0

    from PIL import Image

    from lic_core.images import sample_paths
    report: dict = {"machine": f"{os.cpu_count()} CPUs, load average "
                               f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} at start"}
    with tempfile.TemporaryDirectory() as tmp:
        image = str(Path(tmp) / "crop.png")
        with Image.open(sample_paths()[-1]) as im:
            im.crop((0, 0, SIZE, SIZE)).save(image)
        out = str(Path(tmp) / "out.lic")

        profiles = [_import_profile(image, out) for _ in range(args.repeat)]
        roots = sorted({k for prof in profiles for k in prof},
                       key=lambda k: -statistics.median(prof.get(k, 0.0) for prof in profiles))
        imports = {k: statistics.median(prof.get(k, 0.0) for prof in profiles) for k in roots}
        report["imports"] = imports
        print(f"Imports of one `lic compress -Q` ({SIZE}x{SIZE}), self time by package, "
              f"median of {args.repeat}:")
        shown = [k for k in roots if imports[k] >= 0.002]
        for k in shown:
            print(f"  {k:<24} {imports[k] * 1000:8.1f} ms")
        rest = sum(imports[k] for k in roots if k not in shown)
        print(f"  {'(others)':<24} {rest * 1000:8.1f} ms\n  {'total':<24} "
              f"{sum(imports.values()) * 1000:8.1f} ms\n")

        report["families"] = {}
        for family in args.families:
            q = _quality(family)
            runs = [json.loads(_run([sys.executable, __file__, "--child", family, str(q), image])
                               .stdout) for _ in range(args.repeat)]
            report["families"][f"{family} q{q}"] = {
                k: statistics.median(r[k] for r in runs) for k in runs[0]}
        keys = list(next(iter(report["families"].values())))
        print(f"Fresh process per run, median of {args.repeat} (ms):")
        print(f"  {'':<26}" + "".join(f"{name:>16}" for name in report["families"]))
        for k in keys:
            print(f"  {k:<26}" + "".join(f"{v[k] * 1000:16.1f}" for v in report["families"].values()))

        walls = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            _run([sys.executable, "-m", "lic_core", "compress", image, out, "-Q", "-f"])
            walls.append(time.perf_counter() - t0)
        report["lic compress wall s"] = statistics.median(walls)
        print(f"\n`lic compress` {SIZE}x{SIZE} end to end (subprocess, hyperprior q3): "
              f"{statistics.median(walls):.2f} s median of {args.repeat} "
              f"({', '.join(f'{w:.2f}' for w in walls)})")
    report["machine"] += f", {' '.join(f'{v:.2f}' for v in os.getloadavg())} at end"
    print(f"machine: {report['machine']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
