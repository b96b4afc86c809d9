/* lic.h - the plain C ABI of the lic entropy coder. This header is the manual.
 *
 * What it does
 * ------------
 * Lossless coding of int32 symbols with per-symbol probability tables, using
 * interleaved rANS (64-bit states, 32-bit words, probabilities of up to
 * LIC_MAX_PRECISION = 16 bits). It is the coder inside lic-core (a learned image
 * compression toolkit), usable from C, C++ or Rust without Python. Link the sources of
 * csrc/lic/ (C++17) and include this header from C89 or later.
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
 * Gaussian/Laplace/logistic table sets and pmf quantisation are in
 * csrc/lic/tables.h (lic_parametric_tables, lic_pmf_to_quantized_cdf).
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
 * bypass code): 75 + 16 * n bytes. Typical streams are far smaller; see
 * lic_encode for the exact size. */
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

#ifdef __cplusplus
}
#endif
#endif /* LIC_H */
