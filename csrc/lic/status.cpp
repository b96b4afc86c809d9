// status.cpp - names of the lic_status codes (see status.h) and the error record's
// one writer, set_error (see error.h).
#include "lic/status.h"

#include <cstdarg>
#include <cstdio>

#include "lic/error.h"

extern "C" const char* lic_status_string(int status) {
  switch (status) {
    case LIC_OK: return "ok";
    case LIC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LIC_ERR_INVALID_TABLE: return "invalid CDF table";
    case LIC_ERR_INDEX_OUT_OF_RANGE: return "table index out of range";
    case LIC_ERR_CORRUPT_STREAM: return "corrupt stream";
    case LIC_ERR_TRUNCATED_STREAM: return "truncated stream";
    case LIC_ERR_UNSUPPORTED_FORMAT: return "unsupported stream format";
    case LIC_ERR_OUT_OF_MEMORY: return "out of memory";
    case LIC_ERR_LIMIT_EXCEEDED: return "size limit exceeded";
    case LIC_ERR_SYMBOL_OUT_OF_RANGE: return "symbol out of range for this format";
    case LIC_ERR_CONTAINER: return "malformed file";
    case LIC_ERR_WEIGHTS: return "weights missing, malformed or not the file's";
    default: return "unknown status";
  }
}

namespace lic {

lic_status set_error(ErrorInfo* err, lic_status status, const char* fmt, ...) {
  if (err) {
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return status;
}

}  // namespace lic
