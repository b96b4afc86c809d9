// safetensors.cpp - the strict safetensors reader of safetensors.h: the header
// length, the JSON header (json.h), each tensor's fields, then the tiling of the
// data buffer.
#include "lic/safetensors.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "lic/json.h"

namespace lic {
namespace st {

namespace {

struct DTypeDesc {
  const char* name;
  size_t size;
};
constexpr DTypeDesc kDTypes[kNumDTypes] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"U16", 2},  {"I16", 2},
                                           {"U32", 4},  {"I32", 4}, {"U64", 8}, {"I64", 8},  {"F16", 2},
                                           {"BF16", 2}, {"F32", 4}, {"F64", 8}};

bool dtype_from_name(const std::string& s, DType* out) {
  for (int d = 0; d < kNumDTypes; ++d)
    if (s == kDTypes[d].name) return *out = static_cast<DType>(d), true;
  return false;
}

// Tensor names and keys in messages: at most 80 bytes of them.
#define NAME "'%.80s'"

// "[3, 4]" into buf (cut short with "...]" when it does not fit).
const char* format_shape(const std::vector<uint64_t>& shape, char* buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  auto put = [&](const char* fmt, unsigned long long v) {
    if (used >= cap) return;
    const int w = std::snprintf(buf + used, cap - used, fmt, v);
    used = w < 0 ? cap : used + static_cast<size_t>(w);
  };
  put("[", 0);
  for (size_t k = 0; k < shape.size(); ++k) put(k ? ", %llu" : "%llu", static_cast<unsigned long long>(shape[k]));
  put("]", 0);
  if (used >= cap && cap >= 5) std::memcpy(buf + cap - 5, "...]", 5);
  return buf;
}

lic_status bad(ErrorInfo* err, const char* fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
lic_status bad(ErrorInfo* err, const char* fmt, ...) {
  char what[224];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return set_error(err, LIC_ERR_WEIGHTS, "safetensors: %s", what);
}

// One tensor's entry: exactly dtype, shape, data_offsets; sizes consistent.
lic_status parse_tensor(const std::string& name, const json::Value& v, uint64_t buffer_size, TensorInfo* t,
                        ErrorInfo* err) {
  const char* n = name.c_str();
  if (v.type != json::Value::kObject)
    return bad(err, "tensor " NAME " is a JSON %s, not an object", n, json::type_name(v.type));
  for (const auto& m : v.members)
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      return bad(err, "tensor " NAME " has an unexpected field " NAME, n, m.first.c_str());
  const json::Value* dtype = v.get("dtype");
  const json::Value* shape = v.get("shape");
  const json::Value* offsets = v.get("data_offsets");
  if (!dtype || !shape || !offsets)
    return bad(err, "tensor " NAME " has no '%s'", n, !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

  if (dtype->type != json::Value::kString)
    return bad(err, "tensor " NAME " has a dtype that is a JSON %s, not a string", n, json::type_name(dtype->type));
  if (!dtype_from_name(dtype->s, &t->dtype))
    return bad(err, "tensor " NAME " has dtype '%.24s', not one of BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64",
               n, dtype->s.c_str());

  if (shape->type != json::Value::kArray) return bad(err, "tensor " NAME " has a shape that is not an array", n);
  uint64_t count = 1;
  for (const json::Value& d : shape->items) {
    if (d.type != json::Value::kInt || d.i < 0)
      return bad(err, "tensor " NAME " has a shape entry that is not a non-negative integer", n);
    const uint64_t dim = static_cast<uint64_t>(d.i);
    if (dim != 0 && count > UINT64_MAX / dim) return bad(err, "tensor " NAME ": the element count of its shape overflows 64 bits", n);
    count *= dim;
    t->shape.push_back(dim);
  }
  const uint64_t esize = dtype_size(t->dtype);
  if (count > UINT64_MAX / esize) return bad(err, "tensor " NAME ": its byte size overflows 64 bits", n);
  const uint64_t nbytes = count * esize;

  if (offsets->type != json::Value::kArray || offsets->items.size() != 2 ||
      offsets->items[0].type != json::Value::kInt || offsets->items[1].type != json::Value::kInt ||
      offsets->items[0].i < 0 || offsets->items[1].i < 0)
    return bad(err, "tensor " NAME " has data_offsets that are not [begin, end] (two non-negative integers)", n);
  t->begin = static_cast<uint64_t>(offsets->items[0].i);
  t->end = static_cast<uint64_t>(offsets->items[1].i);
  if (t->end < t->begin)
    return bad(err, "tensor " NAME " has data_offsets [%llu, %llu]: end before begin", n,
               static_cast<unsigned long long>(t->begin), static_cast<unsigned long long>(t->end));
  if (t->end > buffer_size)
    return bad(err, "tensor " NAME " has data_offsets [%llu, %llu] past the end of the %llu-byte data buffer", n,
               static_cast<unsigned long long>(t->begin), static_cast<unsigned long long>(t->end),
               static_cast<unsigned long long>(buffer_size));
  if (t->end - t->begin != nbytes) {
    char sh[96];
    return bad(err, "tensor " NAME " is %s %s (%llu bytes) but its data_offsets [%llu, %llu] hold %llu", n,
               dtype_name(t->dtype), format_shape(t->shape, sh, sizeof(sh)), static_cast<unsigned long long>(nbytes),
               static_cast<unsigned long long>(t->begin), static_cast<unsigned long long>(t->end),
               static_cast<unsigned long long>(t->end - t->begin));
  }
  t->name = name;
  return LIC_OK;
}

// The tensors tile [0, buffer_size): sorted by (begin, end), each starts where the last ended.
lic_status check_tiling(const std::vector<TensorInfo>& tensors, uint64_t buffer_size, ErrorInfo* err) {
  std::vector<const TensorInfo*> order(tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) order[k] = &tensors[k];
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end != b->end ? a->end < b->end : a->name < b->name;
  });
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->begin < pos)
      return bad(err, "tensors " NAME " [%llu, %llu) and " NAME " [%llu, %llu) overlap", prev->name.c_str(),
                 static_cast<unsigned long long>(prev->begin), static_cast<unsigned long long>(prev->end),
                 t->name.c_str(), static_cast<unsigned long long>(t->begin), static_cast<unsigned long long>(t->end));
    if (t->begin > pos)
      return bad(err, "bytes [%llu, %llu) of the data buffer belong to no tensor (a hole before " NAME ")",
                 static_cast<unsigned long long>(pos), static_cast<unsigned long long>(t->begin), t->name.c_str());
    pos = t->end;
    prev = t;
  }
  if (pos != buffer_size)
    return bad(err, "bytes [%llu, %llu) of the data buffer belong to no tensor (after the last one)",
               static_cast<unsigned long long>(pos), static_cast<unsigned long long>(buffer_size));
  return LIC_OK;
}

}  // namespace

