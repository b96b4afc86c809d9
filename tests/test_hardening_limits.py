"""Hardening (issue 13, points 4-8 and the api part of 13): one limit that bounds what is
really allocated, weight files that cannot make us build or compute huge things, errors
that say whose mistake it was, and a clear answer without torch.

Every refusal here is shown to happen before the expensive step, without allocating it:
the step that would allocate is replaced by one that fails the test if it is reached
(so the code before the fix fails the test instead of asking the machine for gigabytes),
or the peak of Python allocations is measured.
"""
import dataclasses
import glob
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from lic_core import container
from lic_core.errors import (ContainerError, CorruptStreamError, InvalidArgumentError,
                             LimitExceededError, WeightsError)
from lic_core.limits import DEFAULT_MAX_PIXELS, Limits

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from safetensors.torch import load_file as read_tensors, save_file  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core import api  # noqa: E402
from lic_core.testing import tiny_model  # noqa: E402
from lic_core.zoo import weights as zoo_weights  # noqa: E402

FAMILIES = ("factorized", "hyperprior", "mean-scale", "joint")


def _model(name="hyperprior", seed=0):
    return tiny_model(name, seed, fresh=True)


def _never(what):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} was reached: the refusal must come before it")
    return fail




def _with_header(data: bytes, **changes) -> bytes:
    """``data`` re-packed with header fields changed (CRCs right: the change reaches the
    model, not the container's checksum)."""
    f = dataclasses.replace(container.unpack(data, max_pixels=1 << 40), **changes)
    return container.pack(f, max_pixels=1 << 40)


# --------------------------------------------------------------------------- point 4

def test_limits_resolve_argument_over_environment_over_default(monkeypatch):
    monkeypatch.delenv("LIC_MAX_PIXELS", raising=False)
    assert Limits.resolve() == Limits(DEFAULT_MAX_PIXELS)
    monkeypatch.setenv("LIC_MAX_PIXELS", "5000")
    assert Limits.resolve().max_pixels == 5000
    assert Limits.resolve(100_000_000).max_pixels == 100_000_000  # above the environment
    resolved = Limits(123)
    assert Limits.resolve(resolved) is resolved  # passed down as is, never re-read
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(InvalidArgumentError, match="max_pixels"):
            Limits.resolve(bad)
    monkeypatch.setenv("LIC_MAX_PIXELS", "lots")
    with pytest.raises(InvalidArgumentError, match="LIC_MAX_PIXELS"):
        Limits.resolve()


def test_an_argument_can_raise_the_limit_above_the_environment_in_both_directions(monkeypatch):
    # The 20 MP image with max_pixels=100_000_000, scaled down: the api checked
    # the caller's limit, then the model and the container re-checked $LIC_MAX_PIXELS.
    model = _model()
    rgb = np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    monkeypatch.setenv("LIC_MAX_PIXELS", "4096")  # below the image's 8192 pixels
    data = api.compress(rgb, model=model, max_pixels=8192)
    assert api.decompress(data, model=model, max_pixels=8192).shape == (64, 128, 3)
    with pytest.raises(LimitExceededError):  # and without the argument, the environment
        api.compress(rgb, model=model)
    with pytest.raises(LimitExceededError):
        api.decompress(data, model=model)


def test_the_api_hands_one_resolved_limit_to_the_codec(monkeypatch):
    # the API calls the codec with a zoo model (lic_core.codec: encode, and decode_tensor
    # with the header it parsed once), and hands it the one Limits it resolved
    from lic_core import codec
    model = _model()
    seen = []
    real_encode, real_decode = codec.encode, codec.decode_tensor
    monkeypatch.setattr(codec, "encode",
                        lambda m, x, **kw: seen.append(kw["max_pixels"]) or real_encode(m, x, **kw))
    monkeypatch.setattr(codec, "decode_tensor",
                        lambda m, d, **kw: seen.append(kw["max_pixels"]) or real_decode(m, d, **kw))
    data = api.compress(np.zeros((16, 16, 3), np.uint8), model=model, max_pixels=9999)
    api.decompress(data, model=model, max_pixels=9999)
    assert seen == [Limits(9999), Limits(9999)]


