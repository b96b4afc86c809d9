// container.cpp - the .lic reader of container.h, step by step in docs/format.md's
// validation order (the order decides which error a doubly-broken file gets, and it
// is the Python reader's).
#include "lic/container.h"

#include <cstdio>
#include <new>
#include <stdexcept>

#include "lic/crc32.h"

namespace lic {
namespace container {

const uint8_t kMagic[kMagicBytes] = {0x89, 'L', 'I', 'C', '\r', '\n', 0x1A, '\n'};

namespace {

// Little-endian fields, assembled from bytes (the host's order never matters).
uint32_t u32le(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t u64le(const uint8_t* p) { return uint64_t{u32le(p)} | (uint64_t{u32le(p + 4)} << 32); }

// The largest latent side a file may claim for an image side: the side padded to 64
// (lic_core.container.latent_bound). At most 2^32, so 64-bit.
uint64_t padded(uint32_t side) { return (uint64_t{side} + kPadMultiple - 1) / kPadMultiple * kPadMultiple; }

bool label_char(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

// The 8 label bytes as Python writes bytes (b'zoo-v4\x00\x00'), for the message.
void bytes_repr(const uint8_t* p, size_t n, char* out, size_t cap) {
  size_t k = 0;
  auto put = [&](const char* s) {
    for (; *s && k + 1 < cap; ++s) out[k++] = *s;
  };
  put("b'");
  for (size_t i = 0; i < n; ++i) {
    char one[5];
    const uint8_t c = p[i];
    if (c == '\\' || c == '\'') std::snprintf(one, sizeof(one), "\\%c", c);
    else if (c == '\t') std::snprintf(one, sizeof(one), "\\t");
    else if (c == '\n') std::snprintf(one, sizeof(one), "\\n");
    else if (c == '\r') std::snprintf(one, sizeof(one), "\\r");
    else if (c >= 0x20 && c < 0x7F) std::snprintf(one, sizeof(one), "%c", c);
    else std::snprintf(one, sizeof(one), "\\x%02x", c);
    put(one);
  }
  put("'");
  out[k] = '\0';
}

// Steps 1 to 6 into *h (see container.h); the CRCs are compared by parse.
lic_status parse_fields(const uint8_t* data, size_t n, uint64_t max_pixels, Header* h, ErrorInfo* err) {
  // 1. magic, fixed header
  bool magic_ok = n >= kMagicBytes;
  for (size_t k = 0; magic_ok && k < kMagicBytes; ++k) magic_ok = data[k] == kMagic[k];
  if (!magic_ok)
    return set_error(err, LIC_ERR_CONTAINER,
                     "magic: not a .lic file (the first 8 bytes are not \\x89LIC\\r\\n\\x1a\\n)");
  if (n < kFixedHeaderBytes)
    return set_error(err, LIC_ERR_CONTAINER, "header: file is %zu bytes, shorter than the %zu-byte fixed header", n,
                     kFixedHeaderBytes);
  const unsigned version = data[8], model_id = data[9], quality = data[10], groups = data[11], streams = data[12];
  const unsigned path = data[13], synthesis = data[14];
  const uint32_t height = u32le(data + 16), width = u32le(data + 20);

  // 2. version
  if (version == 0) return set_error(err, LIC_ERR_CONTAINER, "version: 0 is not a valid format version");
  if (version > kMaxVersion)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "version: file has format version %u; this engine reads up to %u",
                     version, kMaxVersion);

  // 3. model id, reserved bytes, probability path, synthesis
  if (!model_name(model_id))
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT, "model id: %u is not a known model (known: [1, 2, 3, 4])",
                     model_id);
  // reserved: 13..15 in formats 1 and 2, 14..15 in format 3, 15 in format 4
  const unsigned first_reserved = version < 3 ? 13 : version == 3 ? 14 : 15;
  for (unsigned k = first_reserved; k <= 15; ++k)
    if (data[k] != 0)
      return first_reserved == 15 ? set_error(err, LIC_ERR_CONTAINER, "reserved: byte 15 must be zero")
                                  : set_error(err, LIC_ERR_CONTAINER, "reserved: bytes %u..15 must be zero",
                                              first_reserved);
  if (path != kFloatPath && path != kExactPath)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT,
                     "probability path: %u is not a known one (known: [0, 1]); a newer lic-core wrote this file", path);
  if (version >= 4 && synthesis != kFloatSynthesis && synthesis != kIntegerSynthesisV1)
    return set_error(err, LIC_ERR_UNSUPPORTED_FORMAT,
                     "synthesis path: %u is not a known one (known: [0, 1]); a newer lic-core wrote this file", synthesis);

  // 4. image size and the pixel limit, before anything sized by it
  if (height == 0 || width == 0)
    return set_error(err, LIC_ERR_CONTAINER, "height/width: image size %ux%u is empty", height, width);
  const uint64_t limit = max_pixels ? max_pixels : kDefaultMaxPixels;
  const uint64_t ph = padded(height), pw = padded(width);  // each 64..2^32
  if (ph > limit / pw) {                                    // ph * pw > limit, without the product
    char area[32];
    if (ph <= UINT64_MAX / pw) std::snprintf(area, sizeof(area), "%llu", static_cast<unsigned long long>(ph * pw));
    else std::snprintf(area, sizeof(area), "2^64");
    return set_error(err, LIC_ERR_LIMIT_EXCEEDED,
                     "height/width: a %ux%u image is processed padded to %llux%llu = %s pixels, which exceeds the "
                     "limit of %llu pixels (raise max_pixels)",
                     height, width, static_cast<unsigned long long>(ph), static_cast<unsigned long long>(pw), area,
                     static_cast<unsigned long long>(limit));
  }

