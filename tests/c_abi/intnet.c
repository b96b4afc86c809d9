/* intnet.c - a plain C client of lic.h's integer networks (lic_intnet_*).
 *
 * Checks, through the C ABI only: each layer kind against a direct int64
 * transcription of docs/integer.md (weights and inputs over the whole int16 range,
 * so sums wrap; every shift and activation), a stack, scale indexes, the joint
 * model's encoder walk -> lic_encode -> decoder walk round trip (same symbols and
 * means, and the same means as step + commit by hand), and that bad layers, sizes,
 * schedules and a truncated stream are refused with the right status and a
 * message; and that lic_intnet_run_threads gives lic_intnet_run's integers. Prints "OK" and exits 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#define CHECK(cond, what)                                                           \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "FAIL %s (line %d): %s\n", what, __LINE__, lic_last_error()); \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

static uint64_t g_state = 2024u;
static int32_t draw(int32_t lo, int32_t hi) { /* uniform-ish in [lo, hi] (a 64-bit LCG's high half) */
  const uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo) + 1u; /* 1 .. 2^32 */
  g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
  return (int32_t)((int64_t)lo + (int64_t)((g_state >> 32) % span));
}
static int16_t draw16(void) { /* half the time an extreme, so that sums wrap */
  static const int16_t extremes[4] = {-32768, -32767, 32767, 0};
  return draw(0, 1) ? extremes[draw(0, 3)] : (int16_t)draw(-32768, 32767);
}

/* ---- docs/integer.md, "A layer", transcribed (int64, floor by hand) ---- */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t finish(int64_t sum, int32_t bias, unsigned s, int act, unsigned bits) {
  int64_t acc = (int64_t)(uint32_t)((uint64_t)sum + (uint64_t)(int64_t)bias), r, lo, hi;
  if (acc >= 2147483648LL) acc -= 4294967296LL; /* wrap32 */
  r = floor_div(acc + (s ? (int64_t)1 << (s - 1) : 0), (int64_t)1 << s);
  if (act == LIC_INTNET_ACT_RELU && r < 0) r = 0;
  if (act == LIC_INTNET_ACT_LEAKY && r < 0) r = floor_div(41 * r, 4096);
  lo = -((int64_t)1 << (bits - 1)), hi = ((int64_t)1 << (bits - 1)) - 1;
  return r < lo ? lo : r > hi ? hi : r;
}
/* Output (r, c, o) of one layer on x (H x W x ci). */
static int64_t reference(int kind, size_t ci, size_t co, size_t k, const int16_t* w, const int32_t* b,
                         const uint8_t* s, int act, unsigned bits, const int16_t* x, size_t H, size_t W,
                         size_t r, size_t c, size_t o) {
  int64_t sum = 0;
  long p = ((long)k - 1) / 2, dy, dx, yr, yc;
  size_t i;
  for (i = 0; i < ci; ++i) {
    if (kind == LIC_INTNET_DENSE) {
      sum += (int64_t)w[o * ci + i] * x[(r * W + c) * ci + i];
      continue;
    }
    for (dy = 0; dy < (long)k; ++dy)
      for (dx = 0; dx < (long)k; ++dx) {
        if (kind == LIC_INTNET_CONV) {
          yr = (long)r + dy - p, yc = (long)c + dx - p;
          if (yr < 0 || yc < 0 || yr >= (long)H || yc >= (long)W) continue;
          sum += (int64_t)w[((o * ci + i) * k + (size_t)dy) * k + (size_t)dx] * x[((size_t)yr * W + (size_t)yc) * ci + i];
        } else {
          yr = (long)r + p - dy, yc = (long)c + p - dx;
          if (yr < 0 || yc < 0 || yr % 2 || yc % 2 || yr / 2 >= (long)H || yc / 2 >= (long)W) continue;
          sum += (int64_t)w[((i * co + o) * k + (size_t)dy) * k + (size_t)dx] *
                 x[((size_t)(yr / 2) * W + (size_t)(yc / 2)) * ci + i];
        }
      }
  }
  return finish(sum, b[o], s[o], act, bits);
}

