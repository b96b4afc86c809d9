/* formats.c - a plain C client of lic.h's .lic header reader (lic_file_read_header).
 *
 *   formats [FILE...]   self-test, then every FILE must read with its CRCs checked
 *                       (ctest gives it the golden files); prints "OK <checks>"
 *   formats --serve     reads requests from stdin, answers one line each (the Python
 *                       test, tests/coding/test_engine_formats.py, compares the answers
 *                       with lic_core.container field by field). A request is
 *                       u64 max_pixels, u8 check_crcs, u64 size (little-endian),
 *                       then size bytes of a file. An answer is
 *                         OK v=.. model=.. quality=.. path=.. synthesis=.. height=..
 *                            width=.. fingerprint=.. release=.. latents=h,w;h,w
 *                            streams=offset:length;... header_size=.. header_crc_ok=..
 *                            payload_crc_ok=.. name=..
 *                       or "ERR <status> <lic_last_error()>".
 *
 * The self-test builds files of every format version in memory, with its own
 * bit-by-bit CRC-32 (an independent transcription of the zlib CRC), and checks the
 * fields, each refusal's status and the field name its message starts with, every
 * truncation, and a flip of every header byte. Exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#include "crc32_bits.h" /* the zlib CRC-32, bit by bit: this folder's one copy */

#define CHECK(cond, what)                                                           \
  do {                                                                              \
    ++g_checks;                                                                     \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "FAIL %s (line %d): %s\n", what, __LINE__, lic_last_error()); \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

static unsigned long g_checks = 0;

