"""Write or decode .lic files in a process of its own torch configuration, for
tests/system/test_portability.py (the configuration must be set before torch loads, hence a
subprocess per configuration).

    python tests/system/portability_worker.py write OUT [--precision float64] [--release zoo-v3]
    python tests/system/portability_worker.py decode IN OUT

``write``: every shipped model and quality codes a 128×128 crop of a bundled sample;
OUT/<case>.lic and the encoder's ŷ (OUT/<case>.yhat.npy, float32). ``--precision
float64`` runs the writer's analysis transforms (g_a, h_a) in float64: another y, so
other symbols, that a decoder must still decode. ``--release zoo-v3``: the float path's
weights, to measure what the integer path fixes (not part of the test). ``decode``: OUT/<case>.yhat.npy (the
decoder's ŷ) and OUT/<case>.png-like uint8 array OUT/<case>.xhat.npy, and
OUT/report.json with the configuration that ran and any error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _torch():
    import os
    import torch
    torch.set_num_threads(int(os.environ.get("LIC_TEST_THREADS", "1")))
    if os.environ.get("LIC_TEST_MKLDNN") == "0":
        torch.backends.mkldnn.enabled = False
    return torch


def cases():
    from lic_core.zoo import catalog
    for name, qualities in catalog.list_models().items():
        for q in qualities:
            yield name, q, f"{name}-q{q}"


def crop(index: int):
    import numpy as np
    from PIL import Image
    from lic_core.api import sample_paths
    paths = sorted(sample_paths())
    with Image.open(paths[index % len(paths)]) as im:
        rgb = np.asarray(im.convert("RGB"))
    top, left = 100 + 37 * (index % 5), 150 + 53 * (index % 7)
    return np.ascontiguousarray(rgb[top:top + 128, left:left + 128])


def _capture(model, method: str, store: list):
    original = getattr(model, method)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        store.append(out)
        return out
    setattr(model, method, wrapper)


def _float64_wrapper():
    import torch

    class InFloat64(torch.nn.Module):
        """Runs a module in float64 and hands float32 on (h_a's state-dict names become
        h_a.inner.*: still encoder-only, so the fingerprint does not change)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner.double()

        def forward(self, t):
            return self.inner(t.double()).float()
    return InFloat64


def write(out: Path, precision: str, release: str | None = None) -> None:
    import numpy as np
    torch = _torch()
    from lic_core import zoo
    InFloat64 = _float64_wrapper()
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, q, case) in enumerate(cases()):
        model = zoo.load(name, q, release=release)
        if precision == "float64":
            model.g_a.double()
            model.analysis = lambda x, g_a=model.g_a: g_a(x.double()).float()
            if hasattr(model, "h_a"):
                model.h_a = InFloat64(model.h_a)
        encoded = []
        _capture(model, "_encode", encoded)
        x = torch.from_numpy(crop(i)).permute(2, 0, 1).unsqueeze(0).float().div(255.0)
        data = model.compress(x)
        (out / f"{case}.lic").write_bytes(data)
        np.save(out / f"{case}.yhat.npy", encoded[-1][2].numpy())


def decode(src: Path, out: Path) -> None:
    import os
    import numpy as np
    torch = _torch()
    from lic_core import container, zoo
    from lic_core.errors import LicError
    out.mkdir(parents=True, exist_ok=True)
    report = {"capability": torch.backends.cpu.get_cpu_capability(),
              "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.enabled,
              "env": {k: os.environ.get(k, "") for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")},
              "errors": {}}
    for path in sorted(src.glob("*.lic")):
        data = path.read_bytes()
        f = container.unpack(data)
        try:
            model = zoo.load(f.model, f.quality, release=f.weights_release or None)
            decoded = []
            _capture(model, "_decode", decoded)
            x_hat = model.decompress(data)
            if not decoded:  # integer synthesis: the engine decoded the file; ŷ through the
                # probability path's Python face, from the same streams
                shapes = tuple(tuple(s) for s in f.latent_shapes)
                decoded.append(model._decode(list(f.streams), shapes, "native"))
        except LicError as exc:
            report["errors"][path.stem] = f"{type(exc).__name__}: {exc}"
            continue
        np.save(out / f"{path.stem}.yhat.npy", decoded[-1].numpy())
        np.save(out / f"{path.stem}.xhat.npy",
                (x_hat * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy())
    (out / "report.json").write_text(json.dumps(report, indent=1))


def main(argv) -> int:
    if argv[0] == "write":
        precision = argv[argv.index("--precision") + 1] if "--precision" in argv else "float32"
        release = argv[argv.index("--release") + 1] if "--release" in argv else None
        write(Path(argv[1]), precision, release)
    elif argv[0] == "decode":
        decode(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
