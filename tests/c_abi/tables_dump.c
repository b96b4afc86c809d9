/* tables_dump.c - the table builder through lic.h only (ctest: c_abi_tables;
 * tests/coding/test_c_abi_tables.py compiles it against lic_core.get_include()).
 *
 * Builds, with lic.h's defaults, what lic_core.tables builds by default: the scale
 * table, the scale -> index map of a probe vector (the table's entries, one float32
 * step either side of each, and the edges: 0, negatives, tiny, huge, +-inf), and the
 * Gaussian, Laplace and logistic table sets for the scale table with each method.
 * For each it prints one line
 *     <name> <shape...> <FNV-1a 64 of the little-endian bytes>
 * (a table set hashes cdfs, cdf_lengths, offsets in that order), or
 *     <name> refused <status>
 * for a combination the engine refuses (the CompressAI method for Laplace and
 * logistic). It also checks the contract around them: the size query, the
 * handle-building call, and refusals of bad arguments with the right status.
 *
 *   tables_dump [--dump DIR] [--check FILE]
 *     --dump DIR    also writes each array to DIR/<name>.<array>.bin (native int32 or
 *                   float32) for a byte-for-byte comparison with the Python faces
 *     --check FILE  fails unless the printed lines equal FILE's
 *                   (tests/c_abi/tables_digests.txt, held equal to lic_core.tables)
 * Prints "OK <n> table sets" last and exits 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#define LEVELS LIC_SCALE_TABLE_LEVELS
#define MAX_PROBES (3 * LEVELS + 16)
#define OUT_CAP 8192

#define CHECK(cond, what)                                                             \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "FAIL %s (line %d): %s\n", what, __LINE__, lic_last_error()); \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

static char g_out[OUT_CAP]; /* everything printed, for --check */
static size_t g_out_len;
static const char* g_dump_dir;

static void emit(const char* line) {
  size_t n = strlen(line);
  CHECK(g_out_len + n + 1 < OUT_CAP, "output buffer");
  memcpy(g_out + g_out_len, line, n);
  g_out_len += n;
  g_out[g_out_len++] = '\n';
  g_out[g_out_len] = 0;
  puts(line);
}

/* FNV-1a 64 over 32-bit words written little-endian, so the digest does not
 * depend on the machine's byte order. */
typedef unsigned long long u64;
static u64 fnv_words(u64 h, const void* words, size_t n) {
  const uint32_t* w = (const uint32_t*)words;
  size_t i;
  int b;
  for (i = 0; i < n; ++i)
    for (b = 0; b < 32; b += 8) {
      h ^= (w[i] >> b) & 0xFFu;
      h *= 1099511628211ull;
    }
  return h;
}
#define FNV_START 14695981039346656037ull

static void dump(const char* name, const char* array, const void* data, size_t n_words) {
  char path[1024];
  FILE* fh;
  if (!g_dump_dir) return;
  sprintf(path, "%.900s/%.60s.%.30s.bin", g_dump_dir, name, array);
  fh = fopen(path, "wb");
  CHECK(fh != NULL, "open dump file");
  CHECK(fwrite(data, 4, n_words, fh) == n_words, "write dump file");
  fclose(fh);
}

/* The float32 one step up (+1) or down (-1) from a positive finite x. */
static float float_step(float x, int dir) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  bits = dir > 0 ? bits + 1 : bits - 1;
  memcpy(&x, &bits, 4);
  return x;
}

