"""lic_core.tables reproduces CompressAI 1.2.8 exactly (fixtures from tests/fixtures/tables.npz,
recorded with CompressAI itself; see /work/shared/compat/README.md)."""
import os

import numpy as np
import pytest

from lic_core import tables

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


@pytest.fixture(scope="module")
def golden():
    with np.load(os.path.join(FIXTURES, "tables.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _split(values, lengths):
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def test_default_scale_table_equals_compressai_bit_for_bit(golden):
    table = tables.scale_table()
    assert table.dtype == np.float32
    assert table.view(np.uint32).tolist() == golden["scale_table"].view(np.uint32).tolist()


def test_tail_multiplier_rounds_to_compressai_float32_multiplier(golden):
    m = tables.tail_multiplier(float(golden["tail_mass"]))
    assert abs(m - 6.1094102048693975) < 1e-12  # scipy.stats.norm.ppf, tables.json
    assert np.float32(m) == np.float32(6.1094102048693975)


def test_compressai_gaussian_tables_equal_fixture(golden):
    cdfs, lengths, offsets = tables.gaussian_tables(
        golden["scale_table"], precision=int(golden["precision"]),
        tail_mass=float(golden["tail_mass"]), method="compressai")
    assert cdfs.dtype == lengths.dtype == offsets.dtype == np.int32
    np.testing.assert_array_equal(lengths, golden["cdf_length"])
    np.testing.assert_array_equal(offsets, golden["offset"])
    np.testing.assert_array_equal(cdfs, golden["quantized_cdf"])


def test_compressai_gaussian_tables_equal_the_coder_fixture_tables():
    with np.load(os.path.join(FIXTURES, "ans_vectors.npz"), allow_pickle=False) as data:
        ref = [data[f"tables_gaussian__{k}"] for k in ("cdfs", "cdf_lengths", "offsets")]
    ours = tables.gaussian_tables(tables.scale_table(), method="compressai")
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)


def test_compressai_quantiser_on_recorded_float32_gaussian_probabilities(golden):
    # The quantiser alone, fed the exact float32 rows CompressAI quantised.
    probs = golden["gaussian_prob_float32"]
    for t, length in enumerate(golden["cdf_length"]):
        row = probs[t, :length - 1].astype(np.float64)
        cdf = tables.pmf_to_quantized_cdf(row, 16, method="compressai")
        np.testing.assert_array_equal(cdf, golden["quantized_cdf"][t, :length], err_msg=f"row {t}")


def test_compressai_pmf_vectors_equal_fixture(golden):
    pmfs = _split(golden["pmf_values"], golden["pmf_lengths"])
    cdfs = _split(golden["pmf_cdf_values"], golden["pmf_cdf_lengths"])
    assert len(pmfs) == len(cdfs) > 0
    for i, (pmf, cdf) in enumerate(zip(pmfs, cdfs)):
        out = tables.pmf_to_quantized_cdf(pmf, int(golden["pmf_precision"]), method="compressai")
        np.testing.assert_array_equal(out, cdf, err_msg=f"pmf vector {i} (length {len(pmf)})")


def test_compressai_pmf_vectors_through_the_batch_api(golden):
    pmfs = _split(golden["pmf_values"], golden["pmf_lengths"])
    cdfs = _split(golden["pmf_cdf_values"], golden["pmf_cdf_lengths"])
    width = max(len(p) for p in pmfs)
    rows = np.zeros((len(pmfs), width))
    for i, p in enumerate(pmfs):
        rows[i, :len(p)] = p
    lengths = np.array([len(p) for p in pmfs], dtype=np.int32)
    offsets = -np.arange(len(pmfs), dtype=np.int32)
    out, out_lengths, out_offsets = tables.pmfs_to_tables(rows, lengths, offsets,
                                                          method="compressai")
    assert out.shape == (len(pmfs), width + 1)
    np.testing.assert_array_equal(out_lengths, lengths + 1)
    np.testing.assert_array_equal(out_offsets, offsets)
    for i, cdf in enumerate(cdfs):
        np.testing.assert_array_equal(out[i, :len(cdf)], cdf)
        assert not out[i, len(cdf):].any()


def test_scale_indexes_equal_compressai_build_indexes(golden):
    out = tables.scale_indexes(golden["build_indexes_scales"], golden["scale_table"])
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, golden["build_indexes_out"])
