/* lic_wasm.c - the WebAssembly binding of the engine's whole-file decoder.
 *
 * A thin C layer over lic.h, nothing more (Squoosh's shape: one small binding per
 * codec, typed arrays in and out, the page knows nothing of the codec's insides).
 * JavaScript calls these through the module's exports (web/worker.js); every buffer
 * is in the module's memory, allocated by the caller with malloc and freed with free.
 * tools/build_wasm.sh compiles it with the engine's sources.
 *
 *   lic_wasm_header      the header as JSON (lic_file_read_header, the format's one reader)
 *   lic_wasm_open        a decoder from a decoder weights file's bytes (copied)
 *   lic_wasm_decode_rgba a whole file into RGBA pixels (ImageData's layout)
 *   lic_wasm_sha256_hex  SHA-256 of bytes, to check weights against RELEASE.json
 *   lic_wasm_close, lic_wasm_error (lic_last_error)
 *
 * One thread: the module is built without pthreads and decodes with threads = 1, so
 * the engine never starts a thread. The pixels are the same integers as the native
 * engine's on every machine (docs/integer.md): integer arithmetic only, compiled with
 * the same exactness flags. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/lic.h"

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define EXPORT
#endif

/* JSON of a header; labels and names are [a-z0-9.-] (the container checks the
 * release label's alphabet), so no escaping is needed beyond refusing anything else. */
static int safe_text(const char* s) {
  for (; *s; ++s)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-')) return 0;
  return 1;
}

/* Appends to out[0 .. cap) at *n; returns 0 once the text no longer fits. */
static int put(char* out, size_t cap, size_t* n, const char* fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char* out, size_t cap, size_t* n, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = *n < cap ? vsnprintf(out + *n, cap - *n, fmt, ap) : -1;
  va_end(ap);
  if (k < 0 || (size_t)k >= cap - *n) return 0;
  *n += (size_t)k;
  return 1;
}

/* Reads the header of data[0 .. size) (CRCs checked) and writes it as one JSON object
 * into out[0 .. cap), NUL-terminated: version, model_id, model, quality,
 * probability_path, synthesis, width, height, fingerprint (16 hex digits), release,
 * latents [[h, w], ...], streams [bytes, ...], header_bytes, bytes. Returns the
 * lic_status (message: lic_wasm_error); LIC_ERR_INVALID_ARGUMENT if cap is too small. */
EXPORT int lic_wasm_header(const uint8_t* data, size_t size, char* out, size_t cap) {
  lic_file_header h;
  lic_status st = lic_file_read_header(data, size, 0, 1, &h);
  if (st != LIC_OK) return st;
  const char* model = lic_file_model_name(h.model_id);
  if (!model || !safe_text(model) || !safe_text(h.release)) return LIC_ERR_CONTAINER;
  size_t n = 0;
  int ok = put(out, cap, &n,
               "{\"version\":%u,\"model_id\":%u,\"model\":\"%s\",\"quality\":%u,\"probability_path\":%u,"
               "\"synthesis\":%u,\"width\":%u,\"height\":%u,\"fingerprint\":\"%016llx\",\"release\":\"%s\","
               "\"header_bytes\":%zu,\"bytes\":%zu,\"latents\":[",
               h.version, h.model_id, model, h.quality, h.probability_path, h.synthesis, (unsigned)h.width,
               (unsigned)h.height, (unsigned long long)h.fingerprint, h.release, h.header_size, size);
  for (unsigned i = 0; ok && i < h.n_latents; ++i)
    ok = put(out, cap, &n, "%s[%u,%u]", i ? "," : "", (unsigned)h.latent_h[i], (unsigned)h.latent_w[i]);
  ok = ok && put(out, cap, &n, "],\"streams\":[");
  for (unsigned i = 0; ok && i < h.n_streams; ++i)
    ok = put(out, cap, &n, "%s%u", i ? "," : "", (unsigned)h.stream_length[i]);
  ok = ok && put(out, cap, &n, "]}");
  return ok ? LIC_OK : LIC_ERR_INVALID_ARGUMENT;
}

/* A decoder for one decoder weights file (lic_file_decoder_open_memory; the bytes are
 * copied, so the caller may free them). NULL on error: lic_wasm_error says why. */
EXPORT lic_file_decoder* lic_wasm_open(const uint8_t* weights, size_t size) {
  lic_file_decoder* d = NULL;
  return lic_file_decoder_open_memory(weights, size, &d) == LIC_OK ? d : NULL;
}

EXPORT void lic_wasm_close(lic_file_decoder* d) { lic_file_decoder_free(d); }

EXPORT const char* lic_wasm_release(const lic_file_decoder* d) { return lic_file_decoder_release(d); }

/* Decodes the whole file data[0 .. size) into rgba (width x height x 4 bytes, exactly
 * rgba_size), alpha 255. The engine writes RGB into the buffer's first three quarters;
 * the pixels are then spread to RGBA in place, from the last one back (pixel i's RGB at
 * 3i..3i+2 lies below every slot 4i.. that is written before it is read). One thread. */
EXPORT int lic_wasm_decode_rgba(const lic_file_decoder* d, const uint8_t* data, size_t size, uint8_t* rgba,
                                size_t rgba_size) {
  if (rgba_size % 4 != 0) return LIC_ERR_INVALID_ARGUMENT;
  const size_t pixels = rgba_size / 4;
  lic_status st = lic_file_decoder_decode(d, data, size, 0, 1, rgba, pixels * 3);
  if (st != LIC_OK) return st;
  for (size_t i = pixels; i-- > 0;) {
    const uint8_t r = rgba[3 * i], g = rgba[3 * i + 1], b = rgba[3 * i + 2];
    rgba[4 * i] = r, rgba[4 * i + 1] = g, rgba[4 * i + 2] = b, rgba[4 * i + 3] = 255;
  }
  return LIC_OK;
}

/* out = the 64 lowercase hex digits of SHA-256(data[0 .. size)) and a NUL. */
EXPORT void lic_wasm_sha256_hex(const uint8_t* data, size_t size, char out[65]) {
  uint8_t d[32];
  lic_sha256(data, size, d);
  for (int i = 0; i < 32; ++i) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

EXPORT const char* lic_wasm_error(void) { return lic_last_error(); }
