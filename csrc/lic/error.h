// error.h - the engine's one error record: a status and the message naming the problem.
//
// Every fallible engine call (the native coder, the CompressAI-format coder, the
// container, the decoder, the integer networks, the file readers) reports through
// ErrorInfo and set_error; the C ABI copies the message into lic_last_error(), the
// Python faces into the exception that lic_core.errors maps the status to.
#ifndef LIC_ERROR_H
#define LIC_ERROR_H

#include "lic/status.h"

namespace lic {

// A status plus a human-readable message ("indexes[17] = 70 but the table set
// has 64 tables"). Fixed-size so that reporting an error never allocates.
struct ErrorInfo {
  lic_status status = LIC_OK;
  char message[256] = {0};
};

// Records `status` and a printf-formatted message in `err` (if not null) and
// returns `status`: every engine module reports errors through this one function
// (defined in status.cpp).
lic_status set_error(ErrorInfo* err, lic_status status, const char* fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

}  // namespace lic

#endif  // LIC_ERROR_H
