// formats_internal.cpp - checks of the engine's internal file-format layer (C++, linked
// with the engine's objects; these interfaces are not part of lic.h):
// crc32.h, sha256.h, json.h, safetensors.h, fileio.h.
//
//   formats_internal                 the self-test (below); prints "OK <checks>"
//   formats_internal --weights DIR.. every release folder's RELEASE.json read with
//                                    json.h, every file it lists read with fileio.h,
//                                    its SHA-256 compared with the manifest, parsed with
//                                    safetensors.h and every tensor read; one line per
//                                    file and per tensor (tests/coding/test_engine_formats.py
//                                    compares them with the files as Python reads them)
//   formats_internal --digest FILE.. "<sha256> <crc32> <size>" per file (the Python test
//                                    compares them with hashlib and zlib)
//   formats_internal --safetensors FILE..  "OK <tensors>" or "ERR <status> <message>"
//                                    per file, each tensor read (the Python test writes
//                                    files with the safetensors package)
//
// The self-test covers the FIPS 180-2 SHA-256 vectors and the CRC-32 check value, one
// shot and split at every point; JSON accepted and refused (every rule of json.h, each
// refusal by its message); hostile safetensors files (truncated header, a header length
// of 2^63, overlapping offsets, holes, bad dtypes, shape products that overflow, deep
// nesting, invalid UTF-8, duplicate keys), each refused with its message; read<T>'s
// checks; and read_file on a missing path, a directory, a FIFO (must not hang), a
// device, a file that grows while it is read (Linux: /proc), a file over the limit and
// an empty file. Exits non-zero on the first failure.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "lic/crc32.h"
#include "lic/fileio.h"
#include "lic/json.h"
#include "lic/safetensors.h"
#include "lic/sha256.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#include <unistd.h>
#define FORMATS_POSIX 1
#endif

namespace {

unsigned long g_checks = 0;

#define CHECK(cond, ...)                                      \
  do {                                                        \
    ++g_checks;                                               \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "FAIL (line %d): ", __LINE__);     \
      std::fprintf(stderr, __VA_ARGS__);                      \
      std::fprintf(stderr, "\n");                             \
      std::exit(1);                                           \
    }                                                         \
  } while (0)

std::string hex(const uint8_t* d) {
  char h[65];
  lic::sha256_hex(d, h);
  return h;
}
std::string sha_hex(const void* p, size_t n) {
  uint8_t d[32];
  lic::sha256(p, n, d);
  return hex(d);
}

// ---- CRC-32 and SHA-256 -------------------------------------------------------------

void test_crc32() {
  const char* check = "123456789";
  const uint8_t* p = reinterpret_cast<const uint8_t*>(check);
  CHECK(lic::crc32_update(0, p, 9) == 0xCBF43926u, "CRC-32 check value");
  CHECK(lic::crc32_update(0, nullptr, 0) == 0, "CRC-32 of nothing");
  for (size_t cut = 0; cut <= 9; ++cut)
    CHECK(lic::crc32_update(lic::crc32_update(0, p, cut), p + cut, 9 - cut) == 0xCBF43926u, "CRC-32 split at %zu", cut);
}

void test_sha256() {
  struct Vector {
    std::string message;
    const char* digest;
  };
  const Vector vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const Vector& v : vectors) {
    CHECK(sha_hex(v.message.data(), v.message.size()) == v.digest, "SHA-256 of a %zu-byte FIPS message",
          v.message.size());
    // the same digest however the message is cut into update() calls
    const size_t steps[] = {1, 3, 55, 56, 63, 64, 65, 127, 1000, 4096};
    for (size_t step : steps) {
      if (v.message.size() > 100000 && step < 55) continue;  // a million 1-byte calls proves nothing more
      lic::Sha256 h;
      for (size_t at = 0; at < v.message.size(); at += step)
        h.update(v.message.data() + at, std::min(step, v.message.size() - at));
      uint8_t d[32];
      h.final(d);
      CHECK(hex(d) == v.digest, "SHA-256 in %zu-byte updates", step);
    }
  }
  // final() resets: the object hashes the next message from scratch
  lic::Sha256 h;
  uint8_t d[32];
  h.update("xyz", 3);
  h.final(d);
  h.update("abc", 3);
  h.final(d);
  CHECK(hex(d) == vectors[1].digest, "SHA-256 after final() starts again");
}

// ---- JSON -----------------------------------------------------------------------------

