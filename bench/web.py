"""lic in the browser: the WebAssembly module's size, and whole-file decode time in
headless Chromium against the native engine, same run, same machine.

    python bench/web.py [--image PATH] [--quality 4] [--repeat 5] [--json out.json]

One image (default kodim01, 768x512; lic_core/samples/kodim03.png, the same size, when
../shared is absent) encoded by every family at ``--quality`` with the current release
(format 4, integer synthesis). Each file is decoded:

* natively: ``lic_core.decompress`` with the engine on one thread
  (``lic_core.coding.intnet.set_default_threads(1)``), after one warm-up;
* in the page (web/, served by ``lic serve``'s server on a free port, headless Chromium
  through Selenium and chromedriver): ``window.lic.decodeFile``, whose worker times the
  engine's decode alone (``timings.decodeMs``: the file already in the module's memory,
  RGBA out; one thread, the module has none other); the whole call from the page
  (``roundTripMs``: to the worker and back) is reported beside it. The first call of a
  family fetches and checks its weights file and lets the browser's compiler warm up; it
  is reported as "first" and left out of the median.

Before any time is reported the page's RGB must equal the native decode's, byte for
byte. Figures are what this machine measured; nothing here is asserted.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "kodak-dev" / "kodim01.png"
FALLBACK_IMAGE = REPO / "lic_core" / "samples" / "kodim03.png"
FAMILIES = ("factorized", "hyperprior", "joint")

_DECODE = """
const [b64, repeat, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  await window.lic.ready;
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const runs = [];
  let last = null;
  for (let i = 0; i < repeat + 1; ++i) {
    last = await window.lic.decodeFile(bytes, "bench.lic");
    runs.push({decodeMs: last.timings.decodeMs, roundTripMs: last.timings.roundTripMs});
  }
  const rgb = new Uint8Array(last.width * last.height * 3);
  for (let i = 0, j = 0; i < last.data.length; i += 4, j += 3) {
    rgb[j] = last.data[i]; rgb[j + 1] = last.data[i + 1]; rgb[j + 2] = last.data[i + 2];
  }
  let s = "";
  for (let i = 0; i < rgb.length; i += 0x8000) s += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
  done({runs, width: last.width, height: last.height, rgb: btoa(s), weights: last.weights,
        agent: navigator.userAgent});
})().catch((e) => done({error: String(e && e.message || e)}));
"""


def start_browser(url: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        sys.exit("bench/web.py needs Chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(600)
    driver.get(url)
    driver.execute_async_script("window.lic.ready.then(() => arguments[0]())")
    return driver


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE if DEFAULT_IMAGE.is_file() else FALLBACK_IMAGE)
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args(argv)

    from PIL import Image

    import lic_core
    from lic_core.cli import serve
    from lic_core.coding.intnet import default_threads, set_default_threads

    subprocess.run([str(REPO / "tools" / "build_wasm.sh")], check=True)
    wasm = WEB / "build" / "lic_wasm.wasm"
    glue = WEB / "build" / "lic_wasm.mjs"
    sizes = {"wasm_bytes": wasm.stat().st_size, "wasm_gzip_bytes": len(gzip.compress(wasm.read_bytes(), 9)),
             "glue_bytes": glue.stat().st_size, "glue_gzip_bytes": len(gzip.compress(glue.read_bytes(), 9))}

    with Image.open(args.image) as im:
        image = np.asarray(im.convert("RGB"))
    files = {family: lic_core.compress(image, family, args.quality) for family in FAMILIES}

    server = serve.make_server(serve.Site.installed(WEB), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = start_browser(server.url)
    before = default_threads()
    rows = []
    try:
        set_default_threads(1)
        for family, data in files.items():
            native_rgb = lic_core.decompress(data)  # warm-up: weights parsed, caches filled
            native = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                lic_core.decompress(data)
                native.append(1000 * (time.perf_counter() - t))
            r = driver.execute_async_script(_DECODE, base64.b64encode(data).decode(), args.repeat)
            if "error" in r:
                raise SystemExit(f"{family}: the page failed: {r['error']}")
            rgb = np.frombuffer(base64.b64decode(r["rgb"]), np.uint8).reshape(r["height"], r["width"], 3)
            if not np.array_equal(rgb, native_rgb):
                raise SystemExit(f"{family}: the page's pixels differ from lic_core.decompress's")
            wasm_ms = statistics.median(run["decodeMs"] for run in r["runs"][1:])
            rows.append({
                "family": family, "quality": args.quality, "bytes": len(data),
                "native_ms": statistics.median(native), "wasm_ms": wasm_ms,
                "wasm_round_trip_ms": statistics.median(run["roundTripMs"] for run in r["runs"][1:]),
                "wasm_first_ms": r["runs"][0]["roundTripMs"], "weights_file": r["weights"]["file"],
                "weights_bytes": r["weights"]["bytes"], "weights_fetch_ms": r["weights"]["fetchMs"],
                "ratio": wasm_ms / statistics.median(native),
            })
        agent = r["agent"]
    finally:
        set_default_threads(before)
        driver.quit()
        server.shutdown()

    h, w = image.shape[:2]
    print(f"module: lic_wasm.wasm {sizes['wasm_bytes']:,} bytes ({sizes['wasm_gzip_bytes']:,} gzipped), "
          f"glue lic_wasm.mjs {sizes['glue_bytes']:,} bytes ({sizes['glue_gzip_bytes']:,} gzipped)")
    print(f"image: {args.image.name} {w}x{h}, quality {args.quality}, median of {args.repeat}; browser: {agent}")
    print("| family | file bytes | native 1 thread ms | Chromium wasm ms | ratio | page round trip ms "
          "| first call ms (weights fetched) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['family']} | {row['bytes']:,} | {row['native_ms']:.0f} | {row['wasm_ms']:.0f} | "
              f"{row['ratio']:.1f}x | {row['wasm_round_trip_ms']:.0f} | {row['wasm_first_ms']:.0f} "
              f"({row['weights_bytes'] / 1e6:.1f} MB) |")
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "image": str(args.image), "width": w, "height": h,
                                         "browser": agent, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
