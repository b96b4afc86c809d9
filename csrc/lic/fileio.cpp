// fileio.cpp - read_file (see fileio.h): POSIX descriptors where there are any, else
// std::FILE.
#include "lic/fileio.h"

#include <cerrno>
#include <cstdio>
#include <new>
#include <stdexcept>

#if !defined(LIC_FILEIO_STDIO) && (defined(__unix__) || defined(__unix) || defined(__APPLE__) || defined(__EMSCRIPTEN__))
#define LIC_FILEIO_POSIX 1
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace lic {
namespace {

// errno in words, for the common cases (strerror is not thread-safe everywhere).
const char* errno_text(int e) {
  switch (e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EISDIR: return "is a directory";
    case ENOTDIR: return "a component of the path is not a directory";
    case ENAMETOOLONG: return "file name too long";
    case EMFILE: return "too many open files";
    case ENFILE: return "too many open files";
    case EIO: return "input/output error";
#ifdef ELOOP
    case ELOOP: return "too many levels of symbolic links";
#endif
    default: return nullptr;
  }
}

lic_status fail_errno(ErrorInfo* err, const char* what, const char* path, int e) {
  const char* text = errno_text(e);
  if (text) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "cannot %s '%s': %s", what, path, text);
  return set_error(err, LIC_ERR_INVALID_ARGUMENT, "cannot %s '%s': errno %d", what, path, e);
}

[[maybe_unused]] lic_status too_large(ErrorInfo* err, const char* path, uint64_t size, uint64_t max_bytes) {
  return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "'%s' is %llu bytes, more than the limit of %llu", path,
                   static_cast<unsigned long long>(size), static_cast<unsigned long long>(max_bytes));
}

#ifdef LIC_FILEIO_POSIX

// Closes the descriptor on every way out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
#ifdef S_ISSOCK
  if (S_ISSOCK(m)) return "a socket";
#endif
  return "not a regular file";
}

lic_status read_posix(const char* path, uint64_t max_bytes, std::vector<uint8_t>* out, ErrorInfo* err) {
  int flags = O_RDONLY | O_NONBLOCK;  // a FIFO opens at once instead of waiting for a writer
#ifdef O_NOCTTY
  flags |= O_NOCTTY;
#endif
#ifdef O_CLOEXEC
  flags |= O_CLOEXEC;
#endif
  Fd f{-1};
  do f.fd = ::open(path, flags);
  while (f.fd < 0 && errno == EINTR);
  if (f.fd < 0) return fail_errno(err, "open", path, errno);
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return fail_errno(err, "stat", path, errno);
  if (!S_ISREG(st.st_mode))
    return set_error(err, LIC_ERR_INVALID_ARGUMENT, "'%s' is %s, not a regular file", path, kind_of(st.st_mode));
  if (st.st_size < 0) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "'%s' has a negative size", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) return too_large(err, path, size, max_bytes);
  if (size > SIZE_MAX) return too_large(err, path, size, SIZE_MAX);
  out->resize(static_cast<size_t>(size));  // may throw: caught by read_file
  // exactly st_size bytes, in pieces of at most 1 GiB (read's count is an ssize_t)
  size_t got = 0;
  while (got < out->size()) {
    size_t want = out->size() - got;
    if (want > (size_t{1} << 30)) want = size_t{1} << 30;
    const ssize_t r = ::read(f.fd, out->data() + got, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno(err, "read", path, errno);
    if (r == 0)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "'%s' shrank while being read (%zu of %llu bytes)", path, got,
                       static_cast<unsigned long long>(size));
    got += static_cast<size_t>(r);
  }
  // and then the end of the file
  for (;;) {
    uint8_t extra;
    const ssize_t r = ::read(f.fd, &extra, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno(err, "read", path, errno);
    if (r > 0)
      return set_error(err, LIC_ERR_INVALID_ARGUMENT, "'%s' grew while being read (past %llu bytes)", path,
                       static_cast<unsigned long long>(size));
    return LIC_OK;
  }
}

#else  // std::FILE

struct File {
  std::FILE* f;
  ~File() {
    if (f) std::fclose(f);
  }
};

lic_status read_stdio(const char* path, uint64_t max_bytes, std::vector<uint8_t>* out, ErrorInfo* err) {
  errno = 0;
  File f{std::fopen(path, "rb")};
  if (!f.f) return fail_errno(err, "open", path, errno);
  // read up to max_bytes + 1 bytes in chunks: one byte more than allowed means too large
  const uint64_t cap = max_bytes < SIZE_MAX ? max_bytes : SIZE_MAX - 1;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t r = std::fread(chunk, 1, sizeof(chunk), f.f);
    if (r > 0) {
      if (r > cap - out->size())
        return set_error(err, LIC_ERR_LIMIT_EXCEEDED, "'%s' is more than the limit of %llu bytes", path,
                         static_cast<unsigned long long>(max_bytes));
      out->insert(out->end(), chunk, chunk + r);  // may throw: caught by read_file
    }
    if (r < sizeof(chunk)) break;
  }
  if (std::ferror(f.f)) return fail_errno(err, "read", path, errno);
  return LIC_OK;
}

#endif

}  // namespace

const char* read_file_backend() noexcept {
#ifdef LIC_FILEIO_POSIX
  return "posix";
#else
  return "stdio";
#endif
}

lic_status read_file(const char* path, uint64_t max_bytes, std::vector<uint8_t>* out, ErrorInfo* err) noexcept {
  if (!path || !out) return set_error(err, LIC_ERR_INVALID_ARGUMENT, "read_file: path or out is NULL");
  out->clear();
  lic_status s;
  try {
#ifdef LIC_FILEIO_POSIX
    s = read_posix(path, max_bytes, out, err);
#else
    s = read_stdio(path, max_bytes, out, err);
#endif
  } catch (const std::bad_alloc&) {
    s = set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
  } catch (const std::length_error&) {
    s = set_error(err, LIC_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
  }
  if (s != LIC_OK) {
    out->clear();
    out->shrink_to_fit();
  }
  return s;
}

}  // namespace lic
