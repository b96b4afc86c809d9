"""Properties of lic_core.analysis.evaluate and `lic eval` (lic_core.cli.eval) on tiny images,
tiny models and synthetic curves."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from lic_core.analysis import evaluate
from lic_core.cli import eval as lic_eval
from lic_core import zoo
from lic_core.errors import InvalidArgumentError


def _photo_like(seed, h=176, w=184):
    """Smooth gradients plus texture: compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in (0, 1, 2)], -1)
    img += rng.normal(0, 0.03, img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images():
    return [_photo_like(0), _photo_like(1, 184, 176)]


@pytest.mark.parametrize("codec", ["jpeg", "webp", "avif"])
def test_baselines_rate_and_quality_rise_with_the_quality_setting(images, codec):
    r = evaluate.evaluate_baseline(images, codec, qualities=[20, 80])["results"]
    assert r["quality"] == [20, 80]
    assert 0 < r["bpp"][0] < r["bpp"][1]
    assert r["psnr-rgb"][0] < r["psnr-rgb"][1]
    assert 0 < r["ms-ssim"][0] <= r["ms-ssim"][1] <= 1
    assert all(t >= 0 for t in r["encoding_time"] + r["decoding_time"])


def test_baseline_bpp_is_the_real_file_size(images):
    data, recon, _, _ = evaluate.pillow_roundtrip(images[0], "jpeg", 50)
    r = evaluate.evaluate_baseline(images[:1], "jpeg", qualities=[50])["results"]
    assert r["bpp"][0] == pytest.approx(len(data) * 8 / (176 * 184))
    assert recon.shape == images[0].shape and recon.dtype == np.uint8


def test_unknown_baseline_is_refused(images):
    with pytest.raises(InvalidArgumentError, match="unknown baseline"):
        evaluate.evaluate_baseline(images, "bpg")


def _curve(name, bpp, psnr):
    return {"name": name, "results": {"bpp": list(bpp), "psnr-rgb": list(psnr), "quality": [1, 2, 3, 4],
                                      "ms-ssim": [0.9] * 4, "encoding_time": [0.1] * 4,
                                      "decoding_time": [0.1] * 4}}


def test_bd_table_compares_every_model_with_every_baseline():
    psnr = [28.0, 31.0, 34.0, 37.0]
    base = np.array([0.3, 0.6, 1.1, 2.0])
    jpeg = _curve("jpeg", base, psnr)
    far = _curve("far", base, [50.0, 51.0, 52.0, 53.0])
    model = _curve("model", 0.7 * base, psnr)
    table = evaluate.bd_table([model], [jpeg, far])
    assert table["model"]["jpeg"] == pytest.approx(-30.0, abs=1e-9)
    assert table["model"]["far"] is None  # no shared PSNR range
    md = evaluate.markdown_tables([model], [jpeg, far], table)
    assert "| model | 0 | -30.0 % (28.0–37.0 dB) | n/a (no shared PSNR range) | 0.10 |" in md


def test_the_bd_table_names_each_rows_effort_and_its_encode_seconds_per_image():
    psnr = [28.0, 31.0, 34.0, 37.0]
    jpeg = _curve("jpeg", [0.3, 0.6, 1.1, 2.0], psnr)
    searched = _curve("m-e9", [0.2, 0.4, 0.7, 1.3], psnr)
    searched["effort"] = 9
    searched["results"]["encoding_time"] = [20.0, 22.0, 24.0, 26.0]
    md = evaluate.markdown_tables([searched], [jpeg], evaluate.bd_table([searched], [jpeg]))
    header, rule, row = md.splitlines()[-3:]
    assert header == "| BD-rate (PSNR, pchip), shared PSNR range | effort | vs jpeg | encode s/image |"
    assert row.startswith("| m-e9 | 9 | -3") and row.endswith("| 23.00 |")


def test_the_bd_table_uses_and_names_the_method_it_is_given():
    psnr = [28.0, 31.0, 34.0, 37.0]
    jpeg = _curve("jpeg", [0.3, 0.6, 1.1, 2.0], psnr)
    model = _curve("m", [0.2, 0.45, 0.7, 1.5], [28.5, 30.0, 34.5, 36.0])
    tables = {m: evaluate.bd_table([model], [jpeg], m) for m in ("pchip", "cubic")}
    assert tables["pchip"]["m"]["jpeg"] != pytest.approx(tables["cubic"]["m"]["jpeg"], abs=1e-3)
    for method, table in tables.items():
        md = evaluate.markdown_tables([model], [jpeg], table, method=method)
        assert md.split("\n\n")[-1].startswith(f"| BD-rate (PSNR, {method}), shared PSNR range |")
        assert f"{table['m']['jpeg']:+.1f} %" in md
    with pytest.raises(InvalidArgumentError, match="unknown BD method"):
        evaluate.bd_table([model], [jpeg], "akima")


def test_a_curve_too_short_for_the_cubic_fit_is_not_available_and_says_why():
    psnr = [28.0, 31.0, 34.0, 37.0]
    jpeg = _curve("jpeg", [0.3, 0.6, 1.1, 2.0], psnr)
    short = _curve("m", [0.2, 0.4, 0.7], psnr[:3])
    short["results"].update({k: v[:3] for k, v in short["results"].items() if len(v) == 4})
    assert evaluate.bd_table([short], [jpeg], "pchip")["m"]["jpeg"] is not None
    table = evaluate.bd_table([short], [jpeg], "cubic")
    assert table["m"]["jpeg"] is None
    md = evaluate.markdown_tables([short], [jpeg], table, method="cubic")
    assert "| n/a (fewer than 4 points for cubic) |" in md


def test_the_bd_table_gives_what_an_effort_level_saves_over_effort_0():
    psnr = [28.0, 31.0, 34.0, 37.0]
    jpeg = _curve("jpeg", [0.3, 0.6, 1.1, 2.0], psnr)
    plain = _curve("m", [0.2, 0.4, 0.8, 1.6], psnr)
    searched = _curve("m-e9", [0.18, 0.36, 0.72, 1.44], psnr)  # 10 % less rate everywhere
    searched["effort"], searched["model"] = 9, "m"
    legacy = _curve("m-e5", [0.19, 0.38, 0.76, 1.52], psnr)  # no "model": named m-e5
    legacy["effort"] = 5
    other = _curve("k-e9", [0.2, 0.4, 0.8, 1.6], psnr)  # no effort-0 run of k
    other["effort"] = 9
    models = [plain, searched, legacy, other]
    vs_effort_0 = evaluate.bd_rate_vs_effort_0(models)
    assert vs_effort_0["m-e9"] == pytest.approx(-10.0, abs=1e-6)
    assert vs_effort_0["m-e5"] == pytest.approx(-5.0, abs=1e-6)
    assert set(vs_effort_0) == {"m-e9", "m-e5"}
    md = evaluate.markdown_tables(models, [jpeg], evaluate.bd_table(models, [jpeg]))
    bd_block = md.split("\n\n")[-1].splitlines()
    assert bd_block[0].endswith("| vs jpeg | vs effort 0 | encode s/image |")
    row = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in bd_block[2:]}
    assert row["m"][1] == "0" and row["m"][3] == "—"
    assert row["m-e9"][1] == "9" and row["m-e9"][3] == "-10.0 %"
    assert row["m-e5"][3] == "-5.0 %"
    assert row["k-e9"][3] == "—"  # k has no effort 0 to compare with
    # an effort level whose curve shares no PSNR range with its effort 0
    apart = _curve("m-e7", [0.2, 0.4, 0.8, 1.6], [40.0, 41.0, 42.0, 43.0])
    apart["effort"], apart["model"] = 7, "m"
    assert evaluate.bd_rate_vs_effort_0([plain, apart]) == {"m-e7": None}
    md = evaluate.markdown_tables([plain, apart], [jpeg], evaluate.bd_table([plain, apart], [jpeg]))
    last = md.splitlines()[-1]
    assert last.startswith("| m-e7 | 7 |") and last.endswith("| n/a (no shared PSNR range) | 0.10 |")


