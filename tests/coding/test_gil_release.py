"""The compiled faces release the GIL while they code: another Python thread runs during
a long native call (docs/stream-format.md §6, docs/compat.md, docs/tables.md).

How it is proved, without asserting any speed: a worker thread makes one long call
(calibrated to last ≥ 40 ms alone) while this thread runs a pure-Python loop that
records perf_counter() timestamps. If the call holds the GIL, this thread cannot execute
one bytecode between the moment the call enters C and the moment it leaves, so none of
its timestamps can fall inside the call. We look only at the middle of the call,
[t0 + d/4, t0 + 3d/4] with t0 taken just before the call and d its shortest time alone:
a loaded machine only makes the call slower, so that window stays inside it, away from
the GIL-held argument conversion at the start and the hand-over at the end.

* The control, ``sum(range(n))`` (C code that never releases the GIL), must leave zero
  timestamps in its window: this shows the method detects a held GIL.
* Each face's call must leave at least one, in one of up to three attempts (on a
  busy 2-core machine the OS may not schedule this thread in a given window; a call
  that holds the GIL can never pass, however many attempts).
"""
import sys
import threading
import time

import numpy as np
import pytest

from lic_core import ans, coder, tables

pytestmark = pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                                reason="free-threaded Python: there is no GIL to release")

MIN_SECONDS = 0.04
ATTEMPTS = 3


def _alone(call) -> float:
    """Shortest of three uncontended runs of call(), in seconds."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best


def _stamps_inside(call, d: float) -> tuple[int, object]:
    """(this thread's timestamps in the middle of ``call`` run by a worker, its result)."""
    go, done = threading.Event(), threading.Event()
    box = {}

    def work():
        go.wait()
        box["t0"] = time.perf_counter()
        box["result"] = call()
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    stamps, last = [], 0.0
    go.set()
    while not done.is_set():          # pure Python: runs only while this thread holds the GIL
        now = time.perf_counter()
        if now - last >= 1e-4:
            stamps.append(now)
            last = now
    worker.join()
    lo, hi = box["t0"] + d / 4, box["t0"] + 3 * d / 4
    return sum(lo < s < hi for s in stamps), box["result"]


def _calibrated(make):
    """make(n) -> (call, check); n doubles until the call lasts MIN_SECONDS alone."""
    n = 1 << 18
    while True:
        call, check = make(n)
        d = _alone(call)
        if d >= MIN_SECONDS or n >= 1 << 26:
            return call, check, d
        n *= 2


def test_control_a_call_that_holds_the_gil_leaves_no_timestamps():
    def make(n):
        return (lambda: sum(range(n))), (lambda r, n=n: r == n * (n - 1) // 2)
    call, check, d = _calibrated(make)
    assert d >= MIN_SECONDS
    inside, result = _stamps_inside(call, d)
    assert check(result)
    assert inside == 0, f"{inside} timestamps inside a GIL-holding call: the method is broken"


# ---- the faces -------------------------------------------------------------------------

_CDFS, _LENGTHS, _OFFSETS = tables.gaussian_tables(tables.scale_table(), precision=16)
_TS = coder.TableSet(_CDFS, _LENGTHS, _OFFSETS, precision=16)


def _symbols(n):
    rng = np.random.default_rng(n)
    return (rng.integers(-20, 20, n).astype(np.int32),
            rng.integers(0, _TS.n_tables, n).astype(np.int32))


def _coder_encode(n):
    s, i = _symbols(n)
    return (lambda: coder.encode(s, i, _TS)), (lambda data: np.array_equal(coder.decode(data, i, _TS), s))


def _coder_decode(n):
    s, i = _symbols(n)
    data = coder.encode(s, i, _TS)
    return (lambda: coder.decode(data, i, _TS)), (lambda out: np.array_equal(out, s))


def _coder_stream_decode(n):
    s, i = _symbols(n)
    data = coder.encode(s, i, _TS)

    def call():
        dec = coder.StreamDecoder(data, _TS)
        out = dec.decode(i)
        dec.finish()
        return out
    return call, (lambda out: np.array_equal(out, s))


def _ans_encode(n):
    s, i = _symbols(n)

    def check(data):
        out = ans.RansDecoder().decode_with_indexes_np(data, i, _CDFS, _LENGTHS, _OFFSETS)
        return np.array_equal(out, s)
    return (lambda: ans.RansEncoder().encode_with_indexes(s, i, _CDFS, _LENGTHS, _OFFSETS)), check


def _ans_decode(n):
    s, i = _symbols(n)
    data = ans.RansEncoder().encode_with_indexes(s, i, _CDFS, _LENGTHS, _OFFSETS)
    return ((lambda: ans.RansDecoder().decode_with_indexes_np(data, i, _CDFS, _LENGTHS, _OFFSETS)),
            (lambda out: np.array_equal(out, s)))


def _gaussian_tables(n):
    scales = np.geomspace(0.11, 256.0, max(64, n // 1024)).astype(np.float32)
    expected_rows = len(scales)
    return ((lambda: tables.gaussian_tables(scales, precision=16)),
            (lambda out: out[0].shape[0] == expected_rows))


@pytest.mark.parametrize("make", [_coder_encode, _coder_decode, _coder_stream_decode,
                                  _ans_encode, _ans_decode, _gaussian_tables],
                         ids=["coder.encode", "coder.decode", "coder.StreamDecoder.decode",
                              "ans.encode_with_indexes", "ans.decode_with_indexes_np",
                              "tables.gaussian_tables"])
def test_another_python_thread_runs_during_a_long_native_call(make):
    call, check, d = _calibrated(make)
    assert d >= MIN_SECONDS, f"could not make the call last {MIN_SECONDS} s"
    seen = []
    for _ in range(ATTEMPTS):
        inside, result = _stamps_inside(call, d)
        assert check(result), "the call gave a wrong result while another thread ran"
        seen.append(inside)
        if inside:
            break
    assert max(seen) > 0, (f"no Python progress in the middle of a {d * 1e3:.0f} ms call "
                           f"({ATTEMPTS} attempts): the GIL is held")
