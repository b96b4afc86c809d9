// cdf.cpp - one CDF table row: validation and decode buckets (see cdf.h).
#include "lic/cdf.h"

namespace lic {
namespace cdf {

// Bucket entries are slot numbers, < 2^p slots per table, kept in 16 bits.
static_assert((uint64_t{1} << rans::kMaxPrecision) - 1 <= UINT16_MAX, "bucket entries are uint16_t");

lic_status check_length(size_t t, int64_t length, size_t width, ErrorInfo* err) noexcept {
  if (length >= 2 && static_cast<uint64_t>(length) <= width) return LIC_OK;
  const long long L = static_cast<long long>(length);
  if (width < 2)
    return set_error(err, LIC_ERR_INVALID_TABLE,
                     "cdfs[%zu] has %zu entries, but a cdf has at least 2 (one slot and the escape slot)", t, width);
  if (length < 2)
    return set_error(err, LIC_ERR_INVALID_TABLE,
                     "cdf_lengths[%zu] = %lld is outside 2..%zu: a cdf has at least 2 entries (one slot and the "
                     "escape slot)", t, L, width);
  return set_error(err, LIC_ERR_INVALID_TABLE,
                   "cdf_lengths[%zu] = %lld is outside 2..%zu: it exceeds the length of its cdf row", t, L, width);
}

lic_status check_row(size_t t, const int32_t* row, int64_t length, unsigned precision, ErrorInfo* err) noexcept {
  if (row[0] != 0)
    return set_error(err, LIC_ERR_INVALID_TABLE, "cdfs[%zu][0] = %d but a cdf must start at 0", t, row[0]);
  for (int64_t k = 1; k < length; ++k) {
    if (row[k] <= row[k - 1])
      return set_error(err, LIC_ERR_INVALID_TABLE,
                       "cdfs[%zu][%lld] = %d is not above cdfs[%zu][%lld] = %d: a cdf is strictly increasing "
                       "(every slot needs frequency >= 1)",
                       t, static_cast<long long>(k), row[k], t, static_cast<long long>(k - 1), row[k - 1]);
  }
  const int64_t total = int64_t{1} << precision;
  if (row[length - 1] != total)
    return set_error(err, LIC_ERR_INVALID_TABLE, "cdfs[%zu][%lld] = %d but the last entry must be 2^precision = %lld",
                     t, static_cast<long long>(length - 1), row[length - 1], static_cast<long long>(total));
  return LIC_OK;
}

void fill_buckets(const uint32_t* cdf, uint32_t n_slots, unsigned precision, unsigned bits,
                  uint16_t* bucket) noexcept {
  const unsigned shift = precision - bits;
  const uint32_t n_buckets = uint32_t{1} << bits;
  uint32_t s = 0;
  for (uint32_t j = 0; j < n_buckets; ++j) {
    const uint32_t c = j << shift;
    while (cdf[s + 1] <= c) ++s;  // stops at the last slot: cdf[n_slots] = 2^precision > c
    bucket[j] = static_cast<uint16_t>(s);
  }
  bucket[n_buckets] = static_cast<uint16_t>(n_slots - 1);
}

uint32_t search_slot(const uint32_t* cdf, uint32_t lo, uint32_t hi, uint32_t c) noexcept {
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo + 1) / 2;
    if (cdf[mid] <= c) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace cdf
}  // namespace lic
