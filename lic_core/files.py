"""Reading a named file only when it is a regular file: the one home of that check.

A path given to lic-core (an image to compress, a .lic file to decode, any input of the
``lic`` program) is read only if it names a regular file, symlinks followed: a FIFO
blocks its reader until a writer comes (forever, in a batch), a character device such as
/dev/zero behind a link never ends, a directory cannot be read. The check runs before
the open (a FIFO's open would wait for a writer) and again on the opened file (the name
may be swapped in between), and the open itself does not block, so a FIFO swapped in
cannot hang it. A symlink loop is reported as one, not as a missing file.

Callers choose the exception and the hint of a refusal (the CLI's CommandError and its
``-`` for standard input, the image API's InvalidArgumentError); the rest of the
message, and when it is raised, is this module's. Standard library only.
"""
from __future__ import annotations

import errno
import os
import stat

__all__ = ["file_mode", "refuse_non_regular", "open_regular"]

#: what a path that is not a regular file is, by its stat mode (the directory apart)
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

#: how the file is opened: read-only, without blocking (a FIFO swapped in between the
#: check and the open must not wait for a writer), never as a controlling terminal
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_BINARY", 0))


def file_mode(path) -> int:
    """``os.stat(path).st_mode``, symlinks followed; FileNotFoundError ("PATH: no such
    file") if nothing is there, OSError(ELOOP) naming a symlink loop as one."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symlink loop (too many levels of symbolic links)",
                          str(path)) from None
        raise


def refuse_non_regular(path, mode: int, error: type[Exception] = OSError, hint: str = "") -> None:
    """Nothing for a regular file's ``mode``; else IsADirectoryError for a directory and
    ``error`` for anything else, naming what ``path`` is ("PATH: is a FIFO (named pipe),
    not a regular file", with the link's target when ``path`` is a symlink), followed by
    ``hint``."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path}: is a directory, not a file{hint}")
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    via = f" (a symlink to {os.path.realpath(path)})" if os.path.islink(path) else ""
    raise error(f"{path}: is {kind}{via}, not a regular file{hint}")


def open_regular(path, error: type[Exception] = OSError, hint: str = ""):
    """``(binary file, size)`` of ``path`` opened for reading, refused as
    :func:`refuse_non_regular` says unless it is a regular file: checked before the open
    and on the opened file. The caller closes the file (it is a context manager)."""
    refuse_non_regular(path, file_mode(path), error, hint)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        refuse_non_regular(path, st.st_mode, error, hint)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise
