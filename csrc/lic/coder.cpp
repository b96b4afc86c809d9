// coder.cpp - the native lic stream format (spec: docs/stream-format.md).
//
// Read top to bottom: error helpers, byte order, the table set (validation and
// the precomputed encoder/decoder records), the escape (bypass) code, the
// interleaved encoder, the checked decoder.
//
// Every arithmetic step is a call into rans64.h (state x in [2^31, 2^63), one
// 32-bit word per renormalisation, precision p <= kMaxPrecision, M = 2^p):
// encoder, per item (start, freq):  enc_put_slot (slots), enc_put_bits (escape bits)
//                                   x' = floor(x/freq) * M + (x mod freq) + start
// decoder:  c = dec_get(x); slot s with cdf[s] <= c < cdf[s+1]; dec_advance
//           x' = freq * floor(x/M) + c - start; then dec_renorm takes a word if x' < 2^31
// This file decides which items are coded, on which lane, and where words go.
#include "lic/coder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

#include "lic/cdf.h"
#include "lic/rans64.h"

// LIC_LIKELY, LIC_UNLIKELY and LIC_INLINE come from rans64.h.
#if defined(__GNUC__) || defined(__clang__)
#define LIC_NOINLINE __attribute__((noinline, cold))  // rare paths: escapes, errors
#define LIC_SEPARATE __attribute__((noinline))        // hot, but kept apart (see encode_blocks)
#else
#define LIC_NOINLINE
#define LIC_SEPARATE
#endif

namespace lic {

using rans::kLow;
using rans::kMaxPrecision;
using rans::State;
using rans::ceil_log2;
using rans::load_le32;
using rans::load_le64;
using rans::store_le32;

namespace {

// ---- byte order: words are little-endian on every host (rans64.h) ------------

// Picks the memcpy path for writing words out; the bytes are the same either way.
inline bool host_is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// ---- table set ---------------------------------------------------------------

// Each slot's encoder record is rans::make_enc_slot (the divider of rans64.h).
//
// Decode buckets (cdf.h, shared with the CompressAI-format coder): about 4 buckets
// per slot, since a bound table set decodes many symbols, keeps most searches at
// zero or one step; cdf::find_slot's binary search keeps the worst case O(log n).
constexpr unsigned kBucketExtraBits = 2;

}  // namespace

lic_status TableSet::create(const int32_t* cdfs, size_t n_tables, size_t max_len, const int32_t* cdf_lengths,
                            const int32_t* offsets, unsigned precision, std::shared_ptr<const TableSet>* out,
                            ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "output pointer is NULL");
  if (precision < 1 || precision > kMaxPrecision)
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "precision %u is outside 1..%u", precision, kMaxPrecision);
  if (n_tables == 0) return set_error(err, LIC_ERR_INVALID_TABLE, "the table set is empty (0 tables)");
  if (n_tables > (1u << 24))
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "%zu tables exceed the limit of 2^24", n_tables);
  if (max_len < 2) return set_error(err, LIC_ERR_INVALID_TABLE, "cdf rows have %zu entries; at least 2 are needed", max_len);
  if (max_len > (size_t{1} << kMaxPrecision) + 1)
    return set_error(err, LIC_ERR_INVALID_TABLE, "cdf rows have %zu entries; at most 2^%u + 1 can be strictly increasing",
                     max_len, kMaxPrecision);
  if (!cdfs) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "cdfs is NULL");
  const int64_t M = int64_t{1} << precision;
  try {
    std::shared_ptr<TableSet> ts(new TableSet());
    ts->precision_ = precision;
    ts->max_len_ = max_len;
    ts->desc_.resize(n_tables);
    size_t total_cdf = 0, total_bucket = 0;
    // Pass 1: validate every table and size the arenas.
    for (size_t t = 0; t < n_tables; ++t) {
      const int64_t L = cdf_lengths ? cdf_lengths[t] : static_cast<int64_t>(max_len);
      lic_status st = cdf::check_length(t, L, max_len, err);
      if (st != LIC_OK) return st;
      st = cdf::check_row(t, cdfs + t * max_len, L, precision, err);
      if (st != LIC_OK) return st;
      const int64_t off = offsets ? offsets[t] : 0;
      const int64_t E = L - 2;
      if (E >= 1 && off + E - 1 > INT32_MAX)
        return set_error(err, LIC_ERR_INVALID_TABLE, "offsets[%zu] = %lld puts table values past INT32_MAX", t,
                         static_cast<long long>(off));
      const unsigned bits = std::min<unsigned>(precision, ceil_log2(static_cast<uint64_t>(L - 1)) + kBucketExtraBits);
      TableDesc& d = ts->desc_[t];
      d.cdf_base = static_cast<uint32_t>(total_cdf);
      d.bucket_base = static_cast<uint32_t>(total_bucket);
      d.offset = static_cast<int32_t>(off);
      d.escape = static_cast<uint32_t>(E);
      d.bucket_shift = precision - bits;
      d.n_slots = static_cast<uint32_t>(L - 1);
      total_cdf += static_cast<size_t>(L);
      total_bucket += (size_t{1} << bits) + 1;
      if (total_cdf > UINT32_MAX / 2 || total_bucket > UINT32_MAX / 2)
        return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "the table set is too large (over 2^31 entries)");
    }
    ts->cdf_.resize(total_cdf);
    ts->enc_.resize(total_cdf);
    ts->bucket_.resize(total_bucket);
    // Pass 2: precompute. f_max_multi is the largest freq of tables with >= 2 slots.
    int64_t f_max_multi = 0;
    for (size_t t = 0; t < n_tables; ++t) {
      const TableDesc& d = ts->desc_[t];
      const int32_t* row = cdfs + t * max_len;
      const uint32_t S = d.n_slots;
      uint32_t* cdf = &ts->cdf_[d.cdf_base];
      EncSlot* enc = &ts->enc_[d.cdf_base];
      for (uint32_t s = 0; s <= S; ++s) cdf[s] = static_cast<uint32_t>(row[s]);
      for (uint32_t s = 0; s < S; ++s) {
        const uint32_t f = cdf[s + 1] - cdf[s];
        enc[s] = rans::make_enc_slot(cdf[s], f, precision);
        if (S >= 2) f_max_multi = std::max<int64_t>(f_max_multi, f);
      }
      enc[S] = EncSlot{0, 0, 0, 0};  // unused: keeps the arenas index-aligned
      cdf::fill_buckets(cdf, S, precision, precision - d.bucket_shift, &ts->bucket_[d.bucket_base]);
    }
    // Each decoded symbol consumes decoder state: a slot of freq f < M shrinks x
    // to at most x - floor(x/M) * (M - f) <= x * (1 - g/M + g/2^31) with
    // g = M - f; an escape consumes at least its 6-bit length field. So a
    // symbol costs at least min(6, -log2(1 - g/M + g/2^31)) bits, g = M - f_max.
    double bits = 6.0;
    if (f_max_multi > 0) {
      const double g = static_cast<double>(M - f_max_multi);
      const double shrink = -std::log1p(-g / static_cast<double>(M) + g / static_cast<double>(kLow)) / std::log(2.0);
      bits = std::min(bits, shrink);
    }
    ts->min_bits_per_symbol_ = bits * (1.0 - 1e-6);  // margin for floating-point rounding
    *out = std::move(ts);
    return LIC_OK;
  } catch (const std::bad_alloc&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory while building the table set");
  }
}

