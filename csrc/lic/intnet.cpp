// intnet.cpp - integer networks and the joint model's step (spec: docs/integer.md).
//
// Read top to bottom: error and size helpers, the dot-product kernel (the one hot
// loop, compiled once per instruction set and picked at run time), the per-layer
// arithmetic (finish: shift, activation, saturation), weight repacking
// (add_layer), a layer's run (gather rows, dot products, finish), scale indexes,
// and the joint model's step, commit and walks.
//
// Exactness: every sum of products is taken in uint32 (wrap-around is defined, and
// the sum modulo 2^32 does not depend on its order, so vector lanes and pmaddwd's
// pairwise sums give the specified result); everything after the sum is int64.
#include "lic/intnet.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>

#include "lic/rans64.h"

namespace lic {
namespace intnet {

namespace {

// ---- errors and sizes -----------------------------------------------------------

// set_error: coder.h (one home for the engine's error reporting)

lic_status out_of_memory(ErrorInfo* err, const char* what) {
  return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory allocating %s", what);
}

// a * b when it is at most limit (no overflow on the way); false otherwise.
bool mul_within(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  if (a != 0 && b > limit / a) return false;
  *out = a * b;
  return *out <= limit;
}

// Resizes vectors, turning an allocation failure into false (no exception crosses
// the noexcept API).
template <class V>
bool grow(V& v, size_t n) {
  try {
    if (v.size() < n) v.resize(n);
    return true;
  } catch (const std::exception&) {  // std::bad_alloc, std::length_error
    return false;
  }
}

// Rows are padded with zeros to whole 64-byte lines: 32 int16. The padding adds
// nothing to a dot product and lets the widest vector loop run without a tail.
constexpr size_t kRowAlign = 32;
size_t round_up_row(size_t n) { return (n + kRowAlign - 1) / kRowAlign * kRowAlign; }

// Blocking. A layer's output positions are gathered kBlockBytes of rows at a time;
// the weight rows go to the kernel kChunkBytes at a time (a chunk stays in L2 while
// every row of the block meets it; four rows of the block stay in L1 meanwhile).
// So the weights are read from memory once per block, the block once per chunk.
constexpr size_t kBlockBytes = 512 * 1024, kChunkBytes = 256 * 1024;
constexpr size_t kMinBlock = 4, kMaxBlock = 512;
size_t block_rows(size_t row_len) {
  size_t n = kBlockBytes / (2 * std::max<size_t>(row_len, 1));
  n = std::min(std::max(n, kMinBlock), kMaxBlock);
  return n / 4 * 4;
}
size_t chunk_channels(size_t row_len) {
  const size_t n = kChunkBytes / (2 * std::max<size_t>(row_len, 1));
  return std::max<size_t>(n / 2 * 2, 2);
}

// ---- the kernel: dot products of int16 rows ------------------------------------
//
//   acc[p * stride + o] = sum_{i < len} x[p][i] * w[o][i]   (mod 2^32),  p < n_rows, o < n_out
//
// x: n_rows rows and w: n_out rows, each `len` int16 apart. Each product of two
// int16 fits int32 (|product| <= 2^30); the sums run in uint32. Written as plain
// loops: GCC and Clang vectorise each of the R x C reductions of a tile as a dot
// product (pmaddwd, or vpdpwssd with AVX-512 VNNI), so each loaded vector of x is
// used C times and each of w R times. R x C accumulators must fit the registers:
// 4 x 2 for SSE2 and AVX2 (16 registers), 4 x 4 for AVX-512 (32).

// The tile's R x C reductions must be separate scalars for the vectoriser.
#if defined(__clang__)
#define LIC_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define LIC_UNROLL _Pragma("GCC unroll 4")
#else
#define LIC_UNROLL
#endif

template <int R, int C>
LIC_INLINE void dot_tile(const int16_t* __restrict x, size_t len, const int16_t* __restrict w, uint32_t* acc,
                         size_t stride) {
  uint32_t a[R][C] = {};
  for (size_t i = 0; i < len; ++i) {
    LIC_UNROLL
    for (int r = 0; r < R; ++r)
      LIC_UNROLL
      for (int c = 0; c < C; ++c) a[r][c] += static_cast<uint32_t>(x[r * len + i] * int32_t{w[c * len + i]});
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r * stride + c] = a[r][c];
}

// Tiles of R rows of x outermost: they stay in L1 while the weight rows stream past
// them (from L2: the caller hands over as many weight rows as L2 holds comfortably).
template <int R, int C>
LIC_INLINE void dot_rows_body(const int16_t* x, size_t n_rows, const int16_t* w, size_t n_out, size_t len,
                              uint32_t* acc, size_t stride) {
  size_t p = 0;
  for (; p + R <= n_rows; p += R) {
    size_t o = 0;
    for (; o + C <= n_out; o += C) dot_tile<R, C>(x + p * len, len, w + o * len, acc + p * stride + o, stride);
    for (; o < n_out; ++o) dot_tile<R, 1>(x + p * len, len, w + o * len, acc + p * stride + o, stride);
  }
  for (; p < n_rows; ++p) {
    size_t o = 0;
    for (; o + C <= n_out; o += C) dot_tile<1, C>(x + p * len, len, w + o * len, acc + p * stride + o, stride);
    for (; o < n_out; ++o) dot_tile<1, 1>(x + p * len, len, w + o * len, acc + p * stride + o, stride);
  }
}

using DotRowsFn = void (*)(const int16_t*, size_t, const int16_t*, size_t, size_t, uint32_t*, size_t);

// The same body compiled for several instruction sets; the results are the same
// integers whichever runs. Plain -O3 (setup.py passes no -march) gives the
// baseline's vectors (SSE2's pmaddwd on x86-64); on x86-64 Linux with GCC (8 or
// later) or Clang, AVX2 and AVX-512 versions are added (target attributes) and the
// best the CPU runs is picked once (__builtin_cpu_supports, which also checks that
// the OS saves the AVX-512 registers). Why not target_clones: GCC 12 dispatches
// clones on avx512bw / avx512vnni only through arch= (one CPU model each), so newer
// CPUs would fall back to AVX2; and clones need ifunc, which not every libc has.
void dot_rows_portable(const int16_t* x, size_t n_rows, const int16_t* w, size_t n_out, size_t len,
                       uint32_t* acc, size_t stride) {
  dot_rows_body<4, 2>(x, n_rows, w, n_out, len, acc, stride);
}

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define LIC_INTNET_X86_DISPATCH 1
__attribute__((target("avx2"))) void dot_rows_avx2(const int16_t* x, size_t n_rows, const int16_t* w,
                                                   size_t n_out, size_t len, uint32_t* acc, size_t stride) {
  dot_rows_body<4, 2>(x, n_rows, w, n_out, len, acc, stride);
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) void dot_rows_avx512(const int16_t* x, size_t n_rows,
                                                                          const int16_t* w, size_t n_out,
                                                                          size_t len, uint32_t* acc,
                                                                          size_t stride) {
  dot_rows_body<4, 4>(x, n_rows, w, n_out, len, acc, stride);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void dot_rows_vnni(
    const int16_t* x, size_t n_rows, const int16_t* w, size_t n_out, size_t len, uint32_t* acc, size_t stride) {
  dot_rows_body<4, 4>(x, n_rows, w, n_out, len, acc, stride);
}
#endif

// ---- the finishing loops: wrap, rounding shift, activation, saturation, per position
//
// docs/integer.md's r = floor((acc + h) / 2^s), h = 2^(s-1) (s > 0), is computed in
// int32 lanes: with acc = q 2^s + rem (0 <= rem < 2^s), r = q + [rem >= 2^(s-1)], and
// that bit is bit s-1 of acc, so r = (acc >> s) + ((acc >> (s-1)) & 1), which fits
// int32 (s = 0 takes mask 0: r = acc). Leaky's floor(41 r / 4096) for r < 0 is
// 41 (r >> 12) + ((41 (r & 4095)) >> 12), whose terms fit int32. So every output is
// formed in 32-bit lanes with variable shifts (vpsravd), and the loops vectorise.
// The inverse GDN's square root and output rounding run in double: every value there
// is an integer below 2^53 (n 2^16 < 2^47, x m < 2^39), where double arithmetic,
// floor and scaling by 2^-c are exact.
using Finish = Network::FinishConstants::View;

template <int Act>
LIC_INLINE int32_t finish_one(const Finish& f, uint32_t sum, size_t o) {
  const int32_t a = static_cast<int32_t>(sum + f.bias[o]);  // wrap32 (two's complement)
  int32_t r = (a >> f.s[o]) + ((a >> f.s1[o]) & f.m[o]);
  if (Act == kActRelu) r = r < 0 ? 0 : r;
  if (Act == kActLeaky) r = r < 0 ? 41 * (r >> 12) + ((41 * (r & 4095)) >> 12) : r;
  return r;
}

template <class T, int Act>
LIC_INLINE void finish_body(const Finish& f, const uint32_t* __restrict sums, T* __restrict out) {
  constexpr int32_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  for (size_t o = 0; o < f.c; ++o) {
    int32_t r = finish_one<Act>(f, sums[o], o);
    if (lo > std::numeric_limits<int32_t>::min()) r = r < lo ? lo : r > hi ? hi : r;
    out[o] = static_cast<T>(r);
  }
}

LIC_INLINE void igdn_body(const Finish& f, const uint32_t* __restrict sums, const int16_t* __restrict x,
                          int16_t* __restrict out) {
  for (size_t o = 0; o < f.c; ++o) {
    const double v = static_cast<double>(finish_one<kActRelu>(f, sums[o], o)) * 65536.0;  // n 2^16
    double m = std::floor(std::sqrt(v));
    m -= m * m > v ? 1.0 : 0.0;
    m += (m + 1.0) * (m + 1.0) <= v ? 1.0 : 0.0;  // m = floor(sqrt(n 2^16)), exactly
    const int32_t xo = x[o];
    double y = std::floor((static_cast<double>(xo) * m + f.half[o]) * f.scale[o]);
    y = y < -32768.0 ? -32768.0 : y > 32767.0 ? 32767.0 : y;
    out[o] = static_cast<int16_t>(y);
  }
}

// One table of finishing loops per instruction set: [out type][act], out types int16,
// int32, uint8 (out_bits 16, 32, 8).
using FinishFn = void (*)(const Finish&, const uint32_t*, void*);
using IgdnFn = void (*)(const Finish&, const uint32_t*, const int16_t*, int16_t*);
struct Finishers {
  FinishFn fn[3][3];
  IgdnFn igdn;
};

#define LIC_FINISHERS(ATTR, SUFFIX)                                                                        \
  template <class T, int Act>                                                                              \
  ATTR void finish_##SUFFIX(const Finish& f, const uint32_t* sums, void* out) {                            \
    finish_body<T, Act>(f, sums, static_cast<T*>(out));                                                    \
  }                                                                                                        \
  ATTR void igdn_##SUFFIX(const Finish& f, const uint32_t* sums, const int16_t* x, int16_t* out) {         \
    igdn_body(f, sums, x, out);                                                                            \
  }                                                                                                        \
  const Finishers finishers_##SUFFIX = {                                                                   \
      {{finish_##SUFFIX<int16_t, kActNone>, finish_##SUFFIX<int16_t, kActRelu>,                            \
        finish_##SUFFIX<int16_t, kActLeaky>},                                                              \
       {finish_##SUFFIX<int32_t, kActNone>, finish_##SUFFIX<int32_t, kActRelu>,                            \
        finish_##SUFFIX<int32_t, kActLeaky>},                                                              \
       {finish_##SUFFIX<uint8_t, kActNone>, finish_##SUFFIX<uint8_t, kActRelu>,                            \
        finish_##SUFFIX<uint8_t, kActLeaky>}},                                                             \
      igdn_##SUFFIX};

LIC_FINISHERS(, portable)
#ifdef LIC_INTNET_X86_DISPATCH
LIC_FINISHERS(__attribute__((target("avx2"))), avx2)
LIC_FINISHERS(__attribute__((target("avx512f,avx512bw,avx512vl"))), avx512)
#endif
#undef LIC_FINISHERS

struct KernelChoice {
  DotRowsFn fn;
  const char* name;
  const Finishers* finish = &finishers_portable;
};

// The best kernel this CPU runs. LIC_INTNET_KERNEL=portable|avx2|avx512|avx512vnni
// asks for a slower one (tests run every path against the reference); a name the
// CPU cannot run is ignored.
KernelChoice pick_kernel() {
  KernelChoice best{dot_rows_portable, "portable", &finishers_portable};
  const char* want = std::getenv("LIC_INTNET_KERNEL");
#ifdef LIC_INTNET_X86_DISPATCH
  __builtin_cpu_init();
  const KernelChoice options[] = {{dot_rows_avx2, "avx2", &finishers_avx2},
                                  {dot_rows_avx512, "avx512", &finishers_avx512},
                                  {dot_rows_vnni, "avx512vnni", &finishers_avx512}};
  const bool runs[] = {
      __builtin_cpu_supports("avx2") != 0,
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"),
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")};
  for (size_t i = 0; i < 3; ++i) {
    if (!runs[i]) continue;
    if (want && std::strcmp(want, options[i].name) == 0) return options[i];
    best = options[i];
  }
#endif
  if (want && std::strcmp(want, "portable") == 0) return {dot_rows_portable, "portable", &finishers_portable};
  return best;
}

const KernelChoice& kernel() {
  static const KernelChoice choice = pick_kernel();  // thread-safe initialisation
  return choice;
}

void dot_rows(const int16_t* x, size_t n_rows, const int16_t* w, size_t n_out, size_t len, uint32_t* acc,
              size_t stride) {
  kernel().fn(x, n_rows, w, n_out, len, acc, stride);
}

// ---- after the sum: wrap, rounding shift, activation, saturation -----------------

// floor(v / 2^s) is v >> s only where >> of a negative value shifts in sign bits
// (every compiler lic builds with; C++20 makes it the rule).
static_assert((int64_t{-3} >> 1) == -2, "right shift of a negative int64 must be arithmetic");

// wrap32 of the sum: the value in [-2^31, 2^31) congruent to it modulo 2^32.
LIC_INLINE int64_t wrap32(uint32_t u) {
  return u >= 0x80000000u ? static_cast<int64_t>(u) - (int64_t{1} << 32) : static_cast<int64_t>(u);
}

template <class T>
LIC_INLINE T saturate(int64_t v) {
  constexpr int64_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  return static_cast<T>(std::min(std::max(v, lo), hi));
}

// ---- gathering rows (im2col) -------------------------------------------------------

// Where a layer reads and writes when it computes a band of its output rows: the input
// holds rows x_row0 .. of an h x w input (rows outside [0, h) read 0, never the
// buffer), the output buffer holds output rows o0 .. o1 - 1.
struct Band {
  const int16_t* x;
  size_t h, w, x_row0;
  size_t o0, o1;
};

// The row of input values that output base position (R, C) of a phase meets:
// tap t's c_in values at t * c_in, zeros for taps outside the input and for the
// padding. Dense rows (one tap at (0, 0), c_in a whole number of lines) are the
// input itself and are not copied. An inverse GDN's row is the squares of the
// position's own values: sq = sat16(floor((x^2 + h) / 2^square_shift)).
const int16_t* gather(const Network::Layer& L, const Network::Phase& ph, const Band& b, size_t base, size_t n_rows,
                      int16_t* dst) {
  const size_t c_in = L.c_in, w = b.w, first = b.x_row0 * w;  // x holds flat positions first ..
  const int16_t* x = b.x;
  if (L.kind == kIgdn) {
    const unsigned a = L.square_shift;
    const int64_t half = a > 0 ? int64_t{1} << (a - 1) : 0;
    for (size_t j = 0; j < n_rows; ++j) {
      const int16_t* src = x + (base + j - first) * c_in;
      int16_t* row = dst + j * ph.row_len;
      for (size_t i = 0; i < c_in; ++i) row[i] = saturate<int16_t>((int64_t{src[i]} * src[i] + half) >> a);
      std::memset(row + c_in, 0, (ph.row_len - c_in) * sizeof(int16_t));
    }
    return dst;
  }
  if (ph.taps.size() == 1 && ph.taps[0].dy == 0 && ph.taps[0].dx == 0 && ph.row_len == c_in)
    return x + (base - first) * c_in;
  const size_t used = ph.taps.size() * c_in;
  for (size_t j = 0; j < n_rows; ++j) {
    int16_t* row = dst + j * ph.row_len;
    const ptrdiff_t R = static_cast<ptrdiff_t>((base + j) / w), C = static_cast<ptrdiff_t>((base + j) % w);
    for (size_t t = 0; t < ph.taps.size(); ++t) {
      const ptrdiff_t r = R + ph.taps[t].dy, c = C + ph.taps[t].dx;
      if (r >= 0 && r < static_cast<ptrdiff_t>(b.h) && c >= 0 && c < static_cast<ptrdiff_t>(w)) {
        LIC_DCHECK(static_cast<size_t>(r) >= b.x_row0);
        std::memcpy(row + t * c_in, x + (static_cast<size_t>(r) * w + static_cast<size_t>(c) - first) * c_in,
                    c_in * sizeof(int16_t));
      } else {
        std::memset(row + t * c_in, 0, c_in * sizeof(int16_t));
      }
    }
    std::memset(row + used, 0, (ph.row_len - used) * sizeof(int16_t));
  }
  return dst;
}

// One block of a phase: its output base positions base .. base + rows (flat R * w + C
// over the phase's grid of base positions), gathered, summed and finished.
template <class T>
void run_block(const Network::Layer& L, const Network::Phase& ph, const Band& b, size_t base, size_t rows, T* out,
               Workspace& ws) {
  const size_t stride = L.kind == kDeconv ? 2 : 1, w = b.w, out_w = stride * w, chunk = chunk_channels(ph.row_len);
  const int16_t* xr = gather(L, ph, b, base, rows, ws.rows.data());
  for (size_t o = 0; o < L.c_out; o += chunk) {
    const size_t n_out = std::min(chunk, L.c_out - o);
    dot_rows(xr, rows, ph.w.data() + o * ph.row_len, n_out, ph.row_len, ws.acc.data() + o, L.c_out);
  }
  const Finishers& fin = *kernel().finish;
  const Finish f = L.finish.view(L.c_out);
  const FinishFn fn = fin.fn[std::is_same<T, int16_t>::value ? 0 : std::is_same<T, int32_t>::value ? 1 : 2][L.act];
  for (size_t j = 0; j < rows; ++j) {
    const size_t R = (base + j) / w, C = (base + j) % w;
    const size_t at = (stride * R + ph.pr - b.o0) * out_w + stride * C + ph.pc;  // row within the band
    if constexpr (std::is_same<T, int16_t>::value) {
      if (L.kind == kIgdn) {
        fin.igdn(f, ws.acc.data() + j * L.c_out, b.x + (base + j - b.x_row0 * w) * L.c_in, out + at * L.c_out);
        continue;
      }
    }
    fn(f, ws.acc.data() + j * L.c_out, out + at * L.c_out);
  }
}

// The base positions of phase ph that fall on output rows [o0, o1): flat [*lo, *hi)
// over the phase's w-wide grid (a deconv's phase pr owns the rows 2R + pr).
void phase_span(const Network::Layer& L, const Network::Phase& ph, const Band& b, size_t* lo, size_t* hi) {
  size_t r_lo = b.o0, r_hi = b.o1;
  if (L.kind == kDeconv) {  // rows 2R + pr in [o0, o1): R in [ceil((o0 - pr) / 2), ceil((o1 - pr) / 2))
    r_lo = (b.o0 + 1 - static_cast<size_t>(ph.pr)) / 2;
    r_hi = b.o1 > static_cast<size_t>(ph.pr) ? (b.o1 + 1 - static_cast<size_t>(ph.pr)) / 2 : 0;
    r_hi = std::max(r_hi, r_lo);
  }
  *lo = r_lo * b.w, *hi = r_hi * b.w;
}

// ---- splitting a layer across threads ----------------------------------------------
//
// Starting a thread for a layer costs more than its creation (about 12 us): on a
// 2-vCPU Xeon VM (AVX-512 VNNI, some 10^5 multiply-adds a microsecond) a helper
// began 15 to over 100 us after the start, on a core whose caches hold none of the
// weights. Measured there (one layer, 1 thread against 2, medians of 41 runs),
// splitting lost up to 2^23.2 multiply-adds (115 us alone, 140 us split) and won
// from 2^24.3 on (x1.2 to x1.3; x1.3 to x1.5 at 2^25 to 2^26.4). So a thread is
// given at least kMinThreadMacs of a layer: a layer splits from 2^24 multiply-adds
// on, into at most as many threads as it has 4-row tiles.
//
// The threads take blocks from a shared counter (about kPiecesPerThread blocks per
// thread, never fewer rows than a tile nor more than block_rows), so a helper that
// starts late, or a core that is busy with something else, leaves its blocks to the
// others instead of holding up the layer. Which thread computes a block does not
// change its integers: each output position is written once, from the input alone.
constexpr uint64_t kMinThreadMacs = uint64_t{1} << 23;
constexpr size_t kPiecesPerThread = 4;

uint64_t layer_macs(const Network::Layer& L, size_t n) {
  uint64_t len = 0;
  for (const Network::Phase& ph : L.phases) len += ph.row_len;
  return uint64_t{n} * len * L.c_out;  // below 2^28 * 2^28 * 4 (output_shape's and add_layer's limits)
}

// Threads one layer of n base positions per phase uses when up to `threads` may run.
unsigned layer_threads(const Network::Layer& L, size_t n, unsigned threads) {
  if (threads <= 1) return 1;
  const uint64_t by_work = layer_macs(L, n) / kMinThreadMacs;
  const uint64_t by_tiles = uint64_t{L.phases.size()} * n / kMinBlock;
  const uint64_t t = std::min<uint64_t>({threads, kMaxThreads, by_work, by_tiles});
  return t < 1 ? 1 : static_cast<unsigned>(t);
}

// The blocks of a split layer: phase p's base positions lo[p] .. hi[p] are cut into
// blocks of rows[p] (the last one shorter), blocks[p] of them; block i of the layer
// is the (i - first[p])-th of the phase p with first[p] <= i < first[p + 1].
struct Pieces {
  size_t rows[4] = {}, first[5] = {}, lo[4] = {}, hi[4] = {};
  Pieces(const Network::Layer& L, const Band& b, unsigned threads) {
    const size_t phases = L.phases.size();  // 1 or 4
    size_t n = 0;
    for (size_t p = 0; p < phases; ++p) {
      phase_span(L, L.phases[p], b, &lo[p], &hi[p]);
      n = std::max(n, hi[p] - lo[p]);
    }
    const size_t per_phase = (size_t{threads} * kPiecesPerThread + phases - 1) / phases;
    const size_t even = ((n + per_phase - 1) / per_phase + kMinBlock - 1) / kMinBlock * kMinBlock;
    for (size_t p = 0; p < phases; ++p) {
      rows[p] = std::max(kMinBlock, std::min(block_rows(L.phases[p].row_len), even));
      first[p + 1] = first[p] + (hi[p] - lo[p] + rows[p] - 1) / rows[p];
    }
    for (size_t p = phases; p < 4; ++p) first[p + 1] = first[p];
  }
  size_t count() const { return first[4]; }
};

// Takes blocks from `next` until none is left.
template <class T>
void run_pieces(const Network::Layer& L, const Pieces& pieces, const Band& b, T* out, Workspace& ws,
                std::atomic<size_t>& next) {
  for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < pieces.count();
       i = next.fetch_add(1, std::memory_order_relaxed)) {
    size_t p = 0;
    while (i >= pieces.first[p + 1]) ++p;
    const size_t base = pieces.lo[p] + (i - pieces.first[p]) * pieces.rows[p];
    run_block(L, L.phases[p], b, base, std::min(pieces.rows[p], pieces.hi[p] - base), out, ws);
  }
}

// One layer's band b into out (rows b.o0 .. b.o1 of its output) by `threads` threads:
// the calling thread with ws, thread t with helpers[t - 1]. A thread that cannot be
// started leaves its blocks to the others.
template <class T>
void run_layer(const Network::Layer& L, const Band& b, T* out, Workspace& ws, std::vector<Workspace>& helpers,
               unsigned threads) {
  if (threads <= 1) {
    for (const Network::Phase& ph : L.phases) {
      size_t lo = 0, hi = 0;
      phase_span(L, ph, b, &lo, &hi);
      const size_t nb = block_rows(ph.row_len);
      for (size_t base = lo; base < hi; base += nb) run_block(L, ph, b, base, std::min(nb, hi - base), out, ws);
    }
    return;
  }
  const Pieces pieces(L, b, threads);
  std::atomic<size_t> next{0};
  std::thread team[kMaxThreads];
  for (unsigned t = 1; t < threads; ++t) {
    Workspace* hw = &helpers[t - 1];
    try {
      team[t] = std::thread([&L, &pieces, &b, out, hw, &next] { run_pieces(L, pieces, b, out, *hw, next); });
    } catch (...) {  // std::system_error: no thread to be had
    }
  }
  run_pieces(L, pieces, b, out, ws, next);
  for (unsigned t = 1; t < threads; ++t)
    if (team[t].joinable()) team[t].join();
}

// The input rows [*a, *b) a layer reads for its output rows [o0, o1) (unclipped:
// a may be "negative", so both are offsets by kRowBias; callers clip to [0, h)).
// deconv (stride 2, padding p): output row o reads input rows i with o = 2i + dy - p,
// 0 <= dy < k; conv: o - p .. o + p; dense, igdn: o.
void layer_input_rows(const Network::Layer& L, size_t h, size_t o0, size_t o1, size_t* a, size_t* b) {
  if (o0 >= o1) {
    *a = *b = 0;
    return;
  }
  const int64_t k = static_cast<int64_t>(L.k), p = (k - 1) / 2;
  int64_t lo = static_cast<int64_t>(o0), hi = static_cast<int64_t>(o1) - 1;  // inclusive
  if (L.kind == kDeconv) {
    // ceil((lo + p - k + 1) / 2) .. floor((hi + p) / 2); arithmetic shifts floor
    lo = (lo + p - k + 2) >> 1;
    hi = (hi + p) >> 1;
  } else if (L.kind == kConv) {
    lo -= p, hi += p;
  }
  lo = std::max<int64_t>(lo, 0);
  hi = std::min<int64_t>(hi, static_cast<int64_t>(h) - 1);
  *a = static_cast<size_t>(lo);
  *b = hi >= lo ? static_cast<size_t>(hi) + 1 : *a;
}

const char* kind_name(int kind) {
  return kind == kConv ? "conv" : kind == kDeconv ? "deconv" : kind == kDense ? "dense" : "igdn";
}

}  // namespace

const char* kernel_name() { return kernel().name; }

// ---- building a network ------------------------------------------------------------

void Network::FinishConstants::set(const std::vector<int32_t>& b, const std::vector<uint8_t>& shift,
                                   const std::vector<uint8_t>& out_shift) {
  const size_t c = b.size();
  bias.resize(c), s.resize(c), s1.resize(c), m.resize(c), half.assign(c, 0.0), scale.assign(c, 1.0);
  for (size_t o = 0; o < c; ++o) {
    bias[o] = static_cast<uint32_t>(b[o]);
    s[o] = shift[o], s1[o] = shift[o] > 0 ? shift[o] - 1 : 0, m[o] = shift[o] > 0 ? 1 : 0;
    if (!out_shift.empty()) {
      half[o] = out_shift[o] > 0 ? std::ldexp(1.0, out_shift[o] - 1) : 0.0;
      scale[o] = std::ldexp(1.0, -static_cast<int>(out_shift[o]));
    }
  }
}

size_t Network::in_channels() const { return layers_.empty() ? 0 : layers_.front().c_in; }
size_t Network::out_channels() const { return layers_.empty() ? 0 : layers_.back().c_out; }
unsigned Network::out_bits() const { return layers_.empty() ? 16 : layers_.back().out_bits; }
bool Network::spatial() const {
  for (const Layer& L : layers_)
    if (L.kind != kDense) return true;
  return false;
}

lic_status Network::add_layer(const LayerSpec& s, ErrorInfo* err) noexcept {
  const size_t i = layers_.size();
  if (i >= kMaxLayers) return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "a network has at most %zu layers", kMaxLayers);
  if (s.kind != kConv && s.kind != kDeconv && s.kind != kDense && s.kind != kIgdn)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "layer %zu: kind %d is not conv (0), deconv (1), dense (2) or igdn (3)", i, s.kind);
  if (s.act != kActNone && s.act != kActRelu && s.act != kActLeaky)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu: act %d is not none (0), relu (1) or leaky (2)", i,
                     s.act);
  if (s.out_bits != 8 && s.out_bits != 16 && s.out_bits != 32)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu: out_bits must be 8, 16 or 32, got %u", i, s.out_bits);
  const bool pointwise = s.kind == kDense || s.kind == kIgdn;
  if (pointwise ? s.k != 1 : (s.k % 2 == 0 || s.k > kMaxKernel))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (%s): kernel size %zu must be %s", i,
                     kind_name(s.kind), s.k, pointwise ? "1" : "odd, 1..15");
  if (s.kind == kIgdn) {
    if (s.c_in != s.c_out)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (igdn): %zu -> %zu channels; an inverse GDN keeps them",
                       i, s.c_in, s.c_out);
    if (s.act != kActNone || s.out_bits != 16)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (igdn): act must be none and out_bits 16", i);
    if (s.square_shift > kMaxSquareShift)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (igdn): square_shift %u is outside 0..%u", i,
                       s.square_shift, kMaxSquareShift);
    if (!s.out_shift) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (igdn): out_shift is NULL", i);
    for (size_t o = 0; o < s.c_out && o < kMaxChannels; ++o)
      if (s.out_shift[o] > kMaxOutShift)
        return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu (igdn): out_shift[%zu] = %u is outside 0..%u", i,
                         o, unsigned{s.out_shift[o]}, kMaxOutShift);
  }
  if (s.c_in == 0 || s.c_out == 0 || s.c_in > kMaxChannels || s.c_out > kMaxChannels)
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "layer %zu: channels %zu -> %zu must be within 1..%zu", i, s.c_in,
                     s.c_out, kMaxChannels);
  if (i > 0 && layers_.back().c_out != s.c_in)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu takes %zu channels but layer %zu gives %zu", i, s.c_in,
                     i - 1, layers_.back().c_out);
  if (i > 0 && layers_.back().out_bits != 16)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "layer %zu follows a %u-bit layer: only the last layer may have out_bits 8 or 32", i,
                     layers_.back().out_bits);
  uint64_t dot = 0, n_weights = 0;
  if (!mul_within(uint64_t{s.k} * s.k, s.c_in, kMaxDot, &dot) || !mul_within(dot, s.c_out, kMaxWeights, &n_weights))
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "layer %zu: %zu x %zu x %zu x %zu weights exceed the limit", i,
                     s.c_out, s.c_in, s.k, s.k);
  if (!s.weight || !s.bias || !s.shift)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu: weight, bias or shift is NULL", i);
  for (size_t o = 0; o < s.c_out; ++o)
    if (s.shift[o] > 31)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "layer %zu: shift[%zu] = %u is outside 0..31", i, o,
                       unsigned{s.shift[o]});

  // Repack: phase rows [c_out][taps * c_in (padded)], tap-major like the gathered rows.
  // conv  w[o][i][dy][dx]: tap (dy - p, dx - p) of output (r, c), one phase.
  // deconv w[i][o][dy][dx]: output r = 2R + pr reads input row (r + p - dy) / 2 when
  //   r + p - dy is even, i.e. tap dy - in phase pr - at offset (pr + p - dy) / 2
  //   from R; likewise for columns. Four phases, each an ordinary convolution.
  try {
    Layer L;
    L.kind = s.kind, L.act = s.act, L.out_bits = s.out_bits;
    L.c_in = s.c_in, L.c_out = s.c_out, L.k = s.k;
    L.bias.assign(s.bias, s.bias + s.c_out);
    L.shift.assign(s.shift, s.shift + s.c_out);
    if (s.kind == kIgdn) {
      L.square_shift = s.square_shift;
      L.out_shift.assign(s.out_shift, s.out_shift + s.c_out);
    }
    L.finish.set(L.bias, L.shift, L.out_shift);
    const int k = static_cast<int>(s.k), p = (k - 1) / 2;
    const int n_phases = s.kind == kDeconv ? 4 : 1;
    for (int phase = 0; phase < n_phases; ++phase) {
      Phase ph;
      ph.pr = phase / 2, ph.pc = phase % 2;
      std::vector<std::pair<int, int>> kernel_taps;  // (dy, dx) of the kernel for each tap
      for (int dy = 0; dy < k; ++dy) {
        for (int dx = 0; dx < k; ++dx) {
          if (s.kind != kDeconv) {
            ph.taps.push_back({dy - p, dx - p});
          } else {
            if ((ph.pr + p - dy) % 2 != 0 || (ph.pc + p - dx) % 2 != 0) continue;
            ph.taps.push_back({(ph.pr + p - dy) / 2, (ph.pc + p - dx) / 2});  // exact: even numerators
          }
          kernel_taps.push_back({dy, dx});
        }
      }
      ph.row_len = round_up_row(ph.taps.size() * s.c_in);
      ph.w.assign(s.c_out * ph.row_len, 0);
      for (size_t o = 0; o < s.c_out; ++o) {
        int16_t* row = ph.w.data() + o * ph.row_len;
        for (size_t t = 0; t < kernel_taps.size(); ++t) {
          const size_t dy = static_cast<size_t>(kernel_taps[t].first), dx = static_cast<size_t>(kernel_taps[t].second);
          for (size_t ci = 0; ci < s.c_in; ++ci) {
            const size_t src = s.kind == kDeconv ? ((ci * s.c_out + o) * s.k + dy) * s.k + dx
                                                 : ((o * s.c_in + ci) * s.k + dy) * s.k + dx;
            row[t * s.c_in + ci] = s.weight[src];
          }
        }
      }
      L.phases.push_back(std::move(ph));
    }
    layers_.push_back(std::move(L));
  } catch (const std::exception&) {
    return out_of_memory(err, "the layer's packed weights");
  }
  return LIC_OK;
}

