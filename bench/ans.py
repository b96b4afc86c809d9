"""Throughput of lic_core.ans (the CompressAI-compatible coder), lists and arrays.

    python bench/ans.py [--symbols 1000000] [--repeat 15]

Indexes are drawn uniformly over CompressAI's 64 Gaussian tables (from
tests/fixtures/ans_vectors.npz), symbols from the matching rounded Gaussians,
unclipped: draws beyond a table's range are escapes, as in real latents. Every output is
checked (decode == symbols, lists == arrays) before a time is reported. Times
are the best of --repeat runs in process CPU time, which is the steadier clock
on a shared machine; figures are for the machine that runs this script.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from lic_core.ans import RansDecoder, RansEncoder
from lic_core.tables import scale_table

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ans_vectors.npz"


def best_time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    vectors = np.load(FIXTURE, allow_pickle=False)
    cdfs, lengths, offsets = (vectors[f"tables_gaussian__{k}"] for k in ("cdfs", "cdf_lengths", "offsets"))
    rng = np.random.default_rng(0)
    n = args.symbols
    indexes = rng.integers(0, len(cdfs), n).astype(np.int32)
    scales = scale_table().astype(np.float64)[indexes]  # the scales of the fixture's tables
    symbols = np.round(rng.normal(0.0, scales)).astype(np.int32)
    as_lists = [a.tolist() for a in (symbols, indexes, cdfs, lengths, offsets)]
    enc, dec = RansEncoder(), RansDecoder()

    t_arr, stream = best_time(lambda: enc.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets), args.repeat)
    t_list, stream_l = best_time(lambda: enc.encode_with_indexes(*as_lists), args.repeat)
    assert stream_l == stream, "lists and arrays must give the same bytes"
    t_dnp, back = best_time(lambda: dec.decode_with_indexes_np(stream, indexes, cdfs, lengths, offsets), args.repeat)
    assert np.array_equal(back, symbols), "round trip failed"
    t_dl, back_l = best_time(lambda: dec.decode_with_indexes(stream, *as_lists[1:]), args.repeat)
    assert back_l == as_lists[0], "round trip failed (lists)"
    t_tab_l, _ = best_time(lambda: enc.encode_with_indexes([0, 0], [0, 0], *as_lists[2:]), args.repeat)
    t_tab_a, _ = best_time(lambda: enc.encode_with_indexes([0, 0], [0, 0], cdfs, lengths, offsets), args.repeat)

    print(f"{n} symbols, {len(stream)} bytes, {8 * len(stream) / n:.2f} bits/symbol")
    for label, t in [("encode, arrays", t_arr), ("encode, lists", t_list),
                     ("decode, to array", t_dnp), ("decode, to list", t_dl)]:
        print(f"  {label:18s} {n / t / 1e6:8.1f} M symbols/s")
    print(f"  table set {cdfs.shape[0]}x{cdfs.shape[1]}: {t_tab_l * 1e3:.3f} ms from lists, "
          f"{t_tab_a * 1e3:.3f} ms from an array (a 2-symbol call)")


if __name__ == "__main__":
    main()