lic::json::Value parse_ok(const std::string& text) {
  lic::json::Value v;
  lic::ErrorInfo err;
  const lic_status s = lic::json::parse(text.data(), text.size(), &v, &err);
  CHECK(s == LIC_OK, "JSON %.60s should parse: %s", text.c_str(), err.message);
  return v;
}

void parse_bad(const std::string& text, const char* what) {
  lic::json::Value v;
  lic::ErrorInfo err;
  const lic_status s = lic::json::parse(text.data(), text.size(), &v, &err);
  CHECK(s == LIC_ERR_CONTAINER, "JSON %.60s should be refused (%s), got status %d", text.c_str(), what, s);
  CHECK(std::strncmp(err.message, "JSON: ", 6) == 0 && std::strstr(err.message, what),
        "JSON %.60s: message '%s' should contain '%s'", text.c_str(), err.message, what);
  CHECK(v.type == lic::json::Value::kNull, "JSON: the output is null after an error");
}

std::string nested(unsigned depth) { return std::string(depth, '[') + std::string(depth, ']'); }

void test_json() {
  using V = lic::json::Value;
  // accepted
  CHECK(parse_ok("{}").type == V::kObject && parse_ok("[]").type == V::kArray, "empty containers");
  CHECK(parse_ok(" \t\r\n0 \n").i == 0 && parse_ok("-0").i == 0, "zeros and whitespace");
  CHECK(parse_ok("9223372036854775807").i == INT64_MAX, "int64 max");
  CHECK(parse_ok("-9223372036854775808").i == INT64_MIN, "int64 min");
  V v = parse_ok(R"({"a": [1, -2, true, false, null, "x"], "b": {"c": "d"}})");
  CHECK(v.members.size() == 2 && v.members[0].first == "a" && v.members[1].first == "b", "members in file order");
  const V* a = v.get("a");
  CHECK(a && a->items.size() == 6 && a->items[0].i == 1 && a->items[1].i == -2, "array items");
  CHECK(a->items[2].type == V::kBool && a->items[2].b && a->items[3].type == V::kBool && !a->items[3].b, "bools");
  CHECK(a->items[4].type == V::kNull && a->items[5].s == "x", "null, string");
  CHECK(v.get("b")->get("c")->s == "d" && !v.get("z") && !a->get("a"), "get");
  CHECK(parse_ok(R"("\"\\\/\b\f\n\r\t")").s == "\"\\/\b\f\n\r\t", "simple escapes");
  CHECK(parse_ok(R"("\u0041\u00e9\u20AC\ud83d\ude00")").s == "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
        "\\u escapes and a surrogate pair, to UTF-8");
  CHECK(parse_ok("\"A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"").s ==
            "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF",
        "raw UTF-8 up to U+10FFFF");
  CHECK(parse_ok(std::string("\"a\\u0000b\"")).s == std::string("a\0b", 3), "\\u0000");
  parse_ok(nested(lic::json::kMaxDepth));

  // refused, each with its message
  parse_bad("", "unexpected end of input at byte 0");
  parse_bad("   ", "unexpected end of input at byte 3");
  parse_bad("{} x", "trailing bytes after the value at byte 3");
  parse_bad("{}{}", "trailing bytes");
  parse_bad("01", "leading zero");
  parse_bad("-01", "leading zero");
  parse_bad("1.5", "fraction or an exponent");
  parse_bad("1e3", "fraction or an exponent");
  parse_bad("[2E-1]", "(only integers are read) at byte 1");
  parse_bad("9223372036854775808", "outside the int64 range");
  parse_bad("-9223372036854775809", "outside the int64 range");
  parse_bad("123456789012345678901234567890", "outside the int64 range");
  parse_bad("-", "expected a digit");
  parse_bad("+1", "expected a value");
  parse_bad("NaN", "expected a value");
  parse_bad("Infinity", "expected a value");
  parse_bad("tru", "expected 'true'");
  parse_bad("nul", "expected 'null'");
  parse_bad("\"abc", "unexpected end of input");
  parse_bad("\"a\x01\"", "raw control character 0x01 in a string at byte 2");
  parse_bad("\"a\tb\"", "raw control character 0x09");
  parse_bad("\"\xFF\"", "invalid UTF-8");
  parse_bad("\"\xC0\xAF\"", "invalid UTF-8");          // overlong '/'
  parse_bad("\"\xE0\x80\xAF\"", "invalid UTF-8");      // overlong, 3 bytes
  parse_bad("\"\xED\xA0\x80\"", "invalid UTF-8");      // a surrogate, U+D800
  parse_bad("\"\xF4\x90\x80\x80\"", "invalid UTF-8");  // U+110000
  parse_bad("\"\xE2\x82\"", "invalid UTF-8");          // truncated sequence
  parse_bad("\"\x80\"", "invalid UTF-8");              // a lone continuation byte
  parse_bad("\"\xC3\"", "invalid UTF-8");
  parse_bad(R"("\ud800")", "high surrogate");
  parse_bad(R"("\ud800\u0041")", "high surrogate");
  parse_bad(R"("\udc00")", "lone low surrogate");
  parse_bad(R"("\x")", "invalid escape");
  parse_bad(R"("\u12g4")", "four hex digits");
  parse_bad(R"("\u12)", "four hex digits");
  parse_bad(R"({"a":1,"a":2})", "duplicate key \"a\" at byte 7");
  parse_bad(R"({"b":1,"a":2,"c":{},"b":3})", "duplicate key \"b\" at byte 20");
  parse_bad(R"({"x":{"k":1,"k":1}})", "duplicate key \"k\"");
  parse_bad(nested(lic::json::kMaxDepth + 1), "nesting deeper than 32 at byte 32");
  parse_bad("[1,]", "expected a value");
  parse_bad("[1 2]", "expected ',' or ']'");
  parse_bad("{\"a\" 1}", "expected ':'");
  parse_bad("{1:2}", "expected a string key");
  parse_bad("{\"a\":1,}", "expected a string key");
  parse_bad("{\"a\":1", "unexpected end of input");
  parse_bad("[", "unexpected end of input");
  parse_bad("\xEF\xBB\xBF{}", "expected a value");  // a byte-order mark is not JSON
  {
    std::string many = "[0";
    for (size_t k = 0; k < lic::json::kMaxValues; ++k) many += ",0";
    many += "]";
    parse_bad(many, "more than 1048576 values");
  }
  {
    lic::json::Value out;
    lic::ErrorInfo err;
    const char tiny[] = "{}";
    // the size check comes before any byte is read
    CHECK(lic::json::parse(tiny, lic::json::kMaxInputBytes + 1, &out, &err) == LIC_ERR_CONTAINER &&
              std::strstr(err.message, "exceeds the 100000000-byte limit"),
          "JSON input over 100 MB: %s", err.message);
    CHECK(lic::json::parse(nullptr, 1, &out, &err) == LIC_ERR_INVALID_ARGUMENT, "JSON text NULL");
    CHECK(lic::json::parse(tiny, 2, nullptr, &err) == LIC_ERR_INVALID_ARGUMENT, "JSON out NULL");
  }
}

// ---- safetensors ------------------------------------------------------------------------

std::vector<uint8_t> st_file(const std::string& header, size_t buffer_bytes, uint64_t claimed = UINT64_MAX) {
  const uint64_t n = claimed == UINT64_MAX ? header.size() : claimed;
  std::vector<uint8_t> f(8 + header.size() + buffer_bytes);
  for (int k = 0; k < 8; ++k) f[k] = static_cast<uint8_t>(n >> (8 * k));
  for (size_t k = 0; k < header.size(); ++k) f[8 + k] = static_cast<uint8_t>(header[k]);
  for (size_t k = 0; k < buffer_bytes; ++k) f[8 + header.size() + k] = static_cast<uint8_t>(k * 37 + 11);
  return f;
}

void st_bad(const std::vector<uint8_t>& f, const char* what) {
  lic::st::File file;
  lic::ErrorInfo err;
  const lic_status s = lic::st::File::parse(f.data(), f.size(), &file, &err);
  CHECK(s == LIC_ERR_WEIGHTS, "safetensors file should be refused (%s), got %d", what, s);
  CHECK(std::strncmp(err.message, "safetensors: ", 13) == 0 && std::strstr(err.message, what),
        "safetensors: message '%s' should contain '%s'", err.message, what);
  CHECK(file.tensors().empty() && file.metadata().empty(), "safetensors: the File is empty after an error");
}
void st_bad(const std::string& header, size_t buffer_bytes, const char* what) { st_bad(st_file(header, buffer_bytes), what); }

std::string tensor(const char* name, const char* dtype, const char* shape, uint64_t b, uint64_t e) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), R"("%s": {"dtype": "%s", "shape": %s, "data_offsets": [%llu, %llu]})", name, dtype,
                shape, static_cast<unsigned long long>(b), static_cast<unsigned long long>(e));
  return buf;
}