lic_status Network::output_shape(size_t h, size_t w, size_t* out_h, size_t* out_w, ErrorInfo* err) const noexcept {
  if (layers_.empty()) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "the network has no layers");
  uint64_t n = 0;
  // each side on its own first: with the other side 0 the products below are 0 whatever
  // this one is, and doubling it (a deconv) could wrap
  if (h > kMaxElements || w > kMaxElements)
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "an input of %zu x %zu exceeds the limit of %llu per side", h, w,
                     static_cast<unsigned long long>(kMaxElements));
  for (size_t i = 0; i <= layers_.size(); ++i) {  // every tensor: the input, then each layer's output
    const size_t c = i == 0 ? layers_[0].c_in : layers_[i - 1].c_out;
    if (i > 0 && layers_[i - 1].kind == kDeconv) h *= 2, w *= 2;  // h, w <= 2^28 here: no overflow
    if (!mul_within(h, w, kMaxElements, &n) || !mul_within(n, c, kMaxElements, &n))
      return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "%s %zu x %zu x %zu exceeds the limit of %llu values per tensor",
                       i == 0 ? "the input" : "an output", h, w, c, static_cast<unsigned long long>(kMaxElements));
  }
  *out_h = h, *out_w = w;
  return LIC_OK;
}

uint64_t Network::macs(size_t h, size_t w) const noexcept {
  size_t out_h = 0, out_w = 0;
  if (output_shape(h, w, &out_h, &out_w, nullptr) != LIC_OK) return UINT64_MAX;
  uint64_t total = 0;  // below 2^28 positions x 2^28 weights x 64 layers: no overflow
  for (const Layer& L : layers_) {
    for (const Phase& ph : L.phases) total += uint64_t{h} * w * ph.row_len * L.c_out;
    if (L.kind == kDeconv) h *= 2, w *= 2;
  }
  return total;
}