/* ---- writing files: little-endian fields (the CRC-32: crc32_bits.h) ---- */
static void put32(unsigned char* p, uint32_t v) {
  p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
  p[3] = (unsigned char)(v >> 24);
}
static void put64(unsigned char* p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

typedef struct spec {
  unsigned version, model, quality, groups, streams, path, synthesis;
  uint32_t height, width;
  uint64_t fingerprint;
  const char* release;
  uint32_t lh[8], lw[8], len[16];
} spec;

/* Writes the file `s` describes into buf (payload bytes 0, 1, 2, ...), CRCs right;
 * returns its size. */
static size_t write_file(const spec* s, unsigned char* buf) {
  size_t off = 24, hsize, total = 0, i;
  static const unsigned char magic[8] = {0x89, 'L', 'I', 'C', '\r', '\n', 0x1A, '\n'};
  memcpy(buf, magic, 8);
  buf[8] = (unsigned char)s->version, buf[9] = (unsigned char)s->model, buf[10] = (unsigned char)s->quality;
  buf[11] = (unsigned char)s->groups, buf[12] = (unsigned char)s->streams, buf[13] = (unsigned char)s->path;
  buf[14] = (unsigned char)s->synthesis, buf[15] = 0;
  put32(buf + 16, s->height), put32(buf + 20, s->width);
  if (s->version >= 2) {
    put64(buf + off, s->fingerprint);
    memset(buf + off + 8, 0, 8);
    memcpy(buf + off + 8, s->release, strlen(s->release));
    off += 16;
  }
  for (i = 0; i < s->groups; ++i, off += 8) put32(buf + off, s->lh[i]), put32(buf + off + 4, s->lw[i]);
  for (i = 0; i < s->streams; ++i, off += 4) put32(buf + off, s->len[i]), total += s->len[i];
  hsize = off + 8;
  for (i = 0; i < total; ++i) buf[hsize + i] = (unsigned char)i;
  put32(buf + off, crc32_bits(buf + hsize, total));
  put32(buf + off + 4, crc32_bits(buf, off + 4));
  return hsize + total;
}
/* After editing header bytes: the header CRC made right again. */
static void fix_header_crc(unsigned char* buf, size_t hsize) { put32(buf + hsize - 4, crc32_bits(buf, hsize - 4)); }

static int starts_with(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Reads buf with CRCs checked; the status must be `want` and, on error, the message
 * must start with `field`. */
static int expect(const unsigned char* buf, size_t n, uint64_t max_pixels, lic_status want, const char* field) {
  lic_file_header h;
  lic_status s = lic_file_read_header(buf, n, max_pixels, 1, &h);
  if (s != want || (want != LIC_OK && !starts_with(lic_last_error(), field))) {
    fprintf(stderr, "expected %s (%s), got %s: %s\n", lic_status_string(want), field, lic_status_string(s),
            lic_last_error());
    return 0;
  }
  return 1;
}

/* ---- the self-test ---- */
static int self_test(void) {
  static unsigned char buf[4096], copy[4096];
  spec s;
  lic_file_header h;
  size_t n, i, hsize;
  unsigned v;
  int bit;

  memset(&s, 0, sizeof(s));
  s.model = 2, s.quality = 5, s.groups = 2, s.streams = 2, s.height = 100, s.width = 70;
  s.fingerprint = 0x0123456789ABCDEFull, s.release = "zoo-v4";
  s.lh[0] = 7, s.lw[0] = 5, s.lh[1] = 2, s.lw[1] = 2, s.len[0] = 30, s.len[1] = 12;

  /* every version reads, with its own fields */
  for (v = 1; v <= LIC_FILE_MAX_VERSION; ++v) {
    s.version = v, s.path = v >= 3, s.synthesis = v >= 4;
    if (v == 1) s.fingerprint = 0, s.release = "";
    else s.fingerprint = 0x0123456789ABCDEFull, s.release = "zoo-v4";
    n = write_file(&s, buf);
    hsize = (v >= 2 ? 48 : 32) + 8 * 2 + 4 * 2;
    CHECK(lic_file_read_header(buf, n, 0, 1, &h) == LIC_OK, "a valid file reads");
    CHECK(h.version == v && h.model_id == 2 && h.quality == 5 && h.height == 100 && h.width == 70, "fields");
    CHECK(h.probability_path == (v >= 3 ? 1u : 0u) && h.synthesis == (v >= 4 ? 1u : 0u), "paths");
    CHECK(h.fingerprint == s.fingerprint && strcmp(h.release, s.release) == 0, "weights fields");
    CHECK(h.n_latents == 2 && h.latent_h[0] == 7 && h.latent_w[0] == 5 && h.latent_h[1] == 2, "latents");
    CHECK(h.n_streams == 2 && h.stream_length[0] == 30 && h.stream_length[1] == 12, "stream lengths");
    CHECK(h.header_size == hsize && h.stream_offset[0] == hsize && h.stream_offset[1] == hsize + 30, "offsets");
    CHECK(h.header_crc_ok == 1 && h.payload_crc_ok == 1, "CRCs");
    CHECK(lic_last_error()[0] == '\0', "success clears the message");
    /* every truncation and one byte more are refused as malformed, never read past */
    for (i = 0; i < n; ++i) CHECK(expect(buf, i, 0, LIC_ERR_CONTAINER, ""), "a truncated file is refused");
    buf[n] = 0;
    CHECK(expect(buf, n + 1, 0, LIC_ERR_CONTAINER, "stream lengths: "), "trailing bytes are refused");
    /* a flip of any header bit is caught (by a field check or the header CRC) */
    for (i = 0; i < hsize; ++i)
      for (bit = 0; bit < 8; ++bit) {
        memcpy(copy, buf, n);
        copy[i] ^= (unsigned char)(1u << bit);
        CHECK(lic_file_read_header(copy, n, 0, 1, &h) != LIC_OK, "a header bit flip is refused");
        CHECK(h.version == 0 && h.n_streams == 0, "the header is zeroed on error");
      }
    /* the payload CRC, and check_crcs = 0 reporting instead of refusing */
    memcpy(copy, buf, n);
    copy[n - 1] ^= 1;
    CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "payload CRC-32: "), "a damaged payload is refused");
    CHECK(lic_file_read_header(copy, n, 0, 0, &h) == LIC_OK && h.header_crc_ok && !h.payload_crc_ok,
          "check_crcs = 0 reports a damaged payload");
    copy[n - 1] ^= 1, copy[10] ^= 1;
    CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "header CRC-32: "), "a damaged header is refused");
    CHECK(lic_file_read_header(copy, n, 0, 0, &h) == LIC_OK && !h.header_crc_ok && h.payload_crc_ok &&
              h.quality == 4,
          "check_crcs = 0 reports a damaged header");
  }

  /* field by field, format 4 (CRCs made right again after each edit) */
  s.version = 4, s.path = 1, s.synthesis = 1;
  n = write_file(&s, buf);
  hsize = 48 + 16 + 8;