def test_model_roundtrip_measures_the_compressed_bytes(images):
    model = zoo.build("factorized", N=8, M=8).eval()
    model.update(force=True)
    data, recon, te, td = evaluate.model_roundtrip(model, images[0])
    assert isinstance(data, bytes) and len(data) > 0
    assert recon.shape == images[0].shape and recon.dtype == np.uint8
    assert te > 0 and td > 0


def test_eval_command_writes_results_table_and_plot(images, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"im{i}.png")
    torch.manual_seed(0)
    files = []
    for q in (1, 2):
        model = zoo.build("factorized", N=8, M=8)
        files.append(str(zoo.save_weights(model, tmp_path / f"factorized-q{q}.safetensors", quality=q)))
    out = tmp_path / "out"
    rc = lic_eval.main([str(folder), "--models", *files, "--baselines", "jpeg", "--out", str(out)])
    assert rc == 0
    fac = json.loads((out / "factorized.json").read_text())
    assert len(fac["results"]["bpp"]) == 2 and len(fac["results"]["psnr-rgb"]) == 2
    jpeg = json.loads((out / "jpeg.json").read_text())
    assert len(jpeg["results"]["bpp"]) == len(evaluate.BASELINE_QUALITIES["jpeg"])
    bd = json.loads((out / "bd_rate.json").read_text())
    assert set(bd["bd_rate_psnr_percent"]) == {"factorized"}
    assert bd["bd_method"] == "pchip"  # the default, named beside the figures
    assert (out / "rd.png").stat().st_size > 10_000
    assert "BD-rate (PSNR, pchip)" in (out / "rd_table.md").read_text()


def test_markdown_without_baselines_has_no_empty_bd_rate_table():
    model = {"name": "m", "results": {"bpp": [0.5], "psnr-rgb": [30.0], "ms-ssim": [0.95],
                                      "encoding_time": [0.1], "decoding_time": [0.2], "quality": [3]}}
    md = evaluate.markdown_tables([model], [], evaluate.bd_table([model], []))
    assert "| m | 3 | 0.500 | 30.00 | 0.9500 | 0.10 | 0.20 |" in md
    assert "BD-rate" not in md


def test_shipped_qualities_accept_compressai_aliases():
    shipped = zoo.list_models()["hyperprior"]
    if not shipped:
        pytest.skip("no hyperprior weights ship")
    assert evaluate.shipped_qualities("bmshj2018-hyperprior") == shipped
    with pytest.raises(InvalidArgumentError):
        evaluate.shipped_qualities("no-such-model")