static int check_layer(int kind, size_t ci, size_t co, size_t k, int act, unsigned bits, size_t H, size_t W) {
  size_t nw = ci * co * k * k, up = kind == LIC_INTNET_DECONV ? 2 : 1, oh, ow, oc, i, r, c, o;
  unsigned ob;
  int16_t* w = malloc(nw * sizeof *w);
  int16_t* x = malloc(H * W * ci * sizeof *x);
  void* out = malloc(up * H * up * W * co * 4);
  int32_t* b = malloc(co * sizeof *b);
  uint8_t* s = malloc(co);
  lic_intnet* net = NULL;
  CHECK(w && x && out && b && s, "malloc");
  for (i = 0; i < nw; ++i) w[i] = draw16();
  for (i = 0; i < H * W * ci; ++i) x[i] = draw16();
  for (i = 0; i < co; ++i) b[i] = draw(-2147483647 - 1, 2147483647), s[i] = (uint8_t)draw(0, 31);
  CHECK(lic_intnet_create(&net) == LIC_OK, "create");
  CHECK(lic_intnet_add_layer(net, kind, ci, co, k, w, b, s, act, bits) == LIC_OK, "add_layer");
  CHECK(lic_intnet_output_shape(net, H, W, &oh, &ow, &oc, &ob) == LIC_OK, "output_shape");
  CHECK(oh == up * H && ow == up * W && oc == co && ob == bits, "output shape");
  CHECK(lic_intnet_run(net, x, H, W, out, oh * ow * oc) == LIC_OK, "run");
  for (r = 0; r < oh; ++r)
    for (c = 0; c < ow; ++c)
      for (o = 0; o < co; ++o) {
        int64_t want = reference(kind, ci, co, k, w, b, s, act, bits, x, H, W, r, c, o);
        size_t at = (r * ow + c) * co + o;
        int64_t got = bits == 16 ? ((int16_t*)out)[at] : ((int32_t*)out)[at];
        CHECK(got == want, "layer output equals the specification");
      }
  lic_intnet_free(net);
  free(w), free(x), free(out), free(b), free(s);
  return 0;
}

/* lic_intnet_run_threads: a conv (40 x 36 x 64 -> 48, 40 M multiply-adds) and a
 * deconv (-> 16, 28 M), both large enough to split, give lic_intnet_run's integers
 * for every thread count, each run into a buffer filled with a pattern first (a
 * position no thread wrote would show). */
static int check_threads(void) {
  static const unsigned counts[6] = {0, 1, 2, 3, 8, 4000000000u};
  const size_t H = 40, W = 36, ci = 64, co = 48, k = 3, co2 = 16;
  int16_t* w = malloc(co * ci * k * k * sizeof *w);
  int16_t* w2 = malloc(co * co2 * 5 * 5 * sizeof *w2);
  int16_t* x = malloc(H * W * ci * sizeof *x);
  int16_t* want = malloc(4 * H * W * co2 * sizeof *want);
  int16_t* got = malloc(4 * H * W * co2 * sizeof *got);
  int32_t b[48];
  uint8_t s[48];
  lic_intnet* net = NULL;
  size_t i, n = 4 * H * W * co2, c;
  CHECK(w && w2 && x && want && got, "malloc");
  for (i = 0; i < co * ci * k * k; ++i) w[i] = draw16();
  for (i = 0; i < co * co2 * 5 * 5; ++i) w2[i] = draw16();
  for (i = 0; i < H * W * ci; ++i) x[i] = draw16();
  for (i = 0; i < co; ++i) b[i] = draw(-100000, 100000), s[i] = (uint8_t)draw(12, 20);
  CHECK(lic_intnet_create(&net) == LIC_OK, "create");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_CONV, ci, co, k, w, b, s, LIC_INTNET_ACT_LEAKY, 16) == LIC_OK, "conv");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_DECONV, co, co2, 5, w2, b, s, LIC_INTNET_ACT_NONE, 16) == LIC_OK,
        "deconv");
  CHECK(lic_intnet_run(net, x, H, W, want, n) == LIC_OK, "run");
  for (c = 0; c < 6; ++c) {
    memset(got, 0x5a, n * sizeof *got);
    CHECK(lic_intnet_run_threads(net, x, H, W, got, n, counts[c]) == LIC_OK, "run_threads");
    CHECK(memcmp(got, want, n * sizeof *got) == 0, "run_threads gives lic_intnet_run's integers");
  }
  CHECK(lic_intnet_run_threads(net, x, H, W, got, n + 1, 2) == LIC_ERR_INVALID_ARGUMENT, "wrong out_count");
  CHECK(lic_intnet_run_threads(NULL, x, H, W, got, n, 2) == LIC_ERR_INVALID_ARGUMENT, "NULL net");
  lic_intnet_free(net);
  free(w), free(w2), free(x), free(want), free(got);
  return 0;
}

/* A dense layer c_in -> c_out of small weights (outputs spread over the thresholds). */
static int add_dense(lic_intnet* net, size_t ci, size_t co, int act, unsigned bits) {
  int16_t w[64 * 64];
  int32_t b[64];
  uint8_t s[64];
  size_t i;
  for (i = 0; i < ci * co; ++i) w[i] = (int16_t)draw(-60, 60);
  for (i = 0; i < co; ++i) b[i] = draw(-3000, 3000), s[i] = (uint8_t)draw(2, 7);
  return lic_intnet_add_layer(net, LIC_INTNET_DENSE, ci, co, 1, w, b, s, act, bits) != LIC_OK;
}

