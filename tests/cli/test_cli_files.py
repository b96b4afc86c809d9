"""Issue 21, the files ``lic`` reads and writes (points 10, 11, 13, 20, 21, 24), each a
claim that was false:

10. a failure about one file names it, as the batch form did;
11. ``-o new/deeper/`` creates every missing folder, as the help says;
13. gzip's habits: ``-`` for standard input and output, a default output name, ``--threads``,
    and no existing output overwritten without ``-f``;
20. only regular files are read (a FIFO hung a batch, a symlink to /dev/zero ate all
    memory), and a .lic file no further than its header accounts for;
21. a legal 255-byte output name works (the temporary name added 14 bytes);
24. a symlink loop is reported as a symlink loop, not as a missing file.

Most runs call ``lic_core.cli.main.main`` in this process, with the small weights of
conftest.tiny_zoo (factorized and hyperprior at quality 2 only); the ones that would
block or exhaust memory if the refusal failed run in a child with a time and memory limit.
"""
import io
import os
import resource
import subprocess
import sys
import threading

import pytest
from PIL import Image

from lic_core import container
from tests.cli.helpers import FIXTURE_LIC, QUALITY, error_lines, png


def _limited_lic(*args, cwd, memory=1 << 30, timeout=60):
    """``python -m lic_core ARGS`` in a child that may use ``memory`` bytes of address
    space and ``timeout`` seconds: what would otherwise hang or exhaust the machine fails."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return subprocess.run([sys.executable, "-m", "lic_core", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit)


# --------------------------------------------------------------------------- 10. messages name the file

def test_a_failure_about_one_file_names_it(lic, tmp_path):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(b"not a lic file at all, but long enough")
    for args in (("decompress", bad, tmp_path / "out.png"), ("info", bad)):
        status, _, err = lic(*args)
        assert status == 1
        (line,) = error_lines(err)
        assert line.startswith(f"lic: error: {bad}: magic"), line
    status, _, err = lic("compress", bad, tmp_path / "x.lic", "-q", QUALITY)
    (line,) = error_lines(err)
    assert status == 1 and line.startswith(f"lic: error: {bad}: "), line


def test_the_pixel_limit_message_gives_width_x_height(lic, tmp_path):
    # issue 21 point 10: every message says width x height, as image tools do
    src = png(tmp_path / "wide.png", size=(100, 10))  # processed padded to 128 x 64
    status, _, err = lic("compress", src, tmp_path / "w.lic", "--max-pixels", 4096, "-q", QUALITY)
    assert status == 1 and "a 100x10 image (width x height) is processed padded to 128x64" in err, err


# --------------------------------------------------------------------------- 11. every folder made

def test_o_creates_every_missing_folder(lic, tmp_path):
    src = png(tmp_path / "in.png")
    status, _, err = lic("compress", src, "-o", tmp_path / "new" / "deeper", "-q", QUALITY)
    assert status == 0, err
    assert (tmp_path / "new" / "deeper" / "in.lic").is_file()
    status, _, err = lic("decompress", tmp_path / "new" / "deeper" / "in.lic",
                         "-o", tmp_path / "png" / "a" / "b")
    assert status == 0 and (tmp_path / "png" / "a" / "b" / "in.png").is_file(), err


def test_o_under_a_file_is_refused_before_any_work(lic, tmp_path, monkeypatch):
    from lic_core import api

    def never(*a, **k):
        raise AssertionError("a model was loaded")
    monkeypatch.setattr(api, "load_model", never)
    src = png(tmp_path / "in.png")
    (tmp_path / "file").write_text("x")
    status, _, err = lic("compress", src, "-o", tmp_path / "file" / "sub", "-q", QUALITY)
    assert status == 1 and "is a file, so -o" in err


# --------------------------------------------------------------------------- 13. gzip's habits

def test_one_input_gets_a_default_output_name_beside_it(lic, tmp_path):
    photo = png(tmp_path / "photo.png")
    original = photo.read_bytes()
    status, _, err = lic("compress", photo, "-q", QUALITY)
    assert status == 0, err
    assert container.unpack((tmp_path / "photo.lic").read_bytes()).quality == QUALITY
    # photo.lic -> photo.png is the original photo: kept unless -f
    status, _, err = lic("decompress", tmp_path / "photo.lic")
    assert status == 1 and "photo.png: already exists; add -f (--force)" in err
    assert photo.read_bytes() == original
    status, _, err = lic("decompress", tmp_path / "photo.lic", "-f")
    assert status == 0, err
    with Image.open(photo) as im:
        assert im.size == (40, 24) and photo.read_bytes() != original


def test_an_existing_output_is_refused_without_force(lic, tmp_path):
    good = tmp_path / "good.lic"
    assert lic("compress", png(tmp_path / "in.png"), good, "-q", QUALITY)[0] == 0
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    status, _, err = lic("decompress", good, victim)
    assert status == 1 and "victim.png: already exists" in err and victim.read_bytes() == b"precious"
    # a dangling symlink is an existing name too
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere")
    status, _, err = lic("decompress", good, tmp_path / "dangling.png")
    assert status == 1 and "already exists" in err
    # several files: refused before any work, naming what exists
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"kept")
    second = tmp_path / "b.lic"
    second.write_bytes(good.read_bytes())
    status, _, err = lic("decompress", good, second, "-o", out)
    assert status == 1 and f"{out / 'b.png'}: already exists" in err
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]
    status, _, err = lic("decompress", good, victim, "--force")
    assert status == 0 and victim.read_bytes() != b"precious", err


def test_an_output_that_appears_during_the_run_is_kept(tmp_path):
    from lic_core.cli.common import write_atomic
    out = tmp_path / "out.lic"
    out.write_bytes(b"appeared")
    with pytest.raises(FileExistsError, match="appeared during the run"):
        write_atomic(out, b"new", overwrite=False)
    assert out.read_bytes() == b"appeared" and sorted(tmp_path.iterdir()) == [out]
    write_atomic(tmp_path / "fresh.lic", b"new", overwrite=False)
    assert (tmp_path / "fresh.lic").read_bytes() == b"new"


def _stdio(monkeypatch, data: bytes) -> io.BytesIO:
    """Standard input holding ``data``; returns what standard output receives."""
    stdout = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout, write_through=True))
    return stdout


def test_dash_is_standard_input_and_output(tiny_zoo, tmp_path, monkeypatch, capsys):
    from lic_core.cli.main import main
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tiny_zoo))
    photo = png(tmp_path / "photo.png")
    assert main(["compress", str(photo), str(tmp_path / "photo.lic"), "-q", str(QUALITY)]) == 0
    expected = (tmp_path / "photo.lic").read_bytes()
    stdout = _stdio(monkeypatch, photo.read_bytes())
    assert main(["compress", "-", "-q", str(QUALITY)]) == 0  # IN - alone: standard output
    assert stdout.getvalue() == expected
    assert "standard output: " in capsys.readouterr().err  # the report is not in the data
    stdout = _stdio(monkeypatch, expected)
    assert main(["decompress", "-", "-"]) == 0
    decoded = Image.open(io.BytesIO(stdout.getvalue()))
    assert decoded.format == "PNG" and decoded.size == (40, 24)
    _stdio(monkeypatch, expected)
    assert main(["decompress", "-", str(tmp_path / "from-stdin.png")]) == 0
    assert (tmp_path / "from-stdin.png").read_bytes() == stdout.getvalue()


def test_binary_output_is_not_written_to_a_terminal(lic, tmp_path, monkeypatch):
    class Terminal(io.TextIOWrapper):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdout", Terminal(io.BytesIO()))
    status, _, err = lic("decompress", FIXTURE_LIC, "-")
    assert status == 1 and "standard output is a terminal; refusing to write image bytes" in err


def test_threads_sets_torchs_thread_count_for_the_run(lic, tmp_path, monkeypatch):
    import torch

    from lic_core import api
    seen = []
    compress = api.compress
    monkeypatch.setattr(api, "compress",
                        lambda *a, **k: seen.append(torch.get_num_threads()) or compress(*a, **k))
    before = torch.get_num_threads()
    wanted = before + 1
    status, _, err = lic("compress", png(tmp_path / "in.png"), "--threads", wanted, "-q", QUALITY)
    assert status == 0, err
    assert seen == [wanted] and torch.get_num_threads() == before


# --------------------------------------------------------------------------- 20. regular files only

def test_a_fifo_is_refused_without_waiting_for_a_writer(lic, tmp_path):
    fifo = tmp_path / "pipe.lic"
    os.mkfifo(fifo)

    stop = threading.Event()

    def unblock():  # a command that opened the FIFO would wait there: let it fail instead
        while not stop.wait(2.0):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader waiting
                pass
    rescuer = threading.Thread(target=unblock, daemon=True)
    rescuer.start()
    try:
        for args in (("decompress", fifo, tmp_path / "o.png"), ("info", fifo),
                     ("compress", fifo, tmp_path / "o.lic", "-q", QUALITY)):
            status, _, err = lic(*args)
            assert status == 1
            (line,) = error_lines(err)
            assert f"{fifo}: is a FIFO (named pipe), not a regular file" in line, line
    finally:
        stop.set()
        rescuer.join()


def test_a_symlink_to_a_device_is_refused_not_read(tmp_path):
    (tmp_path / "zero.lic").symlink_to("/dev/zero")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    for args in (("info", "zero.lic"), ("decompress", "zero.lic", "o.png"),
                 ("compress", "zero.png", "o.lic")):
        r = _limited_lic(*args, cwd=tmp_path)
        assert r.returncode == 1, (args, r.stderr)
        assert "is a character device (a symlink to /dev/zero)" in r.stderr, r.stderr
        assert r.stderr.startswith(f"lic: error: {args[1]}: is a character device"), r.stderr


def test_a_directory_is_refused_by_every_command_that_reads_a_file(lic, tmp_path):
    for args in (("decompress", tmp_path, tmp_path / "o.png"), ("info", tmp_path),
                 ("compress", tmp_path, tmp_path / "o.lic")):
        status, _, err = lic(*args)
        assert status == 1 and "is a directory" in err, err


def test_a_lic_file_is_read_no_further_than_its_header_accounts_for(lic, tmp_path, peak_python_alloc):
    """Bytes after the streams are refused as trailing bytes without being read: 256 MiB
    of them (a sparse file) cost nothing."""
    padded = tmp_path / "padded.lic"
    padded.write_bytes(FIXTURE_LIC.read_bytes())
    with open(padded, "r+b") as f:
        f.truncate(FIXTURE_LIC.stat().st_size + (256 << 20))
    results = []
    peak = peak_python_alloc(lambda: results.append(lic("info", padded)))
    status, _, err = results[0]
    assert status == 1 and "trailing bytes" in err and str(padded) in err, err
    assert peak < 16 << 20, peak


class _Endless(io.RawIOBase):
    """Standard input that never ends: ``data`` then zeros; counts what is read."""

    def __init__(self, data: bytes):
        self.data, self.given = data, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = len(buffer)
        chunk = (self.data[self.given:] + bytes(n))[:n]
        buffer[:n] = chunk
        self.given += n
        return n


def test_standard_input_is_read_no_further_than_the_header_accounts_for(lic, monkeypatch):
    data = FIXTURE_LIC.read_bytes()
    for head in (b"", data):  # zeros alone (not a .lic), then a whole file and zeros after
        endless = _Endless(head)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(endless, 64)))
        status, _, err = lic("info", "-")
        assert status == 1, err
        assert ("magic" if not head else "trailing bytes") in err, err
        assert endless.given <= len(data) + 4096, endless.given


# --------------------------------------------------------------------------- 21. long names

def test_a_255_byte_output_name_works(lic, tmp_path):
    from lic_core.cli.common import temporary_name
    name = "n" * 251 + ".lic"
    status, _, err = lic("compress", png(tmp_path / "in.png"), tmp_path / name, "-q", QUALITY)
    assert status == 0, err
    assert (tmp_path / name).is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["in.png", name]
    tmp = temporary_name(tmp_path / ("é" * 127 + ".lic"), "0123abcd")  # 258 bytes in UTF-8
    assert len(os.fsencode(tmp)) <= 255 and tmp.startswith(".éé") and tmp.endswith(".0123abcd.tmp")


# --------------------------------------------------------------------------- 24. a symlink loop

def test_a_symlink_loop_is_reported_as_a_loop(lic, tmp_path):
    (tmp_path / "a.lic").symlink_to(tmp_path / "b.lic")
    (tmp_path / "b.lic").symlink_to(tmp_path / "a.lic")
    for args in (("decompress", tmp_path / "a.lic", tmp_path / "o.png"), ("info", tmp_path / "a.lic"),
                 ("compress", tmp_path / "a.lic", tmp_path / "o.lic")):
        status, _, err = lic(*args)
        assert status == 1
        (line,) = error_lines(err)
        assert "a.lic: is a symlink loop" in line and "no such file" not in line, line
