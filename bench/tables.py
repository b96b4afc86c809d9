"""Time the table builder through its public face (lic_core.tables).

    python bench/tables.py [--repeats 200]

Prints the time to build the default tables (the default scale table's 64, precision 16,
tail mass 1e-9: lic_core.tables' defaults, the engine's) per
family and method, the first (cold) call separately, and scale_indexes throughput.
Before timing, it checks what it times: every CDF valid, the CompressAI tables equal
to the recorded fixture when it is present.
"""
import argparse
import os
import statistics
import time

import numpy as np

from lic_core import tables

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "tables.npz")


def check_table_set(cdfs, lengths, offsets, precision=tables.PRECISION):
    for t in range(len(lengths)):
        row = cdfs[t, :lengths[t]]
        assert row[0] == 0 and row[-1] == 1 << precision, f"table {t}: wrong total"
        assert (np.diff(row) >= 1).all(), f"table {t}: not strictly increasing"
        assert not cdfs[t, lengths[t]:].any(), f"table {t}: padding not zero"
    assert (offsets == -(lengths - 3) // 2).all(), "offsets do not match lengths"


def time_call(fn, repeats):
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return min(samples), statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    table = tables.scale_table()
    t0 = time.perf_counter()
    first = tables.gaussian_tables(table)
    cold = time.perf_counter() - t0
    check_table_set(*first)
    if os.path.exists(FIXTURE):
        with np.load(FIXTURE, allow_pickle=False) as golden:
            ref = tables.gaussian_tables(table, method="compressai")
            assert np.array_equal(ref[0], golden["quantized_cdf"]), "compressai tables differ"
    print(f"lic_core.tables, {len(table)} tables (scale_table(), precision {tables.PRECISION}, "
          f"tail mass {tables.DEFAULT_TAIL_MASS:g}), "
          f"best / median of {args.repeats}")
    print(f"  gaussian greedy, first call in process: {cold * 1e3:8.3f} ms "
          "(includes the one-time ln(1+1/f) table)")
    runs = [("gaussian", "greedy", tables.gaussian_tables),
            ("gaussian", "compressai", tables.gaussian_tables),
            ("laplace", "greedy", tables.laplace_tables),
            ("logistic", "greedy", tables.logistic_tables)]
    for family, method, build in runs:
        out = build(table, method=method)
        check_table_set(*out)
        best, median = time_call(lambda: build(table, method=method), args.repeats)
        entries = int(out[1].sum())
        print(f"  {family:8s} {method:10s}: best {best * 1e3:7.3f} ms, median {median * 1e3:7.3f} ms"
              f"  ({entries} CDF entries)")

    scales = np.random.default_rng(0).lognormal(0.0, 2.0, 1_000_000).astype(np.float32)
    idx = tables.scale_indexes(scales, table)
    ref = np.searchsorted(table[:-1], np.maximum(scales, table[0]), side="left")
    assert np.array_equal(idx, ref), "scale_indexes disagrees with the rule"
    best, median = time_call(lambda: tables.scale_indexes(scales, table), 20)
    print(f"  scale_indexes, 1e6 scales: best {best * 1e3:7.3f} ms, median {median * 1e3:7.3f} ms")


if __name__ == "__main__":
    main()