// ---- running a network ----------------------------------------------------------

lic_status Network::run(const int16_t* x, size_t h, size_t w, void* out, ErrorInfo* err, unsigned threads) const
    noexcept {
  Workspace ws;
  return run(x, h, w, out, &ws, err, threads);
}

unsigned Network::threads_used(size_t h, size_t w, unsigned threads) const noexcept {
  size_t out_h = 0, out_w = 0;
  if (output_shape(h, w, &out_h, &out_w, nullptr) != LIC_OK) return 1;
  unsigned most = 1;
  for (const Layer& L : layers_) {
    most = std::max(most, layer_threads(L, h * w, threads));
    if (L.kind == kDeconv) h *= 2, w *= 2;
  }
  return most;
}

lic_status Network::run(const int16_t* x, size_t h, size_t w, void* out, Workspace* ws, ErrorInfo* err,
                        unsigned threads) const noexcept {
  size_t out_h = 0, out_w = 0;
  lic_status st = output_shape(h, w, &out_h, &out_w, err);  // every tensor within kMaxElements
  if (st != LIC_OK) return st;
  return run_windows(x, h, w, 0, h, 0, out_h, out, ws, err, threads);
}

void Network::input_rows(size_t h, size_t r0, size_t r1, size_t* a, size_t* b) const noexcept {
  // the height of every tensor, then the windows backwards from the output's
  size_t heights[kMaxLayers + 1];
  heights[0] = h;
  for (size_t i = 0; i < layers_.size(); ++i) heights[i + 1] = heights[i] * (layers_[i].kind == kDeconv ? 2 : 1);
  size_t lo = std::min(r0, heights[layers_.size()]), hi = std::min(r1, heights[layers_.size()]);
  for (size_t i = layers_.size(); i-- > 0;) layer_input_rows(layers_[i], heights[i], lo, hi, &lo, &hi);
  *a = lo, *b = hi;
}

