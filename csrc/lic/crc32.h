// crc32.h - CRC-32 of the .lic container (docs/format.md, "Conventions").
//
// The ISO-HDLC / zlib / PNG CRC: polynomial 0x04C11DB7 taken bit-reflected
// (0xEDB88320), initial register 0xFFFFFFFF, final xor 0xFFFFFFFF. The inversions
// live inside crc32_update, so the value passed between calls is the finished CRC of
// everything so far, exactly as zlib.crc32(data, value) takes it:
//
//   crc32_update(0, data, n)                          == zlib.crc32(data)
//   crc32_update(crc32_update(0, a, na), b, nb)       == zlib.crc32(a + b)
//   crc32_update(0, "123456789", 9)                   == 0xCBF43926 (the check value)
//
// One table of 256 words built at compile time, one byte per step: about 1 byte per
// cycle, which is plenty for a .lic payload (a few MB at most). It reads bytes, so
// it gives the same value on every host byte order.
#ifndef LIC_CRC32_H
#define LIC_CRC32_H

#include <cstddef>
#include <cstdint>

namespace lic {

// The CRC of data[0 .. size) continued from `crc` (0 to start). data may be null
// when size is 0.
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size) noexcept;

}  // namespace lic

#endif  // LIC_CRC32_H
