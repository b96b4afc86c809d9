// capi.cpp - the C ABI of lic.h over the C++ engine of coder.h.
//
// Each entry point checks its pointers, calls the engine and records the
// engine's message in a thread-local slot for lic_last_error(). No C++
// exception crosses this boundary (the engine is noexcept; allocations here
// are caught).
#include "lic/lic.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "lic/coder.h"

struct lic_tables {
  std::shared_ptr<const lic::TableSet> set;
};
struct lic_encoder {
  explicit lic_encoder(std::shared_ptr<const lic::TableSet> t) : enc(std::move(t)) {}
  lic::Encoder enc;
  lic::EncodedStream pending;  // encoded but not yet copied out (too-small capacity)
  bool has_pending = false;
};
struct lic_decoder {
  lic::Decoder dec;
};

namespace {

thread_local lic::ErrorInfo g_last;

lic_status record(lic_status s, const lic::ErrorInfo& err) {
  g_last = err;
  if (s != LIC_OK && g_last.message[0] == 0)
    std::snprintf(g_last.message, sizeof(g_last.message), "%s", lic_status_string(s));
  g_last.status = s;
  return s;
}

lic_status fail(lic_status s, const char* message) {
  g_last.status = s;
  std::snprintf(g_last.message, sizeof(g_last.message), "%s", message);
  return s;
}

lic_status ok() {
  g_last = lic::ErrorInfo();
  return LIC_OK;
}

// Copies an encoded stream out, or reports the size needed.
lic_status copy_out(const lic::EncodedStream& es, void* dst, size_t capacity, size_t* dst_size) {
  *dst_size = es.size();
  if (capacity < es.size()) {
    char msg[160];
    std::snprintf(msg, sizeof(msg), "destination holds %zu bytes but the stream needs %zu", capacity, es.size());
    return fail(LIC_ERR_INVALID_ARGUMENT, msg);
  }
  if (!dst) return fail(LIC_ERR_INVALID_ARGUMENT, "destination is NULL");
  es.write(static_cast<uint8_t*>(dst));
  return ok();
}

}  // namespace

extern "C" {

const char* lic_last_error(void) { return g_last.message; }

lic_status lic_tables_create(const int32_t* cdfs, size_t n_tables, size_t max_len, const int32_t* cdf_lengths,
                             const int32_t* offsets, unsigned precision, lic_tables** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  lic::ErrorInfo err;
  std::shared_ptr<const lic::TableSet> set;
  lic_status s = lic::TableSet::create(cdfs, n_tables, max_len, cdf_lengths, offsets, precision, &set, &err);
  if (s != LIC_OK) return record(s, err);
  lic_tables* t = new (std::nothrow) lic_tables;
  if (!t) return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory");
  t->set = std::move(set);
  *out = t;
  return ok();
}

void lic_tables_free(lic_tables* tables) { delete tables; }
size_t lic_tables_count(const lic_tables* tables) { return tables ? tables->set->n_tables() : 0; }
unsigned lic_tables_precision(const lic_tables* tables) { return tables ? tables->set->precision() : 0; }

size_t lic_encode_bound(size_t n_symbols) { return lic::kMaxHeaderBytes + 16 * n_symbols; }

lic_status lic_encode(const lic_tables* tables, const int32_t* symbols, const int32_t* indexes, size_t n, void* dst,
                      size_t capacity, size_t* dst_size) {
  if (!tables || !dst_size) return fail(LIC_ERR_INVALID_ARGUMENT, "tables or dst_size is NULL");
  lic::ErrorInfo err;
  lic::EncodedStream es;
  lic_status s = lic::encode_into(*tables->set, symbols, indexes, n, &es, &err);
  if (s != LIC_OK) return record(s, err);
  return copy_out(es, dst, capacity, dst_size);
}

lic_status lic_stream_get_info(const void* src, size_t size, lic_stream_info* info) {
  if (!info) return fail(LIC_ERR_INVALID_ARGUMENT, "info is NULL");
  lic::ErrorInfo err;
  lic::StreamInfo si;
  lic_status s = lic::read_stream_info(static_cast<const uint8_t*>(src), size, &si, &err);
  if (s != LIC_OK) return record(s, err);
  info->version = si.version;
  info->lanes = si.lanes;
  info->precision = si.precision;
  info->n_symbols = si.n_symbols;
  info->header_bytes = si.header_bytes;
  info->n_words = si.n_words;
  return ok();
}

lic_status lic_decode(const lic_tables* tables, const void* src, size_t size, const int32_t* indexes, size_t n,
                      int32_t* out) {
  if (!tables) return fail(LIC_ERR_INVALID_ARGUMENT, "tables is NULL");
  lic::ErrorInfo err;
  lic_status s = lic::decode_all(tables->set, static_cast<const uint8_t*>(src), size, indexes, n, out, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_encoder_create(const lic_tables* tables, lic_encoder** out) {
  if (!tables || !out) return fail(LIC_ERR_INVALID_ARGUMENT, "tables or out is NULL");
  *out = new (std::nothrow) lic_encoder(tables->set);
  return *out ? ok() : fail(LIC_ERR_OUT_OF_MEMORY, "out of memory");
}

void lic_encoder_free(lic_encoder* enc) { delete enc; }

lic_status lic_encoder_push(lic_encoder* enc, const int32_t* symbols, const int32_t* indexes, size_t n) {
  if (!enc) return fail(LIC_ERR_INVALID_ARGUMENT, "encoder is NULL");
  if (enc->has_pending) return fail(LIC_ERR_INVALID_ARGUMENT, "a flushed stream is waiting to be copied out");
  lic::ErrorInfo err;
  lic_status s = enc->enc.push(symbols, indexes, n, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_encoder_flush(lic_encoder* enc, void* dst, size_t capacity, size_t* dst_size) {
  if (!enc || !dst_size) return fail(LIC_ERR_INVALID_ARGUMENT, "encoder or dst_size is NULL");
  if (!enc->has_pending) {
    lic::ErrorInfo err;
    lic_status s = enc->enc.flush(&enc->pending, &err);
    if (s != LIC_OK) return record(s, err);
    enc->has_pending = true;
  }
  lic_status s = copy_out(enc->pending, dst, capacity, dst_size);
  if (s == LIC_OK) enc->has_pending = false;
  return s;
}

lic_status lic_decoder_create(const lic_tables* tables, const void* src, size_t size, lic_decoder** out) {
  if (!tables || !out) return fail(LIC_ERR_INVALID_ARGUMENT, "tables or out is NULL");
  *out = nullptr;
  lic_decoder* d = new (std::nothrow) lic_decoder;
  if (!d) return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory");
  lic::ErrorInfo err;
  lic_status s = d->dec.open(tables->set, static_cast<const uint8_t*>(src), size, &err);
  if (s != LIC_OK) {
    delete d;
    return record(s, err);
  }
  *out = d;
  return ok();
}

void lic_decoder_free(lic_decoder* dec) { delete dec; }

lic_status lic_decoder_decode(lic_decoder* dec, const int32_t* indexes, size_t n, int32_t* out) {
  if (!dec) return fail(LIC_ERR_INVALID_ARGUMENT, "decoder is NULL");
  lic::ErrorInfo err;
  lic_status s = dec->dec.decode(indexes, n, out, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_decoder_finish(lic_decoder* dec) {
  if (!dec) return fail(LIC_ERR_INVALID_ARGUMENT, "decoder is NULL");
  lic::ErrorInfo err;
  lic_status s = dec->dec.finish(&err);
  return s == LIC_OK ? ok() : record(s, err);
}

}  // extern "C"