#define EDIT(offset, value, want, field)                                           \
  do {                                                                             \
    memcpy(copy, buf, n);                                                          \
    copy[offset] = (unsigned char)(value);                                         \
    fix_header_crc(copy, hsize);                                                   \
    CHECK(expect(copy, n, 0, want, field), field " (byte " #offset " = " #value ")"); \
  } while (0)
  EDIT(0, 0x88, LIC_ERR_CONTAINER, "magic: ");
  EDIT(8, 0, LIC_ERR_CONTAINER, "version: ");
  EDIT(8, 5, LIC_ERR_UNSUPPORTED_FORMAT, "version: ");
  EDIT(8, 255, LIC_ERR_UNSUPPORTED_FORMAT, "version: ");
  EDIT(9, 0, LIC_ERR_UNSUPPORTED_FORMAT, "model id: ");
  EDIT(9, 5, LIC_OK, ""); /* space-channel */
  EDIT(9, 6, LIC_ERR_UNSUPPORTED_FORMAT, "model id: ");
  EDIT(15, 1, LIC_ERR_CONTAINER, "reserved: ");
  EDIT(13, 2, LIC_ERR_UNSUPPORTED_FORMAT, "probability path: ");
  EDIT(14, 2, LIC_ERR_UNSUPPORTED_FORMAT, "synthesis path: ");
  EDIT(14, 0, LIC_OK, "");
  EDIT(16, 0, LIC_ERR_CONTAINER, "height/width: "); /* height 100 = 64 00 00 00 becomes 0 */
  EDIT(20, 0, LIC_ERR_CONTAINER, "height/width: "); /* width 70 = 46 00 00 00 becomes 0 */
  EDIT(11, 0, LIC_ERR_CONTAINER, "latent group count: ");
  EDIT(11, 9, LIC_ERR_CONTAINER, "latent group count: ");
  EDIT(12, 0, LIC_ERR_CONTAINER, "stream count: ");
  EDIT(12, 17, LIC_ERR_CONTAINER, "stream count: ");
  EDIT(32, 'A', LIC_ERR_CONTAINER, "weights release: ");
  EDIT(32, 0, LIC_ERR_CONTAINER, "weights release: "); /* a NUL before the label's end */
  EDIT(40, 0, LIC_ERR_CONTAINER, "latent shape 0: ");
  EDIT(48, 0, LIC_ERR_CONTAINER, "latent shape 1: ");
  EDIT(56, 31, LIC_ERR_CONTAINER, "stream lengths: ");
  /* the order of the checks: the model id before the reserved byte, the probability
   * path before the synthesis */
  memcpy(copy, buf, n);
  copy[9] = 9, copy[15] = 1, copy[13] = 7, copy[14] = 7;
  fix_header_crc(copy, hsize);
  CHECK(expect(copy, n, 0, LIC_ERR_UNSUPPORTED_FORMAT, "model id: "), "model id checked first");
  copy[9] = 2;
  fix_header_crc(copy, hsize);
  CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "reserved: "), "then the reserved byte");
  copy[15] = 0;
  fix_header_crc(copy, hsize);
  CHECK(expect(copy, n, 0, LIC_ERR_UNSUPPORTED_FORMAT, "probability path: "), "then the probability path");
  /* byte 14 is reserved before format 4 */
  s.version = 3, s.synthesis = 0;
  n = write_file(&s, buf);
  memcpy(copy, buf, n);
  copy[14] = 1;
  fix_header_crc(copy, 48 + 16 + 8);
  CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "reserved: bytes 14..15"), "byte 14 is reserved in format 3");
  s.version = 2, s.path = 0;
  n = write_file(&s, buf);
  memcpy(copy, buf, n);
  copy[13] = 1;
  fix_header_crc(copy, 48 + 16 + 8);
  CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "reserved: bytes 13..15"), "byte 13 is reserved in format 2");
  memcpy(copy, buf, n);
  put64(copy + 24, 0);
  fix_header_crc(copy, 48 + 16 + 8);
  CHECK(expect(copy, n, 0, LIC_ERR_CONTAINER, "weights fingerprint: "), "fingerprint 0 is refused in format 2");

  /* the pixel limit: the image padded to multiples of 64, before the rest is read */
  s.version = 3, s.path = 1;
  s.height = 64, s.width = 64, s.lh[0] = 64, s.lw[0] = 64;
  n = write_file(&s, buf);
  CHECK(expect(buf, n, 4096, LIC_OK, ""), "64 x 64 fits 4096 pixels");
  CHECK(expect(buf, n, 4095, LIC_ERR_LIMIT_EXCEEDED, "height/width: "), "but not 4095");
  s.height = 1, s.width = 65, s.lh[0] = 64, s.lw[0] = 128;
  n = write_file(&s, buf);
  CHECK(expect(buf, n, 8192, LIC_OK, ""), "1 x 65 pads to 64 x 128 = 8192");
  CHECK(expect(buf, n, 8191, LIC_ERR_LIMIT_EXCEEDED, "height/width: "), "which 8191 refuses");
  s.lw[0] = 129;
  n = write_file(&s, buf);
  CHECK(expect(buf, n, 0, LIC_ERR_CONTAINER, "latent shape 0: "), "a latent wider than the padded image");
  s.height = 0xFFFFFFFFu, s.width = 0xFFFFFFFFu, s.lw[0] = 64; /* pads to 2^32 x 2^32 = 2^64 */
  n = write_file(&s, buf);
  CHECK(expect(buf, n, UINT64_MAX, LIC_ERR_LIMIT_EXCEEDED, "height/width: "), "2^64 pixels exceed any limit");
  s.width = 1;
  n = write_file(&s, buf);
  CHECK(expect(buf, n, UINT64_MAX, LIC_OK, ""), "2^32 x 64 is within a limit of 2^64 - 1");
  CHECK(expect(buf, n, 0, LIC_ERR_LIMIT_EXCEEDED, "height/width: "), "and not within the default");
  s.height = 0;
  n = write_file(&s, buf);
  CHECK(expect(buf, n, 0, LIC_ERR_CONTAINER, "height/width: "), "an empty image");

  /* the most groups and streams, with 0-byte streams */
  s.height = 64, s.width = 64, s.groups = 8, s.streams = 16;
  for (i = 0; i < 8; ++i) s.lh[i] = 1 + (uint32_t)i, s.lw[i] = 64 - (uint32_t)i;
  for (i = 0; i < 16; ++i) s.len[i] = (uint32_t)(i % 3);
  n = write_file(&s, buf);
  CHECK(lic_file_read_header(buf, n, 0, 1, &h) == LIC_OK && h.n_latents == 8 && h.n_streams == 16, "8 and 16");
  for (i = 0; i < 16; ++i)
    CHECK(h.stream_length[i] == i % 3 && (i == 0 || h.stream_offset[i] == h.stream_offset[i - 1] + (i - 1) % 3),
          "stream offsets add up");
  CHECK(h.stream_offset[15] + h.stream_length[15] == n, "the last stream ends the file");

  /* arguments */
  CHECK(lic_file_read_header(buf, n, 0, 1, NULL) == LIC_ERR_INVALID_ARGUMENT, "out NULL");
  CHECK(lic_file_read_header(NULL, 0, 0, 1, &h) == LIC_ERR_CONTAINER && starts_with(lic_last_error(), "magic: "),
        "no bytes: not a .lic file");
  CHECK(lic_file_read_header(NULL, 10, 0, 1, &h) == LIC_ERR_INVALID_ARGUMENT, "data NULL");
  CHECK(strcmp(lic_file_model_name(1), "factorized") == 0 && strcmp(lic_file_model_name(4), "joint") == 0 &&
            strcmp(lic_file_model_name(5), "space-channel") == 0 && lic_file_model_name(0) == NULL &&
            lic_file_model_name(6) == NULL,
        "model names");
  return 0;
}

