"""Throughput and size of the native coder (lic_core.coder) on the Gaussian-conditional workload.

    python bench/coder.py [--symbols 2000000] [--repeat 7] [--json PATH]

Workload: scales log-uniform in [lic_core.tables.SCALE_TABLE_MIN, 64] (0.11, the smallest
scale the default scale table codes); each symbol's table is the scale's index in the
default scale table (lic_core.tables.scale_indexes);
"zero mean": symbol = round(y) with y ~ N(0, scale); "with means": y ~ N(mu,
scale) with mu ~ U(-50, 50) and symbol = round(y - mu), as a mean-scale
hyperprior codes it. Nothing is clipped: a draw beyond its table is an escape.

Reported, per face: encode and decode in M symbols/s (one thread, best of
--repeat runs in process CPU time, the steadier clock on a shared machine; the
wall-clock best is in the JSON too), stream bytes against the ideal
-sum log2 p under the quantized tables (escape bypass bits included), and the
table build and bind times. Every round trip is verified before its time is
reported. Side by side: lic_core.ans (CompressAI-compatible format, same
tables), compressai.ans and constriction (its own QuantizedGaussian model, so
its bytes are not comparable one to one) when they import; a note otherwise.
All figures are measured on the machine that runs this script.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from lic_core import coder
from lic_core import tables as lic_tables

#: the workload's scales: log-uniform from the smallest the default scale table codes
SCALE_LOW, SCALE_HIGH = lic_tables.SCALE_TABLE_MIN, 64.0


def best_of(fn, repeat):
    """(best process-CPU seconds, best wall seconds, last result)."""
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall, out


def ideal_bytes(cdfs, lengths, offsets, precision, symbols, indexes):
    v = symbols.astype(np.int64) - offsets[indexes]
    esc_slot = lengths[indexes].astype(np.int64) - 2
    escaped = (v < 0) | (v >= esc_slot)
    slot = np.where(escaped, esc_slot, v)
    freq = cdfs[indexes, slot + 1].astype(np.int64) - cdfs[indexes, slot]
    bits = np.sum(precision - np.log2(freq))
    w = np.where(v < 0, -2 * v - 1, 2 * (v - esc_slot))[escaped]
    bits += np.sum(6 + np.floor(np.log2(w + 1)))  # the native escape code
    return bits / 8, int(escaped.sum())


def workload(n, seed, with_means, scale_table):
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(SCALE_LOW), np.log(SCALE_HIGH), n)).astype(np.float32)
    indexes = lic_tables.scale_indexes(scales, scale_table).astype(np.int32)
    mu = rng.uniform(-50, 50, n) if with_means else np.zeros(n)
    y = mu + rng.normal(0.0, 1.0, n) * scales
    symbols = np.round(y - mu).astype(np.int32)
    return symbols, indexes, scales, mu


def bench_native(ts, symbols, indexes, repeat):
    n = len(symbols)
    data = coder.encode(symbols, indexes, ts)
    out = coder.decode(data, indexes, ts)
    if not np.array_equal(out, symbols):
        raise SystemExit("native round trip FAILED")
    enc_cpu, enc_wall, data2 = best_of(lambda: coder.encode(symbols, indexes, ts), repeat)
    dec_cpu, dec_wall, out2 = best_of(lambda: coder.decode(data, indexes, ts), repeat)
    assert data2 == data and np.array_equal(out2, symbols)
    # Streaming in the joint-autoregressive pattern: 192 symbols a call.
    chunk = 192
    m = min(n, 192 * 1500)
    enc = coder.StreamEncoder(ts)
    for a in range(0, m, chunk):
        enc.encode(symbols[a:a + chunk], indexes[a:a + chunk])
    sdata = enc.flush()

    def stream_decode():
        dec = coder.StreamDecoder(sdata, ts)
        parts = [dec.decode(indexes[a:a + chunk]) for a in range(0, m, chunk)]
        dec.finish()
        return np.concatenate(parts)

    if not np.array_equal(stream_decode(), symbols[:m]):
        raise SystemExit("native streaming round trip FAILED")
    sdec_cpu, _, _ = best_of(stream_decode, max(1, repeat // 2))
    return dict(bytes=len(data), lanes=coder.stream_info(data)["lanes"],
                encode_msym_s=n / enc_cpu / 1e6, decode_msym_s=n / dec_cpu / 1e6,
                encode_msym_s_wall=n / enc_wall / 1e6, decode_msym_s_wall=n / dec_wall / 1e6,
                stream_decode_192_calls=m // chunk, stream_decode_us_per_call=sdec_cpu / (m / chunk) * 1e6,
                stream_decode_msym_s=m / sdec_cpu / 1e6)


def bench_lic_ans(cdfs, lengths, offsets, symbols, indexes, repeat):
    try:
        from lic_core.ans import RansDecoder, RansEncoder
    except ImportError as exc:
        return dict(skipped=f"lic_core.ans does not import: {exc}")
    n = len(symbols)
    enc, dec = RansEncoder(), RansDecoder()
    data = enc.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    if not np.array_equal(np.asarray(dec.decode_with_indexes_np(data, indexes, cdfs, lengths, offsets)), symbols):
        raise SystemExit("lic_core.ans round trip FAILED")
    enc_cpu, _, _ = best_of(lambda: enc.encode_with_indexes(symbols, indexes, cdfs, lengths, offsets), repeat)
    dec_cpu, _, _ = best_of(lambda: dec.decode_with_indexes_np(data, indexes, cdfs, lengths, offsets), repeat)
    return dict(bytes=len(data), encode_msym_s=n / enc_cpu / 1e6, decode_msym_s=n / dec_cpu / 1e6,
                note="NumPy arrays in; tables re-read every call (CompressAI API)")


def bench_compressai(cdfs, lengths, offsets, symbols, indexes, repeat):
    try:
        from compressai import ans
    except Exception as exc:  # ImportError, or a broken torch install
        return dict(skipped=f"compressai.ans does not import ({type(exc).__name__}); pip install compressai to compare")
    n = len(symbols)
    lists = [a.tolist() for a in (symbols, indexes, cdfs, lengths, offsets)]
    data = ans.RansEncoder().encode_with_indexes(*lists)
    if ans.RansDecoder().decode_with_indexes(data, *lists[1:]) != lists[0]:
        raise SystemExit("compressai.ans round trip FAILED")
    enc_cpu, _, _ = best_of(lambda: ans.RansEncoder().encode_with_indexes(*lists), repeat)
    dec_cpu, _, _ = best_of(lambda: ans.RansDecoder().decode_with_indexes(data, *lists[1:]), repeat)
    return dict(bytes=len(data), encode_msym_s=n / enc_cpu / 1e6, decode_msym_s=n / dec_cpu / 1e6,
                note="Python lists in (its API)")


def bench_constriction(symbols, scales, repeat):
    try:
        import constriction
    except ImportError:
        return dict(skipped="constriction does not import; pip install constriction to compare")
    n = len(symbols)
    bound = int(np.abs(symbols).max()) + 1
    model = constriction.stream.model.QuantizedGaussian(-bound, bound)
    means = np.zeros(n, np.float64)
    stds = np.maximum(scales.astype(np.float64), lic_tables.SCALE_TABLE_MIN)

    def encode():
        enc = constriction.stream.stack.AnsCoder()
        enc.encode_reverse(symbols, model, means, stds)
        return enc.get_compressed()

    data = encode()
    decoded = constriction.stream.stack.AnsCoder(data).decode(model, means, stds)
    if not np.array_equal(decoded, symbols):
        raise SystemExit("constriction round trip FAILED")
    enc_cpu, _, _ = best_of(encode, repeat)
    dec_cpu, _, _ = best_of(lambda: constriction.stream.stack.AnsCoder(data).decode(model, means, stds), repeat)
    return dict(bytes=int(data.nbytes), encode_msym_s=n / enc_cpu / 1e6, decode_msym_s=n / dec_cpu / 1e6,
                note=f"own QuantizedGaussian model on [-{bound}, {bound}], not our tables")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    precision = coder.PRECISION
    scale_table = lic_tables.scale_table()
    build = lambda: lic_tables.gaussian_tables(scale_table, precision=precision)  # noqa: E731
    build_src = f"lic_core.tables.gaussian_tables(scale_table(), precision={precision})"
    build_cpu, build_wall, (cdfs, lengths, offsets) = best_of(build, args.repeat)
    bind_cpu, _, ts = best_of(lambda: coder.TableSet(cdfs, lengths, offsets, precision=precision), args.repeat)

    results = dict(
        machine=dict(cpu=cpu_name(), cores=os.cpu_count(), python=sys.version.split()[0], numpy=np.__version__,
                     platform=platform.platform()),
        note="measured on this machine by bench/coder.py; one thread; best of --repeat runs (process CPU time)",
        symbols=args.symbols, repeat=args.repeat,
        tables=dict(source=build_src, n_tables=int(len(cdfs)), max_len=int(cdfs.shape[1]),
                    build_ms=build_cpu * 1e3, build_ms_wall=build_wall * 1e3, bind_ms=bind_cpu * 1e3),
        workloads={},
    )
    for name, with_means in [("zero_mean", False), ("with_means", True)]:
        symbols, indexes, scales, _ = workload(args.symbols, args.seed, with_means, scale_table)
        ideal, n_escaped = ideal_bytes(cdfs, lengths, offsets, precision, symbols, indexes)
        native = bench_native(ts, symbols, indexes, args.repeat)
        native["overhead_pct"] = (native["bytes"] / ideal - 1) * 100
        results["workloads"][name] = dict(
            ideal_bytes=ideal, escaped=n_escaped, native=native,
            lic_core_ans=bench_lic_ans(cdfs, lengths, offsets, symbols, indexes, args.repeat),
            compressai_ans=bench_compressai(cdfs, lengths, offsets, symbols, indexes, args.repeat),
            constriction=bench_constriction(symbols, scales, args.repeat))

    print(f"Gaussian-conditional workload, {args.symbols:,} symbols, scales log-uniform in "
          f"[{SCALE_LOW:g}, {SCALE_HIGH:g}]")
    print(f"Measured on this machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, one thread, "
          f"best of {args.repeat} (CPU time)")
    t = results["tables"]
    print(f"Tables: {t['n_tables']} x {t['max_len']} via {t['source']}: build {t['build_ms']:.2f} ms, "
          f"TableSet bind {t['bind_ms']:.2f} ms")
    for name, w in results["workloads"].items():
        print(f"\n[{name}]  ideal {w['ideal_bytes']:,.0f} bytes ({w['escaped']} escapes)")
        print(f"  {'face':<16}{'encode M/s':>12}{'decode M/s':>12}{'bytes':>12}{'vs ideal':>10}")
        for face in ("native", "lic_core_ans", "compressai_ans", "constriction"):
            r = w["native"] if face == "native" else w[face]
            if "skipped" in r:
                print(f"  {face:<16}skipped: {r['skipped']}")
                continue
            over = (r["bytes"] / w["ideal_bytes"] - 1) * 100
            print(f"  {face:<16}{r['encode_msym_s']:>12.1f}{r['decode_msym_s']:>12.1f}{r['bytes']:>12,}{over:>9.3f}%"
                  + (f"  ({r['note']})" if "note" in r else ""))
        nat = w["native"]
        print(f"  native: {nat['lanes']} lanes; StreamDecoder {nat['stream_decode_192_calls']} calls x 192 symbols: "
              f"{nat['stream_decode_us_per_call']:.2f} us/call ({nat['stream_decode_msym_s']:.1f} M/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
