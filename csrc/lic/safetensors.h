// safetensors.h - a strict reader of the safetensors weight files the zoo ships
// (lic_core/zoo/weights.py writes them with the safetensors package).
//
// The format: an 8-byte little-endian header length n, n bytes of a JSON object (the
// header, possibly padded with spaces), then the data buffer. The header's members are
// an optional "__metadata__" (an object of string values) and one member per tensor:
//
//   "name": {"dtype": "I16", "shape": [192, 3, 3], "data_offsets": [begin, end]}
//
// with offsets into the data buffer. What is checked, every time (LIC_ERR_WEIGHTS,
// "safetensors: ..." naming the tensor or field):
//   * n <= kMaxHeaderBytes and n <= file size - 8; the header is JSON by json.h's rules
//     (no duplicate keys, no floats, valid UTF-8; "safetensors: header: JSON: <what> at
//     byte N", N counted from the header's first byte, file offset 8);
//   * each tensor has exactly the three fields; dtype is one of DType's names; the shape
//     is non-negative integers whose product (and that times the element size) does not
//     overflow 64 bits; data_offsets is [begin, end] with begin <= end <= the buffer's
//     size and end - begin == product(shape) x element size;
//   * the tensors tile the data buffer: sorted by offset, each begins where the previous
//     one ended, the first at 0 and the last ending at the buffer's end, so no byte
//     belongs to two tensors or to none (the safetensors rule; zero-size tensors allowed).
//
// A File points into the caller's bytes (no copy): they must outlive it and not change.
// Values are little-endian in the file; read<T> assembles them from bytes, so a
// big-endian host (s390x) reads the same numbers.
#ifndef LIC_SAFETENSORS_H
#define LIC_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lic/coder.h"  // ErrorInfo, set_error
#include "lic/status.h"

namespace lic {
namespace st {

constexpr uint64_t kMaxHeaderBytes = 100000000;  // 100 MB, safetensors' own limit

// The element types (safetensors' names: "BOOL", "U8", ..., "F64").
enum DType : int { kBool, kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64, kF16, kBF16, kF32, kF64 };
constexpr int kNumDTypes = kF64 + 1;

size_t dtype_size(DType d);       // bytes per element; 0 for a value outside the enum
const char* dtype_name(DType d);  // "I16"; "?" for a value outside the enum

struct TensorInfo {
  std::string name;
  DType dtype = kU8;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets into the data buffer
  uint64_t count() const;       // product of shape (1 for a scalar); no overflow in a parsed File
};

class File {
 public:
  // Parses a whole file held in memory. The File keeps a pointer to `data`, which must
  // outlive it (no copy). On error *out is empty.
  static lic_status parse(const uint8_t* data, size_t size, File* out, ErrorInfo* err) noexcept;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // ascending byte order of names
  const TensorInfo* find(const std::string& name) const;                // nullptr if absent
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }  // file order
  const std::string* meta(const std::string& key) const;                // nullptr if absent

  // The raw little-endian bytes of a tensor of this File (end - begin of them).
  const uint8_t* raw(const TensorInfo& t) const { return data_ + base_ + t.begin; }
  size_t data_offset() const { return base_; }  // where the data buffer starts: 8 + n
  uint64_t data_size() const { return size_ - base_; }

  // Copies tensor `name` into *out in host byte order, after checking that it exists,
  // has dtype `want` and, when `shape` is non-null, exactly that shape. `want` must be
  // T's own: int8_t kI8, uint8_t kU8 (or kBool), int16_t kI16, uint16_t kU16, int32_t
  // kI32, uint32_t kU32, int64_t kI64, uint64_t kU64, float kF32, double kF64 (else
  // LIC_ERR_INVALID_ARGUMENT: a caller's mistake). Errors name the tensor, LIC_ERR_WEIGHTS:
  //   "weights: tensor 'x' is missing"
  //   "weights: tensor 'x' is I32 [3, 4], expected I16 [3, 4]"
  // On error *out is empty.
  template <class T>
  lic_status read(const std::string& name, DType want, const std::vector<uint64_t>* shape, std::vector<T>* out,
                  ErrorInfo* err) const noexcept;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t base_ = 0;
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// read<T> is compiled in safetensors.cpp for these types only.
#define LIC_ST_READ(T)                                                                                       \
  extern template lic_status File::read<T>(const std::string&, DType, const std::vector<uint64_t>*, \
                                           std::vector<T>*, ErrorInfo*) const noexcept;
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

}  // namespace st
}  // namespace lic

#endif  // LIC_SAFETENSORS_H