// ---- stream header -----------------------------------------------------------

namespace {

void put_varint(std::vector<uint8_t>* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

constexpr size_t kMaxVarintBytes = 7;  // 7 * 7 = 49 bits >= log2(kMaxSymbols)

bool is_valid_lanes(unsigned k) { return k == 1 || k == 2 || k == 4 || k == 8; }

}  // namespace

lic_status read_stream_info(const uint8_t* data, size_t size, StreamInfo* info, ErrorInfo* err) noexcept {
  if (!info) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "info pointer is NULL");
  if (!data && size) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "stream pointer is NULL");
  if (size < kFixedHeaderBytes + 1)
    return set_error(err, LIC_ERR_TRUNCATED_STREAM, "stream is %zu bytes, shorter than the smallest header (5 bytes)",
                     size);
  if (data[0] != kStreamMagic)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "not a native lic stream: first byte is 0x%02X, expected 0x%02X",
                     data[0], kStreamMagic);
  if (data[1] != kStreamVersion)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "stream format version %u is not supported (this build reads %u)",
                     data[1], kStreamVersion);
  if (!is_valid_lanes(data[2]))
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "stream declares %u lanes; supported are 1, 2, 4, 8", data[2]);
  if (data[3] < 1 || data[3] > kMaxPrecision)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "stream declares precision %u; supported is 1..%u", data[3],
                     kMaxPrecision);
  uint64_t n = 0;
  size_t pos = kFixedHeaderBytes;
  for (size_t k = 0;; ++k) {
    if (k == kMaxVarintBytes)
      return set_error(err, LIC_ERR_CORRUPT_STREAM, "symbol count field is longer than %zu bytes", kMaxVarintBytes);
    if (pos >= size) return set_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ends inside its symbol count field");
    const uint8_t byte = data[pos++];
    n |= static_cast<uint64_t>(byte & 0x7F) << (7 * k);
    if (!(byte & 0x80)) {
      if (k > 0 && byte == 0)
        return set_error(err, LIC_ERR_CORRUPT_STREAM, "symbol count field is not minimally encoded");
      break;
    }
  }
  if (n > kMaxSymbols)
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "stream claims %llu symbols; the limit is 2^48",
                     static_cast<unsigned long long>(n));
  const unsigned lanes = data[2];
  if (size - pos < 8ull * lanes)
    return set_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ends inside its %u lane states", lanes);
  for (unsigned k = 0; k < lanes; ++k) {
    const uint64_t x = load_le64(data + pos + 8 * k);
    if (!rans::in_interval(x))
      return set_error(err, LIC_ERR_CORRUPT_STREAM, "lane %u state 0x%016llx is outside [2^31, 2^63)", k,
                       static_cast<unsigned long long>(x));
  }
  pos += 8ull * lanes;
  if ((size - pos) % 4 != 0)
    return set_error(err, LIC_ERR_CORRUPT_STREAM,
                     "payload is %zu bytes, not a whole number of 32-bit words (truncated or padded stream)",
                     size - pos);
  info->version = data[1];
  info->lanes = lanes;
  info->precision = data[3];
  info->n_symbols = n;
  info->header_bytes = pos;
  info->n_words = (size - pos) / 4;
  return LIC_OK;
}