lic_status Network::run_rows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0,
                             size_t r1, void* out, Workspace* ws, ErrorInfo* err, unsigned threads) const noexcept {
  size_t out_h = 0, out_w = 0;
  lic_status st = output_shape(h, w, &out_h, &out_w, err);
  if (st != LIC_OK) return st;
  if (r0 > r1 || r1 > out_h)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "rows %zu .. %zu are not within the output's %zu rows", r0, r1,
                     out_h);
  if (x_row0 > h || x_rows > h - x_row0)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "input rows %zu .. %zu are not within the input's %zu rows", x_row0,
                     x_row0 + x_rows, h);
  return run_windows(x, h, w, x_row0, x_rows, r0, r1, out, ws, err, threads);
}

lic_status Network::run_rows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0,
                             size_t r1, void* out, ErrorInfo* err, unsigned threads) const noexcept {
  Workspace ws;
  return run_rows(x, h, w, x_row0, x_rows, r0, r1, out, &ws, err, threads);
}

// Every run: output rows [r0, r1) from input rows [x_row0, x_row0 + x_rows). Each layer
// computes exactly the rows the next one reads (its window), from the window of its
// input, so a band costs its own rows plus a few halo rows per layer.
lic_status Network::run_windows(const int16_t* x, size_t h, size_t w, size_t x_row0, size_t x_rows, size_t r0,
                                size_t r1, void* out, Workspace* ws, ErrorInfo* err, unsigned threads) const
    noexcept {
  const size_t n = layers_.size();
  if (h == 0 || w == 0 || r0 >= r1) return LIC_OK;
  if (!x || !out || !ws) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "x, out or the workspace is NULL");

  // rows [lo[i], hi[i]) of tensor i are computed (tensor 0 is the input, tensor n the output)
  size_t heights[kMaxLayers + 1], widths[kMaxLayers + 1], lo[kMaxLayers + 1], hi[kMaxLayers + 1];
  heights[0] = h, widths[0] = w;
  for (size_t i = 0; i < n; ++i) {
    const size_t f = layers_[i].kind == kDeconv ? 2 : 1;
    heights[i + 1] = heights[i] * f, widths[i + 1] = widths[i] * f;  // within kMaxElements (output_shape)
  }
  lo[n] = r0, hi[n] = r1;
  for (size_t i = n; i-- > 0;) layer_input_rows(layers_[i], heights[i], lo[i + 1], hi[i + 1], &lo[i], &hi[i]);
  if (lo[0] < x_row0 || hi[0] > x_row0 + x_rows)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "output rows %zu .. %zu read input rows %zu .. %zu; x holds rows %zu .. %zu", r0, r1, lo[0], hi[0],
                     x_row0, x_row0 + x_rows);

  // Scratch sizes: products of numbers already bounded by kMaxElements and kMaxDot.
  // A helper thread needs its own rows and accumulators, the size of the caller's.
  size_t rows = 0, acc = 0, between = 0, positions[kMaxLayers];
  unsigned helpers = 0;
  for (size_t i = 0; i < n; ++i) {
    const Layer& L = layers_[i];
    positions[i] = (hi[i + 1] - lo[i + 1]) * widths[i + 1] / (L.kind == kDeconv ? 4 : 1);  // per phase, about
    for (const Phase& ph : L.phases) {
      const size_t nb = std::min(block_rows(ph.row_len), std::max<size_t>(positions[i] + widths[i], 1));
      rows = std::max(rows, nb * ph.row_len);
      acc = std::max(acc, nb * L.c_out);
    }
    helpers = std::max(helpers, layer_threads(L, positions[i], threads) - 1);
    if (i + 1 < n) between = std::max(between, (hi[i + 1] - lo[i + 1]) * widths[i + 1] * L.c_out);
  }
  if (!grow(ws->rows, rows) || !grow(ws->acc, acc) || (n > 1 && !grow(ws->between[0], between)) ||
      (n > 2 && !grow(ws->between[1], between)))
    return out_of_memory(err, "the network's scratch buffers");
  std::vector<Workspace> team;
  if (helpers > 0) {
    try {
      team.resize(helpers);
    } catch (const std::exception&) {
      return out_of_memory(err, "the threads' scratch buffers");
    }
    for (Workspace& hw : team)
      if (!grow(hw.rows, rows) || !grow(hw.acc, acc)) return out_of_memory(err, "the threads' scratch buffers");
  }

  const int16_t* in = x;
  size_t in_row0 = x_row0;
  for (size_t i = 0; i < n; ++i) {
    const Layer& L = layers_[i];
    const bool last = i + 1 == n;
    const unsigned parts = layer_threads(L, positions[i], threads);
    const Band b{in, heights[i], widths[i], in_row0, lo[i + 1], hi[i + 1]};
    if (last && L.out_bits == 32) {
      run_layer(L, b, static_cast<int32_t*>(out), *ws, team, parts);
    } else if (last && L.out_bits == 8) {
      run_layer(L, b, static_cast<uint8_t*>(out), *ws, team, parts);
    } else {
      int16_t* dst = last ? static_cast<int16_t*>(out) : ws->between[i % 2].data();
      run_layer(L, b, dst, *ws, team, parts);
      in = dst;
      in_row0 = lo[i + 1];
    }
  }
  return LIC_OK;
}

