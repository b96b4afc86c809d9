/* lic.h - the plain C ABI of the lic entropy coder. This header is the manual.
 *
 * What it does
 * ------------
 * Lossless coding of int32 symbols with per-symbol probability tables, using
 * interleaved rANS (64-bit states, 32-bit words, probabilities of up to
 * LIC_MAX_PRECISION = 16 bits). It is the coder inside lic-core (a learned image
 * compression toolkit), usable from C, C++ or Rust without Python. Include this
 * header from C99 or later and link the engine (C++17), in one of three ways:
 *   CMake     find_package(lic CONFIG) then target_link_libraries(app lic::lic)
 *             (lic::lic_static for the static library)
 *   pkg-config  cc app.c $(pkg-config --cflags --libs lic)
 *   Python    lic_core.get_include() / lic_core.get_library_dir() (static liblic)
 * Build and install with `cmake -S csrc -B build && cmake --build build &&
 * cmake --install build --prefix PREFIX`. A static link also needs the C++ runtime
 * (-lstdc++ -lm with GCC; CMake's lic::lic_static and `pkg-config --static` add it).
 * Only the functions marked LIC_API (this header, lic_status_string) are exported
 * from the shared library.
 *
 * Tables (the CompressAI layout, so tables can be shared)
 * -------------------------------------------------------
 *   cdfs         int32 [n_tables][max_len], row-major
 *   cdf_lengths  int32 [n_tables]  L_t, 2 <= L_t <= max_len (NULL: all max_len)
 *   offsets      int32 [n_tables]  (NULL: all 0)
 *   precision    1..LIC_MAX_PRECISION (16; LIC_DEFAULT_PRECISION is the usual choice)
 * Row t uses its first L_t entries: cdf[0] = 0, strictly increasing (every slot
 * has frequency >= 1), cdf[L_t - 1] = 2^precision. Table t has slots 0..E_t with
 * E_t = L_t - 2. Symbol x is coded as value v = x - offsets[t]: if 0 <= v < E_t
 * with probability (cdf[v+1] - cdf[v]) / 2^precision, otherwise as the escape
 * slot E_t plus a bypass code (6 + floor(log2(w+1)) bits), so that EVERY int32
 * symbol round-trips. Tables are validated once, by lic_tables_create.
 * Building tables (Gaussian/Laplace/logistic sets, the scale table, scale -> index,
 * pmf quantisation: the integers of lic_core.tables) is under "Table
 * construction" below.
 *
 * Streams
 * -------
 * Symbol i is coded with table indexes[i]. The stream is self-delimiting and
 * endian-neutral: a header (magic 0x6C, version 1, lane count, precision, symbol
 * count) and the lane states, then little-endian 32-bit words. The decoder checks
 * everything (header, truncation, the claimed symbol count against the stream
 * size, that every word is consumed and every lane returns to its initial state)
 * and never reads or writes out of bounds. The full specification is
 * docs/stream-format.md in the lic-core sources.
 *
 * Errors
 * ------
 * Every fallible function returns a lic_status (0 = LIC_OK; see status.h;
 * lic_status_string names it). lic_last_error() gives a message naming the
 * problem for the last failing call on the calling thread
 * ("indexes[17] = 70 but the table set has 64 tables").
 *
 * Threads
 * -------
 * A lic_tables is immutable after creation and may be shared by any number of
 * threads. Encoders and decoders are single-thread objects (one per thread).
 *
 * Example (error checks elided)
 * -----------------------------
 *   lic_tables* t;
 *   lic_tables_create(cdfs, n_tables, max_len, lengths, offsets, LIC_DEFAULT_PRECISION, &t);
 *   size_t cap = lic_encode_bound(n), size;
 *   unsigned char* buf = malloc(cap);
 *   lic_encode(t, symbols, indexes, n, buf, cap, &size);
 *   lic_decode(t, buf, size, indexes, n, decoded);      // decoded == symbols
 *   lic_tables_free(t);
 * A Gaussian-conditional latent end to end (scale table, tables, scale -> index,
 * encode, decode) is examples/c_gaussian/gaussian.c in the lic-core sources.
 */
#ifndef LIC_H
#define LIC_H

#include <stddef.h>
#include <stdint.h>

#include "lic/status.h"

