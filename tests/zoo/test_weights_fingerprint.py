"""What the weights fields of a .lic file mean (docs/format.md, "Weights identity").

* Issue 21 point 1: the fingerprint names the weights as released, so a copy of a zoo
  model in another dtype writes files its release decodes (and decodes its own), while
  a changed value is other weights.
* Points 2 and 17: in formats 2 and 3 a fingerprint of 0 is refused, never read as
  "skip the check" (a file whose header was edited decoded to a wrong image), and a file
  with a quality but no release label is not from the zoo: it needs ``model=``.
"""
import dataclasses
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import container, zoo  # noqa: E402
from lic_core.errors import ContainerError, InvalidArgumentError, WeightsError  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))[:37, :51].copy()


def as_tensor(image, dtype=torch.float32):
    return (torch.from_numpy(image).permute(2, 0, 1)[None].to(dtype) / 255)


def with_crcs(data: bytes) -> bytes:
    """Both CRC-32 fields recomputed (a forger's edit), format 2 or 3."""
    hsize = container.header_size(data[11], data[12], version=data[8])
    buf = bytearray(data)
    struct.pack_into("<I", buf, hsize - 8, zlib.crc32(bytes(buf[hsize:])))
    struct.pack_into("<I", buf, hsize - 4, zlib.crc32(bytes(buf[:hsize - 4])))
    return bytes(buf)


# --------------------------------------------------------------------------- point 1

@pytest.mark.parametrize("release", ["zoo-v4", None])  # float synthesis, then the current (integer)
@pytest.mark.parametrize("name, quality", [("hyperprior", 4), ("joint", 2), ("factorized", 4)])
def test_a_float64_copy_writes_files_its_release_decodes_and_decodes_its_own(image, name, quality, release):
    released = zoo.load(name, quality, release=release)
    double = zoo.load(name, quality, release=release).double()
    assert double.decoder_fingerprint() == released.decoder_fingerprint()
    data = double.compress(as_tensor(image, torch.float64))
    f = container.unpack(data)
    # integer synthesis records the decoder file's fingerprint, which no dtype touches
    expected = (released.exact_decoder.fingerprint(quality) if released.exact_decoder is not None
                else released.decoder_fingerprint())
    assert (f.weights_fingerprint, f.weights_release) == (expected, released.weights_release)
    x32 = released.decompress(data)                    # the float32 model decodes it
    x64 = double.decompress(data)                      # and the float64 copy its own file
    assert x64.shape == x32.shape
    if released.exact_decoder is None:
        assert x64.dtype == torch.float64
        assert float((x64 - x32.double()).abs().max()) < 1e-4
    else:  # the engine's pixels: one image whatever the model's dtype
        assert torch.equal(x64.float(), x32.float())
    assert np.array_equal(lic_core.decompress(data), lic_core.decompress(data, model=double))
    # and a file of the float32 model decodes under the copy
    again = double.decompress(released.compress(as_tensor(image)))
    assert again.dtype == (torch.float64 if released.exact_decoder is None else torch.float32)


def test_a_move_keeps_the_fingerprint_and_a_changed_value_does_not():
    model = zoo.load("factorized", 2)
    released = model.decoder_fingerprint()
    for move in (lambda m: m.half(), lambda m: m.to(torch.bfloat16), lambda m: m.float(),
                 lambda m: m.to("cpu", torch.float64)):
        model = move(model)
        assert model.decoder_fingerprint() == released
    with torch.no_grad():
        model.g_s[0].bias.add_(0.5)            # as an optimiser step would
    changed = model.decoder_fingerprint()
    assert changed != released
    assert model.float().decoder_fingerprint() == changed  # a move keeps the new one too
    # load_state_dict of the released values: the release's fingerprint again
    model.load_state_dict(zoo.load("factorized", 2).state_dict())
    assert model.decoder_fingerprint() == released


def test_encoder_side_moves_and_changes_never_touch_it():
    model = zoo.load("factorized", 8)
    released = model.decoder_fingerprint()
    with torch.no_grad():
        model.g_a[0].weight.mul_(2)
    assert model.decoder_fingerprint() == released


# --------------------------------------------------------------------------- points 2 and 17

def test_fingerprint_0_is_refused_by_the_reader_and_the_writer(image):
    data = lic_core.compress(image, "factorized", 4)
    f = container.unpack(data)
    zero = bytearray(data)
    struct.pack_into("<Q", zero, 24, 0)
    with pytest.raises(ContainerError, match="^weights fingerprint: 0"):
        container.unpack(with_crcs(bytes(zero)))
    for version in (2, 3):
        with pytest.raises(InvalidArgumentError, match="weights fingerprint: 0"):
            container.pack(dataclasses.replace(f, weights_fingerprint=0, version=version,
                                               probability_path=0, synthesis=0))
    # version 1 has no fingerprint field: its files hold none, and still read
    v1 = container.pack(dataclasses.replace(f, weights_fingerprint=0, weights_release="",
                                            version=1, probability_path=0, synthesis=0))
    assert container.unpack(v1).weights_fingerprint == 0


@pytest.mark.parametrize("name", ["hyperprior", "joint"])
def test_an_edited_quality_cannot_switch_the_fingerprint_check_off(image, name):
    # issue 21 point 17: fingerprint set to 0 and quality 3 -> 4, CRCs recomputed, decoded
    # under quality 4's weights to an image 22 dB away; now the file is refused
    data = bytearray(lic_core.compress(image, name, 3))
    data[10] = 4
    struct.pack_into("<Q", data, 24, 0)
    with pytest.raises(ContainerError, match="weights fingerprint"):
        lic_core.decompress(with_crcs(bytes(data)))
    # and with the fingerprint left alone the other weights refuse it, as always
    data = bytearray(lic_core.compress(image, name, 3))
    data[10] = 4
    with pytest.raises(WeightsError, match="fingerprint"):
        lic_core.decompress(with_crcs(bytes(data)))


def test_a_quality_without_a_release_label_is_not_from_the_zoo_and_needs_model(image):
    # (a file of float synthesis: the engine decodes integer-synthesis files of its own
    # release only, whatever model= says)
    model = zoo.load("factorized", 4, release="zoo-v4")
    data = lic_core.compress(image, model)
    unlabelled = container.pack(dataclasses.replace(container.unpack(data), weights_release=""))
    with pytest.raises(WeightsError, match="no weights release recorded.*pass model="):
        lic_core.decompress(unlabelled)
    assert np.array_equal(lic_core.decompress(unlabelled, model=model), lic_core.decompress(data))


def test_format_1_files_still_decode_with_zoo_v3():
    data = (GOLDEN / "format1" / "factorized-q4-kodim15-48x80.lic").read_bytes()
    f = container.unpack(data)
    assert (f.version, f.weights_fingerprint, f.weights_release) == (1, 0, "")
    assert lic_core.decompress(data).shape == (48, 80, 3)
