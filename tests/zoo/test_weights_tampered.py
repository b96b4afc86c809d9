"""Tampered weight files fail at load time with WeightsError, naming the problem.

Complements tests/zoo/test_zoo_weights.py (wrong shape, NaN, missing/unexpected tensors,
bad cdf values, lying metadata, unparseable files) with the cases it does not try,
on a mean-scale model (both entropy models): scale tables out of order or NaN,
infinities, integer dtypes, another entropy model's tables, tables of the wrong rank.
A change the loader accepts (an unusual table offset) must still code losslessly.
"""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
import lic_core.tables  # noqa: E402,F401  (compiled: a broken build must fail, not skip)

from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core.errors import WeightsError  # noqa: E402

GC, EB = "gaussian_conditional", "entropy_bottleneck"


@pytest.fixture
def saved(tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))
    torch.manual_seed(0)
    model = zoo.build("mean-scale", N=8, M=12)
    path = tmp_path / "mean-scale-q2.safetensors"
    zoo.save_weights(model, path, quality=2)
    return path


def _tamper(path, edit):
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    edit(tensors)
    save_file(tensors, str(path), metadata=meta)


def _swap_tables(t):
    for k in ("_quantized_cdf", "_cdf_length", "_offset"):
        t[f"{EB}.{k}"] = t[f"{GC}.{k}"].clone()


@pytest.mark.parametrize("edit,match", [
    (lambda t: t[f"{GC}.scale_table"].copy_(t[f"{GC}.scale_table"].flip(0)), "increasing"),
    (lambda t: t[f"{GC}.scale_table"].__setitem__(3, float("nan")), "NaN"),
    (lambda t: t["g_a.0.weight"].view(-1).__setitem__(5, float("inf")), "infinite"),
    (lambda t: t[f"{EB}.quantiles"].view(-1).__setitem__(0, float("-inf")), "infinite"),
    (lambda t: t.__setitem__("g_a.0.bias", t["g_a.0.bias"].to(torch.int32)), "dtype"),
    (lambda t: t.__setitem__(f"{GC}._quantized_cdf", t[f"{GC}._quantized_cdf"].float()), "dtype"),
    (lambda t: t.__setitem__(f"{GC}._quantized_cdf", t[f"{GC}._quantized_cdf"][None].clone()), "shapes"),
    (lambda t: t[f"{GC}._cdf_length"].__setitem__(0, 10**6), "tables are invalid"),
    (_swap_tables, "tables for 8 channels"),
    (lambda t: t.__setitem__("g_s.6.weight", t["g_s.6.weight"][:, :2].clone()), "shape"),
], ids=["scale-table-order", "scale-table-nan", "weight-inf", "quantiles-inf", "int-weight",
        "float-cdf", "cdf-rank", "cdf-length", "tables-of-the-other-model", "g_s-channels"])
def test_tampered_weights_are_refused_at_load_time(saved, edit, match):
    _tamper(saved, edit)
    with pytest.raises(WeightsError, match=match):
        zoo.load("mean-scale", 2)


def test_an_accepted_but_unusual_table_offset_still_codes_losslessly(saved):
    # Offsets only shift which symbol a slot means; encoder and decoder share them, so
    # the loader may accept extreme ones as long as coding stays exact.
    _tamper(saved, lambda t: t[f"{GC}._offset"].__setitem__(0, -2**31))
    model = zoo.load("mean-scale", 2)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    data, x_hat = model.compress(x, return_x_hat=True)
    assert torch.equal(model.decompress(data), x_hat)