void test_safetensors() {
  namespace st = lic::st;
  // a valid file: names out of order, metadata, a scalar, an empty tensor, padding
  const std::string header = "{\"__metadata__\": {\"format\": \"lic-core-weights/1\", \"N\": \"64\"}, " +
                             tensor("w", "I16", "[2, 3]", 0, 12) + ", " + tensor("b", "I32", "[3]", 12, 24) + ", " +
                             tensor("empty", "F32", "[0, 5]", 24, 24) + ", " + tensor("s", "F32", "[]", 24, 28) +
                             ", " + tensor("u", "U8", "[4]", 28, 32) + "}    ";
  std::vector<uint8_t> f = st_file(header, 32);
  // w = [-1, 2, -32768, 32767, 0, 258]; b = [-5, 0x01020304, INT32_MIN]; s = 1.5f; u = 0..3
  const uint8_t data[32] = {0xFF, 0xFF, 2, 0, 0x00, 0x80, 0xFF, 0x7F, 0, 0, 2, 1,              // w
                            0xFB, 0xFF, 0xFF, 0xFF, 4, 3, 2, 1, 0, 0, 0, 0x80,                 // b
                            0, 0, 0xC0, 0x3F,                                                  // s
                            0, 1, 2, 3};                                                       // u
  std::memcpy(f.data() + 8 + header.size(), data, 32);
  st::File file;
  lic::ErrorInfo err;
  CHECK(st::File::parse(f.data(), f.size(), &file, &err) == LIC_OK, "valid safetensors: %s", err.message);
  CHECK(file.tensors().size() == 5 && file.tensors()[0].name == "b" && file.tensors()[4].name == "w",
        "tensors sorted by name");
  CHECK(file.metadata().size() == 2 && *file.meta("N") == "64" && !file.meta("nope"), "metadata");
  CHECK(file.find("s") && file.find("s")->count() == 1 && file.find("empty")->count() == 0 && !file.find("x"),
        "find, count");
  CHECK(file.data_offset() == 8 + header.size() && file.data_size() == 32, "data buffer");
  std::vector<int16_t> w;
  const std::vector<uint64_t> shape23 = {2, 3};
  CHECK(file.read("w", st::kI16, &shape23, &w, &err) == LIC_OK && w.size() == 6, "read I16: %s", err.message);
  CHECK(w[0] == -1 && w[1] == 2 && w[2] == -32768 && w[3] == 32767 && w[4] == 0 && w[5] == 258, "I16 values");
  std::vector<int32_t> b;
  CHECK(file.read("b", st::kI32, nullptr, &b, &err) == LIC_OK && b.size() == 3, "read I32");
  CHECK(b[0] == -5 && b[1] == 0x01020304 && b[2] == INT32_MIN, "I32 values");
  std::vector<float> s;
  CHECK(file.read("s", st::kF32, nullptr, &s, &err) == LIC_OK && s.size() == 1 && s[0] == 1.5f, "read F32");
  std::vector<uint8_t> u;
  CHECK(file.read("u", st::kU8, nullptr, &u, &err) == LIC_OK && u.size() == 4 && u[3] == 3, "read U8");
  std::vector<float> e;
  CHECK(file.read("empty", st::kF32, nullptr, &e, &err) == LIC_OK && e.empty(), "read an empty tensor");
  CHECK(file.raw(*file.find("u"))[2] == 2, "raw");
  // read's refusals
  std::vector<int32_t> wrong;
  CHECK(file.read("w", st::kI32, &shape23, &wrong, &err) == LIC_ERR_WEIGHTS &&
            std::strcmp(err.message, "weights: tensor 'w' is I16 [2, 3], expected I32 [2, 3]") == 0 && wrong.empty(),
        "dtype mismatch: %s", err.message);
  const std::vector<uint64_t> shape32 = {3, 2};
  CHECK(file.read("w", st::kI16, &shape32, &w, &err) == LIC_ERR_WEIGHTS &&
            std::strcmp(err.message, "weights: tensor 'w' is I16 [2, 3], expected I16 [3, 2]") == 0 && w.empty(),
        "shape mismatch: %s", err.message);
  CHECK(file.read("b", st::kI16, nullptr, &w, &err) == LIC_ERR_WEIGHTS &&
            std::strcmp(err.message, "weights: tensor 'b' is I32 [3], expected I16") == 0,
        "dtype mismatch without a shape: %s", err.message);
  CHECK(file.read("nope", st::kI16, nullptr, &w, &err) == LIC_ERR_WEIGHTS &&
            std::strcmp(err.message, "weights: tensor 'nope' is missing") == 0,
        "missing: %s", err.message);
  CHECK(file.read("w", st::kU16, nullptr, &w, &err) == LIC_ERR_INVALID_ARGUMENT, "T and dtype of another kind");
  CHECK(file.read("b", st::kF32, nullptr, &wrong, &err) == LIC_ERR_INVALID_ARGUMENT, "int32_t is not F32");
  CHECK(st::dtype_size(st::kBF16) == 2 && std::strcmp(st::dtype_name(st::kBF16), "BF16") == 0 &&
            st::dtype_size(static_cast<st::DType>(13)) == 0,
        "dtype table");

  // hostile files, each refused with its message
  st_bad(std::vector<uint8_t>{1, 0, 0}, "shorter than the 8-byte header length");
  st_bad(st_file("{}", 0, uint64_t{1} << 63), "header length 9223372036854775808 exceeds the limit");
  st_bad(st_file("{}", 0, 100000001), "header length 100000001 exceeds the limit");
  st_bad(st_file("{}", 0, 3), "is more than the 2 bytes after it");
  st_bad(st_file("{\"a\": ", 0), "header: JSON: unexpected end of input");
  st_bad(st_file(header, 32, header.size() - 10), "header: JSON:");  // a truncated header
  st_bad("", 0, "header: JSON: unexpected end of input at byte 0");
  st_bad("[]", 0, "the header is a JSON array, not an object");
  st_bad("{" + tensor("a", "I32", "[2]", 0, 8) + ", " + tensor("b", "I32", "[2]", 4, 12) + "}", 12,
         "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
  st_bad("{" + tensor("a", "I32", "[2]", 0, 8) + ", " + tensor("b", "I32", "[2]", 0, 8) + "}", 8, "overlap");
  st_bad("{" + tensor("a", "I32", "[1]", 0, 4) + ", " + tensor("b", "I32", "[1]", 8, 12) + "}", 12,
         "bytes [4, 8) of the data buffer belong to no tensor");
  st_bad("{" + tensor("a", "I32", "[1]", 4, 8) + "}", 8, "bytes [0, 4) of the data buffer belong to no tensor");
  st_bad("{" + tensor("a", "I32", "[1]", 0, 4) + "}", 5, "bytes [4, 5) of the data buffer belong to no tensor");
  st_bad("{}", 1, "bytes [0, 1) of the data buffer belong to no tensor");
  st_bad("{" + tensor("a", "F8_E4M3", "[1]", 0, 1) + "}", 1, "has dtype 'F8_E4M3', not one of");
  st_bad("{" + tensor("a", "i32", "[1]", 0, 4) + "}", 4, "has dtype 'i32'");
  st_bad(R"({"a": {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}})", 4, "dtype that is a JSON integer");
  st_bad("{" + tensor("a", "U8", "[4294967296, 4294967296]", 0, 0) + "}", 0, "overflows 64 bits");
  st_bad("{" + tensor("a", "I32", "[4611686018427387904]", 0, 0) + "}", 0, "byte size overflows 64 bits");
  st_bad("{" + tensor("a", "U8", "[-1]", 0, 0) + "}", 0, "not a non-negative integer");
  st_bad("{" + tensor("a", "U8", "[1.0]", 0, 1) + "}", 1, "fraction or an exponent");
  st_bad("{" + tensor("a", "U8", "3", 0, 3) + "}", 3, "shape that is not an array");
  st_bad("{" + tensor("a", "I32", "[2]", 0, 4) + "}", 4, "is I32 [2] (8 bytes) but its data_offsets [0, 4] hold 4");
  st_bad("{" + tensor("a", "I32", "[1]", 8, 4) + "}", 8, "end before begin");
  st_bad("{" + tensor("a", "I32", "[1]", 4, 8) + "}", 6, "past the end of the 6-byte data buffer");
  st_bad(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0]}})", 1, "not [begin, end]");
  st_bad(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1, 2]}})", 1, "not [begin, end]");
  st_bad(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "extra": 1}})", 1,
         "tensor 'a' has an unexpected field 'extra'");
  st_bad(R"({"a": {"dtype": "U8", "data_offsets": [0, 1]}})", 1, "tensor 'a' has no 'shape'");
  st_bad(R"({"a": [1]})", 0, "tensor 'a' is a JSON array, not an object");
  st_bad(R"({"__metadata__": {"k": 1}})", 0, "__metadata__ 'k' is a JSON integer, not a string");
  st_bad(R"({"__metadata__": ["k"]})", 0, "__metadata__ is a JSON array, not an object");
  st_bad("{" + tensor("a", "U8", "[1]", 0, 1) + ", " + tensor("a", "U8", "[1]", 1, 2) + "}", 2,
         "JSON: duplicate key \"a\"");
  st_bad("{\"a\": " + nested(40) + "}", 0, "JSON: nesting deeper than 32");
  st_bad("{" + tensor("a\xFF", "U8", "[1]", 0, 1) + "}", 1, "JSON: invalid UTF-8");
  st_bad("{" + tensor("a", "U8", "[1]", 0, 1) + "} x", 1, "JSON: trailing bytes");
  {
    lic::ErrorInfo e2;
    CHECK(st::File::parse(f.data(), f.size(), nullptr, &e2) == LIC_ERR_INVALID_ARGUMENT, "File::parse out NULL");
    CHECK(st::File::parse(nullptr, 9, &file, &e2) == LIC_ERR_INVALID_ARGUMENT, "File::parse data NULL");
  }
  // every truncation of the valid file is refused (never read past the end)
  for (size_t n = 0; n < f.size(); ++n) {
    st::File t;
    CHECK(st::File::parse(f.data(), n, &t, &err) == LIC_ERR_WEIGHTS, "truncated to %zu bytes", n);
  }
}

