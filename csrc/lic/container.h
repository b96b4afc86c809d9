// container.h - the .lic container reader: formats 1, 2, 3 and 4 (docs/format.md).
//
// The one reader of the format in the engine; lic_core/container.py is the Python
// reader and the two agree byte for byte (tests/coding/test_engine_formats.py holds them to it
// on every golden file and on damaged and generated ones): the same files accepted, the
// same fields, the same error class, the same field name at the start of each message.
//
//   off  size  field (little-endian, fixed width)
//     0     8  magic 89 4C 49 43 0D 0A 1A 0A
//     8     1  format version 1..4
//     9     1  model id (model_name)
//    10     1  quality
//    11     1  G latent groups 1..8        12  1  S streams 1..16
//    13     1  probability path (v3, v4: 0 float32, 1 exact; v1, v2: reserved, 0)
//    14     1  synthesis (v4: 0 float32, 1 exact integer synthesis v1; v1..v3: reserved, 0)
//    15     1  reserved, 0
//    16     8  image height, width (u32 each)
//    24    16  weights fingerprint (u64), release label (8 bytes, NUL-padded)  (v2..v4 only)
//     .    8G  latent shapes (u32 h, u32 w)
//     .    4S  stream lengths (u32)
//     .     8  payload CRC-32, header CRC-32 (of every byte before it)
//     .        payload: the streams back to back, nothing after
//
// Format 4 is format 3 with byte 14 naming the synthesis path (how g_s turns the
// latents into pixels); an unknown value is a newer format, as for the probability path.
#ifndef LIC_CONTAINER_H
#define LIC_CONTAINER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lic/coder.h"  // ErrorInfo, set_error
#include "lic/status.h"

namespace lic {
namespace container {

constexpr unsigned kMaxVersion = 4;
constexpr unsigned kMaxGroups = 8;
constexpr unsigned kMaxStreams = 16;
constexpr size_t kMagicBytes = 8;
constexpr size_t kFixedHeaderBytes = 24;                  // magic .. width
constexpr uint64_t kDefaultMaxPixels = uint64_t{1} << 24;  // lic_core.limits.DEFAULT_MAX_PIXELS
constexpr uint32_t kPadMultiple = 64;                     // lic_core.limits.MAX_PAD_MULTIPLE
constexpr size_t kReleaseLabelBytes = 8;
extern const uint8_t kMagic[kMagicBytes];

// Probability paths (byte 13) and synthesis paths (byte 14, format 4).
constexpr unsigned kFloatPath = 0, kExactPath = 1;
constexpr unsigned kFloatSynthesis = 0, kIntegerSynthesisV1 = 1;

struct Header {
  unsigned version = 0, model_id = 0, quality = 0, probability_path = 0, synthesis = 0;
  uint32_t height = 0, width = 0;
  uint64_t fingerprint = 0;  // never 0 in formats 2..4; 0 in format 1, which has no such field
  std::string release;       // the label, NULs stripped ("" in format 1 or when not recorded)
  std::vector<std::pair<uint32_t, uint32_t>> latent_shapes;  // (h, w)
  std::vector<uint32_t> stream_lengths;
  uint32_t payload_crc = 0, header_crc = 0;  // as stored
  size_t header_size = 0;                    // bytes before the payload
  bool header_crc_ok = false, payload_crc_ok = false;
};

// The canonical names of docs/format.md's model ids (1 factorized, 2 hyperprior,
// 3 mean-scale, 4 joint, 5 space-channel); nullptr if unknown.
const char* model_name(unsigned id);

// Bytes before the payload: 48 + 8G + 4S (formats 2..4), 32 + 8G + 4S (format 1).
size_t header_size(unsigned version, size_t groups, size_t streams);

// Validates data[0 .. size) in docs/format.md's order and fills *out:
//   1. magic, the fixed header's length                        LIC_ERR_CONTAINER
//   2. version: 0 malformed; above kMaxVersion                 LIC_ERR_UNSUPPORTED_FORMAT
//   3. model id unknown (UNSUPPORTED_FORMAT); reserved bytes non-zero (CONTAINER); an
//      unknown probability path, then (format 4) synthesis     LIC_ERR_UNSUPPORTED_FORMAT
//   4. H or W zero (CONTAINER); ceil(H/64)*64 x ceil(W/64)*64 over max_pixels (0: the
//      default 2^24), checked before anything sized by the image  LIC_ERR_LIMIT_EXCEEDED
//   5. G and S ranges, the full header's length, the weights fingerprint (never 0 in
//      formats 2..4), the release label, latent shapes within the padded image
//                                                              LIC_ERR_CONTAINER
//   6. the stream lengths sum to exactly the bytes after the header  LIC_ERR_CONTAINER
//   7. header CRC, then payload CRC                            LIC_ERR_CONTAINER
// check_crcs=false is `lic info`'s mode (lic_core.container.check_crcs): steps 1-6
// only, the two CRC results reported in header_crc_ok / payload_crc_ok instead of
// raised. With check_crcs=true both are true on success. Messages start with the
// field's name, as lic_core/container.py's do ("stream lengths: ..."). On error *out
// is a default Header. LIC_ERR_OUT_OF_MEMORY if its few small vectors cannot be made.
lic_status parse(const uint8_t* data, size_t size, uint64_t max_pixels, bool check_crcs, Header* out,
                 ErrorInfo* err) noexcept;

// Where stream i starts in the file: header_size + the lengths of streams 0..i-1
// (i = the stream count gives the end of the payload; larger i are taken as it).
size_t stream_offset(const Header& h, size_t i);

}  // namespace container
}  // namespace lic

#endif  // LIC_CONTAINER_H
