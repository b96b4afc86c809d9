"""Fuzz target: the engine's whole-file decoder (``lic_core.coding.decoder.FileDecoder``,
csrc/lic/decoder.cpp: what ``lic_core.decompress``, the C ABI and the browser decode files
of integer synthesis with), for every family it reads, space-channel included.

Tiny models of the five families, converted to the integer path with an integer synthesis
and a decoder weights file each (tests/coding/exact_models.py), compress a few images to
files of format 4. The harness then damages, as the input chooses:

0. a file's raw bytes (the CRCs catch most of it);
1. one stream of a file, both CRCs recomputed (the damage reaches the entropy decoding,
   the probability networks and the walk of each family);
2. a file's header, both CRCs recomputed (model id, quality, shapes, fingerprint, ...);
3. a stream taken from another file;
4. the values of one tensor of the decoder weights file (its layout kept), the file's
   fingerprint then set to the damaged weights' own (CRCs recomputed), so that the decode
   runs the damaged networks: thresholds out of order, shifts past 31, wrapping
   accumulators, saturated means;
5. the decoder weights file's bytes anywhere (its header and JSON: the safetensors reader
   and the family's size checks).

A file is decoded with its own family's weights, now and then with another family's, on
one or two threads, under ``max_pixels=2**16``. It checks that:

* ``decode`` returns an H x W x 3 uint8 array, H and W the header's, or raises a
  ``LicError`` subclass; nothing else, no crash or hang;
* no input makes it allocate for an image over the limit: that is LimitExceededError;
* an intact file with its own weights decodes to exactly the encoder's reconstruction.

Run as a fuzzer (``__main__``), torch is set to one thread (it only builds the seeds).
Importing this module changes nothing process-wide (pytest imports it).
"""
from __future__ import annotations

import json
import struct
import sys

import numpy as np

from tests.fuzz import fuzzlib
from tests.fuzz.fuzz_container import FILE_DAMAGE, damage_file, fix_crcs

if __name__ == "__main__":  # the fuzzer's own process only, before the seeds are encoded
    import torch
    torch.set_num_threads(1)

with fuzzlib.instrumented():
    from lic_core import container
    from lic_core.coding.decoder import FileDecoder
    from lic_core.errors import LimitExceededError
    from lic_core.images import to_uint8

from tests.coding.exact_models import FAMILIES, exact_model  # noqa: E402

MAX_PIXELS = 1 << 16
SIZES = ((64, 64), (17, 70), (5, 9))
QUALITY = 2
MODES = 6


def _models():
    return {name: exact_model(name, seed=100, quality=QUALITY) for name in FAMILIES}


def _seeds():
    import torch
    seeds = []
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, e in EXACT.items():
            for h, w in SIZES:
                data, x_hat = e.model.compress(torch.rand(1, 3, h, w, generator=g), return_x_hat=True)
                seeds.append((name, data, to_uint8(x_hat)))
    return seeds


def _tensor_spans(weights: bytes) -> list[tuple[int, int]]:
    """(start, end) in ``weights`` of every tensor's bytes, by name."""
    n = struct.unpack_from("<Q", weights)[0]
    header = json.loads(weights[8:8 + n])
    base = 8 + n
    return [(base + header[k]["data_offsets"][0], base + header[k]["data_offsets"][1])
            for k in sorted(header) if k != "__metadata__"]


EXACT = _models()
DECODERS = {name: FileDecoder(data=e.weights) for name, e in EXACT.items()}
SPANS = {name: _tensor_spans(e.weights) for name, e in EXACT.items()}
SEEDS = _seeds()
FILES = [s[1] for s in SEEDS]


def _with_fingerprint(blob: bytes, fingerprint: int) -> bytes:
    out = bytearray(blob)
    struct.pack_into("<Q", out, 24, fingerprint)  # format 4: bytes 24..31
    return fix_crcs(bytes(out))


def one_input(data: bytes) -> None:
    cur = fuzzlib.Cursor(data)
    mode = cur.byte() % MODES
    name, seed, expected = SEEDS[cur.below(len(SEEDS))]
    family = name if cur.below(16) else FAMILIES[cur.below(len(FAMILIES))]
    threads = 1 + cur.below(2)
    decoder = DECODERS[family]
    blob = seed
    if mode < FILE_DAMAGE:
        blob = damage_file(seed, cur, FILES, mode)
    else:
        weights = bytearray(EXACT[family].weights)
        if mode == 4:                   # one tensor's values, the layout kept
            start, end = SPANS[family][cur.below(len(SPANS[family]))]
            piece = fuzzlib.mutate(bytes(weights[start:end]), cur)[:end - start]
            weights[start:end] = piece.ljust(end - start, b"\0")
        else:                           # anywhere in the file
            weights = bytearray(fuzzlib.mutate(bytes(weights), cur))
        decoder, err = fuzzlib.attempt(FileDecoder, data=bytes(weights))
        if err is None and mode == 4:   # let the decode reach the damaged networks
            fingerprint, err = fuzzlib.attempt(decoder.fingerprint, QUALITY)
            if err is None:
                blob = _with_fingerprint(seed, fingerprint)
        if err is not None:
            fuzzlib.record(f"weights-{type(err).__name__}")
            return

    out, err = fuzzlib.attempt(decoder.decode, blob, max_pixels=MAX_PIXELS, threads=threads)
    intact = blob == seed and family == name and decoder is DECODERS[name]
    if err is None:
        g = container.unpack(blob)
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8, type(out)
        assert out.shape == (g.height, g.width, 3), (out.shape, g)
        if intact:
            assert np.array_equal(out, expected), "an intact file decoded to another image"
            fuzzlib.record("ok-exact")
        else:
            fuzzlib.record("ok-damaged")
    else:
        if isinstance(err, LimitExceededError) and "pixels" in str(err):
            height, width = struct.unpack_from("<II", blob, 16)  # the header's claim
            assert container.Limits.padded_pixels(height, width) > MAX_PIXELS, \
                f"refused {height}x{width} under the pixel limit"
        assert not intact, f"an intact file was refused: {err!r}"
        fuzzlib.record(type(err).__name__)


def seed_inputs():
    """One input per seed, intact: mode 1, its own family (u16 1), one thread (u16 0),
    stream 0 (u16 0), one mutation (u16 0) that extends the stream by nothing (op 4, then
    no bytes left to take)."""
    return [bytes([1]) + i.to_bytes(2, "little") + b"\x01\0" + b"\0\0" + b"\0\0" + b"\0\0" + b"\x04\0"
            for i in range(len(SEEDS))]


if __name__ == "__main__":
    sys.exit(fuzzlib.main(one_input, seed_inputs))