// ---- read_file ----------------------------------------------------------------------------

void test_read_file(const char* dir) {
  std::vector<uint8_t> out;
  lic::ErrorInfo err;
  const std::string missing = std::string(dir) + "/no-such-file";
  CHECK(lic::read_file(missing.c_str(), 100, &out, &err) == LIC_ERR_INVALID_ARGUMENT &&
            std::strstr(err.message, missing.c_str()),
        "a missing file: %s", err.message);
  CHECK(lic::read_file(dir, 100, &out, &err) == LIC_ERR_INVALID_ARGUMENT && std::strstr(err.message, dir),
        "a directory: %s", err.message);
  CHECK(lic::read_file(nullptr, 100, &out, &err) == LIC_ERR_INVALID_ARGUMENT, "path NULL");
  const std::string path = std::string(dir) + "/ten";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  CHECK(f && std::fwrite("0123456789", 1, 10, f) == 10 && std::fclose(f) == 0, "writing a test file");
  CHECK(lic::read_file(path.c_str(), 10, &out, &err) == LIC_OK && out.size() == 10 && out[9] == '9',
        "a file of exactly max_bytes: %s", err.message);
  CHECK(lic::read_file(path.c_str(), 9, &out, &err) == LIC_ERR_LIMIT_EXCEEDED && std::strstr(err.message, "ten") &&
            out.empty(),
        "a file over max_bytes: %s", err.message);
  const std::string empty = std::string(dir) + "/empty";
  f = std::fopen(empty.c_str(), "wb");
  CHECK(f && std::fclose(f) == 0, "writing an empty file");
  CHECK(lic::read_file(empty.c_str(), 0, &out, &err) == LIC_OK && out.empty(), "an empty file");
#ifdef FORMATS_POSIX
  if (std::strcmp(lic::read_file_backend(), "posix") == 0) {
    CHECK(std::strstr(lic::read_file(dir, 100, &out, &err) ? err.message : "", "is a directory, not a regular file"),
          "a directory is named as such: %s", err.message);
    const std::string fifo = std::string(dir) + "/fifo";
    CHECK(mkfifo(fifo.c_str(), 0600) == 0, "mkfifo");
    CHECK(lic::read_file(fifo.c_str(), 100, &out, &err) == LIC_ERR_INVALID_ARGUMENT &&
              std::strstr(err.message, "is a FIFO, not a regular file"),
          "a FIFO is refused without blocking: %s", err.message);
    unlink(fifo.c_str());
    CHECK(lic::read_file("/dev/null", 100, &out, &err) == LIC_ERR_INVALID_ARGUMENT &&
              std::strstr(err.message, "character device"),
          "a device is refused: %s", err.message);
#ifdef __linux__
    // a file whose size changes while it is read: /proc files are regular, stat as 0
    // bytes, and then have content
    CHECK(lic::read_file("/proc/self/status", 1 << 20, &out, &err) == LIC_ERR_INVALID_ARGUMENT &&
              std::strstr(err.message, "grew while being read") && out.empty(),
          "a file that grows while being read is refused: %s", err.message);
#endif
  }
#endif
  std::remove(path.c_str());
  std::remove(empty.c_str());
}

