"""Shared machinery of the fuzz harnesses: byte mutations and the command-line driver.

Why structure-aware mutation: atheris only sees coverage of Python code, and our
decoders are compiled C++ that is not built with ``-fsanitize=fuzzer-no-link``, so
libFuzzer gets no feedback from inside them. Random bytes almost never pass a
stream header, so each harness starts from *valid* encoder output and damages it
with the operations below (bit flips, byte overwrites with boundary values,
truncation, extension, deletion, duplication, splicing with another seed). The
fuzz input drives the choices, so libFuzzer's own mutations still explore, and
every input is a reproducible byte string.

Each harness module defines ``one_input(data: bytes)``: it returns normally when
the decoder either produced a correct-looking result or raised a
:class:`lic_core.LicError`, and raises ``AssertionError`` (or lets any other
exception escape) on a finding. A crash, hang or unbounded allocation is caught
by libFuzzer itself (``-timeout``, ``-rss_limit_mb``).

Driver (``main``), the same for every harness::

    python -m tests.fuzz.fuzz_coder [libFuzzer flags] [corpus dirs]   # atheris/libFuzzer
    python -m tests.fuzz.fuzz_coder --replay DIR_OR_FILE ...          # no libFuzzer
    python -m tests.fuzz.fuzz_coder --stats N [--seed S]              # N random inputs, outcome counts
    python -m tests.fuzz.fuzz_coder --write-seeds DIR                 # seed corpus files
"""
from __future__ import annotations

import collections
import os
import random
import sys
import time

#: Boundary values written over single bytes or 32-bit words.
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_U32 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF,
                   0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)

#: Outcome counters of the last ``--stats`` run: "ok-exact", "ok-changed" and one
#: key per LicError subclass name.
OUTCOMES: collections.Counter = collections.Counter()


class Cursor:
    """Reads choices from the fuzz input; past its end every read returns 0.

    (A tiny, deterministic stand-in for atheris.FuzzedDataProvider, so replaying
    a corpus needs neither atheris nor libFuzzer.)"""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u16(self) -> int:
        return self.byte() | (self.byte() << 8)

    def u32(self) -> int:
        return self.u16() | (self.u16() << 16)

    def below(self, n: int) -> int:
        """An int in [0, n) (n >= 1). Always consumes its bytes, even when n == 1, so
        the meaning of later bytes does not depend on earlier choices' ranges."""
        v = self.u16() if n <= 256 else self.u32()
        return v % n if n > 1 else 0

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def mutate(seed: bytes, cur: Cursor, others=(), max_ops: int = 4, protect: int = 0) -> bytes:
    """Apply 1..max_ops damaging operations chosen by ``cur`` to ``seed``.

    ``others`` are streams to splice from; ``protect`` leading bytes are left
    alone (e.g. to keep a magic number so the deeper parser is reached)."""
    buf = bytearray(seed)
    for _ in range(1 + cur.below(max_ops)):
        op = cur.below(9)
        n = len(buf)
        lo = min(protect, n)
        span = max(n - lo, 1)
        pos = lo + cur.below(span)
        if op == 0 and n > lo:                      # flip one bit
            buf[pos] ^= 1 << cur.below(8)
        elif op == 1 and n > lo:                    # boundary byte
            buf[pos] = INTERESTING_BYTES[cur.below(len(INTERESTING_BYTES))]
        elif op == 2 and n - lo >= 4:               # boundary little-endian u32
            pos = lo + cur.below(n - lo - 3)
            buf[pos:pos + 4] = INTERESTING_U32[cur.below(len(INTERESTING_U32))].to_bytes(4, "little")
        elif op == 3:                               # truncate
            del buf[lo + cur.below(span + 1):]
        elif op == 4:                               # extend with fuzz bytes
            buf += cur.take(1 + cur.below(16))
        elif op == 5 and n > lo:                    # delete a range
            del buf[pos:pos + 1 + cur.below(8)]
        elif op == 6 and n > lo:                    # duplicate a range in place
            piece = buf[pos:pos + 1 + cur.below(16)]
            buf[pos:pos] = piece
        elif op == 7 and others:                    # splice another seed's tail
            other = others[cur.below(len(others))]
            cut = cur.below(len(other) + 1)
            buf[pos:] = other[cut:]
        elif op == 8 and n > lo:                    # random byte
            buf[pos] = cur.byte()
    return bytes(buf)


def attempt(fn, *args, **kw):
    """(result, None) when ``fn`` returns, (None, exc) when it raises a LicError: the only
    failure a decoder may report. Anything else propagates as a finding."""
    from lic_core.errors import LicError
    try:
        return fn(*args, **kw), None
    except LicError as exc:
        return None, exc


def cdf_from_pmf(pmf, precision: int):
    """Integer cdf of ``pmf`` at ``precision`` bits with one extra escape slot; every
    slot has frequency >= 1 (a valid table row in the CompressAI layout)."""
    import numpy as np
    total = 1 << precision
    pmf = np.asarray(pmf, dtype=np.float64)
    n = len(pmf) + 1
    freq = np.maximum(1, np.floor(pmf / pmf.sum() * (total - n)).astype(np.int64))
    freq = np.append(freq, 1)
    freq[np.argmax(freq)] += total - freq.sum()
    assert freq.min() >= 1 and freq.sum() == total
    return np.concatenate([[0], np.cumsum(freq)]).astype(np.int32)


def record(outcome: str) -> None:
    OUTCOMES[outcome] += 1


def _replay(one_input, paths) -> int:
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p))
        else:
            files.append(p)
    for f in files:
        with open(f, "rb") as fh:
            one_input(fh.read())
    print(f"replayed {len(files)} inputs: no finding")
    return 0


def _stats(one_input, n: int, seed: int) -> int:
    rng = random.Random(seed)
    OUTCOMES.clear()
    t0 = time.perf_counter()
    for _ in range(n):
        one_input(rng.randbytes(rng.randrange(1, 96)))
    dt = time.perf_counter() - t0
    print(f"{n} inputs in {dt:.1f} s ({n / dt:.0f}/s), no finding; outcomes:")
    for k, v in sorted(OUTCOMES.items(), key=lambda kv: -kv[1]):
        print(f"  {k:28s} {v:9d}  {100.0 * v / n:6.2f} %")
    return 0


def main(one_input, seed_inputs) -> int:
    """Command-line driver shared by the harnesses (see the module docstring)."""
    argv = sys.argv[1:]
    if argv[:1] == ["--replay"]:
        return _replay(one_input, argv[1:])
    if argv[:1] == ["--stats"]:
        n = int(argv[1])
        seed = int(argv[3]) if argv[2:3] == ["--seed"] else 0
        return _stats(one_input, n, seed)
    if argv[:1] == ["--write-seeds"]:
        os.makedirs(argv[1], exist_ok=True)
        for i, data in enumerate(seed_inputs()):
            with open(os.path.join(argv[1], f"seed-{i:03d}"), "wb") as fh:
                fh.write(data)
        return 0
    import atheris
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
    return 0


def instrumented():
    """``atheris.instrument_imports()`` when running under libFuzzer, else a no-op context.

    Instrumenting the imports gives libFuzzer coverage of our Python code (the
    faces and the container parser); the compiled engine stays opaque."""
    import contextlib
    modes = ("--replay", "--stats", "--write-seeds")
    if "pytest" in sys.modules or sys.argv[1:2] and sys.argv[1] in modes:
        return contextlib.nullcontext()
    try:
        import atheris
    except ImportError:
        return contextlib.nullcontext()
    return atheris.instrument_imports(include=["lic_core"])
