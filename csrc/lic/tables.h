// tables.h - CDF table construction: pmf quantisation, parametric (Gaussian,
// Laplace, logistic) table sets, the log-spaced scale table and the
// scale -> table index rule. Plain C ABI; no Python, no libm transcendentals.
//
// A table set is what the coders consume (CompressAI's layout):
//   cdfs        int32 [n, stride]  row t: cdf_t[0] = 0 < ... < cdf_t[L_t-1] = 2^p,
//                                  left-aligned, zero-padded to `stride`
//   cdf_lengths int32 [n]          L_t = (symbols incl. the tail/escape slot) + 1
//   offsets     int32 [n]          the value coded by slot 0
//
// Two quantisers turn a pmf into frequencies that sum to 2^p, each >= 1:
//   LIC_QUANTIZER_GREEDY     minimises the expected code length
//                            -sum_i m_i log2(f_i / 2^p) (m = pmf / sum pmf)
//                            exactly, by greedy unit moves (see tables.cpp).
//   LIC_QUANTIZER_COMPRESSAI CompressAI 1.2.8's pmf_to_quantized_cdf, bit for bit
//                            (float32 input, round, rescale, steal for zeros).
//
// Parametric families share one layout. For a scale s, a tail mass tau and the
// standard two-sided tail function T (T(x) = P(|X| > x) for scale 1):
//   multiplier m = T^-1(tau)        (Gaussian: -Phi^-1(tau/2))
//   c = ceil(float32(s * float32(m))), offset = -c, 2c+1 symbols + 1 tail slot,
//   L = 2c + 3.
// c is computed in float32 exactly as CompressAI does, so both quantisers give
// the same layout (lengths/offsets) for the same scale.
//
// Every function validates its arguments (also in release builds) and returns
// a lic_status. `err`, when not NULL, receives a NUL-terminated message of at
// most LIC_TABLES_ERR_CAP bytes saying what was wrong.
#ifndef LIC_TABLES_H
#define LIC_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "lic/lic.h"  /* LIC_MAX_PRECISION, LIC_DEFAULT_PRECISION */
#include "lic/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LIC_TABLES_ERR_CAP 256
// The coders' bound (lic.h), under the name this header has always had:
// tables of a higher precision could be built but not coded.
#define LIC_TABLES_MAX_PRECISION LIC_MAX_PRECISION

typedef enum lic_quantizer {
  LIC_QUANTIZER_GREEDY = 0,
  LIC_QUANTIZER_COMPRESSAI = 1
} lic_quantizer;

typedef enum lic_family {
  LIC_FAMILY_GAUSSIAN = 0,  // Phi(x / s)
  LIC_FAMILY_LAPLACE = 1,   // density exp(-|x|/s) / (2s)
  LIC_FAMILY_LOGISTIC = 2   // sigmoid(x / s)
} lic_family;

// Quantise one pmf of n >= 1 entries (n <= 2^precision) into cdf[0..n]
// (cdf[0] = 0, cdf[n] = 2^precision, strictly increasing).
// Entries must be finite and >= 0, not all zero.
int lic_pmf_to_quantized_cdf(const double* pmf, int64_t n, int precision, int quantizer,
                             int32_t* cdf, char* err);

// Batch: row r of `pmfs` (row stride `pmf_stride` doubles) holds lengths[r]
// entries (the tail slot last). Row r of `cdfs` (stride `cdf_stride` int32)
// receives lengths[r] + 1 CDF entries followed by zeros; cdf_lengths[r] =
// lengths[r] + 1. Needs cdf_stride >= max(lengths) + 1 and
// pmf_stride >= max(lengths).
int lic_pmfs_to_cdfs(const double* pmfs, int64_t rows, int64_t pmf_stride,
                     const int32_t* lengths, int precision, int quantizer, int32_t* cdfs,
                     int64_t cdf_stride, int32_t* cdf_lengths, char* err);

// Layout only: cdf_lengths[t] and offsets[t] for each of the n scales
// (finite, > 0). Use it to size `cdfs` before lic_parametric_tables.
int lic_parametric_layout(int family, const float* scales, int64_t n, int precision,
                          double tail_mass, int32_t* cdf_lengths, int32_t* offsets,
                          char* err);

// The full table set for n scales. cdf_stride must be >= max(cdf_lengths)
// (from lic_parametric_layout). LIC_QUANTIZER_COMPRESSAI is defined for the
// Gaussian family only (it reproduces GaussianConditional.update()).
int lic_parametric_tables(int family, const float* scales, int64_t n, int precision,
                          double tail_mass, int quantizer, int32_t* cdfs,
                          int64_t cdf_stride, int32_t* cdf_lengths, int32_t* offsets,
                          char* err);

// levels log-spaced float32 scales from min to max (0 < min < max, finite,
// 2 <= levels <= 65536): x_i = float32 linspace(float32(ln min), float32(ln max))
// (computed as torch.linspace does), out[i] = float32(exp(x_i)). The default
// (0.11, 256, 64) equals CompressAI's get_scale_table() bit for bit.
int lic_scale_table(double min, double max, int levels, float* out, char* err);

// Table index of each scale, in float32: s' = max(s, table[0]); index = the
// first t with table[t] >= s', or levels - 1 if none (CompressAI's
// build_indexes). The table must be finite, > 0 and strictly increasing.
// A NaN scale is an error (LIC_ERR_INVALID_ARGUMENT naming its position).
int lic_scale_indexes(const float* scales, int64_t n, const float* table, int64_t levels,
                      int32_t* out, char* err);

// The multiplier m = T^-1(tail_mass) of a family (tail_mass in [1e-300, 1)),
// computed with the deterministic functions of special.h.
int lic_tail_multiplier(int family, double tail_mass, double* out, char* err);

// Test hook: out[i] = f(x[i]) for the deterministic functions the builder
// uses (special.h): 0 exp, 1 log, 2 erfc, 3 ln(1 + x) for 0 <= x <= 1,
// 4 erfc over a non-decreasing x >= 0 (the vectorised path), 5 erfc^-1,
// 6 exp over x <= 0 (the vectorised path).
int lic_special_eval(int function, const double* x, int64_t n, double* out, char* err);

#ifdef __cplusplus
}
#endif
#endif  // LIC_TABLES_H