// ---- escape (bypass) code ----------------------------------------------------
//
// A value v = symbol - offset outside [0, E) codes slot E, then (decode order):
//   n      6 raw bits, 0..32
//   low    min(n, 16) raw bits   \  the n bits of w + 1 below its leading one,
//   high   n - 16 raw bits if n > 16 /  low chunk first
// with the sign fold w = 2(v - E) for v >= E and w = -2v - 1 for v < 0, and
// n = floor(log2(w + 1)). int32 symbols and offsets give |v| < 2^32, so w + 1 < 2^33.
// A raw chunk of b bits is an item of freq 1 at precision b: x' = x * 2^b + bits
// (rans::enc_put_bits / rans::dec_get_bits).

namespace {

constexpr unsigned kEscapeLenBits = 6;
constexpr unsigned kEscapeMaxLen = 32;
constexpr unsigned kEscapeChunkBits = 16;  // n <= 32 raw bits go as at most two chunks
static_assert(kEscapeChunkBits <= rans::kMaxItemBits && kEscapeLenBits <= rans::kMaxItemBits,
              "a raw chunk is one rANS item");
static_assert(2 * kEscapeChunkBits >= kEscapeMaxLen, "two chunks hold the longest escape");

struct EncCursor {  // the state of one lane and the shared write pointer
  State x;
  uint32_t* ptr;
};

LIC_INLINE EncCursor put_raw(EncCursor c, uint32_t bits, unsigned nbits) {
  rans::enc_put_bits(&c.x, &c.ptr, bits, nbits);
  return c;
}

// Growable word buffer written backwards (newest word at the lowest address).
struct WordBuffer {
  std::unique_ptr<uint32_t[]> data;
  size_t cap = 0;
  void reset(size_t want) {
    if (cap < want) {
      data.reset(new uint32_t[want]);
      cap = want;
    }
  }
  uint32_t* end() { return data.get() + cap; }
  // Ensures at least `room` free words below ptr; returns the relocated ptr.
  uint32_t* ensure(uint32_t* ptr, size_t room) {
    const size_t free_words = static_cast<size_t>(ptr - data.get());
    if (free_words >= room) return ptr;
    const size_t used = cap - free_words;
    const size_t new_cap = std::max(2 * cap, used + room + 64);
    std::unique_ptr<uint32_t[]> bigger(new uint32_t[new_cap]);
    std::memcpy(bigger.get() + new_cap - used, ptr, used * sizeof(uint32_t));
    data = std::move(bigger);
    cap = new_cap;
    return data.get() + new_cap - used;
  }
};

// Pushes the bypass part of an escape (everything after slot E in decode order).
// `remaining` symbols (this one included) are still to be encoded, each needing at
// most one word, so the buffer keeps that many plus this escape's 3 free words.
LIC_NOINLINE EncCursor put_escape(EncCursor c, int64_t v, uint32_t escape, WordBuffer* wb, size_t remaining) {
  c.ptr = wb->ensure(c.ptr, remaining + 3 + 2);
  const uint64_t w = v < 0 ? static_cast<uint64_t>(-2 * v - 1) : static_cast<uint64_t>(2 * (v - escape));
  const uint64_t w1 = w + 1;
  unsigned n = 0;
  while ((w1 >> (n + 1)) != 0) ++n;  // n = floor(log2(w1)) <= 32
  const uint64_t payload = w1 - (uint64_t{1} << n);
  constexpr uint64_t kChunkMask = (uint64_t{1} << kEscapeChunkBits) - 1;
  if (n > kEscapeChunkBits)
    c = put_raw(c, static_cast<uint32_t>(payload >> kEscapeChunkBits), n - kEscapeChunkBits);
  if (n > 0) c = put_raw(c, static_cast<uint32_t>(payload & kChunkMask), std::min(n, kEscapeChunkBits));
  c = put_raw(c, n, kEscapeLenBits);
  return c;
}

// Encoder step for one in-table slot (the divider's put).
LIC_INLINE EncCursor put_slot(EncCursor c, const EncSlot& e, unsigned precision) {
  rans::enc_put_slot(&c.x, &c.ptr, e, precision);
  return c;
}

// ---- encoder ---------------------------------------------------------------

struct EncodeArgs {
  const TableSet* ts;
  const int32_t* symbols;
  const int32_t* indexes;
  size_t n;
};

LIC_NOINLINE lic_status report_bad_index(const EncodeArgs& a, ErrorInfo* err) {
  // Report the first offending position (the encoder runs backwards).
  for (size_t i = 0; i < a.n; ++i) {
    if (static_cast<uint32_t>(a.indexes[i]) >= a.ts->n_tables())
      return set_error(err, LIC_ERR_INDEX_OUT_OF_RANGE, "indexes[%zu] = %d but the table set has %zu tables", i,
                       a.indexes[i], a.ts->n_tables());
  }
  return set_error(err, LIC_ERR_INDEX_OUT_OF_RANGE, "an index is out of range");
}

// One symbol on one lane: returns false on an out-of-range index.
LIC_INLINE bool encode_one(EncCursor& c, size_t i, const EncodeArgs& a, const TableDesc* desc, const EncSlot* enc,
                           uint32_t n_tables, unsigned precision, WordBuffer* wb) {
  const uint32_t t = static_cast<uint32_t>(a.indexes[i]);
  if (LIC_UNLIKELY(t >= n_tables)) return false;
  const TableDesc& d = desc[t];
  const int64_t v = static_cast<int64_t>(a.symbols[i]) - d.offset;
  uint32_t slot = static_cast<uint32_t>(v);
  if (LIC_UNLIKELY(static_cast<uint64_t>(v) >= d.escape)) {
    c = put_escape(c, v, d.escape, wb, i + 1);
    slot = d.escape;
  }
  c = put_slot(c, enc[d.cdf_base + slot], precision);
  return true;
}

// Whole blocks of K symbols, blocks [0, n_blocks) from the last to the first
// and lanes in reverse, so the decoder reads words in lane order. The lanes are
// unrolled by a fold over constant indices (see decode_blocks).
template <unsigned K, size_t... I>
LIC_SEPARATE bool encode_blocks(State* states, uint32_t** ptr_io, size_t n_blocks, const EncodeArgs& a_in,
                                WordBuffer* wb, std::index_sequence<I...>) {
  const EncodeArgs a = a_in;
  const TableDesc* desc = a.ts->desc();
  const EncSlot* enc = a.ts->enc();
  const uint32_t n_tables = static_cast<uint32_t>(a.ts->n_tables());
  const unsigned p = a.ts->precision();
  State x[K] = {states[I]...};
  uint32_t* ptr = *ptr_io;
  bool ok = true;
  for (size_t b = n_blocks; b-- > 0 && ok;) {
    const size_t base = b * K;
    ((ok = ok && [&](State& xk, size_t i) {
       EncCursor c{xk, ptr};
       const bool fine = encode_one(c, i, a, desc, enc, n_tables, p, wb);
       xk = c.x;
       ptr = c.ptr;
       return fine;
     }(x[K - 1 - I], base + (K - 1 - I))),
     ...);
  }
  ((states[I] = x[I]), ...);
  *ptr_io = ptr;
  return ok;
}

// Encodes all symbols on K lanes (symbol i on lane i mod K), backwards.
// On success the words are wb[cap - *n_words, cap) and states[0..K) the final states.
template <unsigned K>
lic_status encode_lanes(const EncodeArgs& a, WordBuffer* wb, size_t* n_words, State* states, ErrorInfo* err) {
  wb->reset(a.n + 8);  // one word per symbol at most; escapes grow the buffer
  for (unsigned k = 0; k < K; ++k) rans::enc_init(&states[k]);
  uint32_t* ptr = wb->end();
  // The last, partial block first: symbols on lanes 0 .. (n mod K) - 1.
  for (size_t i = a.n; i % K != 0;) {
    --i;
    EncCursor c{states[i % K], ptr};
    if (!encode_one(c, i, a, a.ts->desc(), a.ts->enc(), static_cast<uint32_t>(a.ts->n_tables()),
                    a.ts->precision(), wb))
      return report_bad_index(a, err);
    states[i % K] = c.x;
    ptr = c.ptr;
  }
  if (!encode_blocks<K>(states, &ptr, a.n / K, a, wb, std::make_index_sequence<K>{})) return report_bad_index(a, err);
  *n_words = static_cast<size_t>(wb->end() - ptr);
  return LIC_OK;
}

lic_status encode_with_lanes(unsigned lanes, const EncodeArgs& a, WordBuffer* wb, size_t* n_words, State* states,
                             ErrorInfo* err) {
  switch (lanes) {
    case 1: return encode_lanes<1>(a, wb, n_words, states, err);
    case 2: return encode_lanes<2>(a, wb, n_words, states, err);
    case 4: return encode_lanes<4>(a, wb, n_words, states, err);
    default: return encode_lanes<8>(a, wb, n_words, states, err);
  }
}

}  // namespace