#if defined(_WIN32) && defined(LIC_BUILDING_DLL)
#define LIC_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define LIC_API __attribute__((visibility("default")))
#else
#define LIC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ----------------------------------------------------------------
 * The library's version, the same as the lic-core Python package's (pyproject.toml;
 * tests/coding/test_coder_c_abi.py holds them equal). CMake reads the three numbers from
 * here for find_package(lic <version>) and lic.pc, so this is their one definition.
 * Until 1.0 a minor release may change the ABI (the shared library's SONAME carries
 * MAJOR.MINOR). LIC_VERSION_NUMBER is what the header promises; lic_version() is
 * what the linked library is, so a program can check that the two agree. */
#define LIC_VERSION_MAJOR 0
#define LIC_VERSION_MINOR 1
#define LIC_VERSION_PATCH 0
#define LIC_VERSION_NUMBER (LIC_VERSION_MAJOR * 10000 + LIC_VERSION_MINOR * 100 + LIC_VERSION_PATCH)
#define LIC_VERSION_STR_(x) #x
#define LIC_VERSION_XSTR_(x) LIC_VERSION_STR_(x)
#define LIC_VERSION_STRING                                                        \
  LIC_VERSION_XSTR_(LIC_VERSION_MAJOR) "." LIC_VERSION_XSTR_(LIC_VERSION_MINOR) "." \
  LIC_VERSION_XSTR_(LIC_VERSION_PATCH)

LIC_API unsigned lic_version(void);            /* LIC_VERSION_NUMBER of the library */
LIC_API const char* lic_version_string(void);  /* LIC_VERSION_STRING of the library */

#define LIC_STREAM_VERSION 1

/* Precision: cdf totals are 2^p with 1 <= p <= LIC_MAX_PRECISION. This is the
 * engine's one definition of the number; the C++ engine (rans64.h kMaxPrecision,
 * tables.h, compat.h) and the Python faces (lic_core.coder.MAX_PRECISION) take
 * theirs from here. Why 16: it is the precision of CompressAI's format, and the
 * engine's precomputed tables keep values below 2^p (starts, 2^p - freq, slot
 * numbers) in 16-bit fields, half the cache footprint of 32-bit ones. The rANS
 * arithmetic itself would hold up to 31 bits (rans64.h, kMaxItemBits). */
#define LIC_MAX_PRECISION 16

/* The precision lic-core's tables and models use unless told otherwise
 * (lic_core.coder.PRECISION): the finest there is, and the one CompressAI's
 * format fixes, so that one table set can be coded in either stream format. */
#define LIC_DEFAULT_PRECISION LIC_MAX_PRECISION

/* Message for the last failing call on this thread ("" if none). Valid until
 * the next lic_* call on this thread. */
LIC_API const char* lic_last_error(void);

/* ---- tables ---------------------------------------------------------------- */

typedef struct lic_tables lic_tables;

/* Validates and precomputes a table set (see "Tables" above). On success
 * *out receives a handle to free with lic_tables_free. Errors:
 * LIC_ERR_INVALID_ARGUMENT (NULL pointers, precision outside 1..LIC_MAX_PRECISION),
 * LIC_ERR_INVALID_TABLE (names the table and position), LIC_ERR_OUT_OF_MEMORY. */
LIC_API lic_status lic_tables_create(const int32_t* cdfs, size_t n_tables, size_t max_len,
                                     const int32_t* cdf_lengths, const int32_t* offsets,
                                     unsigned precision, lic_tables** out);
LIC_API void lic_tables_free(lic_tables* tables); /* NULL is a no-op */
LIC_API size_t lic_tables_count(const lic_tables* tables);
LIC_API unsigned lic_tables_precision(const lic_tables* tables);

/* ---- one-shot coding ------------------------------------------------------- */

/* Worst-case stream size for n symbols (every symbol escaped with the longest
 * bypass code): 75 + 16 * n bytes, or SIZE_MAX when that does not fit a size_t
 * (n above 2^48 is refused by lic_encode anyway). Typical streams are far smaller;
 * see lic_encode for the exact size. */
LIC_API size_t lic_encode_bound(size_t n_symbols);

/* Encodes n symbols (symbol i with table indexes[i]) into dst[0 .. capacity).
 * On success *dst_size is the stream size. If capacity is too small, returns
 * LIC_ERR_INVALID_ARGUMENT with *dst_size set to the size needed and dst
 * untouched (so a second call with that capacity succeeds). Errors:
 * LIC_ERR_INDEX_OUT_OF_RANGE, LIC_ERR_LIMIT_EXCEEDED (n > 2^48),
 * LIC_ERR_OUT_OF_MEMORY. The same input gives the same bytes on every machine. */
