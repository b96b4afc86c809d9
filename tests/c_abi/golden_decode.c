/* golden_decode.c - the golden files of a release of integer synthesis, decoded in C to
 * the pixels their digests pin: the same bytes on every machine (issue 23, point 4).
 *
 *   golden_decode WEIGHTS_DIR GOLDEN_DIR
 *
 * GOLDEN_DIR/digests.txt lists one file a line, "<name>.lic <SHA-256 of its decoded
 * pixels>" (H x W x 3 bytes row by row; tools/make_golden.py writes it beside the
 * release's manifest.json, tests/system/test_golden_digests.py holds the two equal). For every
 * file, through lic.h alone:
 *   1. the header reads with its CRCs checked and records integer synthesis;
 *   2. lic_file_decoder_open_release(WEIGHTS_DIR, the header's release, model, quality)
 *      (one decoder per weights file, reused for the qualities it holds);
 *   3. decoded on 1, 2 and 4 threads, lic_sha256 of the pixels equals the digest each time;
 *      an output buffer one byte short is refused;
 *   4. a damaged copy fails cleanly, with a status and a message: one payload byte
 *      flipped is LIC_ERR_CONTAINER (the payload CRC-32); the same flip with both
 *      CRC-32s recomputed (crc32_bits.h: a bit-by-bit CRC, an independent transcription
 *      of zlib's) passes the header reader and is refused by the decoder itself.
 * Prints one line per file and a summary; exits 1 on any mismatch or failure (2 on a
 * usage error). tools/cross_check.sh runs it under qemu on aarch64 and big-endian s390x. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#include "crc32_bits.h" /* the zlib CRC-32, bit by bit: this folder's one copy */

#define MAX_DECODERS 16
#define MAX_NAME 255
static const unsigned kThreads[] = {1, 2, 4};

/* ---- small helpers: files, hex, the zlib CRC-32 bit by bit -------------------- */

/* path's bytes into *data (malloc'd, *size bytes); 0 with a message on failure. */
static int read_file(const char* path, unsigned char** data, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* buf = NULL;
  size_t cap = 0, n = 0, got;
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return 0;
  }
  do {
    if (n == cap) {
      unsigned char* grown = (unsigned char*)realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!grown) {
        free(buf);
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", path);
        return 0;
      }
      buf = grown;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  if (ferror(f)) {
    free(buf);
    fclose(f);
    fprintf(stderr, "cannot read %s\n", path);
    return 0;
  }
  fclose(f);
  *data = buf;
  *size = n;
  return 1;
}

static void to_hex(const uint8_t digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; ++i) hex[2 * i] = digits[digest[i] >> 4], hex[2 * i + 1] = digits[digest[i] & 15];
  hex[64] = '\0';
}

static void put32le(unsigned char* p, uint32_t v) {
  p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
  p[3] = (unsigned char)(v >> 24);
}

/* ---- decoders, one per weights file -------------------------------------------- */

static lic_file_decoder* g_decoders[MAX_DECODERS];
static size_t g_n_decoders = 0;

/* A decoder of the header's release, model and quality: an open one that holds the
 * quality, else a new one from WEIGHTS_DIR. NULL with a message on failure. */
static lic_file_decoder* decoder_for(const char* weights_dir, const lic_file_header* h, char* why, size_t why_size) {
  lic_file_decoder* d = NULL;
  lic_status s;
  size_t i;
  for (i = 0; i < g_n_decoders; ++i)
    if (lic_file_decoder_model_id(g_decoders[i]) == h->model_id &&
        strcmp(lic_file_decoder_release(g_decoders[i]), h->release) == 0 &&
        lic_file_decoder_has_quality(g_decoders[i], h->quality))
      return g_decoders[i];
  s = lic_file_decoder_open_release(weights_dir, h->release, h->model_id, h->quality, &d);
  if (s != LIC_OK) {
    snprintf(why, why_size, "opening the weights: %s (%s)", lic_last_error(), lic_status_string(s));
    return NULL;
  }
  if (g_n_decoders == MAX_DECODERS) lic_file_decoder_free(g_decoders[--g_n_decoders]);
  g_decoders[g_n_decoders++] = d;
  return d;
}