// Each lane costs up to 8 bytes of final state (about 6 above the ideal on
// average), so small streams use fewer lanes: the extra states stay under
// 0.1% of the payload (56 bytes of 64 KiB, 24 of 32 KiB, 8 of 16 KiB).
unsigned lanes_for_payload(size_t payload_words_8_lanes) {
  const size_t bytes = 4 * payload_words_8_lanes;
  if (bytes >= (64u << 10)) return 8;
  if (bytes >= (32u << 10)) return 4;
  if (bytes >= (16u << 10)) return 2;
  return 1;
}

void EncodedStream::write(uint8_t* dst) const {
  std::memcpy(dst, header_.data(), header_.size());
  uint8_t* out = dst + header_.size();
  const uint32_t* words = buf_.get() + cap_ - n_words_;
  if (host_is_little_endian()) {
    if (n_words_) std::memcpy(out, words, 4 * n_words_);
  } else {
    for (size_t k = 0; k < n_words_; ++k) store_le32(out + 4 * k, words[k]);
  }
}

lic_status encode_into(const TableSet& tables, const int32_t* symbols, const int32_t* indexes, size_t n,
                       EncodedStream* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "output pointer is NULL");
  if (n && (!symbols || !indexes)) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "symbols or indexes is NULL");
  if (n > kMaxSymbols)
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "%zu symbols exceed the per-stream limit of 2^48", n);
  try {
    const EncodeArgs a{&tables, symbols, indexes, n};
    WordBuffer wb;
    wb.data.reset(out->buf_.release());  // reuse the previous buffer, if any
    wb.cap = wb.data ? out->cap_ : 0;
    State states[kMaxLanes];
    size_t n_words = 0;
    lic_status s = encode_with_lanes(8, a, &wb, &n_words, states, err);
    if (s != LIC_OK) return s;
    const unsigned lanes = lanes_for_payload(n_words);
    if (lanes != 8) {
      s = encode_with_lanes(lanes, a, &wb, &n_words, states, err);
      if (s != LIC_OK) return s;
    }
    out->header_.clear();
    out->header_.push_back(kStreamMagic);
    out->header_.push_back(kStreamVersion);
    out->header_.push_back(static_cast<uint8_t>(lanes));
    out->header_.push_back(static_cast<uint8_t>(tables.precision()));
    put_varint(&out->header_, n);
    for (unsigned k = 0; k < lanes; ++k) {
      uint8_t b[8];
      rans::store_le64(b, states[k]);
      out->header_.insert(out->header_.end(), b, b + 8);
    }
    out->buf_ = std::move(wb.data);
    out->cap_ = wb.cap;
    out->n_words_ = n_words;
    out->lanes_ = lanes;
    return LIC_OK;
  } catch (const std::bad_alloc&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory while encoding %zu symbols", n);
  }
}