size_t dtype_size(DType d) { return d >= 0 && d < kNumDTypes ? kDTypes[d].size : 0; }
const char* dtype_name(DType d) { return d >= 0 && d < kNumDTypes ? kDTypes[d].name : "?"; }

uint64_t TensorInfo::count() const {
  uint64_t c = 1;
  for (uint64_t d : shape) c *= d;
  return c;
}

lic_status File::parse(const uint8_t* data, size_t size, File* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "safetensors: output pointer is NULL");
  *out = File();
  if (!data && size > 0) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "safetensors: data is NULL");
  if (size < 8) return bad(err, "file is %zu bytes, shorter than the 8-byte header length", size);
  uint64_t n = 0;  // u64 little-endian, assembled from bytes
  for (int k = 7; k >= 0; --k) n = (n << 8) | data[k];
  if (n > kMaxHeaderBytes)
    return bad(err, "header length %llu exceeds the limit of %llu bytes", static_cast<unsigned long long>(n),
               static_cast<unsigned long long>(kMaxHeaderBytes));
  if (n > size - 8)
    return bad(err, "header length %llu is more than the %zu bytes after it (truncated file?)",
               static_cast<unsigned long long>(n), size - 8);
  try {
    File f;
    f.data_ = data, f.size_ = size, f.base_ = 8 + static_cast<size_t>(n);
    const uint64_t buffer_size = size - f.base_;
    json::Value root;
    ErrorInfo jerr;
    lic_status s = json::parse(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n), &root, &jerr);
    if (s == LIC_ERR_OUT_OF_MEMORY) return set_error(err, s, "safetensors: header: %s", jerr.message);
    if (s != LIC_OK) return bad(err, "header: %s", jerr.message);
    if (root.type != json::Value::kObject)
      return bad(err, "the header is a JSON %s, not an object", json::type_name(root.type));
    for (auto& m : root.members) {
      if (m.first == "__metadata__") {
        if (m.second.type != json::Value::kObject)
          return bad(err, "__metadata__ is a JSON %s, not an object", json::type_name(m.second.type));
        for (auto& kv : m.second.members) {
          if (kv.second.type != json::Value::kString)
            return bad(err, "__metadata__ " NAME " is a JSON %s, not a string", kv.first.c_str(),
                       json::type_name(kv.second.type));
          f.metadata_.emplace_back(kv.first, std::move(kv.second.s));
        }
        continue;
      }
      f.tensors_.emplace_back();
      s = parse_tensor(m.first, m.second, buffer_size, &f.tensors_.back(), err);
      if (s != LIC_OK) return s;
    }
    s = check_tiling(f.tensors_, buffer_size, err);
    if (s != LIC_OK) return s;
    std::sort(f.tensors_.begin(), f.tensors_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    *out = std::move(f);
    return LIC_OK;
  } catch (const std::bad_alloc&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
  } catch (const std::length_error&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
  }
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& key) { return t.name < key; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const std::string* File::meta(const std::string& key) const {
  for (const auto& kv : metadata_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

namespace {

// The dtypes a C++ type may be read as: its own kind and size.
template <class T>
bool matches(DType d) {
  if (std::is_same<T, float>::value) return d == kF32;
  if (std::is_same<T, double>::value) return d == kF64;
  if (std::is_same<T, uint8_t>::value) return d == kU8 || d == kBool;
  if (std::is_same<T, int8_t>::value) return d == kI8;
  if (std::is_same<T, int16_t>::value) return d == kI16;
  if (std::is_same<T, uint16_t>::value) return d == kU16;
  if (std::is_same<T, int32_t>::value) return d == kI32;
  if (std::is_same<T, uint32_t>::value) return d == kU32;
  if (std::is_same<T, int64_t>::value) return d == kI64;
  if (std::is_same<T, uint64_t>::value) return d == kU64;
  return false;
}

// The unsigned integer of T's width, to assemble values in.
template <size_t N> struct UInt;
template <> struct UInt<1> { using type = uint8_t; };
template <> struct UInt<2> { using type = uint16_t; };
template <> struct UInt<4> { using type = uint32_t; };
template <> struct UInt<8> { using type = uint64_t; };

}  // namespace

template <class T>
lic_status File::read(const std::string& name, DType want, const std::vector<uint64_t>* shape, std::vector<T>* out,
                      ErrorInfo* err) const noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "weights: output pointer is NULL");
  out->clear();
  if (!matches<T>(want))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "weights: tensor '%.80s' read as %s into a %zu-byte type of another kind",
                     name.c_str(), dtype_name(want), sizeof(T));
  const TensorInfo* t = find(name);
  if (!t) return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%.80s' is missing", name.c_str());
  if (t->dtype != want || (shape && *shape != t->shape)) {
    char have[80], expect[80];
    format_shape(t->shape, have, sizeof(have));
    if (shape) format_shape(*shape, expect, sizeof(expect));
    return set_error(err, LIC_ERR_WEIGHTS, "weights: tensor '%.80s' is %s %s, expected %s%s%s", name.c_str(),
                     dtype_name(t->dtype), have, dtype_name(want), shape ? " " : "", shape ? expect : "");
  }
  const uint64_t count = t->count();  // == (end - begin) / sizeof(T), within the file
  try {
    out->resize(static_cast<size_t>(count));
  } catch (const std::exception&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "weights: out of memory reading tensor '%.80s'", name.c_str());
  }
  using U = typename UInt<sizeof(T)>::type;
  const uint8_t* p = raw(*t);
  for (size_t k = 0; k < out->size(); ++k, p += sizeof(T)) {
    U u = 0;  // little-endian bytes, most significant first
    for (size_t b = sizeof(T); b-- > 0;) u = static_cast<U>((u << 8) | p[b]);
    std::memcpy(&(*out)[k], &u, sizeof(T));  // the host's representation of that value (two's complement, IEEE)
  }
  return LIC_OK;
}

#define LIC_ST_READ(T)                                                                                \
  template lic_status File::read<T>(const std::string&, DType, const std::vector<uint64_t>*, std::vector<T>*, \
                                    ErrorInfo*) const noexcept;
LIC_ST_READ(int8_t)
LIC_ST_READ(uint8_t)
LIC_ST_READ(int16_t)
LIC_ST_READ(uint16_t)
LIC_ST_READ(int32_t)
LIC_ST_READ(uint32_t)
LIC_ST_READ(int64_t)
LIC_ST_READ(uint64_t)
LIC_ST_READ(float)
LIC_ST_READ(double)
#undef LIC_ST_READ
#undef NAME

}  // namespace st
}  // namespace lic
