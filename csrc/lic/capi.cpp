// capi.cpp - the C ABI of lic.h over the C++ engine of coder.h and tables.h.
//
// Each entry point checks its pointers, calls the engine and records the
// engine's message in a thread-local slot for lic_last_error(). No C++
// exception crosses this boundary (the engine is noexcept; allocations here
// are caught).
#include "lic/lic.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <vector>

#include "lic/coder.h"
#include "lic/container.h"
#include "lic/decoder.h"
#include "lic/fileio.h"
#include "lic/intnet.h"
#include "lic/sha256.h"
#include "lic/tables.h"

// lic.h names the table builder's enums for C callers; tables.h has the engine's
// names for the same numbers. The numbers are the ABI, so they must agree.
static_assert(int{LIC_DIST_GAUSSIAN} == int{LIC_FAMILY_GAUSSIAN} && int{LIC_DIST_LAPLACE} == int{LIC_FAMILY_LAPLACE} &&
                  int{LIC_DIST_LOGISTIC} == int{LIC_FAMILY_LOGISTIC},
              "lic_distribution must number the families as tables.h does");
static_assert(int{LIC_METHOD_GREEDY} == int{LIC_QUANTIZER_GREEDY} &&
                  int{LIC_METHOD_COMPRESSAI} == int{LIC_QUANTIZER_COMPRESSAI},
              "lic_method must number the quantisers as tables.h does");
static_assert(LIC_TABLES_ERR_CAP <= sizeof(lic::ErrorInfo{}.message), "a table message must fit lic_last_error");

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
struct lic_intnet {
  lic::intnet::Network net;
};
struct lic_intnet_joint {
  std::unique_ptr<lic::intnet::JointModel> joint;
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

// Runs one tables.h call, which reports through a status and a message buffer,
// and moves its message into lic_last_error()'s slot.
template <class Call>
lic_status tables_call(Call&& call) {
  char err[LIC_TABLES_ERR_CAP] = {0};
  const int s = call(err);
  if (s == LIC_OK) return ok();
  return fail(static_cast<lic_status>(s), err[0] ? err : lic_status_string(s));
}

// tables.h counts in int64_t and int where lic.h counts in size_t and unsigned:
// these refuse what would not convert, instead of letting it wrap.
bool fits_int64(size_t n) { return static_cast<uint64_t>(n) <= static_cast<uint64_t>(INT64_MAX); }

// Sizes scratch vectors to n entries each; false when that cannot be allocated
// (the exception stops here: none may cross the C ABI).
template <class... Vectors>
bool resize_all(size_t n, Vectors*... v) {
  try {
    (v->resize(n), ...);
    return true;
  } catch (const std::exception&) {  // std::bad_alloc, or std::length_error past max_size()
    return false;
  }
}

lic_status check_precision(unsigned precision) {
  if (precision >= 1 && precision <= LIC_MAX_PRECISION) return LIC_OK;
  char msg[96];
  std::snprintf(msg, sizeof(msg), "precision must be in 1..%d, got %u", LIC_MAX_PRECISION, precision);
  return fail(LIC_ERR_INVALID_ARGUMENT, msg);
}

}  // namespace

extern "C" {

const char* lic_last_error(void) { return g_last.message; }

unsigned lic_version(void) { return LIC_VERSION_NUMBER; }
const char* lic_version_string(void) { return LIC_VERSION_STRING; }

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

size_t lic_encode_bound(size_t n_symbols) {
  // saturates instead of wrapping: no buffer of SIZE_MAX bytes exists, so an allocation
  // of the bound fails cleanly where a wrapped (small) bound would be overrun
  if (n_symbols > (SIZE_MAX - lic::kMaxHeaderBytes) / 16) return SIZE_MAX;
  return lic::kMaxHeaderBytes + 16 * n_symbols;
}

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

// ---- table construction (tables.h behind lic.h's types) ----------------------

lic_status lic_scale_table_build(double min, double max, size_t levels, float* table) {
  // tables.h counts levels in an int: refuse what would not fit it here, with the
  // caller's own number, rather than let the conversion wrap.
  if (levels > (size_t{1} << 16)) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "levels must be in 2..65536, got %zu", levels);
    return fail(LIC_ERR_INVALID_ARGUMENT, msg);
  }
  return tables_call([&](char* err) { return lic_scale_table(min, max, static_cast<int>(levels), table, err); });
}

