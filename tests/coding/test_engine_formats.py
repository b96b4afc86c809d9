"""The engine's file-format layer (issue 23) agrees with the Python side it will replace.

* csrc/lic/container.h through the C ABI (lic_file_read_header, tests/c_abi/formats.c):
  on every golden .lic file, on damaged variants of them (truncated, extended, each
  header byte changed with and without a repaired header CRC, the payload flipped), on
  format-4 files made from them and on Hypothesis-generated and damaged files, it
  accepts exactly what lic_core.container accepts, reads the same fields, and refuses
  with the same class (LIC_ERR_CONTAINER <-> ContainerError, LIC_ERR_UNSUPPORTED_FORMAT
  <-> UnsupportedFormatError, LIC_ERR_LIMIT_EXCEEDED <-> LimitExceededError) and the
  same field name at the start of the message. Format 4 is format 3 with byte 14 the
  synthesis path (0 float32, 1 integer v1) and byte 15 reserved.
* json.h, safetensors.h, sha256.h, crc32.h, fileio.h (tests/c_abi/formats_internal.cpp,
  linked with the engine's objects): its self-test (FIPS vectors, hostile JSON and
  safetensors, read_file on FIFOs and devices), with read_file's POSIX and std::FILE
  builds; every weight file of every release read, its SHA-256 equal to RELEASE.json's
  and each tensor's values equal to the bytes Python reads; SHA-256 and CRC-32 equal to
  hashlib's and zlib's on random inputs; files the safetensors package writes, read.

The engine is compiled once for the module (~40 s, tests/c_build.py)."""
import hashlib
import json
import os
import random
import struct
import subprocess
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.c_build import CSRC, ROOT, compile_c, compile_cxx, compile_engine, link
from lic_core import container
from lic_core.errors import ContainerError, LicError, LimitExceededError, UnsupportedFormatError
from lic_core.testing import damaged_bytes, lic_bytes

GOLDEN = os.path.join(ROOT, "tests", "fixtures")
WEIGHTS = os.path.join(ROOT, "lic_core", "zoo", "weights")
DEFAULT_MAX_PIXELS = 1 << 24
STATUS = {ContainerError: 10, UnsupportedFormatError: 6, LimitExceededError: 8}


def _golden_files():
    found = []
    for folder, _, names in os.walk(GOLDEN):
        found += [os.path.join(folder, n) for n in names if n.endswith(".lic")]
    return sorted(found)


def _release_folders():
    return sorted(folder for folder, _, names in os.walk(WEIGHTS) if "RELEASE.json" in names)


