// special.h - deterministic exp, log, log1p and erfc for the table builder.
//
// Why not <cmath>: libm's exp/log/erfc differ between C libraries and versions
// (glibc, musl, Apple, MSVC round differently in the last place), and a single
// last-place difference can move a quantised CDF entry, so the "same" table
// would differ across machines. Everything here is built only from IEEE-754
// double +, -, *, / (correctly rounded everywhere), exact operations
// (frexp, floor, bit manipulation) and fixed coefficients written as hex
// literals. The build uses -ffp-contract=off, so no FMA can change a rounding.
// Given the IEEE default environment (round to nearest, no flush-to-zero),
// every function below returns the same bits on every conforming machine.
//
// Accuracy (checked against mpmath in tests/coding/test_tables_special.py):
//   exp, log, log1p: a few ulp; erfc: about 1e-15 relative where erfc >= 1e-300.
// Results that would be subnormal are flushed to zero on purpose, so that a
// flush-to-zero mode somewhere in the process cannot change them either.
//
// Where the coefficients come from (regenerate with the script in docs/tables.md):
//   * kExpTaylor: 1/n!, rounded to double.
//   * kErfTaylor: 2/sqrt(pi) * (-1)^n / (n! (2n+1)), the Maclaurin series of erf/x.
//   * kChebG_*:   Chebyshev interpolants (40 nodes, truncated below 2^-57
//                 relative) of g(x) = exp(x^2) erfc(x) on [0.5,1], [1,2], [2,4],
//                 [4,8], computed with mpmath at 50 digits.
//   * kChebH_tail: the same for h(t) = x g(x) with t = 64/x^2 in (0,1], x >= 8.
#ifndef LIC_SPECIAL_H
#define LIC_SPECIAL_H

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

// The determinism argument needs IEEE-754 types evaluated at their own precision.
static_assert(std::numeric_limits<double>::is_iec559 && std::numeric_limits<float>::is_iec559,
              "lic tables need IEEE-754 float and double");
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "lic tables need FLT_EVAL_METHOD == 0 (no x87 extended precision): use -mfpmath=sse"
#endif
#ifdef __FAST_MATH__
#error "lic tables must not be built with -ffast-math (it reorders and contracts arithmetic)"
#endif

