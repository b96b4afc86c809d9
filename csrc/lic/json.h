// json.h - a strict JSON (RFC 8259) reader for the files the engine reads: the
// header of a safetensors weight file and a release's RELEASE.json.
//
// It accepts less than RFC 8259, on purpose, and refuses rather than guesses:
//
//   value    object, array, string, integer, true, false, null
//   string   UTF-8, checked (no overlong forms, no surrogates, nothing above
//            U+10FFFF); escapes \" \\ \/ \b \f \n \r \t and \uXXXX, surrogate pairs
//            joined, decoded to UTF-8 (a lone surrogate is refused); raw control
//            characters (below 0x20) refused
//   integer  -?(0|[1-9][0-9]*) within int64. A fraction or an exponent is refused:
//            nothing the engine reads has one, so one is a sign of a foreign file
//   object   keys unique (a duplicate is refused: which one wins is exactly the kind
//            of question two readers answer differently); members kept in file order
//   limits   input at most kMaxInputBytes, nesting at most kMaxDepth arrays and
//            objects, at most kMaxValues values and keys in all (bounds the memory a hostile
//            input can make the parse allocate: ~110 bytes per Value)
//   around   whitespace (space, tab, CR, LF) only; anything after the value is refused
//
// Errors: LIC_ERR_CONTAINER with "JSON: <what> at byte N" (N counts from 0 at the first
// byte of `text`), LIC_ERR_OUT_OF_MEMORY when an allocation fails, LIC_ERR_INVALID_ARGUMENT
// for null pointers. On error *out is left null (type kNull).
#ifndef LIC_JSON_H
#define LIC_JSON_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lic/coder.h"  // ErrorInfo, set_error
#include "lic/status.h"

namespace lic {
namespace json {

constexpr size_t kMaxInputBytes = 100000000;  // 100 MB: safetensors' own header limit
constexpr unsigned kMaxDepth = 32;            // the engine's files nest 3 deep
constexpr size_t kMaxValues = size_t{1} << 20;  // the largest zoo header holds ~1,300

struct Value {
  enum Type { kNull, kBool, kInt, kString, kArray, kObject } type = kNull;
  bool b = false;                                       // kBool
  int64_t i = 0;                                        // kInt
  std::string s;                                        // kString (UTF-8)
  std::vector<Value> items;                             // kArray
  std::vector<std::pair<std::string, Value>> members;  // kObject, in file order

  // The member named `key`; nullptr if absent or if this is not an object.
  const Value* get(const std::string& key) const;
};

// A name for a type in messages ("object", "integer", ...).
const char* type_name(Value::Type t);

// Parses text[0 .. size) as one JSON value (see the top of this file).
lic_status parse(const char* text, size_t size, Value* out, ErrorInfo* err) noexcept;

}  // namespace json
}  // namespace lic

#endif  // LIC_JSON_H
