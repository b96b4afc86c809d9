"""Properties of lic_core.entropy_models: densities, quantisation, tables, coding."""
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

from lic_core.models.entropy_models import EntropyBottleneck, GaussianConditional, default_scale_table  # noqa: E402
from lic_core.errors import InvalidArgumentError  # noqa: E402

# Recorded with CompressAI 1.2.8 (committed; copied from shared/compat/tables.npz).
TABLES = Path(__file__).resolve().parents[1] / "fixtures" / "compat_models" / "tables.npz"


def _bottleneck(channels=4, seed=0):
    torch.manual_seed(seed)
    eb = EntropyBottleneck(channels)
    with torch.no_grad():
        eb.quantiles.copy_(torch.tensor([[-6.0, 0.3, 5.0]]).repeat(channels, 1, 1)
                           + torch.arange(channels, dtype=torch.float32)[:, None, None] * 0.7)
    return eb


def test_bottleneck_state_dict_keys_are_compressai_keys():
    keys = set(EntropyBottleneck(3).state_dict())
    expected = {"quantiles", "_offset", "_quantized_cdf", "_cdf_length", "target",
                "likelihood_lower_bound.bound"}
    expected |= {f"matrices.{k}" for k in range(5)} | {f"biases.{k}" for k in range(5)}
    expected |= {f"factors.{k}" for k in range(4)}
    assert keys == expected


def test_bottleneck_likelihoods_of_all_integer_bins_sum_to_one():
    eb = _bottleneck().eval()
    grid = torch.arange(-200.0, 201.0)
    medians = eb.medians()
    with torch.no_grad():
        for c in range(4):
            values = (grid + medians[c]).reshape(1, 1, -1, 1).repeat(1, 4, 1, 1)
            _, lik = eb(values)
            assert abs(float(lik[0, c].sum()) - 1.0) < 1e-4


def test_bottleneck_eval_rounds_around_the_median_and_training_adds_bounded_noise():
    eb = _bottleneck()
    x = torch.randn(2, 4, 5, 6) * 4
    medians = eb.medians().reshape(1, -1, 1, 1)
    y_eval, _ = eb(x, training=False)
    assert torch.equal(y_eval, torch.round(x - medians) + medians)
    y_train, _ = eb(x, training=True)
    noise = y_train - x
    assert float(noise.abs().max()) <= 0.5 and float(noise.std()) > 0.1


def test_aux_loss_moves_the_quantiles_to_their_targets():
    torch.manual_seed(0)
    eb = EntropyBottleneck(2)
    opt = torch.optim.Adam([eb.quantiles], lr=0.5)
    first = float(eb.loss().detach())
    for _ in range(600):
        opt.zero_grad()
        eb.loss().backward()
        opt.step()
    assert float(eb.loss().detach()) < 0.01 * first
    # F(median) = 0: half of the mass on each side
    logits = eb._logits_cumulative(eb.quantiles.detach()[:, :, 1:2], stop_gradient=True)
    assert float(logits.abs().max()) < 0.05


def test_gaussian_conditional_likelihood_is_the_discretised_gaussian():
    gc = GaussianConditional()
    y = torch.tensor([0.0, 1.0, -2.0, 3.0, 0.0])
    scales = torch.tensor([1.0, 2.0, 0.5, 1.5, 0.01])
    means = torch.tensor([0.2, -0.4, 0.0, 3.0, 0.0])
    y_hat, lik = gc(y, scales, means, training=False)
    assert torch.equal(y_hat, torch.round(y - means) + means)
    phi = lambda u: 0.5 * math.erfc(-u / math.sqrt(2))  # noqa: E731
    for i in range(5):
        s = max(float(scales[i]), 0.11)  # the scale bound
        v = float(y_hat[i] - means[i])
        expected = max(phi((v + 0.5) / s) - phi((v - 0.5) / s), 1e-9)
        assert abs(float(lik[i]) - expected) < 1e-6


def test_gaussian_conditional_floors_likelihoods_at_1e9():
    gc = GaussianConditional()
    _, lik = gc(torch.tensor([50.0]), torch.tensor([0.2]), training=False)
    assert float(lik[0]) == pytest.approx(1e-9)


def test_default_scale_table_is_compressais_to_the_bit():
    expected = np.load(TABLES)["scale_table"]
    np.testing.assert_array_equal(default_scale_table().numpy(), expected)
    keys = set(GaussianConditional().state_dict())
    assert keys == {"_offset", "_quantized_cdf", "_cdf_length", "scale_table", "scale_bound",
                    "likelihood_lower_bound.bound", "lower_bound_scale.bound"}


def test_coding_without_tables_asks_for_update():
    with pytest.raises(InvalidArgumentError, match="update"):
        GaussianConditional().tables()


def test_unknown_stream_format_and_method_are_refused():
    eb = _bottleneck()
    with pytest.raises(InvalidArgumentError, match="method"):
        eb.update(force=True, method="fast")
    with pytest.raises(InvalidArgumentError, match="stream_format"):
        eb.encode_symbols(np.zeros(3, np.int32), np.zeros(3, np.int32), "zip")


_GC_CACHE = []


def _gaussian_with_tables():
    if not _GC_CACHE:
        gc = GaussianConditional()
        gc.update()
        _GC_CACHE.append(gc)
    return _GC_CACHE[0]


