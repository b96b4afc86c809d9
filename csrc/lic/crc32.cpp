// crc32.cpp - CRC-32 ISO-HDLC, one byte per step (see crc32.h).
#include "lic/crc32.h"

namespace lic {
namespace {

constexpr uint32_t kPoly = 0xEDB88320u;  // 0x04C11DB7 bit-reversed: the register shifts right

// kTable[b] = the register after shifting byte b through eight steps of
// r = (r >> 1) ^ (r & 1 ? kPoly : 0), starting from r = b.
struct Table {
  uint32_t v[256];
  constexpr Table() : v() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t r = b;
      for (int k = 0; k < 8; ++k) r = (r >> 1) ^ ((r & 1u) ? kPoly : 0u);
      v[b] = r;
    }
  }
};
constexpr Table kTable;

}  // namespace

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size) noexcept {
  uint32_t r = ~crc;  // undo the previous call's final xor (or start from 0xFFFFFFFF)
  for (size_t i = 0; i < size; ++i) r = (r >> 8) ^ kTable.v[(r ^ data[i]) & 0xFFu];
  return ~r;
}

}  // namespace lic