lic_status Encoder::push(const int32_t* symbols, const int32_t* indexes, size_t n, ErrorInfo* err) noexcept {
  if (n == 0) return LIC_OK;
  if (!symbols || !indexes) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "symbols or indexes is NULL");
  if (n > kMaxSymbols - symbols_.size())
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "more than 2^48 symbols staged in one stream");
  const uint32_t n_tables = static_cast<uint32_t>(tables_->n_tables());
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(static_cast<uint32_t>(indexes[i]) >= n_tables);
  if (bad) {
    const EncodeArgs a{tables_.get(), symbols, indexes, n};
    return report_bad_index(a, err);
  }
  try {
    symbols_.insert(symbols_.end(), symbols, symbols + n);
    indexes_.insert(indexes_.end(), indexes, indexes + n);
  } catch (const std::bad_alloc&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory while staging %zu symbols", n);
  }
  return LIC_OK;
}

lic_status Encoder::flush(EncodedStream* out, ErrorInfo* err) noexcept {
  const lic_status s = encode_into(*tables_, symbols_.data(), indexes_.data(), symbols_.size(), out, err);
  symbols_.clear();
  indexes_.clear();
  return s;
}

// ---- decoder -----------------------------------------------------------------

namespace {

struct DecCursor {  // one lane's state and the shared read position
  State x;
  size_t pos;
};

struct DecodeCtx {
  const TableDesc* desc;
  const uint32_t* cdf;
  const uint16_t* bucket;
  const uint8_t* words;
  size_t n_words;
  uint32_t n_tables;
  unsigned precision;
};

enum StepResult : int { kStepOk = 0, kStepBadIndex, kStepTruncated, kStepBadEscape };

// Refill after an item: x' < 2^31 takes the next word; false if none is left.
LIC_INLINE bool refill(DecCursor& c, const DecodeCtx& ctx) {
  return rans::dec_renorm(&c.x, ctx.words, ctx.n_words, &c.pos);
}

LIC_INLINE bool get_raw(DecCursor& c, const DecodeCtx& ctx, unsigned nbits, uint32_t* bits) {
  *bits = rans::dec_get_bits(&c.x, nbits);
  return refill(c, ctx);
}

// The bypass part of an escape (see put_escape). Takes and returns the cursor
// by value so that the hot loop's states never have their address taken.
struct EscapeResult {
  DecCursor c;
  int status;
  int32_t value;
};

LIC_NOINLINE EscapeResult get_escape(DecCursor c, const DecodeCtx ctx, const TableDesc& d) {
  uint32_t n = 0, low = 0, high = 0;
  if (!get_raw(c, ctx, kEscapeLenBits, &n)) return {c, kStepTruncated, 0};
  if (n > kEscapeMaxLen) return {c, kStepBadEscape, 0};
  if (n > 0 && !get_raw(c, ctx, std::min(n, kEscapeChunkBits), &low)) return {c, kStepTruncated, 0};
  if (n > kEscapeChunkBits && !get_raw(c, ctx, n - kEscapeChunkBits, &high)) return {c, kStepTruncated, 0};
  const uint64_t w = ((uint64_t{1} << n) | (static_cast<uint64_t>(high) << kEscapeChunkBits) | low) - 1;
  const int64_t v = (w & 1) ? -static_cast<int64_t>((w + 1) >> 1) : static_cast<int64_t>(w >> 1) + d.escape;
  const int64_t sym = static_cast<int64_t>(d.offset) + v;
  if (sym < INT32_MIN || sym > INT32_MAX) return {c, kStepBadEscape, 0};
  return {c, kStepOk, static_cast<int32_t>(sym)};
}

// One symbol on one lane.
LIC_INLINE int decode_one(DecCursor& c, int32_t index, int32_t* out, const DecodeCtx& ctx) {
  const uint32_t t = static_cast<uint32_t>(index);
  if (LIC_UNLIKELY(t >= ctx.n_tables)) return kStepBadIndex;
  const TableDesc& d = ctx.desc[t];
  const unsigned p = ctx.precision;
  const uint32_t cum = rans::dec_get(c.x, p);  // c = x mod M
  const uint32_t* cdf = ctx.cdf + d.cdf_base;
  const uint32_t s = cdf::find_slot(cdf, ctx.bucket + d.bucket_base + (cum >> d.bucket_shift), cum);
  const uint32_t start = cdf[s];
  rans::dec_advance(&c.x, start, cdf[s + 1] - start, p);  // x' = freq * floor(x/M) + c - start
  if (!refill(c, ctx)) return kStepTruncated;
  LIC_DCHECK(rans::in_interval(c.x));  // holds for any input: states start in I
  if (LIC_LIKELY(s < d.escape)) {
    *out = d.offset + static_cast<int32_t>(s);
    return kStepOk;
  }
  const EscapeResult r = get_escape(c, ctx, d);
  c = r.c;
  *out = r.value;
  return r.status;
}

}  // namespace