#define M 2
#define H 3
#define W 4

static int check_joint(void) {
  static const int32_t thresholds[7] = {-200, -90, -30, 0, 25, 80, 300};
  int16_t params[H * W * 2 * M], grid[(H + 4) * (W + 4) * M];
  float y[H * W * M], scales[8];
  int64_t positions[H * W], starts[H * W + 1];
  int32_t symbols[H * W * M], indexes[H * W * M], means[H * W * M];
  int32_t decoded[H * W * M], decoded_means[H * W * M], idx[M], mu[M];
  lic_intnet *context = NULL, *ep = NULL;
  lic_intnet_joint* joint = NULL;
  lic_tables* tables = NULL;
  unsigned char stream[4096];
  size_t size = 0, i;

  CHECK(lic_intnet_create(&context) == LIC_OK && lic_intnet_create(&ep) == LIC_OK, "create networks");
  CHECK(!add_dense(context, 12 * M, 2 * M, LIC_INTNET_ACT_NONE, 16), "context layer");
  CHECK(!add_dense(ep, 4 * M, 5, LIC_INTNET_ACT_LEAKY, 16) && !add_dense(ep, 5, 2 * M, LIC_INTNET_ACT_NONE, 32),
        "entropy-parameter layers");
  CHECK(lic_intnet_joint_create(context, ep, thresholds, 7, 4, &joint) == LIC_OK, "joint create");
  CHECK(lic_intnet_joint_channels(joint) == M, "M");
  lic_intnet_free(context), lic_intnet_free(ep); /* the joint model holds copies */

  CHECK(lic_scale_table_build(0.11, 64.0, 8, scales) == LIC_OK, "scale table");
  CHECK(lic_tables_create_parametric(LIC_DIST_GAUSSIAN, LIC_METHOD_GREEDY, scales, 8, LIC_DEFAULT_TAIL_MASS,
                                     LIC_DEFAULT_PRECISION, &tables) == LIC_OK, "tables");
  for (i = 0; i < H * W * 2 * M; ++i) params[i] = (int16_t)draw(-2000, 2000);
  for (i = 0; i < H * W * M; ++i) y[i] = (float)draw(-4000, 4000) / 64.0f;
  for (i = 0; i <= H * W; ++i) starts[i] = (int64_t)i; /* raster order, one position per step */
  for (i = 0; i < H * W; ++i) positions[i] = (int64_t)i;

  CHECK(lic_intnet_joint_encode(joint, params, y, H, W, positions, starts, H * W, symbols, indexes, means) == LIC_OK,
        "encode walk");
  CHECK(lic_encode(tables, symbols, indexes, H * W * M, stream, sizeof stream, &size) == LIC_OK, "lic_encode");
  CHECK(lic_intnet_joint_decode(joint, tables, stream, size, params, H, W, positions, starts, H * W, decoded,
                                decoded_means) == LIC_OK, "decode walk");
  CHECK(memcmp(decoded, symbols, sizeof symbols) == 0, "decoded symbols");
  CHECK(memcmp(decoded_means, means, sizeof means) == 0, "decoded means");

  /* the same walk by hand: step, then commit the symbols */
  memset(grid, 0, sizeof grid);
  for (i = 0; i < H * W; ++i) {
    CHECK(lic_intnet_joint_step(joint, grid, params, H, W, &positions[i], 1, idx, mu) == LIC_OK, "step");
    CHECK(memcmp(idx, &indexes[i * M], sizeof idx) == 0 && memcmp(mu, &means[i * M], sizeof mu) == 0,
          "step gives the walk's indexes and means");
    CHECK(lic_intnet_joint_commit(joint, grid, H, W, &positions[i], 1, &symbols[i * M], mu) == LIC_OK, "commit");
  }

  /* refusals */
  CHECK(lic_intnet_joint_decode(joint, tables, stream, size - 4, params, H, W, positions, starts, H * W, decoded,
                                decoded_means) == LIC_ERR_TRUNCATED_STREAM, "truncated stream");
  positions[1] = 0;
  CHECK(lic_intnet_joint_decode(joint, tables, stream, size, params, H, W, positions, starts, H * W, decoded,
                                decoded_means) == LIC_ERR_INVALID_ARGUMENT, "a position twice");
  CHECK(strstr(lic_last_error(), "appears twice") != NULL, "message names the repeat");
  positions[1] = 99;
  CHECK(lic_intnet_joint_step(joint, grid, params, H, W, positions, 2, idx, mu) == LIC_ERR_INVALID_ARGUMENT,
        "position outside");
  CHECK(lic_intnet_joint_step(joint, grid, params, (size_t)1 << 40, W, positions, 1, idx, mu) ==
            LIC_ERR_LIMIT_EXCEEDED, "absurd latent");
  lic_intnet_joint_free(joint);
  lic_tables_free(tables);
  return 0;
}

