"""Weight files are read only from regular files and only as far as their own header and
the bounds allow (issue 21 point 20, the weights half): a FIFO must not hang
zoo.load_file, a link to /dev/zero must not be read, and a header describing more bytes
than a weight file may have is refused before those bytes are read."""
import json
import os
import struct
import threading
import tracemalloc

import pytest

from lic_core import zoo
from lic_core.errors import WeightsError
from lic_core.zoo import catalog, release


def in_thread(fn, seconds=20):
    """(finished, what fn raised or returned): a call that blocks (the bug) leaves the
    thread waiting instead of the test suite."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["value"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), out.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("read", [zoo.load_file, zoo.read_metadata],
                         ids=["load_file", "read_metadata"])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path, read):
    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    try:
        finished, result = in_thread(lambda: read(fifo), seconds=20)
        assert finished, "reading a FIFO blocked"
        assert isinstance(result, WeightsError) and "FIFO, not a regular file" in str(result)
    finally:
        # let a reader stuck in open() (the bug) go: open and close the writing end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if not finished else None
        if fd is not None:
            os.close(fd)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_link_to_a_device_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "weights.safetensors"
    link.symlink_to("/dev/zero")
    for read in (zoo.load_file, zoo.read_metadata):
        with pytest.raises(WeightsError, match="character device, not a regular file"):
            read(link)
    with pytest.raises(WeightsError, match="not a regular file"):
        zoo.load_file(tmp_path)  # a folder


def _file_claiming(path, data_bytes: int) -> None:
    """A sparse safetensors file whose one tensor claims ``data_bytes`` bytes."""
    header = json.dumps({"__metadata__": {"architecture": "factorized"},
                         "t": {"dtype": "U8", "shape": [data_bytes], "data_offsets": [0, data_bytes]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + data_bytes)


def test_a_file_larger_than_a_weight_file_may_be_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_FILE_BYTES", 1 << 20)
    path = tmp_path / "huge.safetensors"
    _file_claiming(path, 8 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError, match="more than the 1048576 a weight file may have"):
            zoo.load_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak} bytes allocated before refusing"


def test_a_header_must_describe_the_file_exactly(tmp_path):
    path = tmp_path / "short.safetensors"
    _file_claiming(path, 64)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 1)
    with pytest.raises(WeightsError, match="its header describes"):
        zoo.read_metadata(path)
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(WeightsError, match="header"):
        zoo.load_file(path)


def test_shipped_files_still_read_exactly_as_released():
    path = release.PACKAGE_WEIGHTS / "factorized-q4.safetensors"
    data, header = catalog.read_weight_file(path)
    assert data == path.read_bytes()
    assert zoo.read_metadata(path) == header["__metadata__"]
    assert zoo.load_file(path).N > 0