lic_status lic_scales_to_indexes(const float* scales, size_t n, const float* table, size_t levels, int32_t* out) {
  if (!fits_int64(n) || !fits_int64(levels)) return fail(LIC_ERR_INVALID_ARGUMENT, "scale or table count too large");
  return tables_call([&](char* err) {
    return lic_scale_indexes(scales, static_cast<int64_t>(n), table, static_cast<int64_t>(levels), out, err);
  });
}

lic_status lic_parametric_tables_size(int dist, const float* scales, size_t n, double tail_mass,
                                      unsigned precision, size_t* max_len) {
  if (!max_len) return fail(LIC_ERR_INVALID_ARGUMENT, "max_len is NULL");
  *max_len = 0;
  if (check_precision(precision) != LIC_OK) return g_last.status;
  if (!fits_int64(n)) return fail(LIC_ERR_INVALID_ARGUMENT, "scale count too large");
  // The layout call writes lengths and offsets for every scale; the caller only
  // asked for their maximum, so they live here for the duration of the call.
  std::vector<int32_t> lengths, offsets;
  if (!resize_all(n, &lengths, &offsets)) return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory sizing the table set");
  lic_status s = tables_call([&](char* err) {
    return lic_parametric_layout(dist, scales, static_cast<int64_t>(n), static_cast<int>(precision),
                                 tail_mass, lengths.data(), offsets.data(), err);
  });
  if (s == LIC_OK && n > 0) *max_len = static_cast<size_t>(*std::max_element(lengths.begin(), lengths.end()));
  return s;
}

lic_status lic_parametric_tables_build(int dist, int method, const float* scales, size_t n,
                                       double tail_mass, unsigned precision, int32_t* cdfs, size_t max_len,
                                       int32_t* cdf_lengths, int32_t* offsets) {
  if (check_precision(precision) != LIC_OK) return g_last.status;
  if (!fits_int64(n) || !fits_int64(max_len)) return fail(LIC_ERR_INVALID_ARGUMENT, "scale count or max_len too large");
  return tables_call([&](char* err) {
    return lic_parametric_tables(dist, scales, static_cast<int64_t>(n), static_cast<int>(precision),
                                 tail_mass, method, cdfs, static_cast<int64_t>(max_len), cdf_lengths,
                                 offsets, err);
  });
}

lic_status lic_tables_create_parametric(int dist, int method, const float* scales, size_t n,
                                        double tail_mass, unsigned precision, lic_tables** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (n == 0) return fail(LIC_ERR_INVALID_ARGUMENT, "a table set needs at least one scale");
  size_t max_len = 0;
  lic_status s = lic_parametric_tables_size(dist, scales, n, tail_mass, precision, &max_len);
  if (s != LIC_OK) return s;
  // The rows are only needed until lic_tables_create has copied them into its own
  // precomputed form.
  std::vector<int32_t> cdfs, lengths, offsets;
  if (n > SIZE_MAX / max_len || !resize_all(n * max_len, &cdfs) || !resize_all(n, &lengths, &offsets))
    return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory building the table set");
  s = lic_parametric_tables_build(dist, method, scales, n, tail_mass, precision, cdfs.data(), max_len, lengths.data(),
                                  offsets.data());
  if (s != LIC_OK) return s;
  return lic_tables_create(cdfs.data(), n, max_len, lengths.data(), offsets.data(), precision, out);
}

lic_status lic_pmf_quantize(const double* pmf, size_t n, unsigned precision, int method, int32_t* cdf) {
  if (check_precision(precision) != LIC_OK) return g_last.status;
  if (!fits_int64(n)) return fail(LIC_ERR_INVALID_ARGUMENT, "pmf too long");
  return tables_call([&](char* err) {
    return lic_pmf_to_quantized_cdf(pmf, static_cast<int64_t>(n), static_cast<int>(precision),
                                    method, cdf, err);
  });
}

