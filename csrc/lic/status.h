// status.h - the one numbered error enum of the lic engine.
//
// Every fallible engine entry point returns lic_status. Numbers are part of the
// C ABI: never renumber, only append. lic_core/errors.py maps each number to a
// Python exception class in one place.
#ifndef LIC_STATUS_H
#define LIC_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lic_status {
  LIC_OK = 0,
  LIC_ERR_INVALID_ARGUMENT = 1,   // a caller-side mistake: bad sizes, null pointers, bad precision
  LIC_ERR_INVALID_TABLE = 2,      // a CDF is not monotone, has the wrong total, or is too short
  LIC_ERR_INDEX_OUT_OF_RANGE = 3, // indexes[i] names no table of the table set
  LIC_ERR_CORRUPT_STREAM = 4,     // the stream's content is inconsistent (bad state, bad escape)
  LIC_ERR_TRUNCATED_STREAM = 5,   // the stream ended before all symbols were decoded
  LIC_ERR_UNSUPPORTED_FORMAT = 6, // a foreign stream: bad version, lane count or precision
  LIC_ERR_OUT_OF_MEMORY = 7,      // an allocation failed
  LIC_ERR_LIMIT_EXCEEDED = 8,     // a size limit was exceeded (claimed symbol count, escape length)
  LIC_ERR_SYMBOL_OUT_OF_RANGE = 9, // a symbol cannot be coded in this format (CompressAI escapes >= 2^28)
  LIC_ERR_CONTAINER = 10,         // a .lic file (or another file the engine reads) cannot be parsed
  LIC_ERR_WEIGHTS = 11            // weights missing, malformed, or not those a file was written with
} lic_status;

// A static, human-readable name for a status code (never NULL).
const char* lic_status_string(int status);

#ifdef __cplusplus
}
#endif
#endif  // LIC_STATUS_H