class HeaderServer:
    """tests/c_abi/formats.c --serve: one process answering lic_file_read_header requests."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([exe, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, data, max_pixels, check_crcs):
        """The engine's answer as read_python gives Python's (max_pixels 0: the default)."""
        data = bytes(data)
        self.proc.stdin.write(struct.pack("<QBQ", max_pixels, 1 if check_crcs else 0, len(data)) + data)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        assert line, "formats --serve died"
        if line.startswith("ERR "):
            _, status, message = line.rstrip("\n").split(" ", 2)
            return ("ERR", int(status), message.split(":")[0])
        fields = dict(item.split("=", 1) for item in line.split()[1:])
        return {
            "version": int(fields["v"]), "model": fields["name"], "model_id": int(fields["model"]),
            "quality": int(fields["quality"]), "path": int(fields["path"]), "synthesis": int(fields["synthesis"]),
            "height": int(fields["height"]), "width": int(fields["width"]),
            "fingerprint": int(fields["fingerprint"]), "release": fields["release"],
            "latents": [tuple(map(int, s.split(","))) for s in fields["latents"].split(";")],
            "streams": [tuple(map(int, s.split(":"))) for s in fields["streams"].split(";")],
            "header_size": int(fields["header_size"]),
            "crcs": (fields["header_crc_ok"] == "1", fields["payload_crc_ok"] == "1"),
        }

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def _field(message):
    return str(message).split(":")[0]


def read_python(data, max_pixels, check_crcs):
    """lic_core.container's reading of data, in HeaderServer.read's form."""
    try:
        if check_crcs:
            f, crcs = container.unpack(data, max_pixels=max_pixels), (True, True)
        else:
            f, status = container.check_crcs(data, max_pixels=max_pixels)
            crcs = (status.header_ok, status.payload_ok)
    except LicError as exc:
        assert type(exc) in STATUS, f"an error lic_file_read_header has no status for: {exc!r}"
        return ("ERR", STATUS[type(exc)], _field(exc))
    hsize = container.header_size(len(f.latent_shapes), len(f.streams), f.version)
    offsets = np.cumsum([hsize] + [len(s) for s in f.streams])[:-1]
    return {
        "version": f.version, "model": f.model, "model_id": container.MODEL_IDS[f.model], "quality": f.quality,
        "path": f.probability_path, "synthesis": f.synthesis, "height": f.height, "width": f.width,
        "fingerprint": f.weights_fingerprint, "release": f.weights_release,
        "latents": [tuple(s) for s in f.latent_shapes],
        "streams": [(int(o), len(s)) for o, s in zip(offsets, f.streams)],
        "header_size": hsize, "crcs": crcs,
    }


def _header_crc_span(data):
    """The header size of data (by its version and counts) when that header fits in
    data, else None."""
    if len(data) < 24 or not 1 <= data[11] <= container.MAX_GROUPS or not 1 <= data[12] <= container.MAX_STREAMS:
        return None
    hsize = container.header_size(data[11], data[12], 1 if data[8] == 1 else 3)
    return hsize if len(data) >= hsize else None


def reference(data, max_pixels, check_crcs):
    """What the engine must answer: lic_core.container's reading (formats 1 to 4)."""
    return read_python(bytes(data), max_pixels, check_crcs)


def as_format4(data, synthesis=1):
    """A format-3 file rewritten as format 4 with the given synthesis byte, CRC repaired."""
    d = bytearray(data)
    assert d[8] == 3
    d[8], d[14] = 4, synthesis
    return fix_header_crc(d)


def fix_header_crc(data):
    """data with its header CRC made right (when its header fits)."""
    hsize = _header_crc_span(data)
    if hsize is None:
        return bytes(data)
    d = bytearray(data)
    d[hsize - 4:hsize] = struct.pack("<I", zlib.crc32(bytes(d[:hsize - 4])))
    return bytes(d)


# ---- the programs ------------------------------------------------------------------

@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    out = tmp_path_factory.mktemp("formats")
    engine = compile_engine(out)
    formats = link(out, "formats", [compile_c(out, "formats.c"), *engine])
    internal_obj = compile_cxx(out, "formats_internal.cpp")
    internal = link(out, "formats_internal", [internal_obj, *engine])
    # read_file's std::FILE fallback (non-POSIX builds), built and run here too
    stdio = compile_engine(out / "stdio", flags=("-DLIC_FILEIO_STDIO",), sources=["fileio.cpp"])
    internal_stdio = link(out, "formats_internal_stdio",
                          [internal_obj, *[o for o in engine if not o.endswith("fileio.cpp.o")], *stdio])
    return SimpleNamespace(formats=formats, internal=internal, internal_stdio=internal_stdio)


@pytest.fixture(scope="module")
def server(programs):
    s = HeaderServer(programs.formats)
    yield s
    s.close()


def _run(args, timeout=120):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# ---- the container -----------------------------------------------------------------

def test_c_self_test_and_every_golden_file_reads(programs):
    files = _golden_files()
    assert len(files) >= 50
    out = _run([programs.formats, *files])
    assert out.startswith("OK ") and int(out.split()[1]) > len(files)


@pytest.mark.parametrize("max_pixels", [0, DEFAULT_MAX_PIXELS, 4096])
@pytest.mark.parametrize("check_crcs", [True, False])
def test_golden_files_read_as_python_reads_them(server, max_pixels, check_crcs):
    versions = set()
    for path in _golden_files():
        with open(path, "rb") as fh:
            data = fh.read()
        want = reference(data, max_pixels or DEFAULT_MAX_PIXELS, check_crcs)
        assert server.read(data, max_pixels, check_crcs) == want, path
        versions.add(data[8])
    assert versions == {1, 2, 3, 4}  # every format the zoo has written