// ---- the modes of the Python test ------------------------------------------------------

// The unsigned integer of N bytes (a value's representation, copied whole).
template <size_t N> struct UInt;
template <> struct UInt<1> { using type = uint8_t; };
template <> struct UInt<2> { using type = uint16_t; };
template <> struct UInt<4> { using type = uint32_t; };
template <> struct UInt<8> { using type = uint64_t; };

// sha256 of a tensor's values written back little-endian, and their sum modulo 2^64 (integers)
template <class T>
void tensor_line(const lic::st::File& file, const lic::st::TensorInfo& t, const char* fname) {
  std::vector<T> v;
  lic::ErrorInfo err;
  CHECK(file.read(t.name, t.dtype, &t.shape, &v, &err) == LIC_OK, "%s: %s", fname, err.message);
  std::vector<uint8_t> le(v.size() * sizeof(T));
  uint64_t sum = 0;  // of the values modulo 2^64 (signed ones sign-extended)
  for (size_t k = 0; k < v.size(); ++k) {
    typename UInt<sizeof(T)>::type u;
    std::memcpy(&u, &v[k], sizeof(T));  // the value's own width: the same on either byte order
    for (size_t b = 0; b < sizeof(T); ++b) le[k * sizeof(T) + b] = static_cast<uint8_t>(uint64_t{u} >> (8 * b));
    if constexpr (std::is_integral<T>::value)
      sum += std::is_signed<T>::value ? static_cast<uint64_t>(static_cast<int64_t>(v[k])) : static_cast<uint64_t>(v[k]);
  }
  std::string shape;
  for (size_t k = 0; k < t.shape.size(); ++k) shape += (k ? "," : "") + std::to_string(t.shape[k]);
  std::printf("T %s %s %s [%s] %s %s\n", fname, t.name.c_str(), lic::st::dtype_name(t.dtype), shape.c_str(),
              sha_hex(le.data(), le.size()).c_str(), std::is_integral<T>::value ? std::to_string(sum).c_str() : "-");
  CHECK(le.size() == t.end - t.begin && (le.empty() || std::memcmp(le.data(), file.raw(t), le.size()) == 0),
        "%s: tensor %s read back to other bytes", fname, t.name.c_str());
}