  // 5. counts, full header, release label, latent shapes
  if (groups < 1 || groups > kMaxGroups)
    return set_error(err, LIC_ERR_CONTAINER, "latent group count: %u is outside 1..%u", groups, kMaxGroups);
  if (streams < 1 || streams > kMaxStreams)
    return set_error(err, LIC_ERR_CONTAINER, "stream count: %u is outside 1..%u", streams, kMaxStreams);
  const size_t hsize = header_size(version, groups, streams);
  if (n < hsize)
    return set_error(err, LIC_ERR_CONTAINER, "header: file is %zu bytes, shorter than its %zu-byte header", n, hsize);
  size_t off = kFixedHeaderBytes;
  h->version = version, h->model_id = model_id, h->quality = quality;
  h->probability_path = path, h->synthesis = version >= 4 ? synthesis : kFloatSynthesis;
  h->height = height, h->width = width;
  if (version >= 2) {
    h->fingerprint = u64le(data + off);
    // 0 would switch a decoder's fingerprint check off, so that a file whose header was
    // edited (its quality, its release) decodes under other weights to a wrong image;
    // no writer records 0 (issue 21; lic_core.container refuses it the same way)
    if (h->fingerprint == 0)
      return set_error(err, LIC_ERR_CONTAINER,
                       "weights fingerprint: 0 is not a fingerprint; formats 2 to 4 always record the weights that "
                       "wrote the file");
    const uint8_t* label = data + off + 8;
    size_t len = kReleaseLabelBytes;  // NUL padding stripped from the right
    while (len > 0 && label[len - 1] == 0) --len;
    for (size_t k = 0; k < len; ++k)
      if (!label_char(label[k])) {
        char repr[48];
        bytes_repr(label, kReleaseLabelBytes, repr, sizeof(repr));
        return set_error(err, LIC_ERR_CONTAINER, "weights release: %s is not a NUL-padded release label", repr);
      }
    h->release.assign(reinterpret_cast<const char*>(label), len);
    off += 16;
  }
  for (unsigned g = 0; g < groups; ++g, off += 8) {
    const uint32_t lh = u32le(data + off), lw = u32le(data + off + 4);
    if (lh < 1 || lh > ph || lw < 1 || lw > pw)
      return set_error(err, LIC_ERR_CONTAINER,
                       "latent shape %u: %ux%u is empty or larger than the %ux%u image padded to a multiple of %u", g,
                       lh, lw, height, width, kPadMultiple);
    h->latent_shapes.emplace_back(lh, lw);
  }
  uint64_t total = 0;  // at most 16 x (2^32 - 1): no overflow
  for (unsigned s = 0; s < streams; ++s, off += 4) {
    h->stream_lengths.push_back(u32le(data + off));
    total += h->stream_lengths.back();
  }
  h->payload_crc = u32le(data + off);
  h->header_crc = u32le(data + off + 4);
  h->header_size = hsize;

  // 6. the payload is exactly the streams
  const uint64_t payload = n - hsize;
  if (total != payload)
    return set_error(err, LIC_ERR_CONTAINER,
                     "stream lengths: they sum to %llu bytes but %llu payload bytes follow the header (%s)",
                     static_cast<unsigned long long>(total), static_cast<unsigned long long>(payload),
                     total > payload ? "truncated" : "trailing bytes");
  return LIC_OK;
}

}  // namespace

const char* model_name(unsigned id) {
  switch (id) {
    case 1: return "factorized";
    case 2: return "hyperprior";
    case 3: return "mean-scale";
    case 4: return "joint";
    case 5: return "space-channel";
    default: return nullptr;
  }
}

size_t header_size(unsigned version, size_t groups, size_t streams) {
  return kFixedHeaderBytes + (version >= 2 ? 16 : 0) + 8 * groups + 4 * streams + 8;
}

lic_status parse(const uint8_t* data, size_t size, uint64_t max_pixels, bool check_crcs, Header* out,
                 ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "output pointer is NULL");
  try {
    *out = Header();
    if (!data && size > 0) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "data is NULL");
    Header h;
    h.latent_shapes.reserve(kMaxGroups);  // the only allocations: small and bounded
    h.stream_lengths.reserve(kMaxStreams);
    h.release.reserve(kReleaseLabelBytes);
    lic_status s = parse_fields(data, size, max_pixels, &h, err);
    if (s != LIC_OK) return s;
    // 7. CRCs: the header's covers every byte before its own field
    h.header_crc_ok = crc32_update(0, data, h.header_size - 4) == h.header_crc;
    if (check_crcs && !h.header_crc_ok)
      return set_error(err, LIC_ERR_CONTAINER, "header CRC-32: mismatch, the header is damaged");
    h.payload_crc_ok = crc32_update(0, data + h.header_size, size - h.header_size) == h.payload_crc;
    if (check_crcs && !h.payload_crc_ok)
      return set_error(err, LIC_ERR_CONTAINER, "payload CRC-32: mismatch, the streams are damaged");
    *out = std::move(h);
    return LIC_OK;
  } catch (const std::exception&) {  // std::bad_alloc from the few reserves above
    *out = Header();
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory reading a .lic header");
  }
}

size_t stream_offset(const Header& h, size_t i) {
  size_t off = h.header_size;
  for (size_t k = 0; k < i && k < h.stream_lengths.size(); ++k) off += h.stream_lengths[k];
  return off;
}

}  // namespace container
}  // namespace lic