# ------------------------------------------------------------------ coding (the compiled faces)
def test_bottleneck_tables_cover_its_quantile_range():
    eb = _bottleneck()
    assert eb.update()
    assert not eb.update()  # already built
    q = eb.quantiles[:, 0, :].detach()
    below = torch.clamp(torch.ceil(q[:, 1] - q[:, 0]), min=0).int()
    above = torch.clamp(torch.ceil(q[:, 2] - q[:, 1]), min=0).int()
    assert torch.equal(eb._offset, -below)
    assert torch.equal(eb._cdf_length, below + above + 3)  # n symbols + escape + total
    for c in range(4):
        row = eb._quantized_cdf[c, : int(eb._cdf_length[c])]
        assert int(row[0]) == 0 and int(row[-1]) == 1 << 16 and bool((row[1:] > row[:-1]).all())


@pytest.mark.parametrize("stream_format", ["native", "compressai"])
def test_bottleneck_round_trips_symbols_including_escapes(stream_format):
    eb = _bottleneck()
    eb.update()
    x = torch.randn(2, 4, 7, 9) * 6
    x[0, 1, 2, 3] = 1e4  # far outside the table: escape
    x[1, 2, 0, 0] = -3e3
    strings = eb.compress(x, stream_format)
    y_hat = eb.decompress(strings, (7, 9), stream_format)
    medians = eb.medians().reshape(1, -1, 1, 1)
    assert torch.equal(y_hat, torch.round(x - medians) + medians)


@pytest.mark.parametrize("stream_format", ["native", "compressai"])
def test_gaussian_conditional_round_trips_with_means(stream_format):
    gc = GaussianConditional()
    gc.update()
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1, 3, 8, 8, generator=g) * 10
    scales = torch.rand(1, 3, 8, 8, generator=g) * 20
    means = torch.randn(1, 3, 8, 8, generator=g)
    indexes = gc.build_indexes(scales)
    y_hat = gc.decompress(gc.compress(y, indexes, means, stream_format), indexes, means, stream_format)
    assert torch.equal(y_hat, torch.round(y - means) + means)



@pytest.mark.parametrize("stream_format", ["native", "compressai"])
def test_observers_see_every_decoded_array_in_decode_order(stream_format):
    # the public hook tools/make_golden.py digests a file's symbols with
    from lic_core.models.entropy_models import notify_decoded, observe_decoded_symbols
    eb = _bottleneck()
    eb.update()
    gc = GaussianConditional()
    gc.update()
    symbols = np.arange(-20, 20, dtype=np.int32).reshape(4, 10)
    indexes = np.tile(np.arange(4, dtype=np.int32)[:, None], (1, 10))
    whole = eb.encode_symbols(symbols, indexes, stream_format)
    batched = gc.encode_symbols(symbols, indexes, stream_format)
    outer, inner = [], []
    with observe_decoded_symbols(lambda m, s: outer.append((type(m).__name__, s.copy()))):
        eb.decode_symbols(whole, indexes, stream_format)
        with observe_decoded_symbols(lambda m, s: inner.append((type(m).__name__, s.copy()))):
            reader = gc.symbol_reader(batched, stream_format)
            reader.read(indexes[:1])
            reader.read(indexes[1:])
            reader.finish()
            notify_decoded(gc, symbols)  # what a decoder outside these two paths reports
    eb.decode_symbols(whole, indexes, stream_format)  # after the block: nobody sees it
    kinds = [k for k, _ in outer]
    assert kinds == ["EntropyBottleneck"] + ["GaussianConditional"] * 3
    assert [k for k, _ in inner] == kinds[1:]
    np.testing.assert_array_equal(outer[0][1], symbols)
    np.testing.assert_array_equal(np.concatenate([outer[1][1], outer[2][1]]), symbols)
    assert all(s.dtype == np.int32 for _, s in outer)

def test_build_indexes_reproduces_compressai_vectors():
    data = np.load(TABLES)
    indexes = GaussianConditional().build_indexes(torch.from_numpy(data["build_indexes_scales"]))
    np.testing.assert_array_equal(indexes, data["build_indexes_out"])


def test_gaussian_tables_with_compressai_method_are_compressais():
    data = np.load(TABLES)
    gc = GaussianConditional()
    gc.update(method="compressai")
    cdfs, lengths, offsets = gc.tables()
    np.testing.assert_array_equal(lengths, data["cdf_length"])
    np.testing.assert_array_equal(offsets, data["offset"])
    np.testing.assert_array_equal(cdfs, data["quantized_cdf"])


def test_tables_are_bound_once_and_rebound_after_update():
    gc = GaussianConditional()
    gc.update()
    first = gc.tableset()
    assert gc.tableset() is first
    gc.update(force=True, method="compressai")
    assert gc.tableset() is not first


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gaussian_conditional_codes_any_values_losslessly(data):
    n = data.draw(st.integers(1, 300))
    values = data.draw(st.lists(st.floats(-2e6, 2e6, allow_nan=False, width=32), min_size=n, max_size=n))
    scales = data.draw(st.lists(st.floats(0.0, 1e4, allow_nan=False, width=32), min_size=n, max_size=n))
    means = data.draw(st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=n, max_size=n))
    stream_format = data.draw(st.sampled_from(["native", "compressai"]))
    gc = _gaussian_with_tables()
    y = torch.tensor(values).reshape(1, 1, 1, n)
    s = torch.tensor(scales).reshape(1, 1, 1, n)
    mu = torch.tensor(means).reshape(1, 1, 1, n)
    indexes = gc.build_indexes(s)
    y_hat = gc.decompress(gc.compress(y, indexes, mu, stream_format), indexes, mu, stream_format)
    assert torch.equal(y_hat, torch.round(y - mu) + mu)