void tensor_raw_line(const lic::st::File& file, const lic::st::TensorInfo& t, const char* fname) {
  std::string shape;
  for (size_t k = 0; k < t.shape.size(); ++k) shape += (k ? "," : "") + std::to_string(t.shape[k]);
  std::printf("T %s %s %s [%s] %s -\n", fname, t.name.c_str(), lic::st::dtype_name(t.dtype), shape.c_str(),
              sha_hex(file.raw(t), static_cast<size_t>(t.end - t.begin)).c_str());
}

void read_every_tensor(const lic::st::File& file, const char* fname) {
  namespace st = lic::st;
  for (const st::TensorInfo& t : file.tensors()) {
    switch (t.dtype) {
      case st::kBool:
      case st::kU8: tensor_line<uint8_t>(file, t, fname); break;
      case st::kI8: tensor_line<int8_t>(file, t, fname); break;
      case st::kU16: tensor_line<uint16_t>(file, t, fname); break;
      case st::kI16: tensor_line<int16_t>(file, t, fname); break;
      case st::kU32: tensor_line<uint32_t>(file, t, fname); break;
      case st::kI32: tensor_line<int32_t>(file, t, fname); break;
      case st::kU64: tensor_line<uint64_t>(file, t, fname); break;
      case st::kI64: tensor_line<int64_t>(file, t, fname); break;
      case st::kF32: tensor_line<float>(file, t, fname); break;
      case st::kF64: tensor_line<double>(file, t, fname); break;
      default: tensor_raw_line(file, t, fname); break;  // F16, BF16: raw bytes
    }
  }
}

