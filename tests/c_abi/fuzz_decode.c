/* fuzz_decode.c - fuzz harness for the native decoder entry points of lic.h.
 *
 * Checks: lic_stream_get_info, lic_decode and the streaming decoder never read
 * or write out of bounds, crash or hang on any input, and either succeed or
 * return a lic_status; one-shot and streaming decoding agree. A stream that
 * decodes must re-encode to the same bytes whenever the encoder picks the same
 * lane count (rANS decoding with the end-of-stream check is the exact inverse
 * of encoding; only the lane count is the encoder's choice).
 *
 * Input layout: byte 0 picks the table set and the symbol count (n = byte1 *
 * 37 + byte0 % 7), the rest is the stream.
 *
 * Build for libFuzzer:  clang -fsanitize=fuzzer,address,undefined ...
 * Build the standalone driver (what tests/coding/test_coder_c_abi.py and ctest run) with
 * -DLIC_FUZZ_MAIN. `fuzz_decode N` feeds random bytes, truncations and bit flips
 * of valid streams, from a fixed seed, for N iterations and prints "OK N";
 * `fuzz_decode FILE...` replays saved inputs (tests/fuzz/corpus/coder/: any byte
 * string is an input here too) and prints "OK <count> files". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

static lic_tables* g_tables[3];

static void init_tables(void) {
  /* A near-certain slot, a wide table, an escape-only table; precisions 16, 12, 3. */
  static const int32_t a[3][9] = {{0, 65530, 65533, 65536, 0, 0, 0, 0, 0},
                                  {0, 1000, 9000, 30000, 50000, 60000, 64000, 65535, 65536},
                                  {0, 65536, 0, 0, 0, 0, 0, 0, 0}};
  static const int32_t a_len[3] = {4, 9, 2}, a_off[3] = {0, -3, 0};
  static const int32_t b[2][5] = {{0, 1, 2, 4000, 4096}, {0, 2048, 4096, 0, 0}};
  static const int32_t b_len[2] = {5, 3}, b_off[2] = {-1000, 2147483647};
  static const int32_t c[1][4] = {{0, 1, 7, 8}};
  if (g_tables[0]) return;
  if (lic_tables_create(&a[0][0], 3, 9, a_len, a_off, 16, &g_tables[0]) ||
      lic_tables_create(&b[0][0], 2, 5, b_len, b_off, 12, &g_tables[1]) ||
      lic_tables_create(&c[0][0], 1, 4, NULL, NULL, 3, &g_tables[2])) {
    fprintf(stderr, "table setup failed: %s\n", lic_last_error());
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lic_tables* t;
  size_t n, i, n_tables, cut;
  int32_t *indexes, *out, *again;
  lic_stream_info info;
  lic_decoder* dec;
  lic_status s1, s2 = LIC_OK;
  init_tables();
  if (size < 2) return 0;
  t = g_tables[data[0] % 3];
  n = (size_t)data[1] * 37 + data[0] % 7;
  data += 2;
  size -= 2;
  n_tables = lic_tables_count(t);
  indexes = (int32_t*)malloc((n + 1) * sizeof(int32_t));
  out = (int32_t*)malloc((n + 1) * sizeof(int32_t));
  again = (int32_t*)malloc((n + 1) * sizeof(int32_t));
  if (!indexes || !out || !again) abort();
  for (i = 0; i < n; ++i) indexes[i] = (int32_t)((i * 7 + i / 3) % n_tables);

  (void)lic_stream_get_info(data, size, &info);
  s1 = lic_decode(t, data, size, indexes, n, out);
  /* Streaming in two uneven chunks must agree with one-shot decoding. */
  if (lic_decoder_create(t, data, size, &dec) == LIC_OK) {
    cut = n / 3;
    s2 = lic_decoder_decode(dec, indexes, cut, again);
    if (s2 == LIC_OK) s2 = lic_decoder_decode(dec, indexes + cut, n - cut, again + cut);
    if (s2 == LIC_OK) s2 = lic_decoder_finish(dec);
    lic_decoder_free(dec);
  } else {
    s2 = LIC_ERR_CORRUPT_STREAM;
  }
  if ((s1 == LIC_OK) != (s2 == LIC_OK)) {
    fprintf(stderr, "one-shot and streaming disagree: %d vs %d\n", (int)s1, (int)s2);
    abort();
  }
  if (s1 == LIC_OK) {
    size_t cap = lic_encode_bound(n), got = 0;
    uint8_t* re = (uint8_t*)malloc(cap);
    if (!re) abort();
    if (memcmp(out, again, n * sizeof(int32_t)) != 0) abort();
    /* A decodable stream is canonical: re-encoding gives the same bytes. */
    if (lic_encode(t, out, indexes, n, re, cap, &got) != LIC_OK) abort();
    if (re[2] == data[2] && (got != size || memcmp(re, data, size) != 0)) {
      fprintf(stderr, "decoded stream does not re-encode to itself\n");
      abort();
    }
    free(re);
  }
  free(indexes);
  free(out);
  free(again);
  return 0;
}

