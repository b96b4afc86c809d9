"""The coding precision has one definition (LIC_MAX_PRECISION / LIC_DEFAULT_PRECISION
in csrc/lic/lic.h): every face reports the same value, uses it as its default, and
enforces the same bound. (The C ABI's view is checked in test_coder_c_abi.py.)"""
import numpy as np
import pytest

from lic_core import ans, coder, tables
from lic_core.coding import _coder, _tables
from lic_core.errors import InvalidArgumentError


def test_every_face_reports_one_precision():
    assert coder.PRECISION == tables.PRECISION == ans.PRECISION == 16
    assert coder.MAX_PRECISION == tables.MAX_PRECISION == 16
    # ...and reads it from the compiled engine, not from a Python literal.
    assert coder.PRECISION is _coder.PRECISION and tables.PRECISION is _tables.PRECISION


def test_default_precision_is_what_the_builders_and_coder_use():
    cdfs, lengths, offsets = tables.gaussian_tables(tables.scale_table())
    assert cdfs[0, lengths[0] - 1] == 2 ** tables.PRECISION
    assert tables.pmf_to_quantized_cdf([0.5, 0.5])[-1] == 2 ** tables.PRECISION
    ts = coder.TableSet(cdfs, lengths, offsets)
    assert ts.precision == coder.PRECISION
    data = coder.encode(np.arange(-3, 4), np.zeros(7, np.int32), cdfs, lengths, offsets)
    assert coder.stream_info(data)["precision"] == coder.PRECISION
    # The same default tables are valid CompressAI-format tables (ans.PRECISION).
    symbols = [0, 1, -2, 40]
    stream = ans.RansEncoder().encode_with_indexes(symbols, [5] * 4, cdfs, lengths, offsets)
    assert ans.RansDecoder().decode_with_indexes(stream, [5] * 4, cdfs, lengths, offsets) == symbols


def test_max_precision_is_accepted_and_one_more_is_refused_everywhere():
    top = coder.MAX_PRECISION
    full = [[0, 2 ** top]]
    assert coder.TableSet(full, precision=top).precision == top
    assert tables.pmf_to_quantized_cdf([1.0, 1.0], precision=top)[-1] == 2 ** top
    with pytest.raises(InvalidArgumentError, match=f"1..{top}"):
        coder.TableSet([[0, 2 ** (top + 1)]], precision=top + 1)
    with pytest.raises(InvalidArgumentError, match=f"1..{top}"):
        tables.pmf_to_quantized_cdf([1.0, 1.0], precision=top + 1)
    # The engine itself (below the Python checks) enforces the same bound.
    with pytest.raises(InvalidArgumentError, match=f"1..{top}"):
        _tables.pmf_to_quantized_cdf(np.array([1.0, 1.0]), top + 1, 0)