int weights(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string dir = argv[i];
    std::vector<uint8_t> manifest;
    lic::ErrorInfo err;
    CHECK(lic::read_file((dir + "/RELEASE.json").c_str(), 1 << 20, &manifest, &err) == LIC_OK, "%s", err.message);
    lic::json::Value m;
    CHECK(lic::json::parse(reinterpret_cast<const char*>(manifest.data()), manifest.size(), &m, &err) == LIC_OK,
          "%s/RELEASE.json: %s", dir.c_str(), err.message);
    const lic::json::Value* label = m.get("release");
    const lic::json::Value* files = m.get("files");
    CHECK(label && label->type == lic::json::Value::kString && files && files->type == lic::json::Value::kObject,
          "%s/RELEASE.json: no release label or files", dir.c_str());
    std::printf("R %s %s %zu\n", dir.c_str(), label->s.c_str(), files->members.size());
    for (const auto& entry : files->members) {
      const std::string path = dir + "/" + entry.first;
      std::vector<uint8_t> bytes;
      const lic_status s = lic::read_file(path.c_str(), uint64_t{1} << 31, &bytes, &err);
      if (s == LIC_ERR_INVALID_ARGUMENT && std::strstr(err.message, "no such file")) {
        std::printf("A %s\n", entry.first.c_str());  // listed, not in this folder
        continue;
      }
      CHECK(s == LIC_OK, "%s", err.message);
      const std::string digest = sha_hex(bytes.data(), bytes.size());
      CHECK(entry.second.type == lic::json::Value::kString && digest == entry.second.s,
            "%s: SHA-256 %s, RELEASE.json says %s", path.c_str(), digest.c_str(), entry.second.s.c_str());
      lic::st::File file;
      CHECK(lic::st::File::parse(bytes.data(), bytes.size(), &file, &err) == LIC_OK, "%s: %s", path.c_str(),
            err.message);
      std::printf("F %s %s %zu %zu\n", entry.first.c_str(), digest.c_str(), file.tensors().size(),
                  file.metadata().size());
      for (const auto& kv : file.metadata())
        std::printf("M %s %s %s\n", entry.first.c_str(), kv.first.c_str(), sha_hex(kv.second.data(), kv.second.size()).c_str());
      read_every_tensor(file, entry.first.c_str());
    }
  }
  std::printf("OK\n");
  return 0;
}