# --------------------------------------------------------------------------- point 5

def test_a_header_inside_h_times_w_but_not_once_padded_is_refused_before_allocating(peak_python_alloc):
    # 1 x 2^24 pixels is exactly the default limit, but a model processes 64 x 2^24 of
    # them: 139 s and 12.7 GB before this check existed.
    f = container.LicFile("hyperprior", 1, 1, 64, ((4, 4), (1, 1)), (b"y", b"z"),
                          weights_fingerprint=1)
    data = bytearray(container.pack(f))
    struct.pack_into("<II", data, 16, 1, 1 << 24)
    hsize = container.header_size(2, 2)
    struct.pack_into("<I", data, hsize - 4, zlib.crc32(bytes(data[:hsize - 4])))
    data = bytes(data)

    def parse():
        with pytest.raises(LimitExceededError, match="padded to 16777216x64"):
            container.unpack(data)
    assert peak_python_alloc(parse) < 64 * 1024
    model = _model()
    model._decode = _never("entropy decoding")
    with pytest.raises(LimitExceededError):
        model.decompress(data)


def test_rate_report_refuses_an_image_over_the_limit_before_running_the_model(monkeypatch):
    """analysis.info.rate_report (behind `lic analyze`) ran the forward pass and the
    encoder on the padded image with no limit at all."""
    from lic_core.analysis import info
    model = _model()
    rgb = np.zeros((1, 100, 3), np.uint8)  # padded to 64 x 128 = 8192 pixels
    assert info.rate_report(model, rgb, max_pixels=8192).width == 100
    model.forward = _never("the forward pass")
    model._encode = _never("encoding")
    with pytest.raises(LimitExceededError, match="128x64"):
        info.rate_report(model, rgb, max_pixels=8191)
    with pytest.raises(LimitExceededError):
        info.rate_report(model, rgb, max_pixels=Limits(1000))  # H x W = 100 would pass
    monkeypatch.setenv("LIC_MAX_PIXELS", "8191")
    with pytest.raises(LimitExceededError):
        info.rate_report(model, rgb)


def test_a_refusal_names_every_way_to_raise_the_limit():
    """The message named max_pixels= and LIC_MAX_PIXELS only; on the command line the
    way is --max-pixels."""
    for refuse in (lambda: Limits(100).check_image(10, 10, multiple=64),
                   lambda: Limits(100).check_latent(10, 10, 16)):
        with pytest.raises(LimitExceededError) as info:
            refuse()
        assert all(way in str(info.value) for way in ("max_pixels=", "--max-pixels", "LIC_MAX_PIXELS"))


def test_the_limit_counts_the_padded_image_when_decoding():
    model = _model()
    data = model.compress(torch.rand(1, 3, 1, 100))  # padded to 64 x 128 = 8192 pixels
    assert model.decompress(data, max_pixels=8192).shape == (1, 3, 1, 100)
    model._decode = _never("entropy decoding")
    with pytest.raises(LimitExceededError, match="128x64"):
        model.decompress(data, max_pixels=8191)
    with pytest.raises(LimitExceededError):
        api.decompress(data, model=model, max_pixels=1000)  # H x W = 100 would pass


def test_the_limit_counts_the_padded_image_when_encoding_and_refuses_before_padding():
    model = _model()
    model.pad = _never("padding")
    x = torch.rand(1, 3, 1, 100)
    with pytest.raises(LimitExceededError, match="128x64"):
        model.compress(x, max_pixels=8191)
    with pytest.raises(LimitExceededError):
        api.compress(np.zeros((1, 100, 3), np.uint8), model=model, max_pixels=1000)
    with pytest.raises(LimitExceededError):  # before any model is loaded
        api.compress(np.zeros((1, 100, 3), np.uint8), model="no-such-model", max_pixels=1000)