int main(void) {
  static const int kinds[3] = {LIC_INTNET_CONV, LIC_INTNET_DECONV, LIC_INTNET_DENSE};
  static const int16_t w1[4] = {1, 2, 3, -4};
  static const int32_t b1[2] = {0, 8}, thresholds[3] = {-5, 0, 7}, sigma[5] = {-9, -5, 0, 1, 100};
  const uint8_t s1[2] = {0, 4}, s40[2] = {0, 40};
  int32_t scale_out[5];
  int16_t x1[2] = {10, 20}, y1[2];
  int kind, act, t;
  lic_intnet* net = NULL;
  size_t oh;

  for (t = 0; t < 24; ++t) {
    kind = kinds[t % 3], act = t / 3 % 3;
    if (check_layer(kind, (size_t)draw(1, 40), (size_t)draw(1, 9), kind == LIC_INTNET_DENSE ? 1 : t % 2 ? 5 : 3, act,
                    t / 9 % 2 ? 32 : 16, (size_t)draw(1, 6), (size_t)draw(1, 6)))
      return 1;
  }

  /* the example of lic_core.coding.intnet: [10, 20] -> [50, 0] */
  CHECK(lic_intnet_create(&net) == LIC_OK, "create");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_DENSE, 2, 2, 1, w1, b1, s40, LIC_INTNET_ACT_RELU, 16) ==
            LIC_ERR_INVALID_ARGUMENT, "shift 40 refused");
  CHECK(strstr(lic_last_error(), "shift[1] = 40") != NULL, "message names the shift");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_CONV, 2, 2, 2, w1, b1, s1, 0, 16) == LIC_ERR_INVALID_ARGUMENT,
        "even kernel refused");
  CHECK(lic_intnet_add_layer(net, 7, 2, 2, 1, w1, b1, s1, 0, 16) == LIC_ERR_INVALID_ARGUMENT, "bad kind refused");
  CHECK(lic_intnet_run(net, x1, 1, 1, y1, 2) == LIC_ERR_INVALID_ARGUMENT, "an empty network refuses to run");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_DENSE, 2, 2, 1, w1, b1, s1, LIC_INTNET_ACT_RELU, 16) == LIC_OK, "add");
  CHECK(lic_intnet_run(net, x1, 1, 1, y1, 2) == LIC_OK && y1[0] == 50 && y1[1] == 0, "the example");
  CHECK(lic_intnet_run(net, x1, 1, 1, y1, 3) == LIC_ERR_INVALID_ARGUMENT, "wrong out_count");
  CHECK(lic_intnet_add_layer(net, LIC_INTNET_DENSE, 3, 2, 1, w1, b1, s1, 0, 16) == LIC_ERR_INVALID_ARGUMENT,
        "channels must chain");
  CHECK(lic_intnet_output_shape(net, (size_t)1 << 20, (size_t)1 << 20, &oh, NULL, NULL, NULL) ==
            LIC_ERR_LIMIT_EXCEEDED, "absurd input");
  /* one side 0 made the product 0 whatever the other side was, and a deconv doubled
     that side past SIZE_MAX (issue 21 point 24) */
  CHECK(lic_intnet_output_shape(net, 0, ((size_t)1 << 63) + 1, &oh, NULL, NULL, NULL) == LIC_ERR_LIMIT_EXCEEDED,
        "an absurd side with the other 0");
  lic_intnet_free(net);

  CHECK(lic_intnet_scale_indexes(sigma, 5, thresholds, 3, scale_out) == LIC_OK, "scale indexes");
  CHECK(scale_out[0] == 0 && scale_out[1] == 0 && scale_out[2] == 1 && scale_out[3] == 2 && scale_out[4] == 3,
        "indexes count the thresholds below");
  CHECK(lic_intnet_scale_indexes(sigma, 5, sigma, 5, scale_out) == LIC_OK, "increasing thresholds");
  CHECK(lic_intnet_scale_indexes(sigma, 5, b1 + 1, 1, scale_out) == LIC_OK, "one threshold");

  if (check_threads()) return 1;
  if (check_joint()) return 1;
  printf("OK\n");
  return 0;
}