// ---- scale indexes ----------------------------------------------------------------

namespace {
lic_status check_thresholds(const int32_t* t, size_t n, ErrorInfo* err) {
  if (n > 0 && !t) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "thresholds is NULL");
  for (size_t i = 1; i < n; ++i)
    if (t[i] <= t[i - 1])
      return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                       "thresholds must increase strictly, but thresholds[%zu] = %d follows %d", i, t[i], t[i - 1]);
  return LIC_OK;
}

// #{t : T[t] < s}: the first threshold >= s (binary search over strictly increasing T).
LIC_INLINE int32_t count_below(const int32_t* t, size_t n, int32_t s) {
  return static_cast<int32_t>(std::lower_bound(t, t + n, s) - t);
}
}  // namespace

lic_status scale_indexes(const int32_t* sigma_q, size_t n, const int32_t* thresholds, size_t n_thresholds,
                         int32_t* out, ErrorInfo* err) noexcept {
  if (n_thresholds > (size_t{1} << 30))
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "%zu thresholds exceed the limit of 2^30", n_thresholds);
  lic_status st = check_thresholds(thresholds, n_thresholds, err);
  if (st != LIC_OK) return st;
  if (n > 0 && (!sigma_q || !out)) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "sigma_q or out is NULL");
  for (size_t i = 0; i < n; ++i) out[i] = count_below(thresholds, n_thresholds, sigma_q[i]);
  return LIC_OK;
}