@pytest.mark.parametrize("raised, expected", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:83] DefaultCPUAllocator: can't allocate "
                  "memory: you tried to allocate 12700000000 bytes"), LimitExceededError),
    (MemoryError(), LimitExceededError),
    (RuntimeError("The size of tensor a (4) must match the size of tensor b (5)"), CorruptStreamError),
    (ValueError("cannot reshape array"), CorruptStreamError),
])
def test_errors_from_torch_while_decoding_come_out_as_lic_errors(raised, expected):
    model = _model()
    data = model.compress(torch.rand(1, 3, 20, 20))

    def synthesize(y_hat):
        raise raised
    model.synthesize = synthesize
    with pytest.raises(expected) as info:
        model.decompress(data)
    assert info.value.__cause__ is raised and model.name in str(info.value)


def test_lic_errors_pass_through_the_decoding_guard_unchanged():
    model = _model()
    data = model.compress(torch.rand(1, 3, 20, 20))
    mine = WeightsError("from inside")

    def decode(*args):
        raise mine
    model._decode = decode
    with pytest.raises(WeightsError) as info:
        model.decompress(data)
    assert info.value is mine


def test_a_decoded_image_holding_nan_is_refused():
    model = _model()
    data = model.compress(torch.rand(1, 3, 20, 20))
    model.synthesize = lambda y_hat: torch.full((1, 3, 64, 64), float("nan"))
    with pytest.raises(CorruptStreamError, match="NaN"):
        model.decompress(data)


# --------------------------------------------------------------------------- point 6

@pytest.mark.parametrize("name", FAMILIES)
def test_each_familys_state_size_is_what_building_it_allocates(name):
    cls = zoo.REGISTRY[name].model_class()
    for n, m in ((8, 12), (5, 7), (13, 29), (1, 2)):
        built = cls(N=n, M=m)
        assert cls.state_size(n, m) == sum(t.numel() for t in built.state_dict().values())


def _claiming(tmp_path, n, m, architecture="hyperprior"):
    """A tiny weight file whose g_a shapes claim N=n, M=m in zero bytes (a zero-sized
    dimension), as the issue's 192-byte file did."""
    path = tmp_path / "claim.safetensors"
    save_file({"g_a.0.weight": torch.zeros(n, 0, 5, 5), "g_a.6.weight": torch.zeros(m, 0, 5, 5)},
              str(path), metadata={"architecture": architecture})
    assert path.stat().st_size < 256
    return path


def test_a_tiny_file_claiming_huge_channels_is_refused_before_building(tmp_path, monkeypatch):
    path = _claiming(tmp_path, 20000, 20000)
    cls = zoo.REGISTRY["hyperprior"].model_class()
    monkeypatch.setattr(cls, "__init__", _never("building the model"))
    with pytest.raises(WeightsError, match="g_a.0.weight"):
        zoo.load_file(path)
    with pytest.raises(WeightsError, match="g_a.0.weight"):
        zoo.from_compressai("hyperprior", path)
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))
    path.rename(tmp_path / "hyperprior-q3.safetensors")
    with pytest.raises(WeightsError, match="g_a.0.weight"):
        zoo.load("hyperprior", 3)


def test_channel_counts_and_model_size_are_bounded_before_building(monkeypatch):
    cls = zoo.REGISTRY["joint"].model_class()
    monkeypatch.setattr(cls, "__init__", _never("building the model"))

    def claim(n, m):  # expanded views: the shapes of N x 3 x 5 x 5 and M x N x 5 x 5, no memory
        return {"g_a.0.weight": torch.zeros(1).expand(n, 3, 5, 5),
                "g_a.6.weight": torch.zeros(1).expand(m, n, 5, 5)}
    assert zoo_weights.check_channels("joint", claim(512, 512), {}, "t") == (512, 512)
    with pytest.raises(WeightsError, match="N=20000 is outside"):
        zoo_weights.check_channels("joint", claim(20000, 8), {}, "t")
    with pytest.raises(WeightsError, match="M=0 is outside"):
        zoo_weights.check_channels("joint", claim(8, 0), {}, "t")
    with pytest.raises(WeightsError, match="elements"):  # 453 M elements at N = M = 1024
        zoo_weights.check_channels("joint", claim(1024, 1024), {}, "t")
    with pytest.raises(WeightsError, match="metadata says N=9"):
        zoo_weights.check_channels("joint", claim(8, 12), {"N": "9"}, "t")
    with pytest.raises(WeightsError, match="cannot tell N and M"):
        zoo_weights.check_channels("joint", {}, {}, "t")
    with pytest.raises(WeightsError, match="cannot tell N and M"):
        zoo.from_compressai("joint", {"g_a.0.weight": [1, 2, 3]})