LIC_API lic_status lic_encode(const lic_tables* tables, const int32_t* symbols,
                              const int32_t* indexes, size_t n, void* dst, size_t capacity,
                              size_t* dst_size);

/* Header facts of a stream, without tables. */
typedef struct lic_stream_info {
  unsigned version;
  unsigned lanes;         /* 1, 2, 4 or 8 interleaved rANS states */
  unsigned precision;
  uint64_t n_symbols;
  size_t header_bytes;    /* bytes before the payload words */
  size_t n_words;         /* 32-bit payload words */
} lic_stream_info;
LIC_API lic_status lic_stream_get_info(const void* src, size_t size, lic_stream_info* info);

/* Decodes exactly n symbols into out[0 .. n); n must equal the stream's symbol
 * count, indexes must be the ones used to encode. Errors:
 * LIC_ERR_TRUNCATED_STREAM, LIC_ERR_CORRUPT_STREAM (bad escape, leftover words,
 * failed end-of-stream state check, count mismatch), LIC_ERR_UNSUPPORTED_FORMAT
 * (magic, version, lanes, precision other than the tables'),
 * LIC_ERR_LIMIT_EXCEEDED (a symbol count the stream cannot hold),
 * LIC_ERR_INDEX_OUT_OF_RANGE. On error out[] holds partial garbage. */
LIC_API lic_status lic_decode(const lic_tables* tables, const void* src, size_t size,
                              const int32_t* indexes, size_t n, int32_t* out);

/* ---- table construction ------------------------------------------------------
 * The integers lic_core.tables builds, bit for bit, for codecs that build their
 * own tables in C (the Python faces call the same engine code). Every function
 * checks its arguments (also in release builds), writes only into the caller's
 * buffers, and returns LIC_OK or LIC_ERR_INVALID_ARGUMENT / LIC_ERR_OUT_OF_MEMORY
 * with a message in lic_last_error(). The mathematics and the reasons for each
 * rule are in docs/tables.md of the lic-core sources.
 *
 * Layout of a parametric table for scale s (every family and method alike):
 *   c = ceil(float32(s * float32(m))), m = the family's tail multiplier for
 *   tail_mass; offset = -c; slots for -c..c then the tail (escape) slot, so
 *   cdf_length = 2c + 3. Rows of `cdfs` are left-aligned and zero-padded.
 * `dist` and `method` are ints holding a lic_distribution / lic_method value; any
 * other number is refused with LIC_ERR_INVALID_ARGUMENT. (They are not enum-typed
 * because an out-of-range enum value is undefined behaviour in C++ and in Rust's
 * FFI, so it could not be checked.) */

/* The distribution of a parametric table set (lic_core.tables' families). */
typedef enum lic_distribution {
  LIC_DIST_GAUSSIAN = 0, /* CDF Phi(x / s)                   gaussian_tables */
  LIC_DIST_LAPLACE = 1,  /* density exp(-|x|/s) / (2s)       laplace_tables  */
  LIC_DIST_LOGISTIC = 2  /* CDF 1 / (1 + exp(-x / s))        logistic_tables */
} lic_distribution;

/* How probabilities become integer frequencies (lic_core.tables' `method`). */
typedef enum lic_method {
  LIC_METHOD_GREEDY = 0,    /* minimum expected code length, exactly (the default) */
  LIC_METHOD_COMPRESSAI = 1 /* CompressAI 1.2.8's quantiser; Gaussian tables and
                               pmfs only: GaussianConditional.update() bit for bit */
} lic_method;

/* lic_core.tables' defaults: tail mass of the parametric tables, and the scale
 * table (CompressAI's get_scale_table(): 64 scales from 0.11 to 256). */
#define LIC_DEFAULT_TAIL_MASS 1e-9
#define LIC_SCALE_TABLE_MIN 0.11
#define LIC_SCALE_TABLE_MAX 256.0
#define LIC_SCALE_TABLE_LEVELS 64

/* table[0 .. levels) = levels log-spaced float32 scales from min to max
 * (lic_core.tables.scale_table). Needs float32-normal 0 < min < max and
 * 2 <= levels <= 65536. With the LIC_SCALE_TABLE_* macros it is CompressAI's
 * get_scale_table() bit for bit. */
LIC_API lic_status lic_scale_table_build(double min, double max, size_t levels, float* table);

/* out[i] = table index for scales[i] (lic_core.tables.scale_indexes), in float32:
 * s' = max(s, table[0]); the first t with table[t] >= s', or levels - 1 if none
 * (CompressAI's build_indexes). table[0 .. levels) must be finite, > 0 and strictly
 * increasing; a NaN scale is an error naming its position; +inf maps to levels - 1. */
