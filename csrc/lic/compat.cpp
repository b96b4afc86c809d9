// compat.cpp - the CompressAI 1.2.8 rANS stream format (see compat.h).
//
// Read top to bottom: escapes, tables, encoder, decoder. All rANS arithmetic,
// renormalisation and word byte order are rans64.h's; this file only decides
// which items are coded and how the words are laid out.
#include "lic/compat.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>

#include "lic/cdf.h"

namespace lic {
namespace compat {
namespace {

using rans::State;

// ---- escapes ----------------------------------------------------------------

// Folds an out-of-table v = symbol - offset (v < 0 or v >= escape) to raw >= 0:
//   raw = 2 (v - E)  for v >= E  (even),     raw = -2 v - 1  for v < 0  (odd).
// |v| <= 2^32 for int32 inputs, so raw < 2^34 and nothing overflows.
inline uint64_t fold_escape(int64_t v, uint32_t escape) {
  return v < 0 ? static_cast<uint64_t>(-2 * v - 1) : static_cast<uint64_t>(2 * (v - escape));
}

// Writes an escape's bypass nibbles in decode order and returns their number:
// the nibble count n of raw (one 15 per 15 it contains, then n mod 15), then
// raw's n nibbles, least significant first.
inline unsigned escape_nibbles(uint64_t raw, uint8_t nib[kMaxEscapeNibbles]) {
  unsigned n = 0;
  for (uint64_t r = raw; r != 0; r >>= kBypassBits) ++n;
  unsigned k = 0;
  unsigned left = n;
  while (left >= kBypassMax) {
    nib[k++] = static_cast<uint8_t>(kBypassMax);
    left -= kBypassMax;
  }
  nib[k++] = static_cast<uint8_t>(left);
  for (unsigned j = 0; j < n; ++j) nib[k++] = static_cast<uint8_t>((raw >> (kBypassBits * j)) & kBypassMax);
  return k;
}

lic_status index_error(ErrorInfo* err, size_t i, int32_t t, size_t n_tables) {
  if (n_tables == 0)
    return set_error(err, LIC_ERR_INDEX_OUT_OF_RANGE, "indexes[%zu] = %d names no table: the table set is empty", i, t);
  return set_error(err, LIC_ERR_INDEX_OUT_OF_RANGE, "indexes[%zu] = %d names no table: valid indexes are 0..%zu", i, t,
                   n_tables - 1);
}

// Finds the first out-of-range index so that errors name the first culprit.
// One vectorisable pass; cheap next to coding.
inline bool indexes_in_range(const int32_t* indexes, size_t n, size_t n_tables, ErrorInfo* err) {
  uint32_t worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, static_cast<uint32_t>(indexes[i]));
  if (n == 0 || worst < n_tables) return true;
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<uint32_t>(indexes[i]) >= n_tables) {
      index_error(err, i, indexes[i], n_tables);
      return false;
    }
  }
  return true;  // unreachable unless indexes changed under us
}

// ---- encoder output ---------------------------------------------------------

// Words grow backwards (rans::enc_put pre-decrements its pointer): [ptr, end)
// holds the words emitted so far, latest first, which is their stream order.
class BackwardWords {
 public:
  explicit BackwardWords(size_t capacity) : buf_(std::max<size_t>(capacity, 64)) {}
  uint32_t* end() { return buf_.data() + buf_.size(); }

  // Returns ptr, moved into a larger buffer if fewer than `need` words are free.
  uint32_t* make_room(uint32_t* ptr, size_t need) {
    if (static_cast<size_t>(ptr - buf_.data()) >= need) return ptr;
    const size_t used = static_cast<size_t>(end() - ptr);
    const size_t capacity = std::max(2 * buf_.size(), used + need + 64);
    std::vector<uint32_t> bigger(capacity);
    std::copy(ptr, ptr + used, bigger.data() + capacity - used);
    buf_.swap(bigger);
    return end() - used;
  }

  // Stream bytes: the state as a little-endian uint64 (low word first), then
  // the words from ptr on.
  void finish(State x, const uint32_t* ptr, std::vector<uint8_t>* out) {
    const size_t used = static_cast<size_t>(end() - ptr);
    out->resize(kStateBytes + 4 * used);
    uint8_t* p = out->data();
    rans::store_le64(p, x);
    for (size_t i = 0; i < used; ++i) rans::store_le32(p + kStateBytes + 4 * i, ptr[i]);
  }