# --------------------------------------------------------------------------- point 7

@pytest.mark.parametrize("name", FAMILIES)
def test_decompress_strings_bounds_the_latent_shape_before_allocating(name):
    model = _model(name)
    x = torch.rand(1, 3, 64, 64)
    out = model.compress_strings(x)
    model_decode = model._decode
    model._decode = _never("decoding")
    with pytest.raises(LimitExceededError, match="100000x100000"):
        model.decompress_strings(out["strings"], (10**5, 10**5))
    # the batch is bounded together: 2 images of 64 x 64 are 8192 pixels
    strings = [s * 2 for s in out["strings"]]
    with pytest.raises(LimitExceededError):
        model.decompress_strings(strings, out["shape"], max_pixels=8191)
    with pytest.raises(LimitExceededError):
        model.compress_strings(x, max_pixels=4095)
    model._decode = model_decode
    assert model.decompress_strings(strings, out["shape"], max_pixels=8192)["x_hat"].shape == (2, 3, 64, 64)


def _rewrite(tmp_path, model, change):
    """Save ``model``, apply ``change(tensors)`` to the file's tensors, write it back."""
    path = tmp_path / f"{model.name}.safetensors"
    zoo.save_weights(model, path)
    tensors, meta = read_tensors(str(path)), zoo.read_metadata(path)
    change(tensors)
    save_file(tensors, str(path), metadata=meta)
    return path


def test_int64_coding_tables_outside_int32_are_refused_not_wrapped(tmp_path):
    model = _model()

    def wrap(t):  # + 2^32: the same int32 value after a wrapping cast
        t["entropy_bottleneck._offset"] = t["entropy_bottleneck._offset"].long() + (1 << 32)
    with pytest.raises(WeightsError, match="_offset holds values .* outside torch.int32"):
        zoo.load_file(_rewrite(tmp_path, model, wrap))

    def widen(t):  # int64 within int32 is the same table: accepted
        t["entropy_bottleneck._offset"] = t["entropy_bottleneck._offset"].long()
    assert zoo.load_file(_rewrite(tmp_path, model, widen)).entropy_bottleneck._offset.dtype == torch.int32


@pytest.mark.parametrize("change, message", [
    (lambda q: q.fill_(1e38), "exceed"),                                 # decoded to NaN before
    (lambda q: q[:, :, 0].fill_(5.0), "ordered"),                        # lower above the median
    (lambda q: q[:, :, 2].add_(1e6), "slots"),                           # a table update() cannot make
])
def test_entropy_bottleneck_quantiles_are_validated_at_load(tmp_path, change, message):
    model = _model()

    def tamper(t):
        change(t["entropy_bottleneck.quantiles"])
    with pytest.raises(WeightsError, match=message):
        zoo.load_file(_rewrite(tmp_path, model, tamper))


def test_quantiles_are_validated_even_for_checkpoints_without_tables(monkeypatch):
    # from_compressai builds tables from the quantiles: a spread of 1e7 made update()
    # evaluate a C x 10^7 grid (64 s and 4 GB here before the check), so it must not run
    from lic_core.models.entropy_models import EntropyBottleneck
    state = {k: v for k, v in _model().state_dict().items() if not k.endswith(("_cdf", "_length", "_offset"))}
    state["entropy_bottleneck.quantiles"] = state["entropy_bottleneck.quantiles"].clone()
    state["entropy_bottleneck.quantiles"][:, :, 2] += 1e7
    monkeypatch.setattr(EntropyBottleneck, "update", _never("building tables"))
    with pytest.raises(WeightsError, match="slots"):
        zoo.from_compressai("hyperprior", state)


