// coder.h - the native lic stream: indexed rANS coding over a validated table set.
//
// The C++ engine behind lic.h (C ABI) and lic_core._coder (Cython). The stream
// format is specified in docs/stream-format.md; in short:
//
//   'l' | version 1 | lanes | precision | varint n_symbols | lanes x u64 state | u32 words
//
// all little-endian. Symbol i is coded on lane i mod lanes with table indexes[i];
// a value outside its table's support codes the escape slot plus a bypass code,
// so every int32 round-trips.
//
// Error handling: every fallible call is noexcept, returns a lic_status and,
// when `err` is non-null, fills it with a message naming the problem.
#ifndef LIC_CODER_H
#define LIC_CODER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "lic/error.h"  // ErrorInfo, set_error: the one error record
#include "lic/rans64.h"
#include "lic/status.h"

namespace lic {

// ---- format constants ---------------------------------------------------------
constexpr uint8_t kStreamMagic = 0x6C;      // 'l'
constexpr uint8_t kStreamVersion = 1;
constexpr unsigned kMaxLanes = 8;            // lanes is 1, 2, 4 or 8
constexpr uint64_t kMaxSymbols = 1ull << 48; // per stream; keeps every size computation far from overflow
constexpr size_t kFixedHeaderBytes = 4;      // magic, version, lanes, precision
constexpr size_t kMaxHeaderBytes = kFixedHeaderBytes + 7 + 8 * kMaxLanes;  // varint of < 2^48 takes <= 7 bytes

// Parsed header of a native stream.
struct StreamInfo {
  unsigned version = 0;
  unsigned lanes = 0;
  unsigned precision = 0;
  uint64_t n_symbols = 0;
  size_t header_bytes = 0;  // bytes before the first payload word (states included)
  size_t n_words = 0;       // 32-bit payload words after the header
};

// Reads and checks the header of `data` (size bytes). Does not need the tables.
lic_status read_stream_info(const uint8_t* data, size_t size, StreamInfo* info, ErrorInfo* err) noexcept;

// ---- table set ------------------------------------------------------------------

// Per-table descriptor: offsets into the TableSet arenas (32-bit offsets keep it 24 bytes).
struct TableDesc {
  uint32_t cdf_base;     // cdf of table t: cdf_[cdf_base .. cdf_base + L_t); enc slots share the base
  uint32_t bucket_base;  // decode buckets: bucket_[bucket_base .. + 2^bucket_bits + 1)
  int32_t offset;        // symbol = offset + slot for in-range slots
  uint32_t escape;       // E_t = L_t - 2: the escape slot, and the count of in-range values
  uint32_t bucket_shift; // bucket of cumulative c is c >> bucket_shift
  uint32_t n_slots;      // L_t - 1
};

// Encoder record for one slot: x' = x + bias + q * cmpl_freq with q = floor(x / freq)
// computed as mulhi(x, rcp) >> rcp_shift (rans64.h, the divider).
using EncSlot = rans::EncSlot;

// A validated, precomputed, immutable set of CDF tables (shareable across threads).
class TableSet {
 public:
  // cdfs: n_tables x max_len int32, row-major. cdf_lengths / offsets: n_tables
  // int32 each; nullptr means "every length is max_len" / "every offset is 0".
  // Checks: 1 <= precision <= LIC_MAX_PRECISION; 2 <= L_t <= max_len; cdf[0] = 0; strictly
  // increasing; cdf[L_t - 1] = 2^precision; offset + E_t - 1 fits int32.
  static lic_status create(const int32_t* cdfs, size_t n_tables, size_t max_len,
                           const int32_t* cdf_lengths, const int32_t* offsets, unsigned precision,
                           std::shared_ptr<const TableSet>* out, ErrorInfo* err) noexcept;

  size_t n_tables() const { return desc_.size(); }
  unsigned precision() const { return precision_; }
  size_t max_len() const { return max_len_; }

  // Lower bound (in bits, > 0) on how much decoder state one symbol consumes;
  // bounds how many symbols a stream of a given size can hold.
  double min_bits_per_symbol() const { return min_bits_per_symbol_; }

  const TableDesc* desc() const { return desc_.data(); }
  const uint32_t* cdf() const { return cdf_.data(); }
  const uint16_t* bucket() const { return bucket_.data(); }
  const EncSlot* enc() const { return enc_.data(); }