/* ---- one golden file ------------------------------------------------------------ */

/* Checks one file (steps 1-4 above); 1 if every check passed, else 0 with why[]. The
 * line printed for the file goes to stdout either way. */
static int check_file(const char* weights_dir, const char* golden_dir, const char* name, const char* expected,
                      char* why, size_t why_size) {
  char path[4096], hex[65], damage[160] = "";
  unsigned char *data = NULL, *copy = NULL;
  uint8_t *rgb = NULL, digest[32];
  size_t size = 0, rgb_size, payload, at, t;
  lic_file_header h;
  lic_file_decoder* d;
  lic_status s;
  int ok = 0;

  snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
  if (!read_file(path, &data, &size)) {
    snprintf(why, why_size, "cannot read the file (above)");
    return 0;
  }
  /* 1. the header, CRCs checked */
  s = lic_file_read_header(data, size, 0, 1, &h);
  if (s != LIC_OK) {
    snprintf(why, why_size, "header: %s (%s)", lic_last_error(), lic_status_string(s));
    goto done;
  }
  if (h.synthesis != 1) {
    snprintf(why, why_size, "format %u, synthesis %u: not a file of integer synthesis", h.version, h.synthesis);
    goto done;
  }
  /* 2. the weights */
  d = decoder_for(weights_dir, &h, why, why_size);
  if (!d) goto done;
  rgb_size = (size_t)h.width * h.height * 3;
  rgb = (uint8_t*)malloc(rgb_size);
  copy = (unsigned char*)malloc(size);
  if (!rgb || !copy) {
    snprintf(why, why_size, "out of memory");
    goto done;
  }
  /* 3. the pixels, on 1, 2 and 4 threads; a short buffer refused */
  for (t = 0; t < sizeof(kThreads) / sizeof(kThreads[0]); ++t) {
    memset(rgb, 0xA5, rgb_size);
    s = lic_file_decoder_decode(d, data, size, 0, kThreads[t], rgb, rgb_size);
    if (s != LIC_OK) {
      snprintf(why, why_size, "decode on %u thread(s): %s (%s)", kThreads[t], lic_last_error(), lic_status_string(s));
      goto done;
    }
    lic_sha256(rgb, rgb_size, digest);
    to_hex(digest, hex);
    if (strcmp(hex, expected) != 0) {
      snprintf(why, why_size, "on %u thread(s) the pixels' SHA-256 is %s, digests.txt says %s", kThreads[t], hex,
               expected);
      goto done;
    }
  }
  s = lic_file_decoder_decode(d, data, size, 0, 1, rgb, rgb_size - 1);
  if (s == LIC_OK || lic_last_error()[0] == '\0') {
    snprintf(why, why_size, "an output buffer one byte short was not refused with a message");
    goto done;
  }
  /* 4. damaged copies: a payload byte flipped in the middle of the last stream */
  payload = size - h.header_size;
  if (payload == 0 || h.header_size < 8) {
    snprintf(why, why_size, "no payload to damage");
    goto done;
  }
  at = h.stream_offset[h.n_streams - 1] + h.stream_length[h.n_streams - 1] / 2;
  memcpy(copy, data, size);
  copy[at] ^= 0x10;
  s = lic_file_decoder_decode(d, copy, size, 0, 1, rgb, rgb_size);
  if (s != LIC_ERR_CONTAINER || lic_last_error()[0] == '\0') {
    snprintf(why, why_size, "byte %lu flipped: %s (%s), expected LIC_ERR_CONTAINER (the payload CRC-32)",
             (unsigned long)at, lic_status_string(s), lic_last_error());
    goto done;
  }
  /* ... and with the payload CRC (header_size - 8) and the header CRC (header_size - 4,
   * over every byte before it) recomputed: the header reader accepts it, the decoder not */
  put32le(copy + h.header_size - 8, crc32_bits(copy + h.header_size, payload));
  put32le(copy + h.header_size - 4, crc32_bits(copy, h.header_size - 4));
  {
    lic_file_header h2;
    s = lic_file_read_header(copy, size, 0, 1, &h2);
    if (s != LIC_OK) {
      snprintf(why, why_size, "byte %lu flipped, CRCs recomputed: the header reader refused it: %s (%s)",
               (unsigned long)at, lic_last_error(), lic_status_string(s));
      goto done;
    }
  }
  s = lic_file_decoder_decode(d, copy, size, 0, 2, rgb, rgb_size);
  if (s == LIC_OK || s == LIC_ERR_CONTAINER || lic_last_error()[0] == '\0') {
    snprintf(why, why_size, "byte %lu flipped, CRCs recomputed: %s (%s), expected the decoder to refuse the stream",
             (unsigned long)at, lic_status_string(s), lic_last_error());
    goto done;
  }
  snprintf(damage, sizeof(damage), "%s", lic_status_string(s));
  ok = 1;

done:
  if (ok)
    printf("ok    %-40s %s q%u %lux%lu, threads 1 2 4: %.16s..., damaged: container CRC, %s\n", name,
           lic_file_model_name(h.model_id), h.quality, (unsigned long)h.height, (unsigned long)h.width, expected,
           damage);
  else
    printf("FAIL  %-40s %s\n", name, why);
  free(copy);
  free(rgb);
  free(data);
  return ok;
}

