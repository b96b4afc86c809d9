// compat.h - the CompressAI 1.2.8 rANS stream format, built on rans64.h.
//
// Format (shared/compat/SPEC.md section 1; docs/compat.md):
//  * Tables: per table t a cdf of cdf_length L_t entries (cdf[0] = 0,
//    cdf[L_t-1] = 2^16, strictly increasing) and an offset. Slots 0..E_t with
//    E_t = L_t - 2; slot E_t is the escape slot.
//  * A symbol with v = symbol - offset in [0, E_t) is one table item of
//    precision 16. Any other symbol is the escape item followed by 4-bit bypass
//    nibbles: the nibble count n of raw (15 per 15, then the remainder 0..14)
//    and raw's n nibbles, least significant first, where
//      raw = 2 (v - E_t)   if v >= E_t,        raw = -2 v - 1   if v < 0.
//  * One 64-bit state, starting at 2^31; items are encoded in reverse decode
//    order. Stream = final state as a little-endian uint64, then the emitted
//    32-bit little-endian words, latest first. No header, no terminator.
//
// Where we differ from CompressAI (which crashes or hangs there):
//  * 0 items give the 8-byte initial state; 1 item and 2 frequency-1 items work.
//  * raw is 64-bit, so every int32 symbol round-trips (CompressAI loops forever
//    for raw >= 2^28 and cannot read such escapes).
//  * The decoder checks everything: table shape, index range, the end of the
//    words, the escape length, int32 range of results, and (optionally) that
//    the stream ends exactly in the initial state with no words left.
//
// No Python here. Tables are validated on an owned copy (TableSet) before any
// coding, so the coding loops may trust them; a row is checked, bucketed and
// searched by the functions the native coder uses (cdf.h), and errors are
// reported in the engine's one error record (ErrorInfo, error.h). No exception
// leaves this API: allocation failures return LIC_ERR_OUT_OF_MEMORY.
#ifndef LIC_COMPAT_H
#define LIC_COMPAT_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lic/error.h"
#include "lic/rans64.h"
#include "lic/status.h"

namespace lic {
namespace compat {

// CompressAI 1.2.8 fixes its precision at 16: a fact of that format, not a
// choice of ours. It must equal the engine's default (lic.h) because lic-core's
// models build ONE table set at the default precision and code it in either
// format; and rans64.h must support it, which the default guarantees.
constexpr unsigned kPrecision = 16;
static_assert(kPrecision == LIC_DEFAULT_PRECISION && kPrecision <= rans::kMaxPrecision,
              "CompressAI-format tables are the models' default tables (see lic.h)");
constexpr int32_t kTotal = 1 << kPrecision;      // every cdf ends at 2^16
constexpr unsigned kBypassBits = 4;              // escapes are written in nibbles
constexpr uint32_t kBypassMax = (1u << kBypassBits) - 1;  // 15: "count continues"
// raw is held in 64 bits, so at most 16 nibbles. Escapes of int32 symbols need
// at most 9 (raw < 2^34); the decoder rejects counts above 16 as corrupt.
constexpr unsigned kMaxRawNibbles = 64 / kBypassBits;
// Nibbles one escape may need: 2 count nibbles (15, 1) + 16 raw nibbles.
constexpr unsigned kMaxEscapeNibbles = 2 + kMaxRawNibbles;
// Words one symbol may emit: one per item, at most.
constexpr unsigned kMaxWordsPerSymbol = 1 + kMaxEscapeNibbles;
// Smallest stream: the final state alone.
constexpr size_t kStateBytes = 8;

// A table set, copied from the caller and validated once per call.
//
// Why not lic::TableSet (coder.h): CompressAI's API hands the tables to every
// call, unbound, as rows of any lengths, and lic-core's CompressAI-format decoder
// calls it once per position of the joint model; this set is therefore built per
// call and costs a copy and a check (a bucket index only when a call decodes enough
// symbols), where lic::TableSet precomputes an encoder record per slot and about 4
// buckets per slot, once. And CompressAI takes any int32 offset (checking decoded
// values instead), which lic::TableSet refuses when a table's values pass INT32_MAX.
// The rules of a row, its buckets and the slot search are the same code (cdf.h).
//
// Usage: reset(n) ; set_table(t, ...) for every t ; alloc() ; fill
// row(t)[0 .. cdf_length(t)) ; validate(). Only the first cdf_length entries
// of each caller row are stored (CompressAI ignores the rest).
class TableSet {
 public:
  struct Table {
    const uint32_t* cdf;      // cdf[0 .. escape + 1], validated: 0 .. 2^16
    const uint16_t* buckets;  // decode index (kBuckets + 1 slots) or nullptr
    int32_t offset;
    uint32_t escape;          // E = cdf_length - 2, the escape slot
  };