 private:
  std::vector<uint32_t> buf_;
};

// ---- decoder steps ----------------------------------------------------------

// Renormalise after a step from the words after the 8-byte state. False if
// the stream has no word left (truncated or corrupt).
inline bool refill(Cursor* c) {
  return rans::dec_renorm(&c->x, c->data + kStateBytes, c->n_words, &c->next);
}

// One bypass nibble: nib = x mod 16, x = x / 16 (the item freq 1, precision 4).
inline bool read_nibble(Cursor* c, uint32_t* nib) {
  *nib = rans::dec_get_bits(&c->x, kBypassBits);
  return refill(c);
}

// The slot of cumulative value c: the first s with cdf[s+1] > c (s <= E since
// cdf[E+1] = 2^16 > c). With a decode index the search starts in c's bucket
// (cdf::find_slot, the native coder's search); unindexed tables binary-search.
inline uint32_t find_slot(const TableSet::Table& tb, uint32_t c) {
  if (tb.buckets != nullptr)
    return cdf::find_slot(tb.cdf, tb.buckets + (c >> (kPrecision - TableSet::kBucketBits)), c);
  return cdf::search_slot(tb.cdf, 0, tb.escape, c);
}

// Runs an engine step that allocates; an allocation failure becomes a status
// (the engine never lets an exception out: it is also reached from C).
template <class Body>
lic_status guarded(ErrorInfo* err, const char* doing, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception&) {  // std::bad_alloc, std::length_error
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory%s", doing);
  }
}

inline lic_status stream_error(ErrorInfo* err, lic_status st, const char* what, size_t i, int64_t value) {
  return set_error(err, st,
                   "%s %zu (value %lld); the stream is truncated or corrupt, or is decoded with other indexes or "
                   "tables than it was encoded with",
                   what, i, static_cast<long long>(value));
}

}  // namespace

// ---- tables -------------------------------------------------------------------

void TableSet::reset(size_t n_tables) {
  values_.clear();
  begin_.assign(n_tables, 0);
  lengths_.assign(n_tables, 0);
  widths_.assign(n_tables, 0);
  offsets_.assign(n_tables, 0);
  tables_.clear();
}

void TableSet::set_table(size_t t, int32_t cdf_length, int32_t offset, size_t row_width) {
  lengths_[t] = cdf_length;
  offsets_[t] = offset;
  widths_[t] = row_width;
}

lic_status TableSet::alloc(ErrorInfo* err) {
  return guarded(err, " while copying the tables", [&]() -> lic_status {
    size_t total = 0;
    for (size_t t = 0; t < lengths_.size(); ++t) {
      const lic_status st = cdf::check_length(t, lengths_[t], widths_[t], err);
      if (st != LIC_OK) return st;
      begin_[t] = total;
      total += static_cast<size_t>(lengths_[t]);
    }
    values_.assign(total, 0);
    return LIC_OK;
  });
}

lic_status TableSet::validate(ErrorInfo* err) {
  return guarded(err, " while validating the tables", [&]() -> lic_status {
    tables_.clear();
    tables_.reserve(lengths_.size());
    for (size_t t = 0; t < lengths_.size(); ++t) {
      const int32_t* row = values_.data() + begin_[t];
      const int32_t len = lengths_[t];
      const lic_status st = cdf::check_row(t, row, len, kPrecision, err);
      if (st != LIC_OK) {
        tables_.clear();  // an invalid set codes nothing: every index is out of range
        return st;
      }
      // Validated entries lie in 0 .. 2^16, so the rows read as uint32 (the same object
      // representation: an int32 may be read through its unsigned type), as cdf.h's
      // buckets and search take them.
      tables_.push_back(Table{reinterpret_cast<const uint32_t*>(row), nullptr, offsets_[t],
                              static_cast<uint32_t>(len - 2)});
    }
    return LIC_OK;
  });
}

lic_status TableSet::build_decode_index(ErrorInfo* err) {
  return guarded(err, " while building the decode index", [&]() -> lic_status {
    for (Table& tb : tables_) tb.buckets = nullptr;  // binary search if we fail below
    buckets_.assign(tables_.size() * (kBuckets + 1), 0);
    for (size_t t = 0; t < tables_.size(); ++t) {
      Table& tb = tables_[t];
      uint16_t* bk = buckets_.data() + t * (kBuckets + 1);
      cdf::fill_buckets(tb.cdf, tb.escape + 1, kPrecision, kBucketBits, bk);
      tb.buckets = bk;
    }
    return LIC_OK;
  });
}

