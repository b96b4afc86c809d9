"""Fuzz target: a model's full ``decompress`` (``lic_core.zoo`` families, .lic bytes in).

Small random-weight models of all five families (N=8, M=12, tables built) each
compress a few images; the harness then damages those files: raw byte damage
(the CRCs catch it), damage to one entropy-coded stream or to header fields with
both CRCs recomputed (so the damage reaches the model's decoders), or streams
swapped between files. It checks that:

* ``model.decompress`` returns a finite 1x3xHxW tensor in [0, 1] with H, W from
  the header, or raises a ``LicError`` subclass; nothing else, no crash or hang;
* decoding happens under ``max_pixels=2**16`` (a caller-chosen limit), so no input
  can make it allocate for a larger image: it must raise LimitExceededError;
* an intact file decodes to exactly the encoder's own reconstruction.

Run as a fuzzer (``__main__``), torch is set to one thread (cheaper per input). Importing
this module changes nothing process-wide: pytest imports it, and the rest of the suite
must keep torch's thread count (tests/system/test_suite_environment.py pins that).
"""
from __future__ import annotations

import struct
import sys

import torch

from tests.fuzz import fuzzlib
from tests.fuzz.fuzz_container import FILE_DAMAGE, damage_file

if __name__ == "__main__":  # the fuzzer's own process only, before the seeds are encoded
    torch.set_num_threads(1)

with fuzzlib.instrumented():
    from lic_core import container
    from lic_core.errors import LimitExceededError
    from lic_core.testing import tiny_model

MAX_PIXELS = 1 << 16
FAMILIES = ("factorized", "hyperprior", "mean-scale", "joint", "space-channel")
SIZES = ((64, 64), (17, 70), (5, 9))


def _models():
    # seeded weights, the caller's RNG untouched; the harness's own copies
    return {name: tiny_model(name, seed=100, fresh=True) for name in FAMILIES}


def _seeds():
    seeds = []
    g = torch.Generator().manual_seed(7)
    for name, m in MODELS.items():
        for h, w in SIZES:
            x = torch.rand(1, 3, h, w, generator=g)
            data, x_hat = m.compress(x, return_x_hat=True)
            seeds.append((name, data, x_hat))
    return seeds


MODELS = _models()
SEEDS = _seeds()
FILES = [s[1] for s in SEEDS]



def one_input(data: bytes) -> None:
    cur = fuzzlib.Cursor(data)
    mode = cur.byte() % FILE_DAMAGE
    name, seed, x_hat = SEEDS[cur.below(len(SEEDS))]
    model = MODELS[name] if cur.below(16) else MODELS[FAMILIES[cur.below(len(FAMILIES))]]
    blob = damage_file(seed, cur, FILES, mode)

    out, err = fuzzlib.attempt(model.decompress, blob, max_pixels=MAX_PIXELS)
    if err is None:
        g = container.unpack(blob)
        assert out.shape == (1, 3, g.height, g.width), (out.shape, g)
        assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        if blob == seed and model is MODELS[name]:
            assert torch.equal(out, x_hat), "an intact file decoded to another image"
            fuzzlib.record("ok-exact")
        else:
            fuzzlib.record("ok-damaged")
    else:
        if isinstance(err, LimitExceededError) and "pixels" in str(err):
            height, width = struct.unpack_from("<II", blob, 16)  # the header's claim
            # the limit counts the image padded to a multiple of 64 (what decoding allocates)
            assert container.Limits.padded_pixels(height, width) > MAX_PIXELS, \
                f"refused {height}x{width} under the pixel limit"
        assert blob != seed or model is not MODELS[name], f"an intact file was refused: {err!r}"
        fuzzlib.record(type(err).__name__)


def seed_inputs():
    """One input per seed, intact: mode 1 (stream 0, op 4 with nothing left to add), own model."""
    return [bytes([1]) + i.to_bytes(2, "little") + b"\x01\0\0\0\0\0\x04\0"
            for i in range(len(SEEDS))]


if __name__ == "__main__":
    sys.exit(fuzzlib.main(one_input, seed_inputs))