def _variants(data):
    """Damaged versions of a .lic file: truncations, extensions, every header byte
    changed (CRC left wrong, and repaired), the payload and each CRC flipped."""
    n = len(data)
    hsize = _header_crc_span(data) or 24
    for cut in sorted({0, 1, 7, 8, 9, 23, 24, 25, 39, 40, hsize - 5, hsize - 4, hsize - 1, hsize, hsize + 1, n - 1}):
        if 0 <= cut < n:
            yield data[:cut]
    yield data + b"\0"
    yield data + data[-7:]
    for i in range(hsize):
        for value in {0, 1, 2, 3, 4, 5, 9, 17, 0x2E, 0x41, 0x7F, 0x80, 0xFF, data[i] ^ 1, data[i] ^ 0x80}:
            if value == data[i]:
                continue
            d = bytearray(data)
            d[i] = value
            yield bytes(d)  # the header CRC now wrong (unless a check before it fails)
            if 8 <= i < hsize - 8:
                yield fix_header_crc(d)  # and right again: the field checks must catch it
    if data[8] >= 2:  # a fingerprint of 0, which formats 2 and up refuse
        d = bytearray(data)
        d[24:32] = bytes(8)
        yield fix_header_crc(d)
    d = bytearray(data)
    d[-1] ^= 1
    yield bytes(d)


def _sample_files():
    """A golden file of each model and format version, and format-4 files made from the
    format-3 ones (both synthesis paths)."""
    chosen = {}
    for path in _golden_files():
        with open(path, "rb") as fh:
            data = fh.read()
        chosen.setdefault((data[8], data[9]), data)
    files = list(chosen.values())
    files += [as_format4(d, synthesis) for d in files if d[8] == 3 for synthesis in (0, 1)]
    return files


def test_damaged_files_are_refused_as_python_refuses_them(server):
    compared = 0
    outcomes = set()
    for data in _sample_files():
        for bad in _variants(data):
            for check_crcs in (True, False):
                want = reference(bad, DEFAULT_MAX_PIXELS, check_crcs)
                got = server.read(bad, 0, check_crcs)
                assert got == want, (bad[:64].hex(), check_crcs)
                compared += 1
                outcomes.add(got[2] if isinstance(got, tuple) else "OK")
    assert compared > 10000
    # every check was reached by some variant
    assert {"magic", "header", "version", "model id", "reserved", "probability path", "synthesis path",
            "height/width", "latent group count", "stream count", "weights fingerprint", "weights release",
            "latent shape 0",
            "stream lengths", "header CRC-32", "payload CRC-32", "OK"} <= outcomes, outcomes


def test_format4_reads_the_synthesis_path(server):
    for data in _sample_files():
        if data[8] != 3:
            continue
        three = server.read(data, 0, True)
        for synthesis in (0, 1):
            four = server.read(as_format4(data, synthesis), 0, True)
            assert four == dict(three, version=4, synthesis=synthesis)
        for synthesis in (2, 255):
            assert server.read(as_format4(data, synthesis), 0, True) == ("ERR", 6, "synthesis path")
        d = bytearray(as_format4(data))
        d[15] = 1
        assert server.read(fix_header_crc(d), 0, True) == ("ERR", 10, "reserved")
        d = bytearray(data)
        d[8] = 5
        assert server.read(fix_header_crc(d), 0, True) == ("ERR", 6, "version")


@pytest.mark.parametrize("max_pixels", [64 * 64, 64 * 128 - 1, 64 * 128, 1 << 20])
def test_the_pixel_limit_counts_the_padded_image(server, max_pixels):
    for data in _sample_files():
        assert server.read(data, max_pixels, True) == reference(data, max_pixels, True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(lic_bytes(), damaged_bytes(lic_bytes())), check_crcs=st.booleans(),
       max_pixels=st.sampled_from([DEFAULT_MAX_PIXELS, 4096, 8192, 1 << 30]))
def test_generated_files_read_as_python_reads_them(server, data, check_crcs, max_pixels):
    assert server.read(data, max_pixels, check_crcs) == reference(data, max_pixels, check_crcs)
    if len(data) >= 24 and data[8] == 3 and _header_crc_span(data):
        four = as_format4(data, 1)
        assert server.read(four, max_pixels, check_crcs) == reference(four, max_pixels, check_crcs)