#ifdef LIC_FUZZ_MAIN
static uint32_t g_rng = 2463534242u;
static uint32_t next_u32(void) { /* xorshift32 */
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}

/* Replays each file as one input. Reads at most sizeof(input) bytes of a file:
 * the harness's inputs are small (libFuzzer runs it with -max_len=4096). */
static int replay(int n_files, char** files) {
  static uint8_t input[1 << 16];
  int f;
  for (f = 0; f < n_files; ++f) {
    size_t size;
    FILE* fh = fopen(files[f], "rb");
    if (!fh) {
      fprintf(stderr, "cannot open %s\n", files[f]);
      return 2;
    }
    size = fread(input, 1, sizeof(input), fh);
    fclose(fh);
    LLVMFuzzerTestOneInput(input, size);
  }
  printf("OK %d files\n", n_files);
  return 0;
}

static int is_count(const char* arg) {
  if (!*arg) return 0;
  for (; *arg; ++arg)
    if (*arg < '0' || *arg > '9') return 0;
  return 1;
}

int main(int argc, char** argv) {
  long iters = argc > 1 ? atol(argv[1]) : 2000, it;
  static uint8_t input[1 << 16];
  static int32_t symbols[4096], indexes[4096];
  init_tables();
  if (argc > 1 && !is_count(argv[1])) return replay(argc - 1, argv + 1);
  for (it = 0; it < iters; ++it) {
    size_t size, k;
    uint32_t mode = next_u32() % 4;
    if (mode == 0) { /* random bytes */
      size = 2 + next_u32() % 300;
      for (k = 0; k < size; ++k) input[k] = (uint8_t)next_u32();
    } else { /* a valid stream, then truncated, flipped or left intact */
      uint8_t sel = (uint8_t)(next_u32() % 3), hi = (uint8_t)(next_u32() % 40);
      size_t n = (size_t)hi * 37 + sel % 7, cap, got = 0;
      const lic_tables* t = g_tables[sel % 3];
      size_t n_tables = lic_tables_count(t);
      input[0] = sel;
      input[1] = hi;
      for (k = 0; k < n; ++k) {
        indexes[k] = (int32_t)((k * 7 + k / 3) % n_tables);
        symbols[k] = (next_u32() % 16 == 0) ? (int32_t)next_u32() : (int32_t)(next_u32() % 9) - 4;
      }
      cap = lic_encode_bound(n);
      if (cap > sizeof(input) - 2 || lic_encode(t, symbols, indexes, n, input + 2, cap, &got) != LIC_OK) abort();
      size = got + 2;
      if (mode == 1 && got > 0) size = 2 + next_u32() % got;
      if (mode == 2) {
        int flips = 1 + (int)(next_u32() % 3);
        while (flips--) {
          k = 2 + next_u32() % got;
          input[k] ^= (uint8_t)(1u << (next_u32() % 8));
        }
      }
    }
    LLVMFuzzerTestOneInput(input, size);
  }
  printf("OK %ld\n", iters);
  return 0;
}
#endif
