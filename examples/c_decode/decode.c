/* decode.c - a whole .lic file to a PPM image, with the lic engine alone (no Python).
 *
 *   c_decode WEIGHTS_DIR FILE.lic OUT.ppm [THREADS [EXPECTED_SHA256]]
 *
 * WEIGHTS_DIR is a zoo release folder: RELEASE.json and the release's
 * *.decoder.safetensors files (lic_core/zoo/weights/ in the lic-core sources, or
 * the weights/ folder of an installed lic_core package). The steps, all through lic.h:
 *   1. read the file and its header (model, quality, release, image size)
 *                                          lic_file_read_header
 *   2. open the decoder weights the header names, checked against RELEASE.json
 *                                          lic_file_decoder_open_release
 *   3. decode into a caller-owned H x W x 3 buffer
 *                                          lic_file_decoder_decode
 *   4. write a binary PPM (P6), print the pixels' SHA-256
 *                                          lic_sha256
 * Files of integer synthesis (container format 4, zoo release zoo-v5 on) decode to the
 * same pixels on every machine, so the digest printed here is the one the release's
 * golden files pin (tests/fixtures/golden/<release>/digests.txt). Given
 * EXPECTED_SHA256 (64 hex digits), the program also checks it (a conformance check).
 *
 * Build against an installed copy (see the README, "Linking the engine from C"):
 *   cmake -S examples/c_decode -B build/c_decode -DCMAKE_PREFIX_PATH=PREFIX
 *   cmake --build build/c_decode
 *   ./build/c_decode/c_decode lic_core/zoo/weights photo.lic photo.ppm
 * or  cc -std=c99 decode.c $(pkg-config --cflags --libs lic) -o c_decode
 *
 * Output: on stdout "<FILE.lic>: <model> q<Q>, <H>x<W>, release <label>, <T> thread(s)
 * -> <OUT.ppm>" and "image sha256 <64 hex digits>". Exit status: 0 decoded (and the
 * digest is the expected one), 1 the file, the weights, the decode, the output or the
 * expected digest failed (a message on stderr names what and why: lic_last_error()),
 * 2 a usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char* g_program = "c_decode";

static int usage(const char* why) {
  fprintf(stderr,
          "%s: %s\n"
          "usage: %s WEIGHTS_DIR FILE.lic OUT.ppm [THREADS [EXPECTED_SHA256]]\n"
          "  WEIGHTS_DIR      a zoo release folder (RELEASE.json, *.decoder.safetensors)\n"
          "  THREADS          threads for the large layers, 1..64 (default 1; the pixels\n"
          "                   do not depend on it)\n"
          "  EXPECTED_SHA256  64 hex digits: fail unless the decoded pixels have this digest\n",
          g_program, why, g_program);
  return EXIT_USAGE;
}

/* Prints "<what>: <status name>: <message>" for a failed lic_* call. */
static int failed(const char* what, lic_status s) {
  fprintf(stderr, "%s: %s: %s (%s)\n", g_program, what, lic_last_error(), lic_status_string(s));
  return EXIT_FAILED;
}

/* The whole file at path into *data (malloc'd), in chunks: works for pipes too. */
static int read_whole_file(const char* path, unsigned char** data, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* buf = NULL;
  size_t cap = 0, n = 0;
  if (!f) {
    fprintf(stderr, "%s: cannot open %s: %s\n", g_program, path, strerror(errno));
    return 0;
  }
  for (;;) {
    size_t got;
    if (n == cap) {
      size_t new_cap = cap ? 2 * cap : (size_t)1 << 16;
      unsigned char* grown = new_cap > cap ? (unsigned char*)realloc(buf, new_cap) : NULL;
      if (!grown) {
        fprintf(stderr, "%s: %s: out of memory after %lu bytes\n", g_program, path, (unsigned long)n);
        free(buf);
        fclose(f);
        return 0;
      }
      buf = grown;
      cap = new_cap;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    fprintf(stderr, "%s: cannot read %s: %s\n", g_program, path, strerror(errno));
    free(buf);
    fclose(f);
    return 0;
  }
  fclose(f);
  *data = buf;
  *size = n;
  return 1;
}

static int write_ppm(const char* path, const uint8_t* rgb, uint32_t width, uint32_t height) {
  size_t bytes = (size_t)width * height * 3;
  FILE* f = fopen(path, "wb");
  int ok;
  if (!f) {
    fprintf(stderr, "%s: cannot create %s: %s\n", g_program, path, strerror(errno));
    return 0;
  }
  ok = fprintf(f, "P6\n%lu %lu\n255\n", (unsigned long)width, (unsigned long)height) > 0 &&
       fwrite(rgb, 1, bytes, f) == bytes;
  ok = (fclose(f) == 0) && ok;
  if (!ok) fprintf(stderr, "%s: cannot write %s: %s\n", g_program, path, strerror(errno));
  return ok;
}

static void to_hex(const uint8_t digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; ++i) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}