// ---- encoder ----------------------------------------------------------------

lic_status encode(const int32_t* symbols, const int32_t* indexes, size_t n,
                  const TableSet& tables, std::vector<uint8_t>* out, ErrorInfo* err) {
  return guarded(err, "", [&]() -> lic_status {
    const size_t n_tables = tables.size();
    const TableSet::Table* tab = tables.tables();
    if (!indexes_in_range(indexes, n, n_tables, err)) return LIC_ERR_INDEX_OUT_OF_RANGE;

    // Typical latents cost well under 16 bits a symbol; the buffer grows if not.
    BackwardWords words(n / 2 + 64);
    uint32_t* ptr = words.end();
    State x;
    rans::enc_init(&x);
    uint8_t nib[kMaxEscapeNibbles];
    for (size_t i = n; i-- > 0;) {  // reverse decode order
      ptr = words.make_room(ptr, kMaxWordsPerSymbol);
      const uint32_t t = static_cast<uint32_t>(indexes[i]);
      if (t >= n_tables) return index_error(err, i, indexes[i], n_tables);
      const TableSet::Table& tb = tab[t];
      const int64_t v = static_cast<int64_t>(symbols[i]) - tb.offset;
      if (static_cast<uint64_t>(v) < tb.escape) {  // in-table: one item
        const uint32_t start = static_cast<uint32_t>(tb.cdf[v]);
        rans::enc_put(&x, &ptr, start, static_cast<uint32_t>(tb.cdf[v + 1]) - start, kPrecision);
        continue;
      }
      // Escape: nibbles last-in first-out, then the escape slot's item.
      for (unsigned k = escape_nibbles(fold_escape(v, tb.escape), nib); k-- > 0;)
        rans::enc_put_bits(&x, &ptr, nib[k], kBypassBits);
      const uint32_t start = static_cast<uint32_t>(tb.cdf[tb.escape]);
      rans::enc_put(&x, &ptr, start, static_cast<uint32_t>(kTotal) - start, kPrecision);
    }
    words.finish(x, ptr, out);
    return LIC_OK;
  });
}

lic_status append_items(const int32_t* symbols, const int32_t* indexes, size_t n,
                        const TableSet& tables, std::vector<Item>* items, ErrorInfo* err) {
  return guarded(err, "", [&]() -> lic_status {
    const size_t n_tables = tables.size();
    const TableSet::Table* tab = tables.tables();
    if (!indexes_in_range(indexes, n, n_tables, err)) return LIC_ERR_INDEX_OUT_OF_RANGE;
    const size_t old_size = items->size();
    items->reserve(old_size + n);
    uint8_t nib[kMaxEscapeNibbles];
    for (size_t i = 0; i < n; ++i) {  // decode order
      const uint32_t t = static_cast<uint32_t>(indexes[i]);
      if (t >= n_tables) {
        items->resize(old_size);
        return index_error(err, i, indexes[i], n_tables);
      }
      const TableSet::Table& tb = tab[t];
      const int64_t v = static_cast<int64_t>(symbols[i]) - tb.offset;
      const uint32_t slot = static_cast<uint64_t>(v) < tb.escape ? static_cast<uint32_t>(v) : tb.escape;
      const uint32_t start = static_cast<uint32_t>(tb.cdf[slot]);
      items->push_back(Item{static_cast<uint16_t>(start), kPrecision, 0,
                            static_cast<uint32_t>(tb.cdf[slot + 1]) - start});
      if (slot == tb.escape) {
        const unsigned k = escape_nibbles(fold_escape(v, tb.escape), nib);
        for (unsigned j = 0; j < k; ++j) items->push_back(Item{nib[j], kBypassBits, 0, 1});
      }
    }
    return LIC_OK;
  });
}

lic_status encode_items(const Item* items, size_t n, std::vector<uint8_t>* out, ErrorInfo* err) {
  return guarded(err, "", [&]() -> lic_status {
    BackwardWords words(n);  // at most one word per item: never grows
    uint32_t* ptr = words.end();
    State x;
    rans::enc_init(&x);
    for (size_t i = n; i-- > 0;) rans::enc_put(&x, &ptr, items[i].start, items[i].freq, items[i].precision);
    words.finish(x, ptr, out);
    return LIC_OK;
  });
}