/* ---- files and requests ---- */
static unsigned char* read_all(FILE* f, size_t* n) {
  size_t cap = 1 << 16, got = 0, r;
  unsigned char* buf = (unsigned char*)malloc(cap);
  while (buf && (r = fread(buf + got, 1, cap - got, f)) > 0) {
    got += r;
    if (got == cap) {
      unsigned char* bigger = (unsigned char*)realloc(buf, cap * 2);
      if (!bigger) free(buf);
      buf = bigger, cap *= 2;
    }
  }
  *n = got;
  return buf;
}

static void answer(const unsigned char* data, size_t n, uint64_t max_pixels, int check_crcs) {
  lic_file_header h;
  unsigned i;
  lic_status s = lic_file_read_header(data, n, max_pixels, check_crcs, &h);
  if (s != LIC_OK) {
    printf("ERR %d %s\n", (int)s, lic_last_error());
    return;
  }
  printf("OK v=%u model=%u quality=%u path=%u synthesis=%u height=%lu width=%lu fingerprint=%llu release=%s latents=",
         h.version, h.model_id, h.quality, h.probability_path, h.synthesis, (unsigned long)h.height,
         (unsigned long)h.width, (unsigned long long)h.fingerprint, h.release);
  for (i = 0; i < h.n_latents; ++i)
    printf("%s%lu,%lu", i ? ";" : "", (unsigned long)h.latent_h[i], (unsigned long)h.latent_w[i]);
  printf(" streams=");
  for (i = 0; i < h.n_streams; ++i)
    printf("%s%lu:%lu", i ? ";" : "", (unsigned long)h.stream_offset[i], (unsigned long)h.stream_length[i]);
  printf(" header_size=%lu header_crc_ok=%d payload_crc_ok=%d name=%s\n", (unsigned long)h.header_size,
         h.header_crc_ok, h.payload_crc_ok, lic_file_model_name(h.model_id));
}