/* 64 hex digits (either case) -> lower case in out; 0 if s is anything else. */
static int parse_digest(const char* s, char out[65]) {
  int i;
  if (strlen(s) != 64) return 0;
  for (i = 0; i < 64; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    out[i] = c;
  }
  out[64] = '\0';
  return 1;
}

int main(int argc, char** argv) {
  const char *weights_dir, *in_path, *out_path;
  unsigned threads = 1;
  char expected[65] = "", hex[65];
  unsigned char* data = NULL;
  uint8_t* rgb = NULL;
  uint8_t digest[32];
  size_t size = 0, rgb_size;
  lic_file_header h;
  lic_file_decoder* dec = NULL;
  lic_status s;
  int rc = EXIT_FAILED;

  if (argc > 0 && argv[0] && argv[0][0]) g_program = argv[0];
  if (argc < 4 || argc > 6) return usage("expected 3 to 5 arguments");
  weights_dir = argv[1];
  in_path = argv[2];
  out_path = argv[3];
  if (argc >= 5) {
    char* end = NULL;
    unsigned long t;
    errno = 0;
    t = strtoul(argv[4], &end, 10);
    if (errno || !end || *end || end == argv[4] || argv[4][0] == '-' || t < 1 || t > 64)
      return usage("THREADS must be a number from 1 to 64");
    threads = (unsigned)t;
  }
  if (argc == 6 && !parse_digest(argv[5], expected)) return usage("EXPECTED_SHA256 must be 64 hex digits");

  /* The header this program was compiled with and the library it runs with agree. */
  if (lic_version() != LIC_VERSION_NUMBER) {
    fprintf(stderr, "%s: lic.h is %s but the library is %s\n", g_program, LIC_VERSION_STRING,
            lic_version_string());
    return EXIT_FAILED;
  }

  /* 1. The file and its header: the image size to allocate, the weights to open. */
  if (!read_whole_file(in_path, &data, &size)) return EXIT_FAILED;
  s = lic_file_read_header(data, size, 0, 1, &h);
  if (s != LIC_OK) {
    fprintf(stderr, "%s: %s is not a readable .lic file: %s (%s)\n", g_program, in_path, lic_last_error(),
            lic_status_string(s));
    goto done;
  }
  if (h.synthesis == 0) {
    fprintf(stderr,
            "%s: %s was written with float synthesis (container format %u, release '%s'); this engine "
            "decodes files of integer synthesis (format 4, zoo-v5 on): decode it with lic-core's Python "
            "package (lic decompress)\n",
            g_program, in_path, h.version, h.release);
    goto done;
  }
  if (h.release[0] == '\0') {
    fprintf(stderr, "%s: %s names no zoo release (weights not from the zoo): decode it with the model that "
            "wrote it\n", g_program, in_path);
    goto done;
  }

  /* 2. The release's decoder weights for this model and quality (SHA-256 checked). */
  s = lic_file_decoder_open_release(weights_dir, h.release, h.model_id, h.quality, &dec);
  if (s != LIC_OK) {
    rc = failed("opening the weights", s);
    goto done;
  }

  /* 3. Decode into our own buffer: height x width x 3 bytes, row by row. */
  rgb_size = (size_t)h.width * h.height * 3;
  rgb = (uint8_t*)malloc(rgb_size);
  if (!rgb) {
    fprintf(stderr, "%s: no memory for a %lu x %lu image\n", g_program, (unsigned long)h.width,
            (unsigned long)h.height);
    goto done;
  }
  s = lic_file_decoder_decode(dec, data, size, 0, threads, rgb, rgb_size);
  if (s != LIC_OK) {
    fprintf(stderr, "%s: decoding %s: %s (%s)\n", g_program, in_path, lic_last_error(), lic_status_string(s));
    goto done;
  }

  /* 4. The image and its digest. */
  if (!write_ppm(out_path, rgb, h.width, h.height)) goto done;
  lic_sha256(rgb, rgb_size, digest);
  to_hex(digest, hex);
  printf("%s: %s q%u, %lux%lu, release %s, %u thread%s -> %s\n", in_path, lic_file_model_name(h.model_id),
         h.quality, (unsigned long)h.height, (unsigned long)h.width, h.release, threads, threads == 1 ? "" : "s",
         out_path);
  printf("image sha256 %s\n", hex);
  if (expected[0] && strcmp(expected, hex) != 0) {
    fprintf(stderr, "%s: %s decoded to pixels of SHA-256 %s, expected %s\n", g_program, in_path, hex, expected);
    goto done;
  }
  rc = 0;

done:
  lic_file_decoder_free(dec);
  free(rgb);
  free(data);
  return rc;
}