# ---- JSON, safetensors, SHA-256, CRC-32, read_file ----------------------------------

def test_internal_self_test(programs):
    out = _run([programs.internal]).split()
    assert out[0] == "OK" and out[2] == "posix"


def test_internal_self_test_with_the_stdio_read_file(programs):
    out = _run([programs.internal_stdio]).split()
    assert out[0] == "OK" and out[2] == "stdio"


def _header(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    (n,) = struct.unpack_from("<Q", raw)
    return raw, json.loads(raw[8:8 + n]), 8 + n


_NUMPY = {"BOOL": "<u1", "U8": "<u1", "I8": "<i1", "U16": "<u2", "I16": "<i2", "U32": "<u4", "I32": "<i4",
          "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8"}


def _check_tensor_lines(lines, raw, header, base):
    """The T lines of one file against the file's bytes as Python reads them."""
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    seen = set()
    for line in lines:
        _, _, name, dtype, shape, digest, total = line.split(" ")
        info = tensors[name]
        assert dtype == info["dtype"] and shape == "[" + ",".join(map(str, info["shape"])) + "]", name
        begin, end = info["data_offsets"]
        data = raw[base + begin:base + end]
        assert digest == hashlib.sha256(data).hexdigest(), name
        if total != "-":
            values = np.frombuffer(data, _NUMPY[dtype]).astype(np.int64).view(np.uint64)
            assert int(total) == int(values.sum(dtype=np.uint64)), name  # modulo 2^64
        else:
            assert dtype.startswith(("F", "BF"))
        seen.add(name)
    assert seen == set(tensors)
    assert [line.split(" ")[2] for line in lines] == sorted(tensors, key=lambda s: s.encode())


def test_every_weight_file_of_every_release_reads(programs):
    folders = _release_folders()
    assert os.path.join(WEIGHTS, "RELEASE.json") in [os.path.join(f, "RELEASE.json") for f in folders]
    out = _run([programs.internal, "--weights", *folders], timeout=300).splitlines()
    assert out[-1] == "OK"
    digests = {}  # (file name, sha256) of every file some release folder holds
    for folder in folders:
        with open(os.path.join(folder, "RELEASE.json")) as fh:
            for name, digest in json.load(fh)["files"].items():
                if os.path.exists(os.path.join(folder, name)):
                    digests[name, digest] = os.path.join(folder, name)
    release, manifest, read = None, None, 0
    by_file = {}
    for line in out[:-1]:
        kind, rest = line.split(" ", 1)
        if kind == "R":
            folder, label, count = rest.split(" ")
            with open(os.path.join(folder, "RELEASE.json")) as fh:
                manifest = json.load(fh)
            assert label == manifest["release"] and int(count) == len(manifest["files"])
            release = folder
        elif kind == "A":  # listed, stored once in another release's folder
            assert release != WEIGHTS, f"the current release lacks {rest}"
            assert (rest, manifest["files"][rest]) in digests, rest
        elif kind == "F":
            name, digest, n_tensors, n_meta = rest.split(" ")
            path = os.path.join(release, name)
            raw, header, base = _header(path)
            assert digest == manifest["files"][name] == hashlib.sha256(raw).hexdigest()
            assert int(n_tensors) == len(header) - ("__metadata__" in header)
            assert int(n_meta) == len(header.get("__metadata__", {}))
            by_file[release, name] = (raw, header, base, [])
            current = by_file[release, name]
            read += 1
        elif kind == "M":
            name, key, digest = rest.split(" ")
            assert hashlib.sha256(current[1]["__metadata__"][key].encode()).hexdigest() == digest
        else:
            assert kind == "T"
            current[3].append(line)
    assert read >= 9
    for raw, header, base, lines in by_file.values():
        _check_tensor_lines(lines, raw, header, base)


def test_sha256_and_crc32_equal_hashlib_and_zlib(programs, tmp_path):
    rng = random.Random(23)
    sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 1000, 4099, 65536, 300001]
    sizes += [rng.randrange(0, 5000) for _ in range(30)]
    paths = []
    for i, n in enumerate(sizes):
        path = tmp_path / f"r{i}"
        path.write_bytes(rng.randbytes(n) if i % 3 else bytes([i % 256]) * n)
        paths.append(path)
    lines = _run([programs.internal, "--digest", *map(str, paths)]).splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        data = path.read_bytes()
        assert line.split() == [hashlib.sha256(data).hexdigest(), f"{zlib.crc32(data):08x}", str(len(data))]


