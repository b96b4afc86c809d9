"""Round trips of every zoo model on random weights: the decoder rebuilds, bit for bit,
the reconstruction (and for the joint model the ŷ) that the encoder computed for itself."""
import dataclasses
import numpy as np
import pytest

torch = pytest.importorskip("torch")
# The compiled faces are plain imports: a broken build must fail here, never skip.
from lic_core import coder, tables  # noqa: E402,F401

from hypothesis import given, settings, strategies as st  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core.errors import InvalidArgumentError, LicError, WeightsError  # noqa: E402

from lic_core.testing import LIVELY, tiny_model  # noqa: E402

NAMES = ["factorized", "hyperprior", "mean-scale", "joint"]


def lively(name):
    """A small random model whose latents are not all zero (shared: not modified here)."""
    return tiny_model(name, gains=LIVELY)


def image(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(64, 64), (37, 53), (5, 130), (16, 16)])
def test_decompress_returns_the_encoders_own_reconstruction_bit_for_bit(name, size):
    model = lively(name)
    x = image(*size)
    data, x_hat_encoder = model.compress(x, return_x_hat=True)
    x_hat = model.decompress(data)
    assert x_hat.shape == x.shape
    assert torch.equal(x_hat, x_hat_encoder)
    assert float(x_hat.min()) >= 0.0 and float(x_hat.max()) <= 1.0


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "mean-scale"])
@pytest.mark.parametrize("size", [(64, 128), (37, 53)])
def test_eval_forward_image_is_the_decoded_image(name, size):
    model = lively(name)
    x = image(*size, seed=1)
    with torch.no_grad():
        forward = model(x)["x_hat"].clamp(0, 1)
    assert torch.equal(forward, model.decompress(model.compress(x)))


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_at_kodak_size(name):
    model = lively(name)
    x = image(512, 768, seed=2)
    data, x_hat_encoder = model.compress(x, return_x_hat=True)
    assert torch.equal(model.decompress(data), x_hat_encoder)


@pytest.mark.parametrize("stream_format", ["native", "compressai"])
def test_joint_decoder_rebuilds_the_encoders_y_hat_exactly(stream_format):
    model = lively("joint")
    x = image(128, 192, seed=3)
    with torch.no_grad():
        streams, shapes, y_hat_encoder = model._encode(x, stream_format)
        y_hat_decoder = model._decode(streams, shapes, stream_format)
    assert torch.equal(y_hat_decoder, y_hat_encoder)
    assert bool((y_hat_encoder != 0).any())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stream_format", ["native", "compressai"])
def test_string_layout_round_trips_in_both_stream_formats(name, stream_format):
    model = lively(name)
    x = torch.cat([image(64, 128, seed=4), image(64, 128, seed=5)])
    out = model.compress_strings(x, stream_format=stream_format)
    assert len(out["strings"]) == len(model.stream_names) and len(out["strings"][0]) == 2
    x_hat = model.decompress_strings(out["strings"], out["shape"], stream_format=stream_format)["x_hat"]
    for i in range(2):
        with torch.no_grad():
            _, _, y_hat_encoder = model._encode(x[i:i + 1], stream_format)
            assert torch.equal(x_hat[i:i + 1], model.synthesize(y_hat_encoder))


@pytest.mark.parametrize("name", NAMES)
def test_compression_is_deterministic(name):
    model = lively(name)
    x = image(40, 72, seed=6)
    assert model.compress(x) == model.compress(x.clone())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, 3, 0, 5), (1, 3, 7, 0), (1, 3, 0, 0)])
def test_empty_image_is_refused_with_a_clear_error(name, shape):
    with pytest.raises(InvalidArgumentError, match="empty image"):
        lively(name).compress(torch.rand(*shape))


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(2, 3, 8, 8), torch.rand(1, 4, 8, 8),
                                 torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
                                 torch.full((1, 3, 8, 8), float("nan"))])
def test_malformed_image_tensors_are_refused(bad):
    with pytest.raises(InvalidArgumentError):
        lively("factorized").compress(bad)


def test_file_of_another_model_is_refused():
    data = lively("factorized").compress(image(32, 32))
    with pytest.raises(WeightsError, match="factorized"):
        lively("hyperprior").decompress(data)


def test_unaligned_string_layout_is_refused_with_a_hint():
    with pytest.raises(InvalidArgumentError, match="divisible by 64"):
        lively("hyperprior").compress_strings(image(37, 53))


@pytest.mark.parametrize("name", NAMES)
def test_damaged_streams_raise_lic_errors_or_decode(name):
    from lic_core import container
    model = lively(name)
    f = container.unpack(model.compress(image(64, 64, seed=7)))
    rng = np.random.default_rng(0)
    for _ in range(5):
        streams = list(f.streams)
        k = int(rng.integers(len(streams)))
        s = bytearray(streams[k])
        s[int(rng.integers(len(s)))] ^= 1 << int(rng.integers(8))
        streams[k] = bytes(s)
        damaged = container.pack(dataclasses.replace(f, streams=tuple(streams)))
        try:
            x_hat = model.decompress(damaged)
        except LicError:
            continue
        assert x_hat.shape == (1, 3, 64, 64)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 48), w=st.integers(1, 48), seed=st.integers(0, 2 ** 16))
def test_factorized_round_trip_for_any_small_size(h, w, seed):
    model = lively("factorized")
    x = image(h, w, seed)
    data, x_hat_encoder = model.compress(x, return_x_hat=True)
    assert torch.equal(model.decompress(data), x_hat_encoder)


@pytest.mark.parametrize("name", NAMES)
def test_bytes_do_not_depend_on_the_torch_thread_count(name):
    # The symbols and table indexes (hence the bytes) are the same for 1 and 2 threads.
    # Float values (μ from h_s, the image from g_s) may differ in the last bits because
    # oneDNN's convolutions split their sums by thread; decoding under either count works.
    from lic_core import container
    model = lively(name)
    x = image(64, 128, seed=8)
    threads = torch.get_num_threads()
    results = {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            data = model.compress(x)
            f = container.unpack(data)
            with torch.no_grad():
                y_hat = model._decode(list(f.streams), f.latent_shapes, "native")
            results[n] = (data, y_hat, model.decompress(data))
    finally:
        torch.set_num_threads(threads)
    assert results[1][0] == results[2][0]
    torch.testing.assert_close(results[1][1], results[2][1], rtol=0, atol=1e-5)
    torch.testing.assert_close(results[1][2], results[2][2], rtol=0, atol=1e-5)
