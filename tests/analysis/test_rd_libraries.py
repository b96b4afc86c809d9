"""lic_core.analysis.rd's kept libraries (bjontegaard, pytorch-msssim) against known values
and the stored results, and the default BD method against what the docs say
(docs/training.md, "The metrics: kept libraries")."""
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bjontegaard")
pytest.importorskip("pytorch_msssim")

from lic_core.analysis import evaluate, rd  # noqa: E402
from lic_core.datasets import load_rgb  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "training"
#: every folder of stored `lic eval` results, each with its bd_rate.json and rd_table.md
FOLDERS = [RESULTS, RESULTS / "integer", RESULTS / "effort", RESULTS / "synthesis"]


def _results(folder: Path, name: str) -> tuple[list, list]:
    r = json.loads((folder / f"{name}.json").read_text())["results"]
    return r["bpp"], r["psnr-rgb"]


def _stored_pairs(folder: Path):
    """(test, reference, stored BD-rate %) for every figure of a stored bd_rate.json."""
    bd = json.loads((folder / "bd_rate.json").read_text())
    for model, row in bd["bd_rate_psnr_percent"].items():
        for ref, value in row.items():
            yield model, ref, value
    for model, value in bd.get("bd_rate_psnr_percent_vs_effort_0", {}).items():
        yield model, model.rsplit("-e", 1)[0], value


# --------------------------------------------------------------------------- known values


@pytest.mark.parametrize("method", rd.BD_METHODS)
@pytest.mark.parametrize("codec", ["jpeg", "avif", "hyperprior"])
def test_identical_measured_curves_give_zero(method, codec):
    rate, psnr = _results(RESULTS, codec)
    assert rd.bd_rate(rate, psnr, rate, psnr, method) == pytest.approx(0.0, abs=1e-12)
    assert rd.bd_psnr(rate, psnr, rate, psnr, method) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", rd.BD_METHODS)
@pytest.mark.parametrize("factor", [0.8, 1.1, 1.5])
def test_a_measured_curve_scaled_by_a_rate_factor_gives_that_factor(method, factor):
    # JPEG's 13 points are no polynomial: both interpolations are shift-invariant in
    # log-rate, so a constant rate factor comes back whatever the curve's shape
    rate, psnr = _results(RESULTS, "jpeg")
    got = rd.bd_rate(rate, psnr, [factor * r for r in rate], psnr, method)
    assert got == pytest.approx((factor - 1) * 100, abs=1e-9)


# --------------------------------------------------------------------------- stored results


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_the_cubic_method_reproduces_every_stored_bd_rate(folder):
    """Every stored figure was written by the hand-written cubic fit the library replaced."""
    assert json.loads((folder / "bd_rate.json").read_text())["bd_method"] == "cubic"
    pairs = list(_stored_pairs(folder))
    assert len(pairs) >= 9
    for model, ref, stored in pairs:
        got = rd.bd_rate(*_results(folder, ref), *_results(folder, model), method="cubic")
        assert got == pytest.approx(stored, abs=1e-6), (model, ref)


def test_the_readme_table_by_pchip_is_the_documented_one():
    """The pchip figures docs/training.md gives beside the README's cubic table."""
    pinned = {("factorized", "jpeg"): -20.9014, ("factorized", "webp"): 20.47956,
              ("factorized", "avif"): 51.1882, ("hyperprior", "jpeg"): -35.78098,
              ("hyperprior", "webp"): -2.18569, ("hyperprior", "avif"): 22.74466,
              ("joint", "jpeg"): -39.52472, ("joint", "webp"): -7.88322,
              ("joint", "avif"): 15.6012}
    for (model, ref), value in pinned.items():
        got = rd.bd_rate(*_results(RESULTS, ref), *_results(RESULTS, model), method="pchip")
        assert got == pytest.approx(value, abs=1e-4), (model, ref)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_every_stored_table_names_its_method_and_is_what_that_method_writes(folder):
    method = json.loads((folder / "bd_rate.json").read_text())["bd_method"]
    stored = (folder / "rd_table.md").read_text()
    assert f"| BD-rate (PSNR, {method}), shared PSNR range |" in stored
    # every BD cell, recomputed from the stored per-codec results with that method
    bd = json.loads((folder / "bd_rate.json").read_text())["bd_rate_psnr_percent"]
    models = [json.loads((folder / f"{m}.json").read_text()) for m in bd]
    refs = [json.loads((folder / f"{r}.json").read_text()) for r in next(iter(bd.values()))]
    md = evaluate.markdown_tables(models, refs, evaluate.bd_table(models, refs, method),
                                  method=method)
    cells = re.compile(r"[-+]\d+\.\d %(?: \(\d+\.\d–\d+\.\d dB\))?")
    bd_part = stored[stored.index("| BD-rate"):]
    assert cells.findall(md[md.index("| BD-rate"):]) == cells.findall(bd_part)


