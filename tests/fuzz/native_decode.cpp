// native_decode.cpp - the coder's C ABI (csrc/lic/lic.h) fuzzed without Python.
//
// Built by tools/sanitize.sh with -fsanitize=address,undefined and run with
// LeakSanitizer on: unlike the Python runs (where CPython's own allocations
// drown leak reports) every byte this process allocates is ours, so a leak on
// any error path of table validation, decoding or streaming is reported.
//
// For N iterations (argv[1], default 100000) it takes a valid stream produced by
// lic_encode, damages it with structure-aware mutations (bit flips, boundary
// bytes and words, truncation, extension, deletion, duplication, splicing) and
// checks that:
//   * lic_decode either succeeds or returns a status, never crashes or overreads;
//   * the streaming decoder (fuzz-chosen chunks, then finish) agrees with it on
//     acceptance and on the symbols;
//   * an intact stream decodes to exactly the encoded symbols;
//   * lic_tables_create on damaged cdf rows accepts or refuses without harm.
// Exit status 0 means no finding; a disagreement prints the iteration and exits 1.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lic/lic.h"

namespace {

// memcmp of n int32s; memcmp itself must not see a null pointer, even for n == 0.
bool same(const int32_t* a, const int32_t* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(int32_t)) == 0;
}

struct Rng {  // splitmix64: deterministic on every machine
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n <= 1 ? 0 : static_cast<size_t>(next() % n); }
};

struct Seed {
  std::vector<int32_t> symbols, indexes;
  std::vector<uint8_t> stream;
};

[[noreturn]] void fail(long iter, const char* what) {
  std::fprintf(stderr, "native_decode: FINDING at iteration %ld: %s (%s)\n", iter, what, lic_last_error());
  std::exit(1);
}

// Rows of a small table set at precision 16: a peaked table, a flat one and one with
// frequency-1 slots; each row ends with the escape slot.
std::vector<int32_t> table_rows(std::vector<int32_t>* lengths, std::vector<int32_t>* offsets, size_t* width) {
  std::vector<std::vector<int32_t>> rows = {
      {0, 100, 1000, 64000, 65000, 65500, 65536},
      {0, 8192, 16384, 24576, 32768, 40960, 49152, 57344, 65535, 65536},
      {0, 1, 2, 65535, 65536},
  };
  *width = 0;
  for (auto& r : rows) *width = r.size() > *width ? r.size() : *width;
  std::vector<int32_t> cdfs(rows.size() * *width, 0);
  for (size_t t = 0; t < rows.size(); ++t) {
    std::memcpy(&cdfs[t * *width], rows[t].data(), rows[t].size() * sizeof(int32_t));
    lengths->push_back(static_cast<int32_t>(rows[t].size()));
  }
  *offsets = {-2, -4, -1};
  return cdfs;
}