// ---- the joint model --------------------------------------------------------------

namespace {
// The 5x5 type-A mask's taps in raster order, as (dy, dx) offsets into the padded
// grid from the cell of (r, c) minus (2, 2) (docs/integer.md, "Joint", step 1).
constexpr int kMaskTaps = 12;
constexpr int kMaskDy[kMaskTaps] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2};
constexpr int kMaskDx[kMaskTaps] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1};
constexpr size_t kPad = 2;

// Positions per pass through the networks: a step is computed in chunks of this
// many (all from the grid as it was before the step), so scratch stays small
// whatever the schedule.
constexpr size_t kChunk = 64;

// symbol = round_half_even(y - mu_q / 2^Fm): the difference in float32, as the float
// path's torch.round(y - mu) does; the rounding of that float32 is exact (in double).
// Encoder only: the decoder reads symbols from the stream and never recomputes
// this, so any deterministic rule decodes; this one is the float path's.
int32_t quantize(float y, int32_t mu_q, float inv_scale) {
  const float d = y - static_cast<float>(mu_q) * inv_scale;  // inv_scale = 2^-Fm: exact scaling
  double r = std::floor(static_cast<double>(d));
  const double frac = static_cast<double>(d) - r;             // exact in double
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  if (!(r < 2147483648.0)) return INT32_MAX;                  // +inf too
  if (r < -2147483648.0) return INT32_MIN;
  return static_cast<int32_t>(r);
}
}  // namespace

