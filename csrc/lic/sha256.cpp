// sha256.cpp - SHA-256 as FIPS 180-4 section 6.2 writes it (see sha256.h).
//
// Each 64-byte block M is processed as:
//   W[t] = M's t-th big-endian word                                  0 <= t < 16
//   W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]               16 <= t < 64
//   (a..h) = H; for t in 0..63:
//     T1 = h + S1(e) + Ch(e,f,g) + K[t] + W[t];   T2 = S0(a) + Maj(a,b,c)
//     h=g g=f f=e e=d+T1 d=c c=b b=a a=T1+T2
//   H += (a..h)
// all modulo 2^32 (uint32_t arithmetic wraps, defined). The message is padded with
// 0x80, zeros, and its bit length as a big-endian u64, to a whole number of blocks.
#include "lic/sha256.h"

#include <cstring>

namespace lic {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// The first 32 bits of the fractional parts of the square roots of the first 8 primes.
constexpr uint32_t kH0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }  // 0 < n < 32
inline uint32_t big_s0(uint32_t x) { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
inline uint32_t big_s1(uint32_t x) { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }
inline uint32_t small_s0(uint32_t x) { return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3); }
inline uint32_t small_s1(uint32_t x) { return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10); }
inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z) { return (x & y) ^ (~x & z); }
inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z) { return (x & y) ^ (x & z) ^ (y & z); }

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24), p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8), p[3] = static_cast<uint8_t>(v);
}

}  // namespace

void Sha256::reset() noexcept {
  std::memcpy(h_, kH0, sizeof(h_));
  fill_ = 0;
  bytes_ = 0;
}

void Sha256::compress(const uint8_t block[kBlockBytes]) noexcept {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
  for (int t = 16; t < 64; ++t) w[t] = small_s1(w[t - 2]) + w[t - 7] + small_s0(w[t - 15]) + w[t - 16];
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t t1 = h + big_s1(e) + ch(e, f, g) + kK[t] + w[t];
    const uint32_t t2 = big_s0(a) + maj(a, b, c);
    h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
}

void Sha256::update(const void* data, size_t size) noexcept {
  if (size == 0) return;  // data may be null then (and memcpy must not see a null pointer)
  const uint8_t* p = static_cast<const uint8_t*>(data);
  bytes_ += size;  // wraps modulo 2^64 as the standard's length field does (mod 2^64 bits below)
  if (fill_ > 0) {  // top up the partial block first
    const size_t take = size < kBlockBytes - fill_ ? size : kBlockBytes - fill_;
    std::memcpy(buf_ + fill_, p, take);
    fill_ += take, p += take, size -= take;
    if (fill_ < kBlockBytes) return;
    compress(buf_);
    fill_ = 0;
  }
  for (; size >= kBlockBytes; p += kBlockBytes, size -= kBlockBytes) compress(p);
  if (size > 0) std::memcpy(buf_, p, size);
  fill_ = size;
}

void Sha256::final(uint8_t out[kDigestBytes]) noexcept {
  const uint64_t bits = bytes_ << 3;  // the length field: the message's bit count mod 2^64
  // Padding: 0x80, then zeros until 56 bytes of a block are used, then the length.
  buf_[fill_++] = 0x80;
  if (fill_ > kBlockBytes - 8) {
    std::memset(buf_ + fill_, 0, kBlockBytes - fill_);
    compress(buf_);
    fill_ = 0;
  }
  std::memset(buf_ + fill_, 0, kBlockBytes - 8 - fill_);
  for (int i = 0; i < 8; ++i) buf_[kBlockBytes - 8 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  compress(buf_);
  for (int i = 0; i < 8; ++i) store_be32(out + 4 * i, h_[i]);
  reset();
}

void sha256(const void* data, size_t size, uint8_t out[Sha256::kDigestBytes]) noexcept {
  Sha256 h;
  h.update(data, size);
  h.final(out);
}

void sha256_hex(const uint8_t digest[Sha256::kDigestBytes], char out[2 * Sha256::kDigestBytes + 1]) noexcept {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < Sha256::kDigestBytes; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  out[2 * Sha256::kDigestBytes] = '\0';
}

}  // namespace lic
