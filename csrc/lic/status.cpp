// status.cpp - names of the lic_status codes (see status.h).
#include "lic/status.h"

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