struct JointModel::Scratch {
  Workspace ws;
  AlignedVector<int16_t> taps;  // [chunk][12 M]
  AlignedVector<int16_t> ctx;   // [chunk][2 M]
  AlignedVector<int16_t> ep_in; // [chunk][4 M]: params then ctx
  std::vector<int32_t> e;       // [chunk][2 M]: sigma_q then mu_q
  std::vector<int32_t> idx, mu; // [step][M] (the walks)

  // For steps of up to `count` positions; the walks also keep a step's indexes and means.
  bool reserve(size_t m, size_t count, bool walk) {
    const size_t c = std::min(count, kChunk);
    return grow(taps, c * kMaskTaps * m) && grow(ctx, c * 2 * m) && grow(ep_in, c * 4 * m) && grow(e, c * 2 * m) &&
           (!walk || (grow(idx, count * m) && grow(mu, count * m)));
  }
};

lic_status JointModel::create(const Network& context, const Network& entropy_parameters, const int32_t* thresholds,
                              size_t n_thresholds, unsigned mean_frac, std::unique_ptr<JointModel>* out,
                              ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  out->reset();
  if (context.n_layers() == 0 || context.spatial() || context.in_channels() % kMaskTaps != 0)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "the context must be dense layers on 12 M inputs (got %zu layers, %zu inputs%s)",
                     context.n_layers(), context.in_channels(), context.spatial() ? ", not all dense" : "");
  const size_t m = context.in_channels() / kMaskTaps;
  if (context.out_channels() != 2 * m || context.out_bits() != 16)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "the context must give 2 M = %zu int16 channels, got %zu with out_bits %u", 2 * m,
                     context.out_channels(), context.out_bits());
  if (entropy_parameters.n_layers() == 0 || entropy_parameters.spatial() ||
      entropy_parameters.in_channels() != 4 * m || entropy_parameters.out_channels() != 2 * m ||
      entropy_parameters.out_bits() != 32)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "the entropy parameters must be dense layers 4 M = %zu -> 2 M = %zu with a 32-bit last layer "
                     "(got %zu layers, %zu -> %zu, out_bits %u)",
                     4 * m, 2 * m, entropy_parameters.n_layers(), entropy_parameters.in_channels(),
                     entropy_parameters.out_channels(), entropy_parameters.out_bits());
  if (mean_frac > kMaxMeanFrac)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "mean_frac must be in 0..%u, got %u", kMaxMeanFrac, mean_frac);
  if (n_thresholds > (size_t{1} << 30))
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "%zu thresholds exceed the limit of 2^30", n_thresholds);
  lic_status st = check_thresholds(thresholds, n_thresholds, err);
  if (st != LIC_OK) return st;
  try {
    std::unique_ptr<JointModel> j(new JointModel());
    j->context_ = context;
    j->entropy_parameters_ = entropy_parameters;
    j->thresholds_.assign(thresholds, thresholds + n_thresholds);
    j->mean_frac_ = mean_frac;
    j->m_ = m;
    *out = std::move(j);
  } catch (const std::exception&) {
    return out_of_memory(err, "the joint model");
  }
  return LIC_OK;
}

lic_status JointModel::check_grid(size_t h, size_t w, ErrorInfo* err) const noexcept {
  uint64_t n = 0;
  if (h > kMaxElements || w > kMaxElements || !mul_within(h + 2 * kPad, w + 2 * kPad, kMaxElements, &n) ||
      !mul_within(n, 4 * m_, kMaxElements, &n))
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "a %zu x %zu latent of %zu channels exceeds the limit", h, w, m_);
  return LIC_OK;
}

lic_status JointModel::check_schedule(size_t h, size_t w, const int64_t* positions, const int64_t* step_starts,
                                      size_t n_steps, ErrorInfo* err) const noexcept {
  const size_t n = h * w;  // within kMaxElements (check_grid)
  if (!step_starts || (n > 0 && !positions))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "positions or step_starts is NULL");
  if (step_starts[0] != 0 || step_starts[n_steps] != static_cast<int64_t>(n))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                     "step_starts must run from 0 to h * w = %zu, got %lld .. %lld", n,
                     static_cast<long long>(step_starts[0]), static_cast<long long>(step_starts[n_steps]));
  for (size_t s = 0; s < n_steps; ++s)
    if (step_starts[s + 1] < step_starts[s])
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "step_starts[%zu] = %lld is below step_starts[%zu] = %lld",
                       s + 1, static_cast<long long>(step_starts[s + 1]), s, static_cast<long long>(step_starts[s]));
  std::vector<uint8_t> seen;
  if (!grow(seen, n)) return out_of_memory(err, "the schedule check");
  for (size_t i = 0; i < n; ++i) {
    const int64_t p = positions[i];
    if (p < 0 || p >= static_cast<int64_t>(n))
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "positions[%zu] = %lld is outside the %zu x %zu latent", i,
                       static_cast<long long>(p), h, w);
    if (seen[static_cast<size_t>(p)]++)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT,
                       "positions[%zu] = %lld appears twice: a schedule lists every position once", i,
                       static_cast<long long>(p));
  }
  return LIC_OK;
}

namespace {
lic_status check_positions(const int64_t* positions, size_t count, size_t h, size_t w, ErrorInfo* err) {
  if (count > 0 && !positions) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "positions is NULL");
  for (size_t j = 0; j < count; ++j)
    if (positions[j] < 0 || positions[j] >= static_cast<int64_t>(h * w))
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "positions[%zu] = %lld is outside the %zu x %zu latent", j,
                       static_cast<long long>(positions[j]), h, w);
  return LIC_OK;
}
}  // namespace

// Steps 1-3 of docs/integer.md's "Joint" for positions[0 .. count), chunk by chunk:
// the taps, the context, the entropy parameters; then table indexes and means.
lic_status JointModel::step_unchecked(const int16_t* grid, const int16_t* params, size_t w,
                                      const int64_t* positions, size_t count, int32_t* indexes, int32_t* means,
                                      Scratch& s, ErrorInfo* err) const {
  const size_t m = m_, gw = w + 2 * kPad;
  for (size_t first = 0; first < count; first += kChunk) {
    const size_t n = std::min(kChunk, count - first);
    for (size_t j = 0; j < n; ++j) {
      const size_t pos = static_cast<size_t>(positions[first + j]), r = pos / w, c = pos % w;
      int16_t* taps = s.taps.data() + j * kMaskTaps * m;
      for (int t = 0; t < kMaskTaps; ++t)  // cell (r + dy, c + dx) holds position (r + dy - 2, c + dx - 2)
        std::memcpy(taps + t * m, grid + ((r + kMaskDy[t]) * gw + c + kMaskDx[t]) * m, m * sizeof(int16_t));
    }
    lic_status st = context_.run(s.taps.data(), n, 1, s.ctx.data(), &s.ws, err);
    if (st != LIC_OK) return st;
    for (size_t j = 0; j < n; ++j) {
      const size_t pos = static_cast<size_t>(positions[first + j]);
      int16_t* row = s.ep_in.data() + j * 4 * m;
      std::memcpy(row, params + pos * 2 * m, 2 * m * sizeof(int16_t));
      std::memcpy(row + 2 * m, s.ctx.data() + j * 2 * m, 2 * m * sizeof(int16_t));
    }
    st = entropy_parameters_.run(s.ep_in.data(), n, 1, s.e.data(), &s.ws, err);
    if (st != LIC_OK) return st;
    for (size_t j = 0; j < n; ++j) {
      const int32_t* e = s.e.data() + j * 2 * m;
      int32_t* idx = indexes + (first + j) * m;
      int32_t* mu = means + (first + j) * m;
      for (size_t ch = 0; ch < m; ++ch) {
        idx[ch] = count_below(thresholds_.data(), thresholds_.size(), e[ch]);
        mu[ch] = e[m + ch];
      }
    }
  }
  return LIC_OK;
}