namespace lic {
namespace special {

// ---- constants ---------------------------------------------------------------

// ln 2 split so that k * kLn2Hi is exact for |k| < 2^32 (kLn2Hi has 21 bits).
constexpr double kLn2Hi = 0x1.62e42p-1;
constexpr double kLn2Lo = 0x1.fdf473de6af28p-22;
constexpr double kInvLn2 = 0x1.71547652b82fep+0;
constexpr double kSqrt2 = 0x1.6a09e667f3bcdp+0;
constexpr double kSqrtHalf = 0x1.6a09e667f3bcdp-1;
// Adding and subtracting 1.5 * 2^52 rounds a |v| < 2^51 to the nearest integer
// (ties to even) in the default rounding mode, without a libm call.
constexpr double kRoundMagic = 0x1.8p52;
// exp(y) for y below this is under 2^-1021 (near the subnormal range): return 0.
constexpr double kExpUnderflow = -708.0;
// exp(y) above ln(DBL_MAX) overflows: return +inf.
constexpr double kExpOverflow = 0x1.62e42fefa39efp+9;
// erfc(x) for x above this is below 1e-306: return 0 (see kExpUnderflow).
constexpr double kErfcZero = 26.5;

constexpr double kChebG_0p5_1[14] = {
    0x1.074c4de1c1e21p-1,
    -0x1.7f1de3005c3c1p-4,
    0x1.e1a8e143d32bap-8,
    -0x1.0f126d3546595p-11,
    0x1.1721493ab0d3ep-15,
    -0x1.0acaf226b13c2p-19,
    0x1.de56ca99bb4a3p-24,
    -0x1.955a242ece359p-28,
    0x1.46b2a1d04c714p-32,
    -0x1.f74eebd45041cp-37,
    0x1.740832a7cadeap-41,
    -0x1.08c587b854375p-45,
    0x1.6be444a656d71p-50,
    -0x1.e4133e4a0210ap-55,
};
constexpr double kChebG_1_2[17] = {
    0x1.5361ac5e93132p-2,
    -0x1.5c2b3398a6184p-4,
    0x1.46141b3eb5f93p-7,
    -0x1.1b66a455fc3d1p-10,
    0x1.ce592d5eea8d0p-14,
    -0x1.64e9adacc813cp-17,
    0x1.0665602a88e46p-20,
    -0x1.71472963d64e6p-24,
    0x1.f36ee0e516f2ep-28,
    -0x1.45a677ddd7286p-31,
    0x1.9aa2dc95d3dc2p-35,
    -0x1.f5e34a85c21cfp-39,
    0x1.29e63d5f2572bp-42,
    -0x1.581ada2bf92a4p-46,
    0x1.835ff7fb1559dp-50,
    -0x1.a99a53f250615p-54,
    0x1.c8f04989af837p-58,
};
constexpr double kChebG_2_4[20] = {
    0x1.7fdb12ea2b05cp-3,
    -0x1.dab2adc8a65e5p-5,
    0x1.19a6293706e21p-7,
    -0x1.4208a58812ad3p-10,
    0x1.63fa6fee96a6fp-13,
    -0x1.7d7c61809576dp-16,
    0x1.8d437a7cbaeb5p-19,
    -0x1.92cc880862addp-22,
    0x1.8e56edca9b7c5p-25,
    -0x1.80caa9382c857p-28,
    0x1.6b8ff728f7453p-31,
    -0x1.505fe1c70ce9ap-34,
    0x1.3114901f960cap-37,
    -0x1.0f7ed65636722p-40,
    0x1.da895afe91577p-44,
    -0x1.97949a837a09dp-47,
    0x1.584be0545ee4ep-50,
    -0x1.1e3a0dbcabcdap-53,
    0x1.d4a35f8c21a63p-57,
    -0x1.7a00e9396dcf3p-60,
};
constexpr double kChebG_4_8[22] = {
    0x1.9163cf0384d34p-4,
    -0x1.0b3325bc9f077p-5,
    0x1.5ee8ac1260f35p-8,
    -0x1.c6d30736d1aa7p-11,
    0x1.230ccd30a9bf7p-13,
    -0x1.6ffa958b0bcabp-16,
    0x1.cbcabbdaf24a3p-19,
    -0x1.1c00985f348d6p-21,
    0x1.5afe62c63a10cp-24,
    -0x1.a372688d80040p-27,
    0x1.f5cb3569a145fp-30,
    -0x1.2924869722b65p-32,
    0x1.5c7abb2224666p-35,
    -0x1.94cdf8cf94e47p-38,
    0x1.d1e22b1ef4917p-41,
    -0x1.09abce79405d3p-43,
    0x1.2c552f4beab07p-46,
    -0x1.50997dcf0d006p-49,
    0x1.7614479d3ca8cp-52,
    -0x1.9c521a854cf9ap-55,
    0x1.c2d2e144f506bp-58,
    -0x1.e90cd24f3d5a5p-61,
};
constexpr double kChebH_tail[10] = {
    0x1.1fc1830b2cd56p-1,
    -0x1.1a54b232f8dfep-9,
    0x1.996aacc7f41e4p-17,
    -0x1.e7affacd610a9p-24,
    0x1.90fb3a4ad3bfbp-30,
    -0x1.a220e08188d55p-36,
    0x1.06ea4751fa4e5p-41,
    -0x1.81b04d0e8f9a7p-47,
    0x1.4248a5f8d7524p-52,
    -0x1.2d6d31ed95af4p-57,
};
constexpr double kErfTaylor[14] = {
    0x1.20dd750429b6dp+0,
    -0x1.812746b0379e7p-2,
    0x1.ce2f21a042be2p-4,
    -0x1.b82ce31288b51p-6,
    0x1.565bcd0e6a53fp-8,
    -0x1.c02db40040b86p-11,
    0x1.f9a326f9b89b7p-14,
    -0x1.f4d25c3e0c2ebp-17,
    0x1.b9e6c9dc651a3p-20,
    -0x1.5f742ec43e71ap-23,
    0x1.fcc5720624c1cp-27,
    -0x1.51d7181c5d36dp-30,
    0x1.9e6ad5e55a730p-34,
    -0x1.d8453cb0c46eap-38,
};
constexpr double kExpTaylor[14] = {
    0x1.0000000000000p+0,
    0x1.0000000000000p+0,
    0x1.0000000000000p-1,
    0x1.5555555555555p-3,
    0x1.5555555555555p-5,
    0x1.1111111111111p-7,
    0x1.6c16c16c16c17p-10,
    0x1.a01a01a01a01ap-13,
    0x1.a01a01a01a01ap-16,
    0x1.71de3a556c734p-19,
    0x1.27e4fb7789f5cp-22,
    0x1.ae64567f544e4p-26,
    0x1.1eed8eff8d898p-29,
    0x1.6124613a86d09p-33,
};

// ---- elementary functions ----------------------------------------------------

// 2^k as a double, for -1022 <= k <= 1023 (built from its bit pattern: exact).
inline double pow2i(int k) {
  const uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// exp(y). Range reduction y = k ln2 + r, |r| <= ln2/2 (Cody-Waite, two-part ln2),
// then the degree-13 Taylor polynomial of exp(r) (truncation < 2^-60 relative).
inline double exp(double y) {
  if (y != y) return y;
  if (y > kExpOverflow) return HUGE_VAL;
  if (y < kExpUnderflow) return 0.0;
  const double k = (y * kInvLn2 + kRoundMagic) - kRoundMagic;  // nearest integer
  const double r = (y - k * kLn2Hi) - k * kLn2Lo;
  double p = kExpTaylor[13];
  for (int n = 12; n >= 0; --n) p = p * r + kExpTaylor[n];
  const int ki = static_cast<int>(k);
  // k can reach 1024 just below the overflow bound: scale in two steps.
  if (ki > 1023) return p * 2.0 * pow2i(ki - 1);
  return p * pow2i(ki);
}

// 2 atanh(s) = ln((1+s)/(1-s)) for |s| <= 1/3: the odd series
// 2 (s + s^3/3 + s^5/5 + ...), 22 terms (truncation < 2^-60 relative at |s| = 1/3).
// 1/(2k+1), k = 0..21 (each a correctly rounded quotient, folded at compile time).
constexpr double kInvOdd[22] = {
    1.0,        1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13, 1.0 / 15,
    1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25, 1.0 / 27, 1.0 / 29, 1.0 / 31,
    1.0 / 33, 1.0 / 35, 1.0 / 37, 1.0 / 39, 1.0 / 41, 1.0 / 43};

inline double two_atanh(double s) {
  const double z = s * s;
  double p = kInvOdd[21];
  for (int k = 20; k >= 0; --k) p = p * z + kInvOdd[k];
  return 2.0 * s * p;
}

// ln(x) for finite x > 0 (ln 0 = -inf, NaN/negative -> NaN).
// x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)).
inline double log(double x) {
  if (!(x > 0.0)) return x == 0.0 ? -HUGE_VAL : (x - x) / (x - x);
  if (x == HUGE_VAL) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // exact: x = m 2^e, m in [0.5, 1)
  if (m < kSqrtHalf) {
    m *= 2.0;  // exact
    e -= 1;
  }
  const double f = m - 1.0;  // exact (Sterbenz)
  const double lm = two_atanh(f / (2.0 + f));
  return e * kLn2Hi + (lm + e * kLn2Lo);
}

// ln(1 + u) for 0 <= u <= 1, accurate for tiny u (no 1 + u rounding).
inline double log1p_unit(double u) { return two_atanh(u / (2.0 + u)); }

// ---- erfc --------------------------------------------------------------------

// Clenshaw summation of sum_j c[j] T_j(t), t in [-1, 1].
template <int N>
inline double chebyshev(const double (&c)[N], double t) {
  double b1 = 0.0, b2 = 0.0;
  for (int j = N - 1; j >= 1; --j) {
    const double b0 = 2.0 * t * b1 - b2 + c[j];
    b2 = b1;
    b1 = b0;
  }
  return t * b1 - b2 + c[0];
}

// exp(-x^2) for 0 <= x < kErfcZero, without the error of rounding x^2 first:
// x^2 = hi + lo exactly (Dekker's product via Veltkamp splitting, no FMA), then
// exp(-hi - lo) = exp(-hi) (1 - lo) since |lo| <= 2^-53 hi.
inline double exp_neg_square(double x) {
  const double split = 134217729.0 * x;  // 2^27 + 1
  const double xh = split - (split - x);
  const double xl = x - xh;
  const double hi = x * x;
  const double lo = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl;
  return exp(-hi) * (1.0 - lo);
}

// erfc(x) for x >= 0.
inline double erfc_nonneg(double x) {
  if (x < 0.5) {  // erfc = 1 - erf, erf(x) = x * sum a_n x^2n; erfc >= 0.479 here
    const double z = x * x;
    double p = kErfTaylor[13];
    for (int n = 12; n >= 0; --n) p = p * z + kErfTaylor[n];
    return 1.0 - x * p;
  }
  if (x >= kErfcZero) return 0.0;
  double g;  // g(x) = exp(x^2) erfc(x), smooth and slowly varying
  if (x < 1.0) {
    g = chebyshev(kChebG_0p5_1, (x - 0.75) * 4.0);
  } else if (x < 2.0) {
    g = chebyshev(kChebG_1_2, (x - 1.5) * 2.0);
  } else if (x < 4.0) {
    g = chebyshev(kChebG_2_4, (x - 3.0) * 1.0);
  } else if (x < 8.0) {
    g = chebyshev(kChebG_4_8, (x - 6.0) * 0.5);
  } else {
    g = chebyshev(kChebH_tail, 2.0 * (64.0 / (x * x)) - 1.0) / x;  // t = 64/x^2 in (0, 1]
  }
  return exp_neg_square(x) * g;
}

// ---- erfc over an array, vectorisable ------------------------------------------
//
// erfc_nonneg_sorted(x, out, n) == erfc_nonneg(x[i]) for every i, bit for bit:
// the same operations in the same order, only arranged so that the compiler can
// vectorise them (IEEE lanes round exactly like scalars). x must be
// non-decreasing and >= 0, so each formula applies to one contiguous run.
// Within a run, loops go over a block of points for each coefficient (no
// dependency chain through the loop body), which is what makes them SIMD.

constexpr int kBlock = 64;

// exp(y) for kExpUnderflow <= y <= 0 over a block, with exp()'s exact operations
// and no branches: the nearest integer k comes from the bits of y/ln2 + 1.5 2^52.
inline void exp_block_in_range(const double* y, double* out, int n) {
  double r[kBlock], p[kBlock];
  uint64_t k[kBlock];
  uint64_t magic_bits;
  std::memcpy(&magic_bits, &kRoundMagic, sizeof magic_bits);
  for (int i = 0; i < n; ++i) {
    const double t = y[i] * kInvLn2 + kRoundMagic;
    uint64_t tb;
    std::memcpy(&tb, &t, sizeof tb);
    k[i] = tb - magic_bits;  // k mod 2^64 (k < 0 wraps; the sum below unwraps it)
    const double kd = t - kRoundMagic;
    r[i] = (y[i] - kd * kLn2Hi) - kd * kLn2Lo;
    p[i] = kExpTaylor[13];
  }
  for (int j = 12; j >= 0; --j) {
    for (int i = 0; i < n; ++i) p[i] = p[i] * r[i] + kExpTaylor[j];
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t bits = (k[i] + 1023u) << 52;  // 2^k, -1021 <= k <= 0
    double scale;
    std::memcpy(&scale, &bits, sizeof scale);
    out[i] = p[i] * scale;
  }
}

// exp(y) for y <= 0 (or NaN) over an array: the bits of exp(y[i]).
inline void exp_nonpos_array(const double* y, double* out, int64_t n) {
  double yc[kBlock], e[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int m = static_cast<int>(n - b < kBlock ? n - b : kBlock);
    for (int i = 0; i < m; ++i) yc[i] = y[b + i] < kExpUnderflow ? 0.0 : y[b + i];
    exp_block_in_range(yc, e, m);
    for (int i = 0; i < m; ++i) {
      const double yi = y[b + i];
      out[b + i] = yi < kExpUnderflow ? 0.0 : (yi != yi ? yi : e[i]);
    }
  }
}

// exp(-x^2) for 0.5 <= x < kErfcZero: exp_neg_square's operations over a block.
inline void exp_neg_square_block(const double* x, double* out, int n) {
  double y[kBlock], lo[kBlock], e[kBlock];
  for (int i = 0; i < n; ++i) {
    const double split = 134217729.0 * x[i];
    const double xh = split - (split - x[i]);
    const double xl = x[i] - xh;
    const double hi = x[i] * x[i];
    lo[i] = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl;
    y[i] = -hi;
  }
  exp_block_in_range(y, e, n);
  for (int i = 0; i < n; ++i) out[i] = e[i] * (1.0 - lo[i]);
}

template <int N>
inline void chebyshev_block(const double (&c)[N], const double* t, double* out, int n) {
  double b1[kBlock], b2[kBlock];
  for (int i = 0; i < n; ++i) b1[i] = b2[i] = 0.0;
  for (int j = N - 1; j >= 1; --j) {
    for (int i = 0; i < n; ++i) {
      const double b0 = 2.0 * t[i] * b1[i] - b2[i] + c[j];
      b2[i] = b1[i];
      b1[i] = b0;
    }
  }
  for (int i = 0; i < n; ++i) out[i] = t[i] * b1[i] - b2[i] + c[0];
}

// One run of points in [lo_edge, hi_edge) of a Chebyshev interval.
template <int N>
inline void erfc_cheb_run(const double (&c)[N], double mid, double scale, const double* x,
                          double* out, int64_t n) {
  double t[kBlock], g[kBlock], e[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int m = static_cast<int>(n - b < kBlock ? n - b : kBlock);
    for (int i = 0; i < m; ++i) t[i] = (x[b + i] - mid) * scale;
    chebyshev_block(c, t, g, m);
    exp_neg_square_block(x + b, e, m);
    for (int i = 0; i < m; ++i) out[b + i] = e[i] * g[i];
  }
}

inline void erfc_tail_run(const double* x, double* out, int64_t n) {
  double t[kBlock], g[kBlock], e[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int m = static_cast<int>(n - b < kBlock ? n - b : kBlock);
    for (int i = 0; i < m; ++i) t[i] = 2.0 * (64.0 / (x[b + i] * x[b + i])) - 1.0;
    chebyshev_block(kChebH_tail, t, g, m);
    exp_neg_square_block(x + b, e, m);
    for (int i = 0; i < m; ++i) out[b + i] = e[i] * (g[i] / x[b + i]);
  }
}

inline void erfc_nonneg_sorted(const double* x, double* out, int64_t n) {
  int64_t i = 0;
  auto run_end = [&](double edge) {
    int64_t j = i;
    while (j < n && x[j] < edge) ++j;
    return j;
  };
  int64_t j = run_end(0.5);
  for (; i < j; ++i) out[i] = erfc_nonneg(x[i]);  // at most a few points
  j = run_end(1.0);
  erfc_cheb_run(kChebG_0p5_1, 0.75, 4.0, x + i, out + i, j - i);
  i = j;
  j = run_end(2.0);
  erfc_cheb_run(kChebG_1_2, 1.5, 2.0, x + i, out + i, j - i);
  i = j;
  j = run_end(4.0);
  erfc_cheb_run(kChebG_2_4, 3.0, 1.0, x + i, out + i, j - i);
  i = j;
  j = run_end(8.0);
  erfc_cheb_run(kChebG_4_8, 6.0, 0.5, x + i, out + i, j - i);
  i = j;
  j = run_end(kErfcZero);
  erfc_tail_run(x + i, out + i, j - i);
  for (i = j; i < n; ++i) out[i] = erfc_nonneg(x[i]);  // 0 (or NaN passes through)
}

// erfc(x) for any x; erfc(-x) = 2 - erfc(x). NaN in, NaN out.
inline double erfc(double x) {
  if (x != x) return x;
  return x < 0.0 ? 2.0 - erfc_nonneg(-x) : erfc_nonneg(x);
}

// The x >= 0 with erfc(x) = q, for 1e-300 <= q <= 1, by bisection on the bits
// of x over [0, kErfcZero]: erfc is decreasing, so this is deterministic and
// needs no derivative. Returns the smallest double of the final bracket whose
// erfc is <= q.
inline double erfc_inverse(double q) {
  double lo = 0.0, hi = kErfcZero;  // erfc(lo) >= q > erfc(hi) = 0
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;  // adjacent doubles: done
    if (erfc(mid) > q) lo = mid; else hi = mid;
  }
  return hi;
}

}  // namespace special
}  // namespace lic

#endif  // LIC_SPECIAL_H
