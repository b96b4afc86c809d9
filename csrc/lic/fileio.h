// fileio.h - reading a whole file the engine was pointed at (a weight file, a
// RELEASE.json, a .lic file), safely: nothing but a regular file is read, its size is
// checked against the caller's limit before anything is allocated, and a file that
// changes size while it is read is refused rather than half-read.
//
// POSIX (Linux, macOS, BSDs, Emscripten): open(O_RDONLY | O_NONBLOCK | O_NOCTTY |
// O_CLOEXEC), so that opening a FIFO or a device never blocks; fstat on the open
// descriptor (no race between checking a name and opening it); anything not S_ISREG
// refused; st_size checked against max_bytes; exactly st_size bytes read, then one more
// read must find the end of the file. Elsewhere (Windows) a std::FILE fallback reads at
// most max_bytes + 1 bytes and refuses a file that has more; it cannot tell a regular
// file from another kind. Define LIC_FILEIO_STDIO to build the fallback on POSIX too
// (the tests do, to run it).
//
// Errors name the path: LIC_ERR_INVALID_ARGUMENT for a missing, unreadable or
// non-regular path (or one that changed size while being read), LIC_ERR_LIMIT_EXCEEDED
// for a file larger than max_bytes, LIC_ERR_OUT_OF_MEMORY. On error *out is empty.
#ifndef LIC_FILEIO_H
#define LIC_FILEIO_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lic/coder.h"  // ErrorInfo, set_error
#include "lic/status.h"

namespace lic {

// *out = the bytes of the regular file at `path`, which must hold at most max_bytes.
lic_status read_file(const char* path, uint64_t max_bytes, std::vector<uint8_t>* out, ErrorInfo* err) noexcept;

// "posix" or "stdio": which implementation read_file was built with (for the tests).
const char* read_file_backend() noexcept;

}  // namespace lic

#endif  // LIC_FILEIO_H
