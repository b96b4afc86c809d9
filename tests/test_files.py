"""lic_core.files: a named file is read only when it is a regular file, checked before and
after the open, without blocking; the CLI's inputs and the image API's paths both go
through it (one home of the check)."""
import errno
import os
import threading

import numpy as np
import pytest

from lic_core.errors import InvalidArgumentError
from lic_core.files import file_mode, open_regular, refuse_non_regular


class Refused(Exception):
    pass


def test_a_regular_file_opens_with_its_size(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    f, size = open_regular(path, Refused)
    with f:
        assert (f.read(), size) == (b"abc", 3)
    link = tmp_path / "link"
    link.symlink_to(path)
    f, size = open_regular(link, Refused)  # symlinks are followed
    with f:
        assert f.read() == b"abc"


def test_missing_files_directories_and_loops_say_what_they_are(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing: no such file"):
        open_regular(tmp_path / "missing")
    with pytest.raises(IsADirectoryError, match="is a directory, not a file; hint"):
        open_regular(tmp_path, Refused, "; hint")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OSError, match="symlink loop") as info:
        file_mode(loop)
    assert info.value.errno == errno.ELOOP


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_behind_a_link_is_named_with_its_target(tmp_path):
    link = tmp_path / "zero"
    link.symlink_to("/dev/null")
    with pytest.raises(Refused, match=r"is a character device \(a symlink to /dev/null\), "
                                      r"not a regular file; hint"):
        open_regular(link, Refused, "; hint")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = []

    def read():
        try:
            open_regular(fifo, Refused)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            result.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "opening a FIFO blocked"
    assert isinstance(result[0], Refused) and "is a FIFO (named pipe), not a regular file" in str(result[0])
    with pytest.raises(Refused):
        refuse_non_regular(fifo, file_mode(fifo), Refused)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_image_api_and_the_cli_refuse_through_it(tmp_path):
    pytest.importorskip("PIL")
    from lic_core.cli.common import CommandError, input_file
    from lic_core.images import to_rgb_array

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InvalidArgumentError, match="is a FIFO .*; give an image file"):
        to_rgb_array(fifo)
    with pytest.raises(CommandError, match="is a FIFO .*; lic reads regular files"):
        input_file(fifo)
    with pytest.raises(IsADirectoryError):
        to_rgb_array(tmp_path)
    with pytest.raises(FileNotFoundError):
        to_rgb_array(tmp_path / "missing.png")
    assert isinstance(to_rgb_array(np.zeros((2, 2, 3), np.uint8)), np.ndarray)