void mutate(std::vector<uint8_t>* buf, Rng* rng, const std::vector<Seed>& seeds) {
  static const uint32_t words[] = {0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu};
  size_t ops = 1 + rng->below(4);
  for (size_t k = 0; k < ops; ++k) {
    size_t n = buf->size();
    size_t pos = rng->below(n ? n : 1);
    switch (rng->below(8)) {
      case 0: if (n) (*buf)[pos] ^= static_cast<uint8_t>(1u << rng->below(8)); break;
      case 1: if (n) (*buf)[pos] = static_cast<uint8_t>(rng->below(2) ? 0xFF : 0x00); break;
      case 2: if (n >= 4) { uint32_t w = words[rng->below(10)]; std::memcpy(buf->data() + rng->below(n - 3), &w, 4); } break;
      case 3: buf->resize(rng->below(n + 1)); break;
      case 4: for (size_t i = 1 + rng->below(16); i; --i) buf->push_back(static_cast<uint8_t>(rng->next())); break;
      case 5: if (n) buf->erase(buf->begin() + pos, buf->begin() + pos + 1 + rng->below(n - pos)); break;
      case 6: if (n) { std::vector<uint8_t> piece(buf->begin() + pos, buf->begin() + pos + 1 + rng->below(n - pos));
                       buf->insert(buf->begin() + pos, piece.begin(), piece.end()); } break;
      default: { const auto& o = seeds[rng->below(seeds.size())].stream;
                 size_t cut = rng->below(o.size() + 1);
                 buf->resize(pos); buf->insert(buf->end(), o.begin() + cut, o.end()); } break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 100000;
  Rng rng{20261125};
  std::vector<int32_t> lengths, offsets;
  size_t width = 0;
  std::vector<int32_t> cdfs = table_rows(&lengths, &offsets, &width);
  lic_tables* tables = nullptr;
  if (lic_tables_create(cdfs.data(), lengths.size(), width, lengths.data(), offsets.data(), 16, &tables) != LIC_OK)
    fail(-1, "the reference tables were refused");

  std::vector<Seed> seeds;
  for (size_t n : {0, 1, 2, 9, 100, 2000}) {
    Seed s;
    for (size_t i = 0; i < n; ++i) {
      s.indexes.push_back(static_cast<int32_t>(rng.below(lengths.size())));
      int32_t v = static_cast<int32_t>(rng.below(9)) - 4;
      if (rng.below(40) == 0) v = static_cast<int32_t>(rng.next());  // escapes, any int32
      s.symbols.push_back(v);
    }
    s.stream.resize(lic_encode_bound(n));
    size_t size = 0;
    if (lic_encode(tables, s.symbols.data(), s.indexes.data(), n, s.stream.data(), s.stream.size(), &size) != LIC_OK)
      fail(-1, "encoding a seed failed");
    s.stream.resize(size);
    seeds.push_back(std::move(s));
  }

  long accepted_damaged = 0, refused = 0;
  for (long it = 0; it < iterations; ++it) {
    const Seed& seed = seeds[rng.below(seeds.size())];
    std::vector<uint8_t> stream = seed.stream;
    bool intact = rng.below(8) == 0;
    if (!intact) mutate(&stream, &rng, seeds);
    intact = stream == seed.stream;
    std::vector<int32_t> indexes = seed.indexes;
    if (rng.below(16) == 0) {  // a wrong count, or a table that does not exist
      indexes.resize(rng.below(indexes.size() + 3));
      for (auto& i : indexes) i = static_cast<int32_t>(rng.below(lengths.size() + 1));
      intact = false;
    }
    // A non-null pointer even for 0 bytes/symbols, as a C caller might pass.
    const uint8_t empty = 0;
    const uint8_t* src = stream.empty() ? &empty : stream.data();
    std::vector<int32_t> out(indexes.size() + 1), streamed(indexes.size() + 1);

    lic_stream_info info;
    if (lic_stream_get_info(src, stream.size(), &info) == LIC_OK &&
        info.header_bytes + 4 * info.n_words != stream.size())
      fail(it, "stream info does not describe the bytes");

    lic_status one = lic_decode(tables, src, stream.size(), indexes.data(), indexes.size(), out.data());
    lic_decoder* dec = nullptr;
    lic_status two = lic_decoder_create(tables, src, stream.size(), &dec);
    size_t pos = 0;
    while (two == LIC_OK && pos < indexes.size()) {
      size_t step = 1 + rng.below(indexes.size() - pos);
      two = lic_decoder_decode(dec, indexes.data() + pos, step, streamed.data() + pos);
      pos += step;
    }
    if (two == LIC_OK) two = lic_decoder_finish(dec);
    lic_decoder_free(dec);

    if ((one == LIC_OK) != (two == LIC_OK)) fail(it, "one-shot and streaming decoders disagree");
    if (one == LIC_OK && !same(out.data(), streamed.data(), indexes.size()))
      fail(it, "one-shot and streaming decoders return different symbols");
    if (intact && (one != LIC_OK || !same(out.data(), seed.symbols.data(), indexes.size())))
      fail(it, "an intact stream did not decode to its symbols");
    if (one == LIC_OK && !intact) ++accepted_damaged;
    if (one != LIC_OK) ++refused;

    if (it % 64 == 0) {  // damaged tables: validation must refuse or accept cleanly
      std::vector<int32_t> bad = cdfs, bad_len = lengths, bad_off = offsets;
      bad[rng.below(bad.size())] = static_cast<int32_t>(rng.next());
      if (rng.below(2)) bad_len[rng.below(bad_len.size())] = static_cast<int32_t>(rng.below(width + 3)) - 1;
      lic_tables* t = nullptr;
      if (lic_tables_create(bad.data(), bad_len.size(), width, bad_len.data(), bad_off.data(),
                            static_cast<unsigned>(1 + rng.below(17)), &t) == LIC_OK) {
        std::vector<int32_t> o(seed.indexes.size() + 1);
        lic_decode(t, src, stream.size(), seed.indexes.data(), seed.indexes.size(), o.data());
      }
      lic_tables_free(t);
    }
  }
  lic_tables_free(tables);
  std::printf("native_decode: %ld inputs, %ld refused, %ld damaged streams accepted, no finding\n",
              iterations, refused, accepted_damaged);
  return 0;
}