lic_status Decoder::fail(ErrorInfo* err, lic_status s) {
  if (err && sticky_.status == LIC_OK) {
    sticky_ = *err;
  } else if (sticky_.status == LIC_OK) {
    sticky_.status = s;
    std::snprintf(sticky_.message, sizeof(sticky_.message), "%s", lic_status_string(s));
  }
  return s;
}

lic_status Decoder::open(std::shared_ptr<const TableSet> tables, const uint8_t* data, size_t size,
                         ErrorInfo* err) noexcept {
  opened_ = false;
  sticky_ = ErrorInfo();
  done_ = 0;
  pos_ = 0;
  tables_ = std::move(tables);
  if (!tables_) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "table set is NULL");
  lic_status s = read_stream_info(data, size, &info_, err);
  if (s != LIC_OK) return s;
  if (info_.precision != tables_->precision())
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "stream precision %u differs from the table set's precision %u",
                     info_.precision, tables_->precision());
  // A valid stream holds at most 32 bits per word and per lane state of
  // decodable information, and every symbol consumes at least
  // min_bits_per_symbol of it: refuse impossible counts before any work.
  const double capacity_bits = 32.0001 * (static_cast<double>(info_.n_words) + info_.lanes);
  const double max_symbols = capacity_bits / tables_->min_bits_per_symbol() + info_.lanes + 1;
  if (static_cast<double>(info_.n_symbols) > max_symbols)
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED,
                     "stream claims %llu symbols but %zu bytes can hold at most %.0f with these tables",
                     static_cast<unsigned long long>(info_.n_symbols), size, max_symbols);
  for (unsigned k = 0; k < info_.lanes; ++k) state_[k] = load_le64(data + info_.header_bytes - 8ull * (info_.lanes - k));
  words_ = data + info_.header_bytes;
  opened_ = true;
  return LIC_OK;
}