LIC_API lic_status lic_scales_to_indexes(const float* scales, size_t n, const float* table,
                                         size_t levels, int32_t* out);

/* Size query: *max_len = the longest cdf_length of the table set for
 * scales[0 .. n) (0 for n = 0), i.e. the row width to give lic_parametric_tables_build.
 * Scales must be finite and > 0 (a table row per scale: usually the scale table);
 * tail_mass in [1e-300, 1) (LIC_DEFAULT_TAIL_MASS); precision 1..LIC_MAX_PRECISION. */
LIC_API lic_status lic_parametric_tables_size(int dist, const float* scales, size_t n, double tail_mass,
                                              unsigned precision, size_t* max_len);

/* Builds the table set for scales[0 .. n) into caller buffers:
 *   cdfs int32 [n][max_len] (max_len >= the size query's), cdf_lengths int32 [n],
 *   offsets int32 [n].
 * With max_len equal to the size query's answer the three arrays are exactly
 * lic_core.tables.<family>_tables(scales, precision=, tail_mass=, method=).
 * LIC_METHOD_COMPRESSAI is refused for Laplace and logistic. Feed the result to
 * lic_tables_create with the same precision. */
LIC_API lic_status lic_parametric_tables_build(int dist, int method, const float* scales, size_t n,
                                               double tail_mass, unsigned precision, int32_t* cdfs,
                                               size_t max_len, int32_t* cdf_lengths, int32_t* offsets);

/* The two calls above and lic_tables_create in one: *out is a coder table set
 * (free with lic_tables_free) for scales[0 .. n), n >= 1. */
LIC_API lic_status lic_tables_create_parametric(int dist, int method, const float* scales, size_t n,
                                                double tail_mass, unsigned precision,
                                                lic_tables** out);

/* Quantises one pmf of n >= 1 entries (finite, >= 0, not all zero, n <=
 * 2^precision; include a tail slot yourself if you want one) into cdf[0 .. n]:
 * cdf[0] = 0, strictly increasing, cdf[n] = 2^precision
 * (lic_core.tables.pmf_to_quantized_cdf). LIC_METHOD_GREEDY normalises the pmf
 * itself; LIC_METHOD_COMPRESSAI rounds it to float32 first, as CompressAI does. */
LIC_API lic_status lic_pmf_quantize(const double* pmf, size_t n, unsigned precision, int method,
                                    int32_t* cdf);

/* ---- streaming ------------------------------------------------------------- */

/* An encoder accepts many chunks and produces ONE stream on flush (rANS codes
 * last-in first-out, so chunks are staged and encoded at flush). Any chunking
 * gives the same bytes as one lic_encode call on the concatenation. */
typedef struct lic_encoder lic_encoder;
LIC_API lic_status lic_encoder_create(const lic_tables* tables, lic_encoder** out);
LIC_API void lic_encoder_free(lic_encoder* enc);
/* Stages n items; indexes are checked now (nothing is staged on error). */
LIC_API lic_status lic_encoder_push(lic_encoder* enc, const int32_t* symbols,
                                    const int32_t* indexes, size_t n);
/* Encodes everything staged and writes the stream as lic_encode does (same
 * capacity protocol; on a too-small capacity the encoded stream is kept for
 * the retry). On success the encoder is empty and reusable. */
LIC_API lic_status lic_encoder_flush(lic_encoder* enc, void* dst, size_t capacity,
                                     size_t* dst_size);

/* A decoder reads a stream chunk after chunk. src must stay valid and
 * unchanged until lic_decoder_free. The call that decodes the last symbol
 * verifies the end of the stream; lic_decoder_finish fails unless every
 * symbol was decoded and verified. After an error every call repeats it. */
typedef struct lic_decoder lic_decoder;
LIC_API lic_status lic_decoder_create(const lic_tables* tables, const void* src, size_t size,
                                      lic_decoder** out);
LIC_API void lic_decoder_free(lic_decoder* dec);
LIC_API lic_status lic_decoder_decode(lic_decoder* dec, const int32_t* indexes, size_t n,
                                      int32_t* out);
LIC_API lic_status lic_decoder_finish(lic_decoder* dec);