// ---- integer networks (intnet.h behind lic.h's handles) ----------------------

lic_status lic_intnet_create(lic_intnet** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = new (std::nothrow) lic_intnet;
  return *out ? ok() : fail(LIC_ERR_OUT_OF_MEMORY, "out of memory");
}

void lic_intnet_free(lic_intnet* net) { delete net; }

lic_status lic_intnet_add_layer(lic_intnet* net, int kind, size_t c_in, size_t c_out, size_t k, const int16_t* weight,
                                const int32_t* bias, const uint8_t* shift, int act, unsigned out_bits) {
  if (!net) return fail(LIC_ERR_INVALID_ARGUMENT, "net is NULL");
  lic::intnet::LayerSpec spec;
  spec.kind = kind, spec.c_in = c_in, spec.c_out = c_out, spec.k = k;
  spec.weight = weight, spec.bias = bias, spec.shift = shift, spec.act = act, spec.out_bits = out_bits;
  lic::ErrorInfo err;
  lic_status s = net->net.add_layer(spec, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_output_shape(const lic_intnet* net, size_t h, size_t w, size_t* out_h, size_t* out_w,
                                   size_t* out_c, unsigned* out_bits) {
  if (!net) return fail(LIC_ERR_INVALID_ARGUMENT, "net is NULL");
  lic::ErrorInfo err;
  size_t oh = 0, ow = 0;
  lic_status s = net->net.output_shape(h, w, &oh, &ow, &err);
  if (s != LIC_OK) return record(s, err);
  if (out_h) *out_h = oh;
  if (out_w) *out_w = ow;
  if (out_c) *out_c = net->net.out_channels();
  if (out_bits) *out_bits = net->net.out_bits();
  return ok();
}

lic_status lic_intnet_run(const lic_intnet* net, const int16_t* x, size_t h, size_t w, void* out, size_t out_count) {
  return lic_intnet_run_threads(net, x, h, w, out, out_count, 1);
}

lic_status lic_intnet_run_threads(const lic_intnet* net, const int16_t* x, size_t h, size_t w, void* out,
                                  size_t out_count, unsigned threads) {
  if (!net) return fail(LIC_ERR_INVALID_ARGUMENT, "net is NULL");
  lic::ErrorInfo err;
  size_t oh = 0, ow = 0;
  lic_status s = net->net.output_shape(h, w, &oh, &ow, &err);
  if (s != LIC_OK) return record(s, err);
  const size_t need = oh * ow * net->net.out_channels();  // within 2^28 (output_shape)
  if (out_count != need) {
    char msg[160];
    std::snprintf(msg, sizeof(msg), "out holds %zu values but the %zu x %zu x %zu output needs %zu", out_count, oh, ow,
                  net->net.out_channels(), need);
    return fail(LIC_ERR_INVALID_ARGUMENT, msg);
  }
  s = net->net.run(x, h, w, out, &err, threads);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_scale_indexes(const int32_t* sigma_q, size_t n, const int32_t* thresholds, size_t n_thresholds,
                                    int32_t* out) {
  lic::ErrorInfo err;
  lic_status s = lic::intnet::scale_indexes(sigma_q, n, thresholds, n_thresholds, out, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_joint_create(const lic_intnet* context, const lic_intnet* entropy_parameters,
                                   const int32_t* thresholds, size_t n_thresholds, unsigned mean_frac,
                                   lic_intnet_joint** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (!context || !entropy_parameters) return fail(LIC_ERR_INVALID_ARGUMENT, "context or entropy_parameters is NULL");
  lic_intnet_joint* j = new (std::nothrow) lic_intnet_joint;
  if (!j) return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory");
  lic::ErrorInfo err;
  lic_status s = lic::intnet::JointModel::create(context->net, entropy_parameters->net, thresholds, n_thresholds,
                                                 mean_frac, &j->joint, &err);
  if (s != LIC_OK) {
    delete j;
    return record(s, err);
  }
  *out = j;
  return ok();
}

void lic_intnet_joint_free(lic_intnet_joint* joint) { delete joint; }

size_t lic_intnet_joint_channels(const lic_intnet_joint* joint) { return joint ? joint->joint->channels() : 0; }

lic_status lic_intnet_joint_step(const lic_intnet_joint* joint, const int16_t* grid, const int16_t* params, size_t h,
                                 size_t w, const int64_t* positions, size_t count, int32_t* indexes, int32_t* means) {
  if (!joint) return fail(LIC_ERR_INVALID_ARGUMENT, "joint is NULL");
  lic::ErrorInfo err;
  lic_status s = joint->joint->step(grid, params, h, w, positions, count, indexes, means, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_joint_commit(const lic_intnet_joint* joint, int16_t* grid, size_t h, size_t w,
                                   const int64_t* positions, size_t count, const int32_t* symbols,
                                   const int32_t* means) {
  if (!joint) return fail(LIC_ERR_INVALID_ARGUMENT, "joint is NULL");
  lic::ErrorInfo err;
  lic_status s = joint->joint->commit(grid, h, w, positions, count, symbols, means, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_joint_decode(const lic_intnet_joint* joint, const lic_tables* tables, const void* src,
                                   size_t size, const int16_t* params, size_t h, size_t w, const int64_t* positions,
                                   const int64_t* step_starts, size_t n_steps, int32_t* symbols, int32_t* means) {
  if (!joint || !tables) return fail(LIC_ERR_INVALID_ARGUMENT, "joint or tables is NULL");
  lic::ErrorInfo err;
  lic_status s = joint->joint->decode(params, h, w, tables->set, static_cast<const uint8_t*>(src), size, positions,
                                      step_starts, n_steps, symbols, means, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

lic_status lic_intnet_joint_encode(const lic_intnet_joint* joint, const int16_t* params, const float* y, size_t h,
                                   size_t w, const int64_t* positions, const int64_t* step_starts, size_t n_steps,
                                   int32_t* symbols, int32_t* indexes, int32_t* means) {
  if (!joint) return fail(LIC_ERR_INVALID_ARGUMENT, "joint is NULL");
  lic::ErrorInfo err;
  lic_status s = joint->joint->encode(params, y, h, w, positions, step_starts, n_steps, symbols, indexes, means, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

}  // extern "C"

// ---- the .lic file header (container.h behind lic.h's plain struct) --------------

static_assert(LIC_FILE_MAX_VERSION == lic::container::kMaxVersion, "lic.h and container.h must agree on the version");
static_assert(LIC_FILE_MAX_LATENTS == lic::container::kMaxGroups && LIC_FILE_MAX_STREAMS == lic::container::kMaxStreams,
              "lic_file_header's arrays must hold every group and stream container.h accepts");
static_assert(sizeof(lic_file_header{}.release) == lic::container::kReleaseLabelBytes + 1,
              "lic_file_header.release holds a label and its NUL");

extern "C" {

lic_status lic_file_read_header(const void* data, size_t size, uint64_t max_pixels, int check_crcs,
                                lic_file_header* out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  std::memset(out, 0, sizeof(*out));
  lic::ErrorInfo err;
  lic::container::Header h;
  lic_status s = lic::container::parse(static_cast<const uint8_t*>(data), size, max_pixels, check_crcs != 0, &h, &err);
  if (s != LIC_OK) return record(s, err);
  out->version = h.version, out->model_id = h.model_id, out->quality = h.quality;
  out->probability_path = h.probability_path, out->synthesis = h.synthesis;
  out->height = h.height, out->width = h.width;
  out->fingerprint = h.fingerprint;
  std::memcpy(out->release, h.release.data(), h.release.size());  // <= 8 bytes; the rest stays NUL
  out->n_latents = static_cast<unsigned>(h.latent_shapes.size());
  for (size_t g = 0; g < h.latent_shapes.size(); ++g)
    out->latent_h[g] = h.latent_shapes[g].first, out->latent_w[g] = h.latent_shapes[g].second;
  out->n_streams = static_cast<unsigned>(h.stream_lengths.size());
  for (size_t i = 0; i < h.stream_lengths.size(); ++i)
    out->stream_offset[i] = lic::container::stream_offset(h, i), out->stream_length[i] = h.stream_lengths[i];
  out->header_size = h.header_size;
  out->header_crc_ok = h.header_crc_ok ? 1 : 0;
  out->payload_crc_ok = h.payload_crc_ok ? 1 : 0;
  return ok();
}

const char* lic_file_model_name(unsigned model_id) { return lic::container::model_name(model_id); }

}  // extern "C"

// ---- whole-file decoding (decoder.h) ------------------------------------------------

struct lic_file_decoder {
  std::unique_ptr<lic::decoder::Weights> weights;
};

extern "C" {

static lic_status wrap_weights(std::unique_ptr<lic::decoder::Weights> w, lic_file_decoder** out) {
  try {
    *out = new lic_file_decoder{std::move(w)};
    return ok();
  } catch (const std::exception&) {
    return fail(LIC_ERR_OUT_OF_MEMORY, "out of memory allocating the decoder");
  }
}

lic_status lic_file_decoder_open(const char* path, lic_file_decoder** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  lic::ErrorInfo err;
  std::unique_ptr<lic::decoder::Weights> w;
  lic_status s = lic::decoder::Weights::open(path, &w, &err);
  return s == LIC_OK ? wrap_weights(std::move(w), out) : record(s, err);
}

lic_status lic_file_decoder_open_memory(const void* data, size_t size, lic_file_decoder** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  lic::ErrorInfo err;
  std::unique_ptr<lic::decoder::Weights> w;
  lic_status s = lic::decoder::Weights::copy(static_cast<const uint8_t*>(data), size, &w, &err);
  return s == LIC_OK ? wrap_weights(std::move(w), out) : record(s, err);
}

lic_status lic_file_decoder_open_release(const char* dir, const char* label, unsigned model_id, unsigned quality,
                                         lic_file_decoder** out) {
  if (!out) return fail(LIC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (!dir || !label) return fail(LIC_ERR_INVALID_ARGUMENT, "dir or label is NULL");
  lic::ErrorInfo err;
  std::unique_ptr<lic::decoder::Weights> w;
  lic_status s = lic::decoder::open_release_decoder(dir, label, model_id, quality, &w, &err);
  return s == LIC_OK ? wrap_weights(std::move(w), out) : record(s, err);
}

void lic_file_decoder_free(lic_file_decoder* d) { delete d; }

const char* lic_file_decoder_release(const lic_file_decoder* d) { return d ? d->weights->release().c_str() : ""; }

unsigned lic_file_decoder_model_id(const lic_file_decoder* d) { return d ? d->weights->model_id() : 0; }

int lic_file_decoder_has_quality(const lic_file_decoder* d, unsigned quality) {
  return d && d->weights->has_quality(quality) ? 1 : 0;
}

lic_status lic_file_decoder_fingerprint(const lic_file_decoder* d, unsigned quality, uint64_t* out) {
  if (!d || !out) return fail(LIC_ERR_INVALID_ARGUMENT, "d or out is NULL");
  lic::ErrorInfo err;
  const lic::decoder::Model* m = nullptr;
  lic_status s = d->weights->model(quality, &m, &err);
  if (s != LIC_OK) return record(s, err);
  *out = m->fingerprint();
  return ok();
}

lic_status lic_file_decoder_decode(const lic_file_decoder* d, const void* data, size_t size, uint64_t max_pixels,
                                   unsigned threads, uint8_t* rgb, size_t rgb_size) {
  if (!d) return fail(LIC_ERR_INVALID_ARGUMENT, "d is NULL");
  if (!data && size) return fail(LIC_ERR_INVALID_ARGUMENT, "data is NULL");
  lic::ErrorInfo err;
  lic_status s =
      d->weights->decode(static_cast<const uint8_t*>(data), size, max_pixels, threads, rgb, rgb_size, &err);
  return s == LIC_OK ? ok() : record(s, err);
}

void lic_sha256(const void* data, size_t size, uint8_t out[32]) {
  static_assert(lic::Sha256::kDigestBytes == 32, "lic.h promises 32 bytes");
  if (out) lic::sha256(data, size, out);
}

}  // extern "C"
