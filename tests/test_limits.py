"""Hostile sizes are refused early and nothing grows without bound:

* a .lic header claiming more pixels than the limit (max_pixels=, $LIC_MAX_PIXELS,
  default 2^24; counted on the image padded to a multiple of 64, lic_core.limits) is
  refused with LimitExceededError before anything proportional to the claim is
  allocated; models and lic_core.api honour the same limit;
* a native stream claiming more symbols than its bytes can hold (or more than 2^48)
  is refused when opened, before any decoding;
* decoding damaged inputs over and over does not grow the process's memory.
"""
import os
import struct
import zlib

import numpy as np
import pytest

from lic_core import ans, coder
from lic_core import container
from lic_core.errors import LicError, LimitExceededError

TABLES = coder.TableSet([[0, 10, 60, 64]], [4], [-1], precision=6)


def _header_claiming(height, width, groups=1, streams=1):
    """A structurally valid .lic file (CRCs right) for an image of height x width."""
    f = container.LicFile("hyperprior", 1, 1, 1, ((1, 1),) * groups, (b"x",) * streams,
                          weights_fingerprint=1)
    data = bytearray(container.pack(f))
    struct.pack_into("<II", data, 16, height, width)
    hsize = container.header_size(groups, streams)
    struct.pack_into("<I", data, hsize - 4, zlib.crc32(data[:hsize - 4]))
    return bytes(data)




@pytest.mark.parametrize("height,width", [((1 << 32) - 1, (1 << 32) - 1), ((1 << 14) + 1, 1 << 14),
                                          (1, (1 << 28) + 1)])
def test_a_header_over_the_default_pixel_limit_is_refused_before_allocating(height, width, peak_python_alloc):
    data = _header_claiming(height, width)
    assert height * width > container.DEFAULT_MAX_PIXELS
    def parse():
        with pytest.raises(LimitExceededError, match="exceeds the limit"):
            container.unpack(data)
    assert peak_python_alloc(parse) < 64 * 1024


def test_the_pixel_limit_is_configurable_by_argument_and_environment(monkeypatch):
    data = _header_claiming(100, 100)  # padded to 128 x 128 = 16384 pixels
    assert container.unpack(data, max_pixels=16_384).num_pixels == 10_000
    with pytest.raises(LimitExceededError):
        container.unpack(data, max_pixels=16_383)
    monkeypatch.setenv("LIC_MAX_PIXELS", "16383")
    with pytest.raises(LimitExceededError):
        container.unpack(data)
    monkeypatch.setenv("LIC_MAX_PIXELS", "16384")
    assert container.unpack(data).num_pixels == 10_000


def test_models_and_the_api_honour_the_caller_limit(monkeypatch):
    torch = pytest.importorskip("torch")
    from lic_core import api
    from lic_core.testing import tiny_model
    model = tiny_model("hyperprior")
    torch.manual_seed(0)
    data = model.compress(torch.rand(1, 3, 40, 30))  # processed as 64 x 64 = 4096 pixels
    assert model.decompress(data, max_pixels=4096).shape == (1, 3, 40, 30)
    with pytest.raises(LimitExceededError):
        model.decompress(data, max_pixels=4095)
    with pytest.raises(LimitExceededError):
        api.decompress(data, model=model, max_pixels=4095)
    monkeypatch.setenv("LIC_MAX_PIXELS", "4095")
    with pytest.raises(LimitExceededError):
        model.decompress(data)
    with pytest.raises(LimitExceededError):  # refused before any model is loaded
        api.compress(np.zeros((40, 30, 3), np.uint8), model="no-such-model")


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _claiming(n_symbols):
    """A real 100-symbol stream whose header now claims n_symbols."""
    data = coder.encode(np.zeros(100, np.int32), np.zeros(100, np.int32), TABLES)
    assert data[4] == 100  # the one-byte varint of the count
    return data[:4] + _varint(n_symbols) + data[5:]


@pytest.mark.parametrize("claim", [1000, 10**6, 2**40, 2**48])
def test_a_stream_claiming_more_symbols_than_its_bytes_hold_is_refused_when_opened(claim):
    data = _claiming(claim)
    assert coder.stream_info(data)["n_symbols"] == claim
    with pytest.raises(LimitExceededError, match="can hold at most"):
        coder.StreamDecoder(data, TABLES)
    with pytest.raises(LimitExceededError):
        coder.decode(data, np.zeros(min(claim, 10**6), np.int32), TABLES)


def test_a_stream_claiming_more_than_two_to_the_48_symbols_is_refused_by_its_header():
    with pytest.raises(LimitExceededError, match="2\\^48"):
        coder.stream_info(_claiming(2**48 + 1))


def _rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.skipif(bool(os.environ.get("LIC_UNDER_SANITIZER")),
                    reason="ASan's quarantine grows RSS by design; LeakSanitizer covers leaks there")
def test_memory_does_not_grow_over_many_failing_decodes():
    rng = np.random.default_rng(0)
    idx = np.zeros(4000, np.int32)
    good = coder.encode(rng.integers(-3, 4, 4000).astype(np.int32), idx, TABLES)
    cdfs, lengths, offsets = [[0, 30000, 60000, 65536]], [4], [0]
    compat = ans.RansEncoder().encode_with_indexes([0, 1, 7] * 500, [0] * 1500, cdfs, lengths, offsets)
    lic_file = container.pack(container.LicFile("joint", 1, 64, 64, ((4, 4),), (good,), weights_fingerprint=1))

    def round_of_failures(i):
        bad = bytearray(good)
        bad[20 + i % (len(bad) - 20)] ^= 0x55
        for call in (lambda: coder.decode(bytes(bad), idx, TABLES),
                     lambda: coder.StreamDecoder(bytes(bad[:len(bad) // 2]), TABLES).decode(idx),
                     lambda: ans.RansDecoder().decode_with_indexes(compat[:-4], [0] * 1500, cdfs,
                                                                   lengths, offsets),
                     lambda: container.unpack(lic_file[:-1])):
            try:
                call()
            except LicError:
                pass

    for i in range(1500):  # warm-up: allocator pools, caches
        round_of_failures(i)
    before = _rss_bytes()
    for i in range(6000):
        round_of_failures(i)
    growth = _rss_bytes() - before
    # 6000 rounds x 4 calls: leaking even the 16 KB stream copy or one message per
    # failure would add hundreds of MB; allocator noise stays under a few MB.
    assert growth < 4 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB"


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "mean-scale", "joint"])
def test_the_smallest_images_compress_and_decode(name):
    torch = pytest.importorskip("torch")
    from lic_core.testing import tiny_model
    model = tiny_model(name)
    torch.manual_seed(0)
    for h, w in ((1, 1), (3, 100), (100, 2)):
        x = torch.rand(1, 3, h, w)
        data, x_hat = model.compress(x, return_x_hat=True)
        assert torch.equal(model.decompress(data), x_hat)