/* ---- integer networks ----------------------------------------------------------
 * The exact probability path of lic-core's hyperprior models (docs/integer.md in
 * the lic-core sources is the specification): layers of int16 weights, int32
 * biases and per-channel right shifts on int16 activations, whose result is one
 * exact integer on every machine, and the joint model's autoregressive step on
 * top of them. Per output channel o at one output position:
 *   acc = wrap32(b[o] + sum w * x)          (the sum modulo 2^32)
 *   r   = floor((acc + h) / 2^s[o])          h = 2^(s[o]-1) if s[o] > 0, else 0
 *   a   = r (none), max(r, 0) (relu), r >= 0 ? r : floor(41 r / 4096) (leaky)
 *   out = a saturated to int16 or int32 (out_bits 16 or 32), or clamped to 0..255
 *         and stored as uint8 (out_bits 8: pixels, docs/integer.md version 2)
 * Tensors are position-major: element (r, c, ch) of an H x W x C tensor is at
 * (r * W + c) * C + ch; a batch of B vectors is a B x 1 x C tensor.
 * Kinds (torch's geometry): conv (k odd, stride 1, zero padding (k-1)/2, weight
 * [c_out][c_in][k][k]); deconv (transposed convolution, k odd, stride 2, padding
 * (k-1)/2, output padding 1: output 2H x 2W; weight [c_in][c_out][k][k]); dense
 * (k = 1, weight [c_out][c_in]). The synthesis's inverse GDN (docs/integer.md) is
 * not built through this ABI: the whole-file decoder (lic_file_decoder_*) makes it.
 * A lic_intnet is built by lic_intnet_add_layer calls and may then be run by any
 * number of threads at once (each run uses its own scratch memory); adding a layer
 * must not overlap a run. lic_intnet_run is single-threaded; lic_intnet_run_threads
 * may split a run across threads of its own. The same integers come out whichever
 * vector instructions (SSE2, AVX2, AVX-512, VNNI) the CPU has and however many
 * threads run. */

typedef struct lic_intnet lic_intnet;

typedef enum lic_intnet_kind {
  LIC_INTNET_CONV = 0,
  LIC_INTNET_DECONV = 1,
  LIC_INTNET_DENSE = 2
} lic_intnet_kind;

typedef enum lic_intnet_act {
  LIC_INTNET_ACT_NONE = 0,
  LIC_INTNET_ACT_RELU = 1,
  LIC_INTNET_ACT_LEAKY = 2 /* slope 41/4096, rounded down */
} lic_intnet_act;

/* An empty network; free with lic_intnet_free. */
LIC_API lic_status lic_intnet_create(lic_intnet** out);
LIC_API void lic_intnet_free(lic_intnet* net); /* NULL is a no-op */

/* Appends a layer (kind and act hold lic_intnet_kind / lic_intnet_act values, as
 * ints for the reason given under "Table construction"). weight as laid out above,
 * bias int32 [c_out], shift [c_out] each 0..31; all are copied. Checks: k odd in
 * 1..15 (1 for dense), channels 1..65536, c_in equal to the previous layer's c_out,
 * out_bits 8, 16 or 32 and no layer after an 8- or 32-bit one (the output of a network
 * is int16_t, int32_t or uint8_t by its last layer's out_bits), at most 64 layers and 2^28
 * weights. Errors: LIC_ERR_INVALID_ARGUMENT, LIC_ERR_LIMIT_EXCEEDED,
 * LIC_ERR_OUT_OF_MEMORY (the network is unchanged on error). */
LIC_API lic_status lic_intnet_add_layer(lic_intnet* net, int kind, size_t c_in, size_t c_out, size_t k,
                                        const int16_t* weight, const int32_t* bias, const uint8_t* shift,
                                        int act, unsigned out_bits);

/* The output of a run on an h x w input: *out_h x *out_w x *out_c values of
 * *out_bits bits (any output pointer may be NULL). LIC_ERR_LIMIT_EXCEEDED when a
 * tensor of the run would exceed 2^28 values; LIC_ERR_INVALID_ARGUMENT for a
 * network without layers. */
LIC_API lic_status lic_intnet_output_shape(const lic_intnet* net, size_t h, size_t w, size_t* out_h,
                                           size_t* out_w, size_t* out_c, unsigned* out_bits);

/* Runs the network on x (h x w x c_in int16; B x 1 x C for vectors) into out:
 * int16_t, int32_t or uint8_t by the last layer's out_bits (16, 32, 8), out_count values
 * (which must equal the output's size, see lic_intnet_output_shape). */
LIC_API lic_status lic_intnet_run(const lic_intnet* net, const int16_t* x, size_t h, size_t w, void* out,
                                  size_t out_count);