/* ---- digests.txt ------------------------------------------------------------------ */

/* Parses one line "<name>.lic <64 lower-case hex digits>" into name and digest. */
static int parse_line(const char* line, size_t len, char name[MAX_NAME + 1], char digest[65]) {
  const char* space = (const char*)memchr(line, ' ', len);
  size_t n, i;
  if (!space) return 0;
  n = (size_t)(space - line);
  if (n < 5 || n > MAX_NAME || memcmp(space - 4, ".lic", 4) != 0 || len - n - 1 != 64) return 0;
  for (i = 0; i < n; ++i)
    if (line[i] == '/' || line[i] == '\\' || (unsigned char)line[i] <= ' ') return 0;
  for (i = 0; i < 64; ++i) {
    char c = space[1 + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  memcpy(name, line, n);
  name[n] = '\0';
  memcpy(digest, space + 1, 64);
  digest[64] = '\0';
  return 1;
}

int main(int argc, char** argv) {
  char path[4096], name[MAX_NAME + 1], digest[65], why[1024];
  unsigned char* list = NULL;
  size_t size = 0, pos = 0, line_no = 0, files = 0, failures = 0, i;

  if (argc != 3) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR GOLDEN_DIR   (GOLDEN_DIR holds digests.txt and the .lic files)\n",
            argc > 0 ? argv[0] : "golden_decode");
    return 2;
  }
  snprintf(path, sizeof(path), "%s/digests.txt", argv[2]);
  if (!read_file(path, &list, &size)) return 1;
  while (pos < size) {
    const char* line = (const char*)list + pos;
    const char* nl = (const char*)memchr(line, '\n', size - pos);
    size_t len = nl ? (size_t)(nl - line) : size - pos;
    pos += len + (nl ? 1 : 0);
    ++line_no;
    if (len == 0) continue;
    if (!parse_line(line, len, name, digest)) {
      fprintf(stderr, "%s line %lu: expected \"<name>.lic <64 lower-case hex digits>\"\n", path,
              (unsigned long)line_no);
      free(list);
      return 1;
    }
    ++files;
    why[0] = '\0';
    if (!check_file(argv[1], argv[2], name, digest, why, sizeof(why))) ++failures;
    fflush(stdout);
  }
  free(list);
  for (i = 0; i < g_n_decoders; ++i) lic_file_decoder_free(g_decoders[i]);
  if (files == 0) {
    fprintf(stderr, "%s lists no files\n", path);
    return 1;
  }
  if (failures) {
    printf("FAILED: %lu of %lu golden files\n", (unsigned long)failures, (unsigned long)files);
    return 1;
  }
  printf("OK %lu golden files: the pinned pixels on 1, 2 and 4 threads, damaged copies refused\n",
         (unsigned long)files);
  return 0;
}