def test_every_bd_table_in_the_readme_and_training_page_names_its_method():
    for page in (ROOT / "README.md", ROOT / "docs" / "training.md"):
        headers = [line for line in page.read_text().splitlines() if line.startswith("| BD-rate")]
        assert headers, page
        for line in headers:
            assert re.match(r"\| BD-rate \(PSNR, (pchip|cubic)\)", line) or "cubic → pchip" in line, line


# --------------------------------------------------------------------------- the default


def test_the_default_method_is_the_one_the_docs_give():
    text = (ROOT / "docs" / "training.md").read_text()
    documented = re.findall(r"\*\*`(\w+)`, the default\*\*", text)
    assert documented == [rd.DEFAULT_BD_METHOD] == ["pchip"]
    assert f"`--bd-method pchip|cubic` (default {rd.DEFAULT_BD_METHOD})" in text
    for function in (rd.bd_rate, rd.bd_psnr, evaluate.bd_table, evaluate.bd_rate_vs_effort_0,
                     evaluate.markdown_tables, evaluate.write_report):
        assert inspect.signature(function).parameters["method"].default == rd.DEFAULT_BD_METHOD
    from lic_core.cli import eval as lic_eval
    assert lic_eval.parse_args([]).bd_method == rd.DEFAULT_BD_METHOD


def test_the_pinned_library_versions_are_the_installed_ones():
    """pyproject pins the versions the docs' comparison was made with."""
    from importlib.metadata import version
    pyproject = (ROOT / "pyproject.toml").read_text()
    for dist in ("pytorch-msssim", "bjontegaard"):
        pins = set(re.findall(rf'"{dist}==([\d.]+)"', pyproject))
        assert pins == {version(dist)}, (dist, pins)


def test_importing_rd_loads_neither_torch_nor_the_libraries():
    code = ("import sys, lic_core.analysis.rd; print(sorted(m for m in ('torch', 'scipy', "
            "'bjontegaard', 'pytorch_msssim', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------- MS-SSIM


def _posterized(a):
    return (a // 32 * 32 + 16).astype(np.uint8)


def _blurred(a):
    """A 4×4 box blur of the interior (NumPy only, so the pinned values need no codec)."""
    f = a.astype(np.float64)
    f = (f[:-3] + f[1:-2] + f[2:-1] + f[3:]) / 4
    f = (f[:, :-3] + f[:, 1:-2] + f[:, 2:-1] + f[:, 3:]) / 4
    out = a.copy()
    out[1:-2, 1:-2] = np.round(f).astype(np.uint8)
    return out


# the former hand-written MS-SSIM (NumPy, float64) on these pairs
HAND_WRITTEN = {("kodim03", "posterized"): 0.9102521030716896,
                ("kodim03", "blurred"): 0.9699479755472046,
                ("kodim15", "posterized"): 0.9165749880632431,
                ("kodim23", "blurred"): 0.9807419325252305}


@pytest.mark.parametrize("image,degradation", sorted(HAND_WRITTEN))
def test_ms_ssim_agrees_with_the_former_hand_written_code(image, degradation):
    a = load_rgb(str(ROOT / "lic_core" / "samples" / f"{image}.png"))
    b = {"posterized": _posterized, "blurred": _blurred}[degradation](a)
    assert rd.ms_ssim(a, b) == pytest.approx(HAND_WRITTEN[image, degradation], abs=5e-6)