// Step 4: the grid cell of each position becomes sat16(symbol * 2^Fm + mu_q).
void JointModel::commit_unchecked(int16_t* grid, size_t w, const int64_t* positions, size_t count,
                                  const int32_t* symbols, const int32_t* means) const {
  const size_t m = m_, gw = w + 2 * kPad;
  for (size_t j = 0; j < count; ++j) {
    const size_t pos = static_cast<size_t>(positions[j]), r = pos / w, c = pos % w;
    int16_t* cell = grid + ((r + kPad) * gw + c + kPad) * m;
    for (size_t ch = 0; ch < m; ++ch) {
      const int64_t v = static_cast<int64_t>(symbols[j * m + ch]) * (int64_t{1} << mean_frac_) + means[j * m + ch];
      cell[ch] = saturate<int16_t>(v);  // |v| < 2^31 * 2^31 + 2^31: no overflow
    }
  }
}

lic_status JointModel::step(const int16_t* grid, const int16_t* params, size_t h, size_t w, const int64_t* positions,
                            size_t count, int32_t* indexes, int32_t* means, ErrorInfo* err) const noexcept {
  lic_status st = check_grid(h, w, err);
  if (st == LIC_OK) st = check_positions(positions, count, h, w, err);
  if (st != LIC_OK || count == 0) return st;
  if (!grid || !params || !indexes || !means)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "grid, params, indexes or means is NULL");
  Scratch s;
  if (!s.reserve(m_, count, false)) return out_of_memory(err, "the step's scratch");
  return step_unchecked(grid, params, w, positions, count, indexes, means, s, err);
}

lic_status JointModel::commit(int16_t* grid, size_t h, size_t w, const int64_t* positions, size_t count,
                              const int32_t* symbols, const int32_t* means, ErrorInfo* err) const noexcept {
  lic_status st = check_grid(h, w, err);
  if (st == LIC_OK) st = check_positions(positions, count, h, w, err);
  if (st != LIC_OK || count == 0) return st;
  if (!grid || !symbols || !means) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "grid, symbols or means is NULL");
  commit_unchecked(grid, w, positions, count, symbols, means);
  return LIC_OK;
}

// ---- the walks: every step of a schedule, in the engine -------------------------

namespace {
size_t largest_step(const int64_t* step_starts, size_t n_steps) {
  size_t most = 0;
  for (size_t s = 0; s < n_steps; ++s) most = std::max(most, static_cast<size_t>(step_starts[s + 1] - step_starts[s]));
  return most;
}
}  // namespace

lic_status JointModel::decode(const int16_t* params, size_t h, size_t w, std::shared_ptr<const TableSet> tables,
                              const uint8_t* data, size_t size, const int64_t* positions, const int64_t* step_starts,
                              size_t n_steps, int32_t* symbols, int32_t* means, ErrorInfo* err) const noexcept {
  lic_status st = check_grid(h, w, err);
  if (st == LIC_OK) st = check_schedule(h, w, positions, step_starts, n_steps, err);
  if (st != LIC_OK) return st;
  if (!tables) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "tables is NULL");
  const size_t n = h * w, m = m_;
  if (n > 0 && (!params || !symbols || !means))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "params, symbols or means is NULL");
  Decoder dec;
  st = dec.open(std::move(tables), data, size, err);
  if (st == LIC_OK) st = dec.check_total(uint64_t{n} * m, err);  // before any allocation
  if (st != LIC_OK) return st;
  Scratch s;
  std::vector<int16_t> grid;
  if (!grow(grid, (h + 2 * kPad) * (w + 2 * kPad) * m) || !s.reserve(m, largest_step(step_starts, n_steps), true))
    return out_of_memory(err, "the context grid and scratch");
  for (size_t step = 0; step < n_steps; ++step) {
    const size_t first = static_cast<size_t>(step_starts[step]);
    const size_t count = static_cast<size_t>(step_starts[step + 1]) - first;
    const int64_t* pos = positions + first;
    int32_t* sym = symbols + first * m;
    st = step_unchecked(grid.data(), params, w, pos, count, s.idx.data(), s.mu.data(), s, err);
    if (st == LIC_OK) st = dec.decode(s.idx.data(), count * m, sym, err);
    if (st != LIC_OK) return st;
    commit_unchecked(grid.data(), w, pos, count, sym, s.mu.data());
    for (size_t j = 0; j < count; ++j)
      std::memcpy(means + static_cast<size_t>(pos[j]) * m, s.mu.data() + j * m, m * sizeof(int32_t));
  }
  return dec.finish(err);
}

lic_status JointModel::encode(const int16_t* params, const float* y, size_t h, size_t w, const int64_t* positions,
                              const int64_t* step_starts, size_t n_steps, int32_t* symbols, int32_t* indexes,
                              int32_t* means, ErrorInfo* err) const noexcept {
  lic_status st = check_grid(h, w, err);
  if (st == LIC_OK) st = check_schedule(h, w, positions, step_starts, n_steps, err);
  if (st != LIC_OK) return st;
  const size_t n = h * w, m = m_;
  if (n > 0 && (!params || !y || !symbols || !indexes || !means))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "params, y, symbols, indexes or means is NULL");
  for (size_t i = 0; i < n * m; ++i)
    if (std::isnan(y[i]))
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "y[%zu] (position %zu, channel %zu) is NaN", i, i / m, i % m);
  Scratch s;
  std::vector<int16_t> grid;
  if (!grow(grid, (h + 2 * kPad) * (w + 2 * kPad) * m) || !s.reserve(m, largest_step(step_starts, n_steps), true))
    return out_of_memory(err, "the context grid and scratch");
  const float inv_scale = std::ldexp(1.0f, -static_cast<int>(mean_frac_));
  for (size_t step = 0; step < n_steps; ++step) {
    const size_t first = static_cast<size_t>(step_starts[step]);
    const size_t count = static_cast<size_t>(step_starts[step + 1]) - first;
    const int64_t* pos = positions + first;
    int32_t* sym = symbols + first * m;
    st = step_unchecked(grid.data(), params, w, pos, count, indexes + first * m, s.mu.data(), s, err);
    if (st != LIC_OK) return st;
    for (size_t j = 0; j < count; ++j) {
      const float* yp = y + static_cast<size_t>(pos[j]) * m;
      for (size_t ch = 0; ch < m; ++ch) sym[j * m + ch] = quantize(yp[ch], s.mu[j * m + ch], inv_scale);
      std::memcpy(means + static_cast<size_t>(pos[j]) * m, s.mu.data() + j * m, m * sizeof(int32_t));
    }
    commit_unchecked(grid.data(), w, pos, count, sym, s.mu.data());
  }
  return LIC_OK;
}

}  // namespace intnet
}  // namespace lic
