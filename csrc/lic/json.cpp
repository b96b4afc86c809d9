// json.cpp - the strict JSON reader of json.h: a recursive-descent parser over the
// bytes, depth-bounded (kMaxDepth), that stops at the first error with its position.
#include "lic/json.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

namespace lic {
namespace json {

const Value* Value::get(const std::string& key) const {
  if (type != kObject) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::kNull: return "null";
    case Value::kBool: return "boolean";
    case Value::kInt: return "integer";
    case Value::kString: return "string";
    case Value::kArray: return "array";
    case Value::kObject: return "object";
  }
  return "?";
}

namespace {

class Parser {
 public:
  Parser(const uint8_t* p, size_t n, ErrorInfo* err) : p_(p), n_(n), err_(err) {}

  // The whole input: ws value ws, nothing after.
  lic_status document(Value* out) {
    skip_ws();
    lic_status s = value(out, 0);
    if (s != LIC_OK) return s;
    skip_ws();
    if (pos_ != n_) return fail(pos_, "trailing bytes after the value");
    return LIC_OK;
  }

 private:
  // Records "JSON: <what> at byte <at>" and returns LIC_ERR_CONTAINER.
  lic_status fail(size_t at, const char* fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
      __attribute__((format(printf, 3, 4)))
#endif
  {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return set_error(err_, LIC_ERR_CONTAINER, "JSON: %s at byte %zu", what, at);
  }
  lic_status fail_end() { return fail(n_, "unexpected end of input"); }

  bool at_end() const { return pos_ >= n_; }
  void skip_ws() {
    while (pos_ < n_ && (p_[pos_] == ' ' || p_[pos_] == '\t' || p_[pos_] == '\n' || p_[pos_] == '\r')) ++pos_;
  }

  // value := object | array | string | integer | true | false | null
  lic_status value(Value* out, unsigned depth) {
    if (at_end()) return fail_end();
    if (++values_ > kMaxValues) return fail(pos_, "more than %zu values", kMaxValues);
    const uint8_t c = p_[pos_];
    switch (c) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': out->type = Value::kString; return string(&out->s);
      case 't': out->type = Value::kBool, out->b = true; return literal("true");
      case 'f': out->type = Value::kBool, out->b = false; return literal("false");
      case 'n': out->type = Value::kNull; return literal("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return integer(out);
        if (c >= 0x20 && c < 0x7F) return fail(pos_, "expected a value, found '%c'", c);
        return fail(pos_, "expected a value, found byte 0x%02X", c);
    }
  }

  lic_status literal(const char* word) {
    const size_t len = std::strlen(word);
    if (n_ - pos_ < len || std::memcmp(p_ + pos_, word, len) != 0) return fail(pos_, "expected '%s'", word);
    pos_ += len;
    return LIC_OK;
  }

  // integer := -?(0|[1-9][0-9]*), within int64; a fraction or exponent is refused.
  lic_status integer(Value* out) {
    const size_t start = pos_;
    const bool neg = p_[pos_] == '-';
    if (neg) ++pos_;
    if (at_end() || p_[pos_] < '0' || p_[pos_] > '9') return fail(pos_, "expected a digit after '-'");
    if (p_[pos_] == '0' && pos_ + 1 < n_ && p_[pos_ + 1] >= '0' && p_[pos_ + 1] <= '9')
      return fail(pos_, "integer with a leading zero");
    // |value| <= 2^63 - 1, or 2^63 when negative
    const uint64_t limit = neg ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
    uint64_t mag = 0;
    while (!at_end() && p_[pos_] >= '0' && p_[pos_] <= '9') {
      const unsigned d = p_[pos_] - '0';
      if (mag > (limit - d) / 10) return fail(start, "integer outside the int64 range");
      mag = mag * 10 + d;
      ++pos_;
    }
    if (!at_end() && (p_[pos_] == '.' || p_[pos_] == 'e' || p_[pos_] == 'E'))
      return fail(start, "number with a fraction or an exponent (only integers are read)");
    out->type = Value::kInt;
    // -(2^63) is INT64_MIN; any smaller magnitude negates within range
    out->i = !neg ? static_cast<int64_t>(mag) : mag == (uint64_t{1} << 63) ? INT64_MIN : -static_cast<int64_t>(mag);
    return LIC_OK;
  }

  static void put_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Four hex digits at pos_ into *v.
  bool hex4(uint32_t* v) {
    if (n_ - pos_ < 4) return false;
    uint32_t r = 0;
    for (int k = 0; k < 4; ++k) {
      const uint8_t c = p_[pos_ + k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                   : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      r = r * 16 + static_cast<uint32_t>(d);
    }
    *v = r;
    pos_ += 4;
    return true;
  }

  // The escape after a backslash at pos_ - 1.
  lic_status escape(std::string* s) {
    const size_t at = pos_ - 1;
    if (at_end()) return fail_end();
    const uint8_t c = p_[pos_++];
    switch (c) {
      case '"': s->push_back('"'); return LIC_OK;
      case '\\': s->push_back('\\'); return LIC_OK;
      case '/': s->push_back('/'); return LIC_OK;
      case 'b': s->push_back('\b'); return LIC_OK;
      case 'f': s->push_back('\f'); return LIC_OK;
      case 'n': s->push_back('\n'); return LIC_OK;
      case 'r': s->push_back('\r'); return LIC_OK;
      case 't': s->push_back('\t'); return LIC_OK;
      case 'u': break;
      default:
        if (c >= 0x20 && c < 0x7F) return fail(at, "invalid escape '\\%c'", c);
        return fail(at, "invalid escape (backslash before byte 0x%02X)", c);
    }
    uint32_t cp = 0;
    if (!hex4(&cp)) return fail(at, "\\u not followed by four hex digits");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(at, "lone low surrogate \\u%04X", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: a \uDC00..\uDFFF must follow
      uint32_t lo = 0;
      if (n_ - pos_ < 2 || p_[pos_] != '\\' || p_[pos_ + 1] != 'u')
        return fail(at, "high surrogate \\u%04X not followed by a low surrogate", cp);
      pos_ += 2;
      if (!hex4(&lo)) return fail(pos_ - 2, "\\u not followed by four hex digits");
      if (lo < 0xDC00 || lo > 0xDFFF) return fail(at, "high surrogate \\u%04X not followed by a low surrogate", cp);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(s, cp);
    return LIC_OK;
  }

  // One UTF-8 sequence of 2..4 bytes starting at pos_ (lead byte >= 0x80), copied to s.
  // Table 3-7 of the Unicode standard: the well-formed sequences, which exclude
  // overlong forms, surrogates (ED A0..BF) and code points above U+10FFFF.
  lic_status utf8(std::string* s) {
    const size_t at = pos_;
    const uint8_t c0 = p_[pos_];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c0 >= 0xC2 && c0 <= 0xDF) len = 2;
    else if (c0 >= 0xE0 && c0 <= 0xEF) len = 3, lo = c0 == 0xE0 ? 0xA0 : 0x80, hi = c0 == 0xED ? 0x9F : 0xBF;
    else if (c0 >= 0xF0 && c0 <= 0xF4) len = 4, lo = c0 == 0xF0 ? 0x90 : 0x80, hi = c0 == 0xF4 ? 0x8F : 0xBF;
    else return fail(at, "invalid UTF-8 (lead byte 0x%02X)", c0);
    if (n_ - pos_ < len) return fail(at, "invalid UTF-8 (truncated sequence)");
    if (p_[pos_ + 1] < lo || p_[pos_ + 1] > hi) return fail(at, "invalid UTF-8 (byte 0x%02X after 0x%02X)", p_[pos_ + 1], c0);
    for (size_t k = 2; k < len; ++k)
      if (p_[pos_ + k] < 0x80 || p_[pos_ + k] > 0xBF) return fail(at, "invalid UTF-8 (bad continuation byte)");
    s->append(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return LIC_OK;
  }

  // string := '"' (char | escape)* '"', starting at pos_ (the opening quote).
  lic_status string(std::string* s) {
    ++pos_;
    for (;;) {
      // copy the run of plain ASCII at once
      size_t run = pos_;
      while (run < n_ && p_[run] >= 0x20 && p_[run] < 0x80 && p_[run] != '"' && p_[run] != '\\') ++run;
      s->append(reinterpret_cast<const char*>(p_ + pos_), run - pos_);
      pos_ = run;
      if (at_end()) return fail_end();
      const uint8_t c = p_[pos_];
      if (c == '"') {
        ++pos_;
        return LIC_OK;
      }
      lic_status st = LIC_OK;
      if (c == '\\') ++pos_, st = escape(s);
      else if (c < 0x20) st = fail(pos_, "raw control character 0x%02X in a string", c);
      else st = utf8(s);
      if (st != LIC_OK) return st;
    }
  }

  lic_status open(unsigned depth) {
    if (depth > kMaxDepth) return fail(pos_, "nesting deeper than %u", kMaxDepth);
    ++pos_;
    skip_ws();
    return LIC_OK;
  }

  // array := '[' ws (value ws (',' ws value ws)*)? ']'
  lic_status array(Value* out, unsigned depth) {
    lic_status s = open(depth);
    if (s != LIC_OK) return s;
    out->type = Value::kArray;
    if (!at_end() && p_[pos_] == ']') return ++pos_, LIC_OK;
    for (;;) {
      out->items.emplace_back();
      s = value(&out->items.back(), depth);
      if (s != LIC_OK) return s;
      skip_ws();
      if (at_end()) return fail_end();
      if (p_[pos_] == ']') return ++pos_, LIC_OK;
      if (p_[pos_] != ',') return fail(pos_, "expected ',' or ']' in an array");
      ++pos_;
      skip_ws();
    }
  }

  // object := '{' ws (string ws ':' ws value ws (',' ws string ws ':' ws value ws)*)? '}'
  lic_status object(Value* out, unsigned depth) {
    lic_status s = open(depth);
    if (s != LIC_OK) return s;
    out->type = Value::kObject;
    std::vector<size_t> key_at;  // where each key starts, for the duplicate-key message
    if (!at_end() && p_[pos_] == '}') return ++pos_, LIC_OK;
    for (;;) {
      if (at_end()) return fail_end();
      if (p_[pos_] != '"') return fail(pos_, "expected a string key in an object");
      key_at.push_back(pos_);
      if (++values_ > kMaxValues) return fail(pos_, "more than %zu values", kMaxValues);
      out->members.emplace_back();
      s = string(&out->members.back().first);
      if (s != LIC_OK) return s;
      skip_ws();
      if (at_end()) return fail_end();
      if (p_[pos_] != ':') return fail(pos_, "expected ':' after an object key");
      ++pos_;
      skip_ws();
      s = value(&out->members.back().second, depth);
      if (s != LIC_OK) return s;
      skip_ws();
      if (at_end()) return fail_end();
      if (p_[pos_] == '}') break;
      if (p_[pos_] != ',') return fail(pos_, "expected ',' or '}' in an object");
      ++pos_;
      skip_ws();
    }
    ++pos_;
    return unique_keys(*out, key_at);
  }

  // Duplicate keys, in O(n log n): sort member indexes by key, compare neighbours,
  // and report the later occurrence of the first duplicate in file order.
  lic_status unique_keys(const Value& obj, const std::vector<size_t>& key_at) {
    const auto& m = obj.members;
    if (m.size() < 2) return LIC_OK;
    std::vector<size_t> order(m.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return m[a].first < m[b].first || (m[a].first == m[b].first && a < b);
    });
    size_t dup = m.size();  // the smallest index that repeats an earlier key
    for (size_t k = 1; k < order.size(); ++k)
      if (m[order[k]].first == m[order[k - 1]].first) dup = std::min(dup, order[k]);
    if (dup == m.size()) return LIC_OK;
    return fail(key_at[dup], "duplicate key \"%.64s\"", m[dup].first.c_str());
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  size_t values_ = 0;
  ErrorInfo* err_;
};

}  // namespace

lic_status parse(const char* text, size_t size, Value* out, ErrorInfo* err) noexcept {
  if (!out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "JSON: output pointer is NULL");
  *out = Value();
  if (!text && size > 0) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "JSON: text is NULL");
  if (size > kMaxInputBytes)
    return set_error(err, LIC_ERR_CONTAINER, "JSON: input of %zu bytes exceeds the %zu-byte limit at byte 0", size,
                     kMaxInputBytes);
  try {
    Value v;
    Parser parser(reinterpret_cast<const uint8_t*>(text), size, err);
    lic_status s = parser.document(&v);
    if (s != LIC_OK) return s;
    *out = std::move(v);
    return LIC_OK;
  } catch (const std::bad_alloc&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "JSON: out of memory");
  } catch (const std::length_error&) {
    return set_error(err, LIC_ERR_OUT_OF_MEMORY, "JSON: out of memory");
  }
}

}  // namespace json
}  // namespace lic