// One symbol on lane I of a block; on failure records the status and the lane.
template <unsigned I>
LIC_INLINE bool decode_lane(State& x, size_t& pos, int32_t index, int32_t* out, const DecodeCtx& ctx, int* r,
                            unsigned* failed_lane) {
  DecCursor c{x, pos};
  const int ri = decode_one(c, index, out, ctx);
  x = c.x;
  pos = c.pos;
  if (LIC_LIKELY(ri == kStepOk)) return true;
  *r = ri;
  *failed_lane = I;
  return false;
}

// Whole blocks of K symbols, one per lane. The lanes are unrolled by a fold
// over constant indices, so the K states are plain locals (registers), and the
// context is copied so that stores to `out` cannot alias it. Returns kStepOk,
// or the failure with its position in *at.
template <unsigned K, size_t... I>
LIC_SEPARATE int decode_blocks(State* states, size_t* pos_io, const int32_t* indexes, int32_t* out, size_t n_blocks,
                               const DecodeCtx& ctx_in, size_t* at, std::index_sequence<I...>) {
  const DecodeCtx ctx = ctx_in;
  State x[K] = {states[I]...};
  size_t pos = *pos_io;
  int r = kStepOk;
  unsigned failed_lane = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    const int32_t* ib = indexes + b * K;
    int32_t* ob = out + b * K;
    bool ok = true;
    ((ok = ok && decode_lane<I>(x[I], pos, ib[I], ob + I, ctx, &r, &failed_lane)), ...);
    if (LIC_UNLIKELY(!ok)) {
      *at = b * K + failed_lane;
      break;
    }
  }
  ((states[I] = x[I]), ...);
  *pos_io = pos;
  return r;
}

template <unsigned K>
lic_status Decoder::run(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err) {
  const DecodeCtx ctx{tables_->desc(), tables_->cdf(),    tables_->bucket(), words_,
                      info_.n_words,   static_cast<uint32_t>(tables_->n_tables()), tables_->precision()};
  size_t pos = pos_;
  size_t j = 0;      // next symbol of this call; on failure, the failing one
  size_t at = 0;
  int r = kStepOk;
  auto one = [&](size_t i) {  // a symbol whose lane is not known at compile time
    DecCursor c{state_[(done_ + i) % K], pos};
    const int ri = decode_one(c, indexes[i], out + i, ctx);
    state_[(done_ + i) % K] = c.x;
    pos = c.pos;
    return ri;
  };
  // Leading symbols until the next symbol is on lane 0, whole blocks, the rest.
  while (j < n && (done_ + j) % K != 0) {
    if ((r = one(j)) != kStepOk) goto failed;
    ++j;
  }
  r = decode_blocks<K>(state_, &pos, indexes + j, out + j, (n - j) / K, ctx, &at, std::make_index_sequence<K>{});
  if (r != kStepOk) {
    j += at;
    goto failed;
  }
  j += (n - j) / K * K;
  while (j < n) {
    if ((r = one(j)) != kStepOk) goto failed;
    ++j;
  }
  pos_ = pos;
  done_ += n;
  return LIC_OK;

failed:
  switch (r) {
    case kStepBadIndex:
      set_error(err, LIC_ERR_INDEX_OUT_OF_RANGE, "indexes[%zu] = %d but the table set has %zu tables", j,
                indexes[j], tables_->n_tables());
      return fail(err, LIC_ERR_INDEX_OUT_OF_RANGE);
    case kStepTruncated:
      set_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ended (after %zu words) while decoding symbol %llu of %llu",
                info_.n_words, static_cast<unsigned long long>(done_ + j), static_cast<unsigned long long>(info_.n_symbols));
      return fail(err, LIC_ERR_TRUNCATED_STREAM);
    default:
      set_error(err, LIC_ERR_CORRUPT_STREAM, "invalid escape code while decoding symbol %llu",
                static_cast<unsigned long long>(done_ + j));
      return fail(err, LIC_ERR_CORRUPT_STREAM);
  }
}