// ---- decoder ----------------------------------------------------------------

lic_status open(const uint8_t* data, size_t size, Cursor* cur, ErrorInfo* err) {
  if (size < kStateBytes)
    return set_error(err, LIC_ERR_TRUNCATED_STREAM, "stream is shorter than its 8-byte state: length in bytes = %zu",
                     size);
  if (size % 4 != 0)
    return set_error(err, LIC_ERR_CORRUPT_STREAM, "stream length is not a multiple of 4 bytes: length = %zu", size);
  const State x = rans::load_le64(data);
  if (!rans::in_interval(x))
    return set_error(err, LIC_ERR_CORRUPT_STREAM,
                     "stream state lies outside [2^31, 2^63), so this is no CompressAI rANS stream: state high word = "
                     "%llu",
                     static_cast<unsigned long long>(x >> 32));
  cur->data = data;
  cur->n_words = (size - kStateBytes) / 4;
  cur->next = 0;
  cur->x = x;
  return LIC_OK;
}

lic_status decode(Cursor* cur, const int32_t* indexes, size_t n, const TableSet& tables,
                  int32_t* out, ErrorInfo* err) {
  const size_t n_tables = tables.size();
  const TableSet::Table* tab = tables.tables();
  if (!indexes_in_range(indexes, n, n_tables, err)) return LIC_ERR_INDEX_OUT_OF_RANGE;
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
  Cursor c = *cur;  // committed only on success
  for (size_t i = 0; i < n; ++i) {
    const uint32_t t = static_cast<uint32_t>(indexes[i]);
    if (t >= n_tables) return index_error(err, i, indexes[i], n_tables);
    const TableSet::Table& tb = tab[t];
    const uint32_t s = find_slot(tb, static_cast<uint32_t>(rans::dec_get(c.x, kPrecision)));
    const uint32_t start = static_cast<uint32_t>(tb.cdf[s]);
    rans::dec_advance(&c.x, start, static_cast<uint32_t>(tb.cdf[s + 1]) - start, kPrecision);
    if (!refill(&c)) return stream_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ended at symbol", i, 0);
    if (s < tb.escape) {
      const int64_t symbol = static_cast<int64_t>(s) + tb.offset;
      if (symbol > kInt32Max)
        return stream_error(err, LIC_ERR_CORRUPT_STREAM, "decoded value exceeds int32 at symbol", i, symbol);
      out[i] = static_cast<int32_t>(symbol);
      continue;
    }
    // Escape: nibble count (15 means "more follows"), then raw, LSB first.
    uint32_t nib = 0;
    unsigned count = 0;
    do {
      if (!read_nibble(&c, &nib))
        return stream_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ended inside the escape of symbol", i, 0);
      count += nib;
      if (count > kMaxRawNibbles)
        return stream_error(err, LIC_ERR_CORRUPT_STREAM, "escape longer than 16 nibbles at symbol", i, count);
    } while (nib == kBypassMax);
    uint64_t raw = 0;
    for (unsigned j = 0; j < count; ++j) {
      if (!read_nibble(&c, &nib))
        return stream_error(err, LIC_ERR_TRUNCATED_STREAM, "stream ended inside the escape of symbol", i, 0);
      raw |= static_cast<uint64_t>(nib) << (kBypassBits * j);
    }
    // Unfold: even raw -> v = raw/2 + E, odd raw -> v = -(raw >> 1) - 1.
    const uint64_t half = raw >> 1;
    int64_t symbol = kInt32Max + int64_t{1};  // "out of range" unless half is small
    if (half <= (uint64_t{1} << 33)) {
      const int64_t v = (raw & 1) ? -static_cast<int64_t>(half) - 1 : static_cast<int64_t>(half) + tb.escape;
      symbol = v + tb.offset;
    }
    if (symbol > kInt32Max || symbol < kInt32Min)
      return stream_error(err, LIC_ERR_CORRUPT_STREAM, "escaped value outside int32 at symbol", i,
                          static_cast<int64_t>(half));
    out[i] = static_cast<int32_t>(symbol);
  }
  *cur = c;
  return LIC_OK;
}

bool at_clean_end(const Cursor& cur) { return cur.next == cur.n_words && rans::is_initial(cur.x); }

}  // namespace compat
}  // namespace lic
