/* gaussian.c - a Gaussian-conditional latent coded end to end through lic.h alone.
 *
 * What a learned codec's hyperprior does with lic: the decoder side of the network
 * predicts a mean mu and a scale sigma for every latent value y; the coder codes the
 * residual symbol round(y - mu) with the table of the Gaussian whose scale is
 * sigma's entry in the scale table. Here the latent is synthetic (deterministic
 * pseudo-random, so the run is the same everywhere); everything else is the real
 * sequence, using nothing but the installed library:
 *   1. the default scale table            lic_scale_table_build
 *   2. one Gaussian table per scale       lic_tables_create_parametric
 *   3. sigma -> table index               lic_scales_to_indexes
 *   4. encode, 5. decode, 6. check        lic_encode, lic_decode
 * The tables are the integers lic_core.tables.gaussian_tables(scale_table()) builds,
 * so this stream decodes with lic_core.coder too (same indexes, same bytes).
 *
 * Build against an installed copy (see the README, "Linking the engine from C"):
 *   cmake -S examples/c_gaussian -B build/example -DCMAKE_PREFIX_PATH=PREFIX
 *   cmake --build build/example && ./build/example/c_gaussian
 * or  cc -std=c99 gaussian.c $(pkg-config --cflags --libs lic) -o c_gaussian
 * Prints "OK <symbols> <bytes> <bits per symbol>" and exits 0 when the round trip is exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#define CHANNELS 16
#define HEIGHT 24
#define WIDTH 24
#define N (CHANNELS * HEIGHT * WIDTH)

#define CHECK(call)                                                              \
  do {                                                                           \
    lic_status s_ = (call);                                                      \
    if (s_ != LIC_OK) {                                                          \
      fprintf(stderr, "%s failed: %s (%s)\n", #call, lic_status_string(s_),      \
              lic_last_error());                                                 \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

static uint32_t g_rng = 20240601u;
static double uniform(void) { /* [0, 1), from a 32-bit LCG */
  g_rng = g_rng * 1664525u + 1013904223u;
  return (g_rng >> 8) / 16777216.0;
}
/* Approximately N(0, 1): the sum of 12 uniforms minus 6 (variance 1). Good enough
 * for a synthetic latent, and it needs no libm. */
static double normal(void) {
  double s = -6.0;
  int k;
  for (k = 0; k < 12; ++k) s += uniform();
  return s;
}
static int32_t round_half_away(double x) { return (int32_t)(x < 0 ? x - 0.5 : x + 0.5); }

int main(void) {
  static float y[N], mu[N], sigma[N];
  static int32_t symbols[N], indexes[N], decoded[N];
  float scale_table[LIC_SCALE_TABLE_LEVELS];
  lic_tables* tables = NULL;
  unsigned char* stream;
  size_t size = 0, i;
  double max_error = 0.0;

  /* The header this program was compiled with and the library it runs with agree. */
  if (lic_version() != LIC_VERSION_NUMBER) {
    fprintf(stderr, "lic.h is %s but the library is %s\n", LIC_VERSION_STRING, lic_version_string());
    return 1;
  }

  /* 1-2. The scale table and its Gaussian tables: built once per model, shared by
   * every image (a lic_tables is immutable and thread-safe). */
  CHECK(lic_scale_table_build(LIC_SCALE_TABLE_MIN, LIC_SCALE_TABLE_MAX, LIC_SCALE_TABLE_LEVELS, scale_table));
  CHECK(lic_tables_create_parametric(LIC_DIST_GAUSSIAN, LIC_METHOD_GREEDY, scale_table, LIC_SCALE_TABLE_LEVELS,
                                     LIC_DEFAULT_TAIL_MASS, LIC_DEFAULT_PRECISION, &tables));

  /* The "network output": per channel a typical scale from 0.1 to about 44, varied
   * per position; means in [-3, 3); y drawn around them. */
  for (i = 0; i < N; ++i) {
    double channel_scale = 0.1, t;
    size_t c = i / (HEIGHT * WIDTH), k;
    for (k = 0; k < c; ++k) channel_scale *= 1.5;
    sigma[i] = (float)(channel_scale * (0.5 + uniform()));
    mu[i] = (float)(6.0 * uniform() - 3.0);
    t = mu[i] + sigma[i] * normal();
    y[i] = (float)t;
  }
  y[N / 2] = 1e6f; /* an outlier far outside its table: coded by the escape, exactly */

  /* 3. Symbols and table indexes. */
  for (i = 0; i < N; ++i) symbols[i] = round_half_away((double)y[i] - (double)mu[i]);
  CHECK(lic_scales_to_indexes(sigma, N, scale_table, LIC_SCALE_TABLE_LEVELS, indexes));

  /* 4. Encode into a buffer of the worst-case size (the exact size is returned). */
  stream = (unsigned char*)malloc(lic_encode_bound(N));
  if (!stream) return 1;
  CHECK(lic_encode(tables, symbols, indexes, N, stream, lic_encode_bound(N), &size));

  /* 5. Decode: the decoder derives the same indexes from the same sigma. */
  CHECK(lic_decode(tables, stream, size, indexes, N, decoded));

  /* 6. Exact symbols; the reconstruction y_hat = symbol + mu is within 1/2 of y. */
  if (memcmp(decoded, symbols, sizeof(symbols)) != 0) {
    fprintf(stderr, "decoded symbols differ\n");
    return 1;
  }
  for (i = 0; i < N; ++i) {
    double err = (double)decoded[i] + (double)mu[i] - (double)y[i];
    if (err < 0) err = -err;
    if (err > max_error) max_error = err;
  }
  if (max_error > 0.5 + 1e-3) {
    fprintf(stderr, "reconstruction error %g\n", max_error);
    return 1;
  }

  printf("OK %d %lu %.3f\n", N, (unsigned long)size, 8.0 * (double)size / N);
  free(stream);
  lic_tables_free(tables);
  return 0;
}