 private:
  TableSet() = default;
  unsigned precision_ = 0;
  size_t max_len_ = 0;
  double min_bits_per_symbol_ = 0;
  std::vector<TableDesc> desc_;
  std::vector<uint32_t> cdf_;
  std::vector<uint16_t> bucket_;
  std::vector<EncSlot> enc_;
};

// ---- encoding -------------------------------------------------------------------

// An encoded stream waiting to be copied out: header bytes plus payload words.
class EncodedStream {
 public:
  size_t size() const { return header_.size() + 4 * n_words_; }
  // Writes size() bytes to dst (little-endian words whatever the host).
  void write(uint8_t* dst) const;
  unsigned lanes() const { return lanes_; }

 private:
  friend class Encoder;
  friend lic_status encode_into(const TableSet&, const int32_t*, const int32_t*, size_t, EncodedStream*,
                                ErrorInfo*) noexcept;
  std::vector<uint8_t> header_;
  std::unique_ptr<uint32_t[]> buf_;  // words occupy buf_[cap_ - n_words_, cap_)
  size_t cap_ = 0;
  size_t n_words_ = 0;
  unsigned lanes_ = 0;
};

// One-shot: encodes n symbols (symbol i with table indexes[i]) into *out.
lic_status encode_into(const TableSet& tables, const int32_t* symbols, const int32_t* indexes, size_t n,
                       EncodedStream* out, ErrorInfo* err) noexcept;

// The number of lanes the encoder picks for a payload of `payload_words`
// words measured with 8 lanes (a pure function: part of the format's determinism).
unsigned lanes_for_payload(size_t payload_words_8_lanes);

// Streaming encoder: push chunks, then flush once into one stream. rANS is
// last-in first-out, so items are staged and encoded in reverse at flush.
class Encoder {
 public:
  explicit Encoder(std::shared_ptr<const TableSet> tables) : tables_(std::move(tables)) {}
  // Stages n items; indexes are checked now (nothing is staged on error).
  lic_status push(const int32_t* symbols, const int32_t* indexes, size_t n, ErrorInfo* err) noexcept;
  // Encodes everything staged into *out and empties the encoder.
  lic_status flush(EncodedStream* out, ErrorInfo* err) noexcept;
  size_t staged() const { return symbols_.size(); }
  const TableSet& tables() const { return *tables_; }

 private:
  std::shared_ptr<const TableSet> tables_;
  std::vector<int32_t> symbols_;
  std::vector<int32_t> indexes_;
};

// ---- decoding -------------------------------------------------------------------

// Streaming decoder over a caller-owned buffer (it must outlive the decoder).
// decode() may be called many times; any chunking gives the same symbols. The
// call that decodes the last symbol also verifies the end of the stream (all
// words consumed, every lane back to its initial state); finish() repeats that
// check and also fails if symbols are left. After an error the decoder stays failed.
class Decoder {
 public:
  lic_status open(std::shared_ptr<const TableSet> tables, const uint8_t* data, size_t size,
                  ErrorInfo* err) noexcept;
  lic_status decode(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err) noexcept;
  lic_status finish(ErrorInfo* err) noexcept;
  // The checks decode(n) makes before it reads an index: a stream is open, no
  // earlier error, and at least n symbols are left. O(1) and read-only, so a
  // face can call it before converting (copying) a caller's indexes, and a
  // hostile or mismatched call fails without that allocation.
  lic_status check_request(uint64_t n, ErrorInfo* err) const noexcept;
  // The one-shot contract (decode_all): the stream holds exactly n symbols. O(1).
  lic_status check_total(uint64_t n, ErrorInfo* err) const noexcept;
  uint64_t n_symbols() const { return info_.n_symbols; }
  uint64_t n_decoded() const { return done_; }
  const StreamInfo& info() const { return info_; }

 private:
  lic_status fail(ErrorInfo* err, lic_status s);
  lic_status verify_end(ErrorInfo* err);
  template <unsigned K>
  lic_status run(const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err);

  std::shared_ptr<const TableSet> tables_;
  StreamInfo info_;
  const uint8_t* words_ = nullptr;  // first payload byte
  size_t pos_ = 0;                  // next word to read
  uint64_t state_[kMaxLanes] = {0};
  uint64_t done_ = 0;
  ErrorInfo sticky_;                // the first error, repeated by later calls
  bool opened_ = false;
};

// One-shot: decodes exactly n symbols (n must equal the stream's count) and
// verifies the end of the stream.
lic_status decode_all(std::shared_ptr<const TableSet> tables, const uint8_t* data, size_t size,
                      const int32_t* indexes, size_t n, int32_t* out, ErrorInfo* err) noexcept;

}  // namespace lic

#endif  // LIC_CODER_H
