"""Properties of the .lic container (lic_core.container, spec in docs/format.md)."""
import collections
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lic_core import ContainerError, InvalidArgumentError, LimitExceededError
from lic_core import UnsupportedFormatError
from lic_core.container import (
    DEFAULT_MAX_PIXELS, MAGIC, MODEL_IDS, LicFile, check_crcs, header_size, pack, unpack,
)
from lic_core.testing import assert_decodes_or_refuses, assert_refuses_cleanly, damaged, lic_files

FIXTURES = Path(__file__).parent / "fixtures"
# The version 1 golden file (written before files named their weights) must read forever.
GOLDEN_FILE = LicFile(model="hyperprior", quality=3, height=512, width=768,
                      latent_shapes=((32, 48), (8, 12)), streams=(b"y-stream bytes", b"z!"),
                      version=1)
GOLDEN_V2_FILE = LicFile(model="hyperprior", quality=3, height=512, width=768,
                         latent_shapes=((32, 48), (8, 12)), streams=(b"y-stream bytes", b"z!"),
                         weights_fingerprint=0x0123456789ABCDEF, weights_release="zoo-v3",
                         version=2)
GOLDEN_V3_FILE = LicFile(model="joint", quality=5, height=512, width=768,
                         latent_shapes=((32, 48), (8, 12)), streams=(b"y-stream bytes", b"z!"),
                         weights_fingerprint=0x0123456789ABCDEF, weights_release="zoo-v4",
                         probability_path=1)
GOLDEN_HEX = (
    "894c49430d0a1a0a"          # magic
    "01" "02" "03" "02" "02"    # version 1, model id 2 (hyperprior), quality 3, 2 groups, 2 streams
    "000000"                    # reserved
    "00020000" "00030000"       # height 512, width 768
    "20000000" "30000000"       # latent group 0: 32 x 48
    "08000000" "0c000000"       # latent group 1: 8 x 12
    "0e000000" "02000000"       # stream lengths 14, 2
    "a663030a"                  # payload CRC-32
    "98aa6c86"                  # header CRC-32
) + b"y-stream bytesz!".hex()


def _refresh_header_crc(data: bytearray, groups: int, streams: int) -> bytes:
    """Recompute the header CRC after a deliberate header edit, to reach deeper checks."""
    hsize = header_size(groups, streams, version=data[8] if data[8] in (1, 2, 3) else 3)
    struct.pack_into("<I", data, hsize - 4, zlib.crc32(bytes(data[:hsize - 4])))
    return bytes(data)


def test_model_ids_are_the_fixed_numbers_of_the_spec():
    assert MODEL_IDS == {"factorized": 1, "hyperprior": 2, "mean-scale": 3, "joint": 4,
                         "space-channel": 5}


def test_pack_reproduces_the_golden_file_byte_for_byte():
    golden = (FIXTURES / "container_v1_hyperprior.lic").read_bytes()
    assert golden.hex() == GOLDEN_HEX
    assert pack(GOLDEN_FILE) == golden


def test_pack_writes_the_version_2_layout_byte_for_byte():
    # docs/format.md: the weights fingerprint (u64) and release label (8 bytes, NUL-padded)
    # follow the fixed 24 bytes; everything else is version 1's layout shifted by 16.
    data = pack(GOLDEN_V2_FILE)
    v1 = bytes.fromhex(GOLDEN_HEX)
    assert data[:8] == v1[:8] and data[8] == 2 and data[9:24] == v1[9:24]
    assert data[24:32] == bytes.fromhex("efcdab8967452301")
    assert data[32:40] == b"zoo-v3\0\0"
    assert data[40:68] == v1[24:52]                       # shapes, lengths, payload CRC
    assert struct.unpack_from("<I", data, 68)[0] == zlib.crc32(data[:68])
    assert data[72:] == b"y-stream bytesz!"
    assert unpack(data) == GOLDEN_V2_FILE and header_size(2, 2, version=2) == 72


def test_pack_writes_the_version_3_layout_byte_for_byte():
    # version 2's layout with byte 13, reserved there, holding the probability path
    data = pack(GOLDEN_V3_FILE)
    assert data[8] == 3 and data[9] == MODEL_IDS["joint"] and data[10] == 5
    assert data[13] == 1 and data[14:16] == b"\0\0"
    assert data[32:40] == b"zoo-v4\0\0"
    assert unpack(data) == GOLDEN_V3_FILE and header_size(2, 2) == 72


def test_a_version_2_file_is_read_as_the_float_path_and_byte_13_must_be_zero_there():
    assert unpack(pack(GOLDEN_V2_FILE)).probability_path == 0
    data = bytearray(pack(GOLDEN_V2_FILE))
    data[13] = 1
    with pytest.raises(ContainerError, match="reserved: bytes 13..15"):
        unpack(_refresh_header_crc(data, 2, 2))