static void check_table_set(const char* name, lic_distribution dist, lic_method method, const float* scales) {
  size_t max_len = 0, n = LEVELS;
  int32_t *cdfs, lengths[LEVELS], offsets[LEVELS];
  lic_tables* tables = NULL;
  lic_status s;
  char line[160];
  u64 h;

  s = lic_parametric_tables_size(dist, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION, &max_len);
  CHECK(s == LIC_OK && max_len >= 3, "size query");
  cdfs = (int32_t*)malloc(n * max_len * sizeof(int32_t));
  CHECK(cdfs != NULL, "malloc");
  s = lic_parametric_tables_build(dist, method, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION, cdfs, max_len,
                                  lengths, offsets);
  if (s != LIC_OK) {
    /* The one refusal the engine makes for these arguments, and the handle call agrees. */
    CHECK(s == LIC_ERR_INVALID_ARGUMENT && method == LIC_METHOD_COMPRESSAI && dist != LIC_DIST_GAUSSIAN,
          "only compressai for non-Gaussian is refused");
    CHECK(lic_tables_create_parametric(dist, method, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION,
                                       &tables) == s && tables == NULL,
          "handle call refuses it too");
    sprintf(line, "%s refused %d", name, (int)s);
    emit(line);
    free(cdfs);
    return;
  }
  /* What was built is a valid coder table set, and the one-call form builds it too. */
  CHECK(lic_tables_create(cdfs, n, max_len, lengths, offsets, LIC_DEFAULT_PRECISION, &tables) == LIC_OK,
        "built tables validate");
  lic_tables_free(tables);
  CHECK(lic_tables_create_parametric(dist, method, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION,
                                     &tables) == LIC_OK && lic_tables_count(tables) == n,
        "handle call");
  lic_tables_free(tables);
  /* One row too narrow is refused, naming the table. */
  CHECK(lic_parametric_tables_build(dist, method, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION, cdfs,
                                    max_len - 1, lengths, offsets) == LIC_ERR_INVALID_ARGUMENT,
        "narrow rows refused");
  CHECK(strstr(lic_last_error(), "table") != NULL, "narrow rows message");
  /* Rebuild (the refused call may have written lengths/offsets) and hash. */
  CHECK(lic_parametric_tables_build(dist, method, scales, n, LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION, cdfs,
                                    max_len, lengths, offsets) == LIC_OK,
        "rebuild");
  h = fnv_words(FNV_START, cdfs, n * max_len);
  h = fnv_words(h, lengths, n);
  h = fnv_words(h, offsets, n);
  sprintf(line, "%s %lu %lu %016llx", name, (unsigned long)n, (unsigned long)max_len, h);
  emit(line);
  dump(name, "cdfs", cdfs, n * max_len);
  dump(name, "lengths", lengths, n);
  dump(name, "offsets", offsets, n);
  free(cdfs);
}

static void check_refusals(const float* table) {
  float bad[3];
  int32_t idx[3], cdf[4];
  size_t max_len = 7;
  lic_tables* t = (lic_tables*)&max_len; /* must be overwritten with NULL */
  const double pmf[3] = {0.5, 0.25, 0.25};

  bad[0] = 1.0f;
  bad[1] = 0.0f;
  bad[1] = bad[1] / bad[1]; /* NaN, without <math.h> */
  bad[2] = 2.0f;
  CHECK(lic_scales_to_indexes(bad, 3, table, LEVELS, idx) == LIC_ERR_INVALID_ARGUMENT, "NaN scale refused");
  CHECK(strstr(lic_last_error(), "scales[1]") != NULL, "NaN message names the position");
  CHECK(lic_scales_to_indexes(bad, 1, table, 0, idx) == LIC_ERR_INVALID_ARGUMENT, "empty scale table refused");
  CHECK(lic_scale_table_build(2.0, 1.0, 8, bad) == LIC_ERR_INVALID_ARGUMENT, "min > max refused");
  CHECK(lic_scale_table_build(0.11, 256.0, (size_t)-1, NULL) == LIC_ERR_INVALID_ARGUMENT, "huge levels");
  CHECK(lic_parametric_tables_size(LIC_DIST_GAUSSIAN, table, LEVELS, LIC_DEFAULT_TAIL_MASS, LIC_MAX_PRECISION + 1,
                                   &max_len) == LIC_ERR_INVALID_ARGUMENT && max_len == 0,
        "precision above LIC_MAX_PRECISION refused");
  CHECK(lic_parametric_tables_size(7, table, LEVELS, LIC_DEFAULT_TAIL_MASS, 16, &max_len) ==
            LIC_ERR_INVALID_ARGUMENT,
        "unknown distribution refused");
  CHECK(lic_parametric_tables_build(LIC_DIST_GAUSSIAN, -1, table, LEVELS, LIC_DEFAULT_TAIL_MASS, 16, NULL, 0, NULL,
                                    NULL) == LIC_ERR_INVALID_ARGUMENT,
        "unknown method refused");
  CHECK(lic_parametric_tables_size(LIC_DIST_GAUSSIAN, table, LEVELS, 0.0, 16, &max_len) == LIC_ERR_INVALID_ARGUMENT,
        "zero tail mass refused");
  CHECK(lic_parametric_tables_size(LIC_DIST_GAUSSIAN, table, 0, LIC_DEFAULT_TAIL_MASS, 16, &max_len) == LIC_OK &&
            max_len == 0,
        "no scales, no rows");
  CHECK(lic_parametric_tables_size(LIC_DIST_GAUSSIAN, table, LEVELS, LIC_DEFAULT_TAIL_MASS, 16, NULL) ==
            LIC_ERR_INVALID_ARGUMENT,
        "NULL max_len refused");
  CHECK(lic_tables_create_parametric(LIC_DIST_GAUSSIAN, LIC_METHOD_GREEDY, table, 0, LIC_DEFAULT_TAIL_MASS, 16,
                                     &t) == LIC_ERR_INVALID_ARGUMENT && t == NULL,
        "empty table set refused");
  /* A scale whose table cannot fit 2^precision slots is refused, not truncated. */
  CHECK(lic_parametric_tables_size(LIC_DIST_GAUSSIAN, table, LEVELS, LIC_DEFAULT_TAIL_MASS, 4, &max_len) ==
            LIC_ERR_INVALID_ARGUMENT,
        "too wide for the precision");
  /* pmf quantisation: the lic_core.tables docstring's example, and a refusal. */
  CHECK(lic_pmf_quantize(pmf, 3, 4, LIC_METHOD_GREEDY, cdf) == LIC_OK && cdf[0] == 0 && cdf[1] == 8 &&
            cdf[2] == 12 && cdf[3] == 16,
        "pmf quantised");
  CHECK(lic_pmf_quantize(pmf, 0, 4, LIC_METHOD_GREEDY, cdf) == LIC_ERR_INVALID_ARGUMENT, "empty pmf refused");
}