/* lic_intnet_run with up to `threads` threads, the calling thread included (0 or
 * 1: the calling thread alone, as lic_intnet_run; above 64: 64). Each layer large
 * enough to pay for it (at least 2^23 multiply-adds per thread) has its output
 * positions split among threads started for the layer and joined before the next
 * layer begins; smaller layers run on the calling thread alone. The output is the same
 * integers for every value of threads. A thread that cannot be started leaves its
 * share to the calling thread. Errors as lic_intnet_run. */
LIC_API lic_status lic_intnet_run_threads(const lic_intnet* net, const int16_t* x, size_t h, size_t w, void* out,
                                          size_t out_count, unsigned threads);

/* out[i] = the number of thresholds below sigma_q[i] (the table index of a scale
 * with Fs fractional bits, docs/integer.md "Scale index"); thresholds must
 * increase strictly (LIC_ERR_INVALID_ARGUMENT names the first that does not). */
LIC_API lic_status lic_intnet_scale_indexes(const int32_t* sigma_q, size_t n, const int32_t* thresholds,
                                            size_t n_thresholds, int32_t* out);

/* ---- the joint model's autoregressive step (docs/integer.md, "Joint") ----------
 * M latent channels. params: h x w x 2M int16 (h_s's output). The context grid is
 * (h + 4) x (w + 4) x M int16, zero at first: cell (r + 2, c + 2) holds position
 * (r, c). Position (r, c) is the flat index r * w + c (int64). At a position: the
 * 12 taps of the 5x5 type-A mask in raster order, (dy, dx) = (0,0..4), (1,0..4),
 * (2,0), (2,1), read grid cell (r + dy, c + dx): 12 M int16, tap-major; the
 * context network gives 2 M int16; [params(r, c), context] (4 M) through the
 * entropy-parameter network gives sigma_q (channels 0..M-1) and mu_q (M..2M-1),
 * int32; the table index is the number of thresholds below sigma_q. Once its
 * symbols are known the grid cell becomes sat16(symbol * 2^mean_frac + mu_q).
 * A schedule lists all h * w positions once, in coding order, cut into n_steps
 * steps: step s is positions[step_starts[s] .. step_starts[s+1]) (step_starts has
 * n_steps + 1 entries, from 0 to h * w); the positions of a step are computed from
 * the grid as it was before the step, then their symbols coded and committed. */
typedef struct lic_intnet_joint lic_intnet_joint;

/* context: dense layers 12 M -> 2 M with out_bits 16; entropy_parameters: dense
 * layers 4 M -> ... -> 2 M, the last with out_bits 32; thresholds strictly
 * increasing (n_thresholds = tables - 1); mean_frac 0..31. Both networks and the
 * thresholds are copied (free or change them afterwards as you like). */
LIC_API lic_status lic_intnet_joint_create(const lic_intnet* context, const lic_intnet* entropy_parameters,
                                           const int32_t* thresholds, size_t n_thresholds, unsigned mean_frac,
                                           lic_intnet_joint** out);
LIC_API void lic_intnet_joint_free(lic_intnet_joint* joint); /* NULL is a no-op */
LIC_API size_t lic_intnet_joint_channels(const lic_intnet_joint* joint); /* M (0 for NULL) */

/* One step by hand, for a caller that codes the symbols itself: for positions[0 ..
 * count), indexes and means int32 [count][M] from the grid and params. */
LIC_API lic_status lic_intnet_joint_step(const lic_intnet_joint* joint, const int16_t* grid,
                                         const int16_t* params, size_t h, size_t w, const int64_t* positions,
                                         size_t count, int32_t* indexes, int32_t* means);

/* ... and its commit: the grid cells of positions[0 .. count) from their symbols
 * and means (int32 [count][M] each). */
LIC_API lic_status lic_intnet_joint_commit(const lic_intnet_joint* joint, int16_t* grid, size_t h, size_t w,
                                           const int64_t* positions, size_t count, const int32_t* symbols,
                                           const int32_t* means);

/* The whole walk of a native stream (src, size) holding exactly h * w * M symbols:
 * decodes each step's count * M symbols with their indexes and checks the end of
 * the stream as lic_decode does. Out: symbols int32 [h * w][M] in coding order,
 * means int32 [h * w][M] position-major (the latent is symbol + mu_q / 2^mean_frac).
 * Errors: those of lic_decode, and LIC_ERR_INVALID_ARGUMENT for a bad schedule. */