def test_files_the_safetensors_package_writes_read(programs, tmp_path):
    from safetensors.numpy import load_file, save_file

    rng = np.random.default_rng(23)
    arrays = {
        "bool": rng.integers(0, 2, (3, 5)).astype(np.bool_),
        "u8": rng.integers(0, 256, (7,), dtype=np.uint8), "i8": rng.integers(-128, 128, (2, 3), dtype=np.int8),
        "u16": rng.integers(0, 2**16, (4, 1), dtype=np.uint16),
        "i16": rng.integers(-2**15, 2**15, (2, 2, 3), dtype=np.int16),
        "u32": rng.integers(0, 2**32, (5,), dtype=np.uint32),
        "i32": rng.integers(-2**31, 2**31, (3, 3), dtype=np.int32),
        "u64": rng.integers(0, 2**63, (4,), dtype=np.uint64) * 2 + 1,
        "i64": rng.integers(-2**63, 2**63 - 1, (2, 2), dtype=np.int64),
        "f16": rng.standard_normal((3, 4)).astype(np.float16), "f32": rng.standard_normal((6,)).astype(np.float32),
        "f64": rng.standard_normal((2, 5)), "scalar": np.array(3, np.int32), "empty": np.zeros((0, 4), np.int16),
        "é-unicode.name": np.arange(3, dtype=np.int16),
    }
    good = tmp_path / "good.safetensors"
    save_file(arrays, str(good), metadata={"format": "lic-core-weights/1", "ünïcode": "välue"})
    one = tmp_path / "one.safetensors"
    save_file({"only": np.arange(12, dtype=np.int32).reshape(3, 4)}, str(one))
    raw, header, base = _header(good)
    # hostile files that the safetensors package refuses too
    hostile = []

    def write(name, new_header, buffer):
        body = json.dumps(new_header).encode()
        path = tmp_path / name
        path.write_bytes(struct.pack("<Q", len(body)) + body + buffer)
        hostile.append(path)

    buffer = raw[base:]
    overlap = json.loads(json.dumps(header))
    overlap["i32"]["data_offsets"] = list(overlap["u32"]["data_offsets"])
    overlap["i32"]["shape"] = [5]
    write("overlap.safetensors", overlap, buffer)
    hole = {k: v for k, v in header.items() if k != "i8"}
    write("hole.safetensors", hole, buffer)
    write("trailing.safetensors", header, buffer + b"\0")
    write("short.safetensors", header, buffer[:-1])
    bad_dtype = json.loads(json.dumps(header))
    bad_dtype["u8"]["dtype"] = "U7"
    write("dtype.safetensors", bad_dtype, buffer)

    lines = _run([programs.internal, "--safetensors", str(good), str(one), *map(str, hostile)]).splitlines()
    ok = [i for i, line in enumerate(lines) if line.startswith(("OK", "ERR"))]
    assert [lines[i].split()[0] for i in ok] == ["OK", "OK"] + ["ERR"] * len(hostile), lines
    assert lines[ok[0]] == f"OK {len(arrays)}"
    _check_tensor_lines(lines[ok[0] + 1:ok[1]], raw, header, base)
    assert all(lines[i].startswith("ERR 11 safetensors: ") for i in ok[2:])
    for path in hostile:
        with pytest.raises(Exception):
            load_file(str(path))
    assert load_file(str(good))["i16"].tolist() == arrays["i16"].tolist()


def test_ctest_runs_both_programs():
    with open(os.path.join(CSRC, "CMakeLists.txt"), encoding="utf-8") as fh:
        cmake = fh.read()
    assert "formats.c" in cmake and "formats_internal.cpp" in cmake