static int check_against(const char* path) {
  static char want[OUT_CAP];
  size_t n;
  FILE* fh = fopen(path, "rb");
  if (!fh) {
    fprintf(stderr, "cannot open %s\n", path);
    return 2;
  }
  n = fread(want, 1, OUT_CAP - 1, fh);
  fclose(fh);
  want[n] = 0;
  if (strcmp(want, g_out) != 0) {
    fprintf(stderr, "FAIL: the lines above differ from %s:\n%s", path, want);
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  static const struct {
    const char* name;
    lic_distribution dist;
    lic_method method;
  } sets[] = {{"gaussian-greedy", LIC_DIST_GAUSSIAN, LIC_METHOD_GREEDY},
              {"gaussian-compressai", LIC_DIST_GAUSSIAN, LIC_METHOD_COMPRESSAI},
              {"laplace-greedy", LIC_DIST_LAPLACE, LIC_METHOD_GREEDY},
              {"laplace-compressai", LIC_DIST_LAPLACE, LIC_METHOD_COMPRESSAI},
              {"logistic-greedy", LIC_DIST_LOGISTIC, LIC_METHOD_GREEDY},
              {"logistic-compressai", LIC_DIST_LOGISTIC, LIC_METHOD_COMPRESSAI}};
  const char* check = NULL;
  float table[LEVELS], probes[MAX_PROBES], zero = 0.0f;
  int32_t indexes[MAX_PROBES];
  size_t n_probes = 0, i;
  char line[160];
  int a;

  for (a = 1; a + 1 < argc; a += 2) {
    if (strcmp(argv[a], "--dump") == 0) g_dump_dir = argv[a + 1];
    else if (strcmp(argv[a], "--check") == 0) check = argv[a + 1];
    else break;
  }
  if (a != argc) {
    fprintf(stderr, "usage: %s [--dump DIR] [--check FILE]\n", argv[0]);
    return 2;
  }

  CHECK(lic_scale_table_build(LIC_SCALE_TABLE_MIN, LIC_SCALE_TABLE_MAX, LEVELS, table) == LIC_OK, "scale table");
  sprintf(line, "scale_table %d %016llx", LEVELS, fnv_words(FNV_START, table, LEVELS));
  emit(line);
  dump("scale_table", "values", table, LEVELS);

  for (i = 0; i < LEVELS; ++i) {
    probes[n_probes++] = table[i];
    probes[n_probes++] = float_step(table[i], -1);
    probes[n_probes++] = float_step(table[i], +1);
  }
  probes[n_probes++] = 0.0f;
  probes[n_probes++] = -zero;
  probes[n_probes++] = -1.0f;
  probes[n_probes++] = 1e-30f;
  probes[n_probes++] = 1e-45f; /* the smallest subnormal */
  probes[n_probes++] = 0.5f;
  probes[n_probes++] = 300.0f;
  probes[n_probes++] = 1e30f;
  probes[n_probes++] = 1.0f / zero;  /* +inf: the last table */
  probes[n_probes++] = -1.0f / zero; /* -inf: the first */
  CHECK(lic_scales_to_indexes(probes, n_probes, table, LEVELS, indexes) == LIC_OK, "scale indexes");
  sprintf(line, "scale_indexes %lu %016llx", (unsigned long)n_probes,
          fnv_words(fnv_words(FNV_START, probes, n_probes), indexes, n_probes));
  emit(line);
  dump("scale_indexes", "scales", probes, n_probes);
  dump("scale_indexes", "indexes", indexes, n_probes);

  for (i = 0; i < sizeof(sets) / sizeof(sets[0]); ++i) check_table_set(sets[i].name, sets[i].dist, sets[i].method, table);
  check_refusals(table);

  if (check) {
    int rc = check_against(check);
    if (rc) return rc;
  }
  printf("OK %lu table sets\n", (unsigned long)(sizeof(sets) / sizeof(sets[0])));
  return 0;
}