LIC_API lic_status lic_intnet_joint_decode(const lic_intnet_joint* joint, const lic_tables* tables,
                                           const void* src, size_t size, const int16_t* params, size_t h,
                                           size_t w, const int64_t* positions, const int64_t* step_starts,
                                           size_t n_steps, int32_t* symbols, int32_t* means);

/* The encoder's walk, for y float32 [h * w][M] position-major (no NaN): symbol =
 * round-half-even(y - (float)mu_q / 2^mean_frac) computed in float32, saturated to
 * int32. Out: symbols and indexes int32 [h * w][M] in coding order (what lic_encode
 * takes), means int32 [h * w][M] position-major. */
LIC_API lic_status lic_intnet_joint_encode(const lic_intnet_joint* joint, const int16_t* params, const float* y,
                                           size_t h, size_t w, const int64_t* positions,
                                           const int64_t* step_starts, size_t n_steps, int32_t* symbols,
                                           int32_t* indexes, int32_t* means);

/* ---- the .lic file header ------------------------------------------------------
 * A .lic file (docs/format.md in the lic-core sources is the specification) is a
 * header naming the model, quality, weights and image size, then the entropy-coded
 * streams. lic_file_read_header reads and checks the header, formats 1 to
 * LIC_FILE_MAX_VERSION, without decoding anything: what `lic info` shows, and what a
 * caller needs to know before it allocates an image (height x width x 3 bytes).
 * It reads only data[0 .. size), allocates nothing the file's numbers decide, and
 * checks in the specification's order, stopping at the first failure:
 *   magic, the 24-byte fixed header's length          LIC_ERR_CONTAINER
 *   version 0                                         LIC_ERR_CONTAINER
 *   version above LIC_FILE_MAX_VERSION (a newer writer)  LIC_ERR_UNSUPPORTED_FORMAT
 *   model id unknown                                  LIC_ERR_UNSUPPORTED_FORMAT
 *   reserved bytes not zero                           LIC_ERR_CONTAINER
 *   probability path, then synthesis path unknown     LIC_ERR_UNSUPPORTED_FORMAT
 *   height or width 0                                 LIC_ERR_CONTAINER
 *   the image padded to multiples of 64 over max_pixels (0: the default, 2^24 =
 *   4096 x 4096), before anything else is read        LIC_ERR_LIMIT_EXCEEDED
 *   group and stream counts, the header's length, the weights fingerprint (0 is
 *   refused in formats 2..4), the release label, latent shapes
 *   (within the padded image), stream lengths (their sum must be exactly the bytes
 *   after the header)                                 LIC_ERR_CONTAINER
 *   header CRC-32, then payload CRC-32 (when check_crcs != 0)  LIC_ERR_CONTAINER
 * With check_crcs = 0 a file whose CRCs do not match is still read, and
 * header_crc_ok / payload_crc_ok say which part is damaged. lic_last_error() starts
 * with the name of the field that was wrong ("stream lengths: ..."). */
#define LIC_FILE_MAX_VERSION 4 /* the newest format version this library reads */
#define LIC_FILE_MAX_LATENTS 8
#define LIC_FILE_MAX_STREAMS 16

typedef struct lic_file_header {
  unsigned version;          /* 1..LIC_FILE_MAX_VERSION */
  unsigned model_id;         /* 1 factorized, 2 hyperprior, 3 mean-scale, 4 joint, 5 space-channel */
  unsigned quality;          /* 1..255 for zoo weights, 0 otherwise */
  unsigned probability_path; /* 0 float32 networks, 1 exact (always 0 before format 3) */
  unsigned synthesis;        /* 0 float32, 1 exact integer synthesis v1 (always 0 before format 4) */
  uint32_t height, width;    /* the image, pixels */
  uint64_t fingerprint;      /* of the weights that wrote the file; 0 only in format 1 (no such field) */
  char release[9];           /* the zoo release label, NUL-terminated; "" = not from the zoo */
  unsigned n_latents;        /* latent groups, 1..LIC_FILE_MAX_LATENTS */
  uint32_t latent_h[LIC_FILE_MAX_LATENTS], latent_w[LIC_FILE_MAX_LATENTS];
  unsigned n_streams;        /* 1..LIC_FILE_MAX_STREAMS */
  size_t stream_offset[LIC_FILE_MAX_STREAMS]; /* where stream i starts in data */
  uint32_t stream_length[LIC_FILE_MAX_STREAMS];
  size_t header_size;        /* bytes before the first stream */
  int header_crc_ok, payload_crc_ok; /* 1 if the stored CRC-32 matches, else 0 */
} lic_file_header;