int digests(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::vector<uint8_t> bytes;
    lic::ErrorInfo err;
    CHECK(lic::read_file(argv[i], uint64_t{1} << 31, &bytes, &err) == LIC_OK, "%s", err.message);
    // one shot, and again in uneven pieces: the same digest and CRC
    uint8_t d[32];
    lic::sha256(bytes.data(), bytes.size(), d);
    lic::Sha256 h;
    uint32_t crc = 0;
    size_t at = 0, step = 1;
    while (at < bytes.size()) {
      const size_t take = std::min(step, bytes.size() - at);
      h.update(bytes.data() + at, take);
      crc = lic::crc32_update(crc, bytes.data() + at, take);
      at += take, step = step * 3 % 97 + 1;
    }
    uint8_t d2[32];
    h.final(d2);
    CHECK(std::memcmp(d, d2, 32) == 0 && crc == lic::crc32_update(0, bytes.data(), bytes.size()),
          "%s: pieces and one shot differ", argv[i]);
    std::printf("%s %08x %zu\n", hex(d).c_str(), static_cast<unsigned>(crc), bytes.size());
  }
  return 0;
}

int safetensors_files(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::vector<uint8_t> bytes;
    lic::ErrorInfo err;
    CHECK(lic::read_file(argv[i], uint64_t{1} << 31, &bytes, &err) == LIC_OK, "%s", err.message);
    lic::st::File file;
    const lic_status s = lic::st::File::parse(bytes.data(), bytes.size(), &file, &err);
    if (s != LIC_OK) {
      std::printf("ERR %d %s\n", static_cast<int>(s), err.message);
      continue;
    }
    std::printf("OK %zu\n", file.tensors().size());
    read_every_tensor(file, "-");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--weights") == 0) return weights(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "--digest") == 0) return digests(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "--safetensors") == 0) return safetensors_files(argc - 2, argv + 2);
  test_crc32();
  test_sha256();
  test_json();
  test_safetensors();
#ifdef FORMATS_POSIX
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/lic-formats-XXXXXX";
  std::vector<char> dir(templ.begin(), templ.end());
  dir.push_back('\0');
  CHECK(mkdtemp(dir.data()) != nullptr, "mkdtemp");
  test_read_file(dir.data());
  rmdir(dir.data());
#endif
  std::printf("OK %lu %s\n", g_checks, lic::read_file_backend());
  return 0;
}