@pytest.mark.parametrize("table, message", [
    (torch.linspace(0.11, 1e6, 64), "above"),
    (torch.linspace(0.11, 256.0, 300), "entries"),
])
def test_scale_tables_are_bounded_at_load(tmp_path, table, message):
    def tamper(t):
        t["gaussian_conditional.scale_table"] = table
    with pytest.raises(WeightsError, match=message):
        zoo.load_file(_rewrite(tmp_path, _model(), tamper))


def test_shipped_weights_pass_the_new_checks(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)
    for name, qualities in zoo.list_models().items():
        if qualities:
            assert zoo.load(name, qualities[-1]).quality == qualities[-1]


# --------------------------------------------------------------------------- point 8

def test_a_header_quality_the_zoo_does_not_ship_is_a_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))  # a release holding nothing
    data = _model().compress(torch.rand(1, 3, 16, 16))
    for quality in (200, 5):  # outside the zoo's qualities; a quality not installed
        with pytest.raises(WeightsError, match=f"quality {quality}") as info:
            api.decompress(_with_header(data, quality=quality))
        assert not isinstance(info.value, InvalidArgumentError)


def test_a_header_disagreeing_with_the_given_model_is_a_weights_error():
    data = _model("factorized").compress(torch.rand(1, 3, 16, 16))
    model = _model("hyperprior")
    with pytest.raises(WeightsError, match="factorized"):
        model.decompress(data)
    model.quality = 3
    with pytest.raises(WeightsError, match="quality 5"):
        model.decompress(_with_header(model.compress(torch.rand(1, 3, 16, 16)), quality=5))


def test_a_non_contiguous_memoryview_is_read_as_its_bytes():
    data = container.pack(container.LicFile("joint", 2, 5, 7, ((1, 1), (1, 1)), (b"ab", b"c"),
                                             weights_fingerprint=1))
    spaced = bytearray(2 * len(data))
    spaced[::2] = data
    view = memoryview(spaced)[::2]
    assert not view.c_contiguous
    assert container.unpack(view) == container.unpack(data)
    assert container.check_crcs(view)[1].ok
    matrix = np.frombuffer(data[:48], np.uint8).reshape(6, 8).T  # Fortran-ordered 2-D view
    with pytest.raises(ContainerError):  # its C-order bytes are not a file, but no TypeError
        container.unpack(memoryview(matrix))


# --------------------------------------------------------------------------- point 13 (api)

def test_without_torch_the_api_names_the_extra_to_install():
    """A NumPy-only install: what needs torch names the extra to install; a file of integer
    synthesis (format 4) decodes without it, and garbage is refused as garbage."""
    golden = os.path.join(os.path.dirname(__file__), "fixtures", "golden")
    float_file = sorted(glob.glob(os.path.join(golden, "zoo-v4", "hyperprior-*.lic")))[0]
    exact_file = sorted(glob.glob(os.path.join(golden, "zoo-v5", "hyperprior-*.lic")))[0]
    program = r"""
import sys
sys.modules["torch"] = None  # what a NumPy-only install sees
import numpy as np
import lic_core
from lic_core import LicError
float_file, exact_file = sys.argv[1:3]
for call in (lambda: lic_core.compress(np.zeros((8, 8, 3), np.uint8)),
             lambda: lic_core.decompress(open(float_file, "rb").read()),
             lambda: lic_core.api.load_model("hyperprior", 3)):
    try:
        call()
    except Exception as exc:
        print(type(exc).__name__, isinstance(exc, LicError), isinstance(exc, ImportError))
        print(exc)
    else:
        print("no error")
print(lic_core.decompress(open(exact_file, "rb").read()).shape)
try:
    lic_core.decompress(b"not even a file")
except LicError as exc:
    print(type(exc).__name__)
"""
    result = subprocess.run([sys.executable, "-c", program, float_file, exact_file], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8, result.stdout
    assert lines[6].startswith("(") and lines[7] == "ContainerError", result.stdout
    for kind, message in zip(lines[0:6:2], lines[1:6:2]):
        assert kind == "MissingDependencyError True True", result.stdout
        assert 'pip install -e ".[models]"' in message and "torch==2.13.0" in message