/* Reads the header of the .lic file data[0 .. size) into *out (zeroed on error). */
LIC_API lic_status lic_file_read_header(const void* data, size_t size, uint64_t max_pixels, int check_crcs,
                                        lic_file_header* out);

/* The canonical name of a model id ("hyperprior"), or NULL for an unknown one. */
LIC_API const char* lic_file_model_name(unsigned model_id);

/* ---- decoding whole files ------------------------------------------------------
 * A .lic file of format 4 written with integer synthesis (zoo release zoo-v5 on)
 * decodes to the same pixels on every machine, with this library alone: the entropy
 * decoding, the probability networks and the synthesis are integer arithmetic
 * (docs/integer.md, docs/format.md "Decoding a file"). A lic_file_decoder holds one
 * decoder weights file of a release (<family>-q<A>[-<B>].decoder.safetensors, one
 * model family and one or more qualities); it may be shared by threads.
 *
 *   lic_file_header h;
 *   lic_file_read_header(data, size, 0, 1, &h);
 *   lic_file_decoder* d;
 *   lic_file_decoder_open_release("path/to/weights", h.release, h.model_id, h.quality, &d);
 *   uint8_t* rgb = malloc((size_t)h.width * h.height * 3);
 *   lic_file_decoder_decode(d, data, size, 0, 2, rgb, (size_t)h.width * h.height * 3);
 *   lic_file_decoder_free(d);
 *
 * examples/c_decode/ is a whole program (a .lic file to a PPM image). Errors:
 * LIC_ERR_WEIGHTS when the file needs other weights (another release, model, quality
 * or fingerprint: the message says which), LIC_ERR_UNSUPPORTED_FORMAT for a file of
 * float synthesis (formats 1 to 3: decode those with lic-core's Python package), the
 * container's errors for a damaged file, the coder's for a damaged stream. */
typedef struct lic_file_decoder lic_file_decoder;

/* Opens a decoder weights file (read whole, every size checked, nothing executed). */
LIC_API lic_status lic_file_decoder_open(const char* path, lic_file_decoder** out);
/* The same from bytes in memory (copied). */
LIC_API lic_status lic_file_decoder_open_memory(const void* data, size_t size, lic_file_decoder** out);
/* The decoder file a release folder holds for (model id, quality): reads
 * <dir>/RELEASE.json, checks that its label is `label`, finds the file and checks its
 * SHA-256 against the manifest. */
LIC_API lic_status lic_file_decoder_open_release(const char* dir, const char* label, unsigned model_id,
                                                 unsigned quality, lic_file_decoder** out);
LIC_API void lic_file_decoder_free(lic_file_decoder* d);
/* The label of the release the weights came from, their model id, and whether they
 * hold a quality. */
LIC_API const char* lic_file_decoder_release(const lic_file_decoder* d);
LIC_API unsigned lic_file_decoder_model_id(const lic_file_decoder* d);
LIC_API int lic_file_decoder_has_quality(const lic_file_decoder* d, unsigned quality);
/* The weights fingerprint a file of this quality records (docs/format.md). */
LIC_API lic_status lic_file_decoder_fingerprint(const lic_file_decoder* d, unsigned quality, uint64_t* out);
/* Decodes data[0 .. size), a whole .lic file, into rgb (height x width x 3 bytes, row
 * by row, exactly rgb_size = that many). max_pixels: the pixel limit (0: 2^24).
 * threads: how many threads may share the large layers (0 or 1: the caller's alone);
 * the pixels do not depend on it. */
LIC_API lic_status lic_file_decoder_decode(const lic_file_decoder* d, const void* data, size_t size,
                                           uint64_t max_pixels, unsigned threads, uint8_t* rgb, size_t rgb_size);

/* ---- utilities -----------------------------------------------------------------
 * out = SHA-256 (FIPS 180-4) of data[0 .. size) (data may be NULL when size is 0): the
 * 32 bytes, the same on every host byte order. For conformance checks of decoded
 * pixels: a zoo release's golden files pin each image's digest (H x W x 3 RGB bytes row
 * by row, as lic_file_decoder_decode writes them; tests/fixtures/golden/<release>/
 * digests.txt in the lic-core sources), and a decoder on any machine must reproduce it
 * (examples/c_decode prints it). Never fails; a NULL out is a no-op. */
LIC_API void lic_sha256(const void* data, size_t size, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif /* LIC_H */
