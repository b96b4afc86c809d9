// sha256.h - SHA-256 (FIPS 180-4), for checking weight files against a release's
// RELEASE.json (docs/format.md, "Releases") without any library.
//
//   Sha256 h;  h.update(a, na);  h.update(b, nb);  h.final(digest);   // == sha256(a + b)
//   sha256(data, size, digest);                                          // one shot
//
// Message words are assembled from bytes big-endian and the digest written out byte
// by byte, so every host (little- or big-endian) gives the same 32 bytes. Test vectors
// (FIPS 180-2 appendix B): "abc" -> ba7816bf...f20015ad; the 448-bit
// "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" -> 248d6a61...19db06c1;
// one million 'a' -> cdc76e5c...c7112cd0.
#ifndef LIC_SHA256_H
#define LIC_SHA256_H

#include <cstddef>
#include <cstdint>

namespace lic {

class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;
  static constexpr size_t kBlockBytes = 64;

  Sha256() noexcept { reset(); }
  // Back to the empty message.
  void reset() noexcept;
  // Appends data[0 .. size) to the message (data may be null when size is 0).
  void update(const void* data, size_t size) noexcept;
  // Writes the digest of the message so far and resets (the object is reusable).
  void final(uint8_t out[kDigestBytes]) noexcept;

 private:
  void compress(const uint8_t block[kBlockBytes]) noexcept;
  uint32_t h_[8];
  uint8_t buf_[kBlockBytes];  // a partial block: buf_[0 .. fill_)
  size_t fill_;
  uint64_t bytes_;            // message length so far, modulo 2^64 (the bit length is 8x, mod 2^64)
};

// One shot: out = SHA-256(data[0 .. size)).
void sha256(const void* data, size_t size, uint8_t out[Sha256::kDigestBytes]) noexcept;

// Lower-case hex of a digest, NUL-terminated: out must hold 65 chars.
void sha256_hex(const uint8_t digest[Sha256::kDigestBytes], char out[2 * Sha256::kDigestBytes + 1]) noexcept;

}  // namespace lic

#endif  // LIC_SHA256_H