lic_status Decoder::verify_end(ErrorInfo* err) {
  if (pos_ != info_.n_words) {
    set_error(err, LIC_ERR_CORRUPT_STREAM, "%zu of the stream's %zu words were left unread (trailing data)",
              info_.n_words - pos_, info_.n_words);
    return fail(err, LIC_ERR_CORRUPT_STREAM);
  }
  for (unsigned k = 0; k < info_.lanes; ++k) {
    if (!rans::is_initial(state_[k])) {
      set_error(err, LIC_ERR_CORRUPT_STREAM,
                "integrity check failed: lane %u did not return to its initial state "
                "(corrupt stream, or decoded with other tables/indexes than it was encoded with)",
                k);
      return fail(err, LIC_ERR_CORRUPT_STREAM);
    }
  }
  return LIC_OK;
}

lic_status Decoder::check_request(uint64_t n, ErrorInfo* err) const noexcept {
  if (!opened_) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "decoder has no stream");
  if (sticky_.status != LIC_OK) {
    if (err) *err = sticky_;
    return sticky_.status;
  }
  if (n > info_.n_symbols - done_)
    return set_error(err, LIC_ERR_CORRUPT_STREAM, "%llu symbols requested but the stream has only %llu left (of %llu)",
                     static_cast<unsigned long long>(n), static_cast<unsigned long long>(info_.n_symbols - done_),
                     static_cast<unsigned long long>(info_.n_symbols));
  return LIC_OK;
}

lic_status Decoder::check_total(uint64_t n, ErrorInfo* err) const noexcept {
  if (!opened_) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "decoder has no stream");
  if (info_.n_symbols != n)
    return set_error(err, LIC_ERR_CORRUPT_STREAM, "the stream holds %llu symbols but %llu indexes were given",
                     static_cast<unsigned long long>(info_.n_symbols), static_cast<unsigned long long>(n));
  return LIC_OK;
}

lic_status Decoder::decode(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err) noexcept {
  lic_status s = check_request(n, err);
  if (s != LIC_OK || n == 0) return s;
  if (!indexes || !out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "indexes or output is NULL");
  switch (info_.lanes) {
    case 1: s = run<1>(indexes, n, out, err); break;
    case 2: s = run<2>(indexes, n, out, err); break;
    case 4: s = run<4>(indexes, n, out, err); break;
    default: s = run<8>(indexes, n, out, err); break;
  }
  if (s != LIC_OK) return s;
  if (done_ == info_.n_symbols) return verify_end(err);
  return LIC_OK;
}

lic_status Decoder::finish(ErrorInfo* err) noexcept {
  if (!opened_) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "decoder has no stream");
  if (sticky_.status != LIC_OK) {
    if (err) *err = sticky_;
    return sticky_.status;
  }
  if (done_ != info_.n_symbols)
    return set_error(err, LIC_ERR_CORRUPT_STREAM, "only %llu of the stream's %llu symbols were decoded",
                     static_cast<unsigned long long>(done_), static_cast<unsigned long long>(info_.n_symbols));
  return verify_end(err);
}

lic_status decode_all(std::shared_ptr<const TableSet> tables, const uint8_t* data, size_t size,
                      const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err) noexcept {
  Decoder dec;
  lic_status s = dec.open(std::move(tables), data, size, err);
  if (s != LIC_OK) return s;
  s = dec.check_total(n, err);
  if (s != LIC_OK) return s;
  s = dec.decode(indexes, n, out, err);
  if (s != LIC_OK) return s;
  return dec.finish(err);
}

}  // namespace lic