  // Decode index (cdf.h's buckets): kBuckets per table whatever its length, since
  // it is built per call.
  static constexpr unsigned kBucketBits = 8;
  static constexpr unsigned kBuckets = 1u << kBucketBits;

  void reset(size_t n_tables);
  // Records a table's shape: its cdf_length, offset, and the length of the
  // caller's row (cdf_length may not exceed it).
  void set_table(size_t t, int32_t cdf_length, int32_t offset, size_t row_width);
  // Allocates the rows once every shape is known. Fails with
  // LIC_ERR_INVALID_TABLE if a cdf_length is below 2 or exceeds its row.
  lic_status alloc(ErrorInfo* err);
  int32_t* row(size_t t) { return values_.data() + begin_[t]; }
  int32_t cdf_length(size_t t) const { return lengths_[t]; }

  // Checks every table (cdf::check_row at precision 16): cdf[0] = 0, strictly
  // increasing, cdf[L-1] = 2^16. Must succeed before the set is used for coding.
  lic_status validate(ErrorInfo* err);

  // Builds the decode index of every table (after validate). It costs about
  // kBuckets + L steps a table, so it pays off from a few dozen decoded
  // symbols per table on; without it the decoder binary-searches the cdf.
  // Either way the decoded symbols are the same.
  lic_status build_decode_index(ErrorInfo* err);

  size_t size() const { return tables_.size(); }
  const Table* tables() const { return tables_.data(); }

 private:
  std::vector<int32_t> values_;
  std::vector<size_t> begin_;
  std::vector<int32_t> lengths_;
  std::vector<size_t> widths_;
  std::vector<int32_t> offsets_;
  std::vector<Table> tables_;  // filled by validate()
  std::vector<uint16_t> buckets_;
};

// One coding item, as buffered between BufferedRansEncoder calls: a table item
// (start, freq, precision 16) or a bypass nibble (start = nibble, freq = 1,
// precision 4), exactly the arguments of rans::enc_put.
struct Item {
  uint16_t start;
  uint8_t precision;
  uint8_t unused;
  uint32_t freq;
};

// ---- encoder ---------------------------------------------------------------

// Encodes n symbols with their table indexes into a complete stream (bytes).
// Fails with LIC_ERR_INDEX_OUT_OF_RANGE (the message names the first bad position).
lic_status encode(const int32_t* symbols, const int32_t* indexes, size_t n,
                  const TableSet& tables, std::vector<uint8_t>* out, ErrorInfo* err);

// Appends the items of n symbols, in decode order, to *items (the buffered
// encoder). On failure *items is left as it was.
lic_status append_items(const int32_t* symbols, const int32_t* indexes, size_t n,
                        const TableSet& tables, std::vector<Item>* items, ErrorInfo* err);

// Encodes buffered items (decode order) into a complete stream.
lic_status encode_items(const Item* items, size_t n, std::vector<uint8_t>* out, ErrorInfo* err);

// ---- decoder ---------------------------------------------------------------

// A position in a stream: the state and the next unread word. The caller keeps
// the stream bytes alive.
struct Cursor {
  const uint8_t* data = nullptr;
  size_t n_words = 0;  // 32-bit words after the 8-byte state
  size_t next = 0;     // index of the next unread word
  rans::State x = 0;
};

// Loads the state of a stream. Fails with LIC_ERR_TRUNCATED_STREAM if it is
// shorter than 8 bytes, LIC_ERR_CORRUPT_STREAM if its length is not a multiple
// of 4 or the state lies outside [2^31, 2^63).
lic_status open(const uint8_t* data, size_t size, Cursor* cur, ErrorInfo* err);

// Decodes n symbols, advancing *cur only on success (a failed call leaves the
// cursor where it was, so a streaming decoder stays usable).
// Fails with LIC_ERR_INDEX_OUT_OF_RANGE, LIC_ERR_TRUNCATED_STREAM (a word was
// needed after the last one) or LIC_ERR_CORRUPT_STREAM (escape too long, or a
// value outside int32); the message names the symbol position.
lic_status decode(Cursor* cur, const int32_t* indexes, size_t n, const TableSet& tables,
                  int32_t* out, ErrorInfo* err);

// True when every word was read and the state is back at 2^31: what a
// complete, uncorrupted stream looks like after its last symbol.
bool at_clean_end(const Cursor& cur);

}  // namespace compat
}  // namespace lic

#endif  // LIC_COMPAT_H
