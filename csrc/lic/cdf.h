// cdf.h - one CDF table row, for both stream formats: the one validator, the one
// decode-bucket builder and the one slot search.
//
// A row is CompressAI's layout (lic.h, "Tables"): cdf[0 .. L) with L = cdf_length,
// cdf[0] = 0, strictly increasing (every slot has frequency >= 1), cdf[L - 1] =
// 2^precision; slots 0 .. L - 2, the last of them the escape slot. The native
// coder's lic::TableSet (coder.h) and the CompressAI-format coder's
// lic::compat::TableSet (compat.h) hold tables differently (docs/architecture.md,
// "Two table sets"), but they check a row with these functions, build its decode
// buckets with them and find a slot with them, so the rules and the messages are
// the same in both.
#ifndef LIC_CDF_H
#define LIC_CDF_H

#include <cstddef>
#include <cstdint>

#include "lic/error.h"
#include "lic/rans64.h"

namespace lic {
namespace cdf {

// ---- validation (on untrusted input: always compiled in) -------------------------

// Table t's cdf_length against the width of its row: 2 <= length <= width.
// LIC_ERR_INVALID_TABLE naming cdf_lengths[t] otherwise.
lic_status check_length(size_t t, int64_t length, size_t width, ErrorInfo* err) noexcept;

// Table t's row (after check_length): row[0] = 0, strictly increasing, row[length - 1] =
// 2^precision (precision 1..rans::kMaxPrecision). LIC_ERR_INVALID_TABLE naming the
// first bad entry, cdfs[t][k], otherwise.
lic_status check_row(size_t t, const int32_t* row, int64_t length, unsigned precision, ErrorInfo* err) noexcept;

// ---- decode buckets --------------------------------------------------------------
//
// The decoder's hot step is finding the slot s with cdf[s] <= c < cdf[s + 1] for the
// cumulative value c = x mod 2^precision. Buckets cut [0, 2^precision) into 2^bits
// equal ranges: bucket[j] = the slot holding j << shift (shift = precision - bits),
// and bucket[2^bits] = the last slot, a sentinel. The slot of c then lies in
// [bucket[c >> shift], bucket[(c >> shift) + 1]]. Each table set picks its own bits
// (the native one about 4 buckets a slot, bound once; the CompressAI-format one 2^8
// a table, built per call); entries are slot numbers, below 2^16.

// Fills bucket[0 .. 2^bits] for a validated row cdf[0 .. n_slots] (n_slots = length - 1
// >= 1), bits <= precision <= rans::kMaxPrecision.
void fill_buckets(const uint32_t* cdf, uint32_t n_slots, unsigned precision, unsigned bits,
                  uint16_t* bucket) noexcept;

// The forward scan from a bucket's first slot is almost always 0 or 1 steps; after
// kLinearSpan steps it switches to a binary search up to the next bucket's slot, so a
// hostile table (a bucket of thousands of frequency-1 slots) cannot make it slow.
// The next bucket's slot is loaded only then: loading it on every symbol (to choose
// scan or search up front) cost the native decoder ~5 % (docs/stream-format.md §6).
constexpr uint32_t kLinearSpan = 8;

// Largest slot s in [lo, hi] with cdf[s] <= c, given cdf[lo] <= c (binary search;
// kept out of line: the scan rarely needs it).
uint32_t search_slot(const uint32_t* cdf, uint32_t lo, uint32_t hi, uint32_t c) noexcept;

// The slot of c < 2^precision in a validated row, from its bucket b = &bucket[c >> shift]:
// it lies in [b[0], b[1]]. The scan cannot leave the row: cdf[n_slots] = 2^precision > c.
LIC_INLINE uint32_t find_slot(const uint32_t* cdf, const uint16_t* b, uint32_t c) {
  uint32_t s = b[0];
  for (uint32_t steps = 0; cdf[s + 1] <= c; ++steps) {
    ++s;
    if (LIC_UNLIKELY(steps == kLinearSpan)) return search_slot(cdf, s, b[1], c);
  }
  return s;
}

}  // namespace cdf
}  // namespace lic

#endif  // LIC_CDF_H
