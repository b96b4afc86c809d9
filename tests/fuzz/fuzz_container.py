"""Fuzz target: the .lic container parser (``lic_core.container``).

For every input (a valid file damaged by ``fuzzlib.mutate``, optionally with both
CRC-32 fields recomputed afterwards so the damage reaches the field checks, or
the magic followed by raw bytes) this checks that:

* ``unpack`` returns a ``LicFile`` or raises a ``LicError`` subclass; nothing else;
* anything ``unpack`` accepts is canonical: ``pack(unpack(b)) == b`` byte for byte
  (no field is ignored, no trailing byte tolerated);
* ``check_crcs`` agrees: it raises when ``unpack`` raises for a structural reason,
  reports ``ok`` exactly when ``unpack`` accepts, and parses the same fields;
* a lower ``max_pixels`` refuses (LimitExceededError) exactly the files whose
  height x width exceeds it, and the parsed fields obey every documented limit
  (latent sides at most ``latent_bound`` of the image side).
"""
from __future__ import annotations

import dataclasses
import os
import struct
import sys
import zlib

from tests.fuzz import fuzzlib

with fuzzlib.instrumented():
    from lic_core import container
    from lic_core.errors import LimitExceededError

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "fixtures", "container_v1_hyperprior.lic")


def _seeds():
    # formats 2 and 3 never hold fingerprint 0 (docs/format.md, "Weights identity")
    files = [
        container.LicFile("hyperprior", 3, 512, 768, ((32, 48), (8, 12)), (b"\x01" * 40, b"z" * 9),
                          weights_fingerprint=0x0123456789ABCDEF, weights_release="zoo-v4"),
        container.LicFile("factorized", 0, 1, 1, ((1, 1),), (b"",), weights_fingerprint=1),
        container.LicFile("joint", 8, 4096, 1, ((256, 1), (64, 1)), (b"", b"abc"),
                          weights_fingerprint=(1 << 64) - 1, probability_path=1),
        container.LicFile("mean-scale", 255, 3, 5, tuple((1, 1) for _ in range(8)),
                          tuple(bytes([i]) * i for i in range(16)), weights_fingerprint=2),
    ]
    seeds = [container.pack(f) for f in files]
    if os.path.exists(GOLDEN):
        with open(GOLDEN, "rb") as fh:
            seeds.append(fh.read())
    return seeds


SEEDS = _seeds()


def fix_crcs(data: bytes) -> bytes:
    """Recompute both CRC-32 fields where the (possibly damaged) header says they are."""
    if len(data) < 24:
        return data
    groups, nstreams = data[11], data[12]
    version = data[8] if data[8] in container.READABLE_VERSIONS else container.FORMAT_VERSION
    hsize = container.header_size(groups, nstreams, version)
    if len(data) < hsize:
        return data
    buf = bytearray(data)
    buf[hsize - 8:hsize - 4] = struct.pack("<I", zlib.crc32(buf[hsize:]))
    buf[hsize - 4:hsize] = struct.pack("<I", zlib.crc32(buf[:hsize - 4]))
    return bytes(buf)


#: the damage kinds of :func:`damage_file`
FILE_DAMAGE = 4


def damage_file(seed: bytes, cur: fuzzlib.Cursor, files, mode: int) -> bytes:
    """A damaged copy of the .lic file ``seed``, read by the model and decoder harnesses
    alike: 0 raw damage anywhere (mostly caught by the CRCs), 1 one stream damaged, 2 the
    header damaged, 3 a stream swapped for one of another file of ``files`` (1-3 with
    valid CRCs)."""
    f = container.unpack(seed)
    if mode == 0:
        return fuzzlib.mutate(seed, cur, files)
    streams = list(f.streams)
    if mode == 1:
        s = cur.below(len(streams))
        others = [st for fl in files for st in container.unpack(fl).streams]
        streams[s] = fuzzlib.mutate(streams[s], cur, others)
    elif mode == 2:
        size = container.header_size(len(f.latent_shapes), len(f.streams), version=f.version)
        return fix_crcs(fuzzlib.mutate(seed[:size], cur, protect=8) + seed[size:])
    else:
        other = container.unpack(files[cur.below(len(files))])
        s = cur.below(len(streams))
        streams[s] = other.streams[cur.below(len(other.streams))]
    return container.pack(dataclasses.replace(f, streams=tuple(streams)))



def one_input(data: bytes) -> None:
    cur = fuzzlib.Cursor(data)
    mode = cur.byte() % 4
    limit = 1 + cur.below(1 << 24) if cur.below(4) == 0 else None
    if mode == 3:
        blob = container.MAGIC + cur.rest()
    else:
        seed = SEEDS[cur.below(len(SEEDS))]
        blob = fuzzlib.mutate(seed, cur, SEEDS, protect=8 if mode else 0)
        if mode >= 1:
            blob = fix_crcs(blob)

    f, err = fuzzlib.attempt(container.unpack, blob, max_pixels=limit)
    parsed, c_err = fuzzlib.attempt(container.check_crcs, blob, max_pixels=limit)
    if err is None:
        assert c_err is None and parsed[1].ok and parsed[0] == f
        assert container.pack(f, max_pixels=limit) == blob, "accepted a non-canonical file"
        assert f.num_pixels <= container.max_pixels_limit(limit)
        assert 1 <= len(f.latent_shapes) <= container.MAX_GROUPS
        assert 1 <= len(f.streams) <= container.MAX_STREAMS
        bound_h, bound_w = container.latent_bound(f.height), container.latent_bound(f.width)
        assert all(1 <= h <= bound_h and 1 <= w <= bound_w for h, w in f.latent_shapes)
        fuzzlib.record("ok")
    else:
        # unpack may only fail where check_crcs fails, or on a CRC that check_crcs reports.
        assert c_err is not None or not parsed[1].ok, f"unpack: {err!r} but check_crcs passed"
        if isinstance(err, LimitExceededError):
            assert limit is not None or len(blob) >= 24
        fuzzlib.record(type(err).__name__)


def seed_inputs():
    """One input per seed, intact: mode 1, op 4 with nothing left to add, no pixel limit."""
    return [bytes([1]) + b"\x01\0" + i.to_bytes(2, "little") + b"\0\0\x04\0" for i in range(len(SEEDS))]


if __name__ == "__main__":
    sys.exit(fuzzlib.main(one_input, seed_inputs))