def test_an_unknown_probability_path_is_a_newer_format_and_pack_refuses_one():
    import dataclasses
    data = bytearray(pack(GOLDEN_V3_FILE))
    data[13] = 7
    with pytest.raises(UnsupportedFormatError, match="probability path: 7"):
        unpack(_refresh_header_crc(data, 2, 2))
    with pytest.raises(InvalidArgumentError, match="probability_path"):
        pack(dataclasses.replace(GOLDEN_V3_FILE, probability_path=2))
    with pytest.raises(InvalidArgumentError, match="no probability path"):
        pack(dataclasses.replace(GOLDEN_V2_FILE, probability_path=1))


@pytest.mark.parametrize("label", ["ZOO", "zoo-v3-long", "a b", "é"])
def test_a_release_label_outside_the_alphabet_is_refused_by_pack(label):
    import dataclasses
    with pytest.raises(InvalidArgumentError, match="weights_release"):
        pack(dataclasses.replace(GOLDEN_V2_FILE, weights_release=label))


@pytest.mark.parametrize("raw", [b"ZOO\0\0\0\0\0", b"a b\0\0\0\0\0", b"zoo\0v3\0\0", b"\xc3\xa9\0\0\0\0\0\0"])
def test_a_header_with_a_malformed_release_label_is_refused(raw):
    data = bytearray(pack(GOLDEN_V2_FILE))
    data[32:40] = raw
    with pytest.raises(ContainerError, match="weights release"):
        unpack(_refresh_header_crc(data, 2, 2))


def test_unpack_reads_the_golden_file():
    f = unpack((FIXTURES / "container_v1_hyperprior.lic").read_bytes())
    assert f == GOLDEN_FILE
    assert f.payload_bytes == 16 and f.num_pixels == 512 * 768


def test_unpack_accepts_bytearray_and_memoryview():
    data = pack(GOLDEN_FILE)
    assert unpack(bytearray(data)) == GOLDEN_FILE
    assert unpack(memoryview(data)) == GOLDEN_FILE


def test_non_bytes_input_is_an_invalid_argument():
    with pytest.raises(InvalidArgumentError):
        unpack("not bytes")


@pytest.mark.parametrize("data, field", [
    (b"", "magic"),
    (b"PNG\0\0\0\0\0" + bytes(40), "magic"),
    (MAGIC + b"\x01\x02", "header"),
])
def test_garbage_is_refused_naming_the_field(data, field):
    with pytest.raises(ContainerError, match=field):
        unpack(data)


def test_newer_version_is_unsupported_not_corrupt():
    data = bytearray(pack(GOLDEN_V3_FILE))
    data[8] = 5  # the newest readable version is 4
    with pytest.raises(UnsupportedFormatError, match="version"):
        unpack(_refresh_header_crc(data, 2, 2))


def test_unknown_model_id_is_unsupported():
    data = bytearray(pack(GOLDEN_FILE))
    data[9] = 77
    with pytest.raises(UnsupportedFormatError, match="model id"):
        unpack(_refresh_header_crc(data, 2, 2))


def test_pixel_limit_is_checked_before_the_header_is_read_further():
    # A 16-byte prefix claiming 2^32-1 x 2^32-1 pixels: the limit must trip
    # before any length check, allocation or CRC.
    data = bytearray(pack(GOLDEN_FILE))
    struct.pack_into("<II", data, 16, 0xFFFFFFFF, 0xFFFFFFFF)
    with pytest.raises(LimitExceededError, match="pixels"):
        unpack(bytes(data[:24]))


def test_explicit_and_environment_pixel_limits(monkeypatch):
    data = pack(GOLDEN_FILE)  # 512 x 768 = 393216 pixels
    with pytest.raises(LimitExceededError):
        unpack(data, max_pixels=393215)
    assert unpack(data, max_pixels=393216) == GOLDEN_FILE
    monkeypatch.setenv("LIC_MAX_PIXELS", "1000")
    with pytest.raises(LimitExceededError):
        unpack(data)
    assert unpack(data, max_pixels=DEFAULT_MAX_PIXELS) == GOLDEN_FILE


def test_trailing_bytes_are_refused():
    with pytest.raises(ContainerError, match="trailing"):
        unpack(pack(GOLDEN_FILE) + b"\0")


def test_truncated_payload_is_refused():
    with pytest.raises(ContainerError, match="truncated"):
        unpack(pack(GOLDEN_FILE)[:-1])


def test_payload_damage_is_caught_by_the_payload_crc():
    data = bytearray(pack(GOLDEN_FILE))
    data[-1] ^= 0x40
    with pytest.raises(ContainerError, match="payload CRC"):
        unpack(bytes(data))
    f, status = check_crcs(bytes(data))
    assert status.header_ok and not status.payload_ok and f.quality == 3


