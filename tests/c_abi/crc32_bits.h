/* crc32_bits.h - the .lic container's CRC-32 (docs/format.md, "Conventions": zlib's,
 * polynomial 0xEDB88320 bit-reflected, register and result inverted), bit by bit, for the
 * C test programs that forge or repair .lic files (formats.c, golden_decode.c).
 *
 * An independent transcription of zlib's, deliberately not the engine's table-driven
 * csrc/lic/crc32.cpp (which lic.h does not export): a fault there cannot hide itself by
 * also computing the CRCs the tests write. One copy for every program of this folder;
 * header-only C99, included as "crc32_bits.h" from a file beside it. */
#ifndef LIC_TEST_CRC32_BITS_H
#define LIC_TEST_CRC32_BITS_H

#include <stddef.h>
#include <stdint.h>

/* zlib.crc32(p[0 .. n)), 0 for n == 0 */
static inline uint32_t crc32_bits(const unsigned char* p, size_t n) {
  uint32_t r = 0xFFFFFFFFu;
  size_t i;
  int k;
  for (i = 0; i < n; ++i) {
    r ^= p[i];
    for (k = 0; k < 8; ++k) r = (r >> 1) ^ (0xEDB88320u & (0u - (r & 1u)));
  }
  return ~r;
}

#endif /* LIC_TEST_CRC32_BITS_H */
