/* roundtrip.c - a plain C client of lic.h (compiled by tests/coding/test_coder_c_abi.py).
 *
 * Checks, through the C ABI only: table validation errors, one-shot encode with
 * the size query protocol, decode, streaming encode/decode in uneven chunks
 * (same bytes, same symbols), int32 extremes through escapes, that a
 * truncated stream and a bad index are refused with the right status, and that
 * LIC_MAX_PRECISION is the bound lic_tables_create enforces.
 * Prints "OK <stream bytes> <FNV-1a 32 of the stream> <LIC_MAX_PRECISION>
 * <LIC_DEFAULT_PRECISION>" and exits 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#define N 5000
#define CHECK(cond, what)                                                  \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAIL %s (line %d): %s\n", what, __LINE__, lic_last_error()); \
      return 1;                                                            \
    }                                                                      \
  } while (0)

int main(void) {
  /* Two tables at precision 8: a skewed 5-slot table and a 2-slot table (one value + escape). */
  const int32_t cdfs[2][6] = {{0, 10, 200, 240, 250, 256}, {0, 255, 256, 0, 0, 0}};
  const int32_t lengths[2] = {6, 3};
  const int32_t offsets[2] = {-2, 7};
  const int32_t bad_cdfs[1][3] = {{0, 0, 256}};
  /* One escape-only table whose total is 2^LIC_MAX_PRECISION. */
  const int32_t full_cdf[2] = {0, (int32_t)1 << LIC_MAX_PRECISION};
  static int32_t symbols[N], indexes[N], decoded[N];
  lic_tables* tables = NULL;
  lic_tables* bad = NULL;
  unsigned char *buf, *buf2;
  size_t cap, size = 0, size2 = 0, i;
  unsigned state = 12345u;
  lic_stream_info info;
  lic_encoder* enc;
  lic_decoder* dec;
  uint32_t fnv = 2166136261u;

  CHECK(lic_tables_create(&bad_cdfs[0][0], 1, 3, NULL, NULL, 8, &bad) == LIC_ERR_INVALID_TABLE, "reject flat cdf");
  CHECK(strstr(lic_last_error(), "cdfs[0][1]") != NULL, "error names the position");
  /* The macro is the engine's bound: precision LIC_MAX_PRECISION is accepted, one more is not. */
  CHECK(lic_tables_create(full_cdf, 1, 2, NULL, NULL, LIC_MAX_PRECISION, &bad) == LIC_OK, "max precision");
  CHECK(lic_tables_precision(bad) == LIC_MAX_PRECISION, "max precision kept");
  lic_tables_free(bad);
  bad = NULL;
  CHECK(lic_tables_create(full_cdf, 1, 2, NULL, NULL, LIC_MAX_PRECISION + 1, &bad) == LIC_ERR_INVALID_ARGUMENT,
        "reject precision above LIC_MAX_PRECISION");
  CHECK(LIC_DEFAULT_PRECISION >= 1 && LIC_DEFAULT_PRECISION <= LIC_MAX_PRECISION, "default within the bound");
  CHECK(lic_tables_create(&cdfs[0][0], 2, 6, lengths, offsets, 8, &tables) == LIC_OK, "create tables");
  CHECK(lic_tables_count(tables) == 2 && lic_tables_precision(tables) == 8, "table facts");

  for (i = 0; i < N; ++i) {
    state = state * 1103515245u + 12345u;
    indexes[i] = (int32_t)((state >> 16) & 1u);
    symbols[i] = (int32_t)((state >> 8) % 5u) - 2 + (int32_t)(indexes[i] * 9);
  }
  symbols[0] = INT32_MIN;
  symbols[1] = INT32_MAX;
  symbols[N - 1] = -1000000;

  /* the bound saturates rather than wrap (issue 21 point 24: SIZE_MAX / 8 gave 59) */
  CHECK(lic_encode_bound(SIZE_MAX / 8) == SIZE_MAX && lic_encode_bound(SIZE_MAX) == SIZE_MAX, "bound saturates");
  CHECK(lic_encode_bound(0) == 75 && lic_encode_bound(1) == 91, "small bounds");
  cap = lic_encode_bound(N);
  buf = (unsigned char*)malloc(cap);
  buf2 = (unsigned char*)malloc(cap);
  CHECK(buf && buf2, "malloc");
  /* Size query: a too-small buffer reports the size needed. */
  CHECK(lic_encode(tables, symbols, indexes, N, buf, 4, &size) == LIC_ERR_INVALID_ARGUMENT, "small buffer refused");
  CHECK(size > 4 && size <= cap, "size reported");
  CHECK(lic_encode(tables, symbols, indexes, N, buf, size, &size2) == LIC_OK && size2 == size, "encode");
  CHECK(lic_stream_get_info(buf, size, &info) == LIC_OK && info.n_symbols == N && info.precision == 8, "info");
  CHECK(lic_decode(tables, buf, size, indexes, N, decoded) == LIC_OK, "decode");
  CHECK(memcmp(decoded, symbols, sizeof(symbols)) == 0, "round trip");

  /* Streaming: uneven chunks give the same bytes and symbols. */
  CHECK(lic_encoder_create(tables, &enc) == LIC_OK, "encoder");
  CHECK(lic_encoder_push(enc, symbols, indexes, 7) == LIC_OK, "push 1");
  CHECK(lic_encoder_push(enc, symbols + 7, indexes + 7, 1000) == LIC_OK, "push 2");
  CHECK(lic_encoder_push(enc, symbols + 1007, indexes + 1007, N - 1007) == LIC_OK, "push 3");
  CHECK(lic_encoder_flush(enc, buf2, cap, &size2) == LIC_OK, "flush");
  CHECK(size2 == size && memcmp(buf, buf2, size) == 0, "streaming bytes equal one-shot bytes");
  lic_encoder_free(enc);

  memset(decoded, 0, sizeof(decoded));
  CHECK(lic_decoder_create(tables, buf, size, &dec) == LIC_OK, "decoder");
  CHECK(lic_decoder_decode(dec, indexes, 3, decoded) == LIC_OK, "chunk 1");
  CHECK(lic_decoder_decode(dec, indexes + 3, 2000, decoded + 3) == LIC_OK, "chunk 2");
  CHECK(lic_decoder_decode(dec, indexes + 2003, N - 2003, decoded + 2003) == LIC_OK, "chunk 3");
  CHECK(lic_decoder_finish(dec) == LIC_OK, "finish");
  CHECK(memcmp(decoded, symbols, sizeof(symbols)) == 0, "streaming round trip");
  lic_decoder_free(dec);

  for (i = 0; i < size; ++i) fnv = (fnv ^ buf[i]) * 16777619u;

  /* Hostile input is refused. */
  CHECK(lic_decode(tables, buf, size - 4, indexes, N, decoded) != LIC_OK, "truncated stream refused");
  indexes[10] = 2;
  CHECK(lic_encode(tables, symbols, indexes, N, buf2, cap, &size2) == LIC_ERR_INDEX_OUT_OF_RANGE, "bad index");
  CHECK(strstr(lic_last_error(), "indexes[10] = 2") != NULL, "bad index message");

  lic_tables_free(tables);
  free(buf);
  free(buf2);
  printf("OK %lu %lu %d %d\n", (unsigned long)size, (unsigned long)fnv, LIC_MAX_PRECISION, LIC_DEFAULT_PRECISION);
  return 0;
}