static int read_exact(unsigned char* p, size_t n) { return fread(p, 1, n, stdin) == n; }
static uint64_t get64(const unsigned char* p) {
  uint64_t v = 0;
  int k;
  for (k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

static int serve(void) {
  unsigned char head[17];
  while (read_exact(head, 17)) {
    const uint64_t max_pixels = get64(head), size = get64(head + 9);
    unsigned char* data = (unsigned char*)malloc(size ? (size_t)size : 1);
    if (!data || !read_exact(data, (size_t)size)) {
      fprintf(stderr, "FAIL: short request\n");
      free(data);
      return 1;
    }
    answer(data, (size_t)size, max_pixels, head[8]);
    fflush(stdout);
    free(data);
  }
  return 0;
}

int main(int argc, char** argv) {
  int i;
  if (argc == 2 && strcmp(argv[1], "--serve") == 0) return serve();
  if (self_test() != 0) return 1;
  for (i = 1; i < argc; ++i) {
    size_t n = 0;
    unsigned char* data;
    lic_file_header h;
    FILE* f = fopen(argv[i], "rb");
    if (!f) {
      fprintf(stderr, "FAIL cannot open %s\n", argv[i]);
      return 1;
    }
    data = read_all(f, &n);
    fclose(f);
    CHECK(data != NULL, "reading a file");
    if (lic_file_read_header(data, n, 0, 1, &h) != LIC_OK) {
      fprintf(stderr, "FAIL %s: %s\n", argv[i], lic_last_error());
      free(data);
      return 1;
    }
    free(data);
    ++g_checks;
  }
  printf("OK %lu\n", g_checks);
  return 0;
}