def test_header_damage_is_caught_by_the_header_crc():
    data = bytearray(pack(GOLDEN_FILE))
    data[10] = 4  # quality 3 -> 4: structurally valid, silently wrong without a CRC
    with pytest.raises(ContainerError, match="header CRC"):
        unpack(bytes(data))


def test_latent_shape_larger_than_the_image_is_refused():
    data = bytearray(pack(GOLDEN_FILE))
    struct.pack_into("<II", data, 24, 513, 48)
    with pytest.raises(ContainerError, match="latent shape 0"):
        unpack(_refresh_header_crc(data, 2, 2))


@pytest.mark.parametrize("change, message", [
    (dict(model="mbt2018"), "model"),
    (dict(quality=256), "quality"),
    (dict(height=0), "height"),
    (dict(latent_shapes=()), "latent_shapes"),
    (dict(latent_shapes=((600, 1),)), "latent_shapes"),
    (dict(streams=()), "streams"),
    (dict(streams=("text",)), "streams"),
])
def test_pack_refuses_fields_unpack_would_refuse(change, message):
    fields = dict(GOLDEN_FILE.__dict__)
    fields.update(change)
    with pytest.raises(InvalidArgumentError, match=message):
        pack(LicFile(**fields))


# --------------------------------------------------------------------------- properties

# Files from lic_core.testing (the generators codecs built on us fuzz with): every family,
# every readable version and probability path, quality 0..255, latent shapes as the zoo
# writes them or anything the header allows, 1..16 streams of random bytes; sides up to
# 4096, within the default pixel limit.
LIC_FILES = lic_files(max_side=1 << 12)


@settings(max_examples=200, deadline=None)
@given(LIC_FILES)
def test_valid_files_round_trip(f):
    data = pack(f)
    assert unpack(data) == f
    assert len(data) == (header_size(len(f.latent_shapes), len(f.streams), version=f.version)
                         + f.payload_bytes)


def _refresh_crcs(data: bytes) -> bytes:
    """Recompute both CRC-32 fields where the (possibly damaged) header says they are, so
    that damage reaches the parser's own field checks instead of stopping at a CRC."""
    if len(data) < 24:
        return data
    version = data[8] if data[8] in (1, 2) else 2
    hsize = header_size(data[11], data[12], version=version)
    if len(data) < hsize:
        return data
    buf = bytearray(data)
    struct.pack_into("<I", buf, hsize - 8, zlib.crc32(bytes(buf[hsize:])))
    struct.pack_into("<I", buf, hsize - 4, zlib.crc32(bytes(buf[:hsize - 4])))
    return bytes(buf)


@st.composite
def damaged_files(draw):
    """``(file, its packed bytes damaged by lic_core.testing.damaged, recompute the CRCs?)``."""
    f = draw(LIC_FILES)
    return f, damaged(pack(f), draw), draw(st.booleans())


def test_any_mutation_is_rejected_or_decodes_to_a_canonical_file():
    """Damage a valid file (lic_core.testing.damaged: bit flips, truncation, insertion,
    deletion, boundary or random overwrites, splices); half the time recompute both CRCs
    afterwards. unpack must refuse cleanly (a LicError with a message, in time) or return
    a file that re-packs to exactly the damaged bytes (no field ignored, no byte
    tolerated); without recomputed CRCs it must refuse.

    Without recomputed CRCs every change is refused (by a CRC or a length check), so the
    accepting branch would never run: the counts below prove that both branches ran and
    that the parser itself accepted changed files (a changed quality, size or payload
    byte is a legal file once its CRCs match), the explicit example at least."""
    seen = collections.Counter()
    # A legal change (quality 5 -> 4), CRCs recomputed: the accepting branch runs on every
    # run, however the draws fall (drawn damage makes a legal file only now and then).
    quality_changed = bytearray(pack(GOLDEN_V3_FILE))
    quality_changed[10] ^= 1

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(damaged_files())
    @example((GOLDEN_V3_FILE, bytes(quality_changed), True))
    def mutate_and_unpack(case):
        f, buf, refreshed = case
        original = pack(f)
        mutated = _refresh_crcs(buf) if refreshed else buf
        changed = mutated != original  # refreshing may undo damage that hit only a CRC
        if not refreshed:  # no raw change gets past the CRCs and length checks
            assert_refuses_cleanly(unpack, mutated)
            seen["refused"] += 1
            return
        outcome = assert_decodes_or_refuses(unpack, mutated)
        if outcome.refused:
            seen["refused"] += 1
            return
        g = outcome.result
        assert pack(g) == mutated
        assert (g != f) == changed
        if changed:
            seen["accepted a changed file, CRCs recomputed"] += 1

    mutate_and_unpack()
    assert seen["refused"] > 0, seen
    assert seen["accepted a changed file, CRCs recomputed"] > 0, seen
