"""The `lic` command driven as a user would: `python -m lic_core ...` in a subprocess.

The tests do not depend on the shipped weights: tests/conftest.py's tiny_zoo saves
lic_core.testing's tiny models (N=8, M=12, scaled up so that the latents are not all
zero) into a temporary weights folder and LIC_WEIGHTS_DIR points at it: the CLI then
loads them exactly as it would load shipped weights. Helpers shared by the CLI tests:
tests/cli/helpers.py, and the in-process ``lic`` fixture in tests/cli/conftest.py.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.cli.helpers import FIXTURE_LIC, QUALITY, REPO


def run_lic(*args, env=None, cwd=None, timeout=120):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lic_core", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture(scope="module")
def weights_env(tiny_zoo):
    return {"LIC_WEIGHTS_DIR": str(tiny_zoo)}  # quality QUALITY only (conftest.tiny_zoo)


@pytest.fixture(scope="module")
def small_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "small.png"
    with Image.open(REPO / "lic_core" / "samples" / "kodim23.png") as im:
        im.crop((200, 100, 200 + 96, 100 + 80)).save(path)  # 96x80: not a multiple of 64
    return path


# --------------------------------------------------------------------------- usage errors (exit 2)

@pytest.mark.parametrize("args", [
    (),
    ("frobnicate",),
    ("compress",),  # (one file is IN, written to IN's name with .lic: issue 21 point 13)
    ("compress", "a.png", "b.png", "c.png"),
    ("compress", "a.png", "b.lic", "-m", "no-such-model"),
    ("compress", "a.png", "b.lic", "-q", "11"),
    ("compress", "a.png", "b.lic", "-q", "three"),
    ("demo", "--images", "0"),
])
def test_bad_arguments_exit_2_with_usage(args):
    r = run_lic(*args)
    assert r.returncode == 2, r.stderr
    assert "usage:" in r.stderr and "error:" in r.stderr


def test_help_lists_every_command():
    r = run_lic("--help")
    assert r.returncode == 0
    for command in ("compress", "decompress", "info", "models", "analyze", "demo", "eval", "train", "bench"):
        assert command in r.stdout


# --------------------------------------------------------------------------- failures (exit 1, one line)

def _one_line_error(r):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lic: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_missing_file_is_one_line_exit_1(tmp_path):
    line = _one_line_error(run_lic("decompress", tmp_path / "nope.lic", tmp_path / "out.png"))
    assert "nope.lic" in line
    _one_line_error(run_lic("compress", tmp_path / "nope.png", tmp_path / "out.lic"))


@pytest.mark.parametrize("damage, field", [
    (lambda d: d[:-3], "truncated"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "payload CRC"),
    (lambda d: b"GIF89a" + d[6:], "magic"),
    (lambda d: d + b"\0", "trailing"),
])
def test_corrupt_file_is_one_line_exit_1_naming_the_field(tmp_path, damage, field):
    good = (FIXTURE_LIC).read_bytes()
    bad = tmp_path / "bad.lic"
    bad.write_bytes(damage(good))
    assert field in _one_line_error(run_lic("decompress", bad, tmp_path / "out.png"))
    assert not (tmp_path / "out.png").exists()


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(b"garbage")
    r = run_lic("--debug", "info", bad)
    assert r.returncode == 1 and "Traceback" in r.stderr and "ContainerError" in r.stderr


def test_info_reports_header_streams_and_crc_status(tmp_path):
    r = run_lic("info", FIXTURE_LIC)
    assert r.returncode == 0, r.stderr
    assert "hyperprior (id 2), quality 3" in r.stdout
    assert "768 x 512" in r.stdout and "32x48, 8x12" in r.stdout
    assert "header ok, payload ok" in r.stdout
    assert "not recorded (format 1; decoded with zoo release zoo-v3)" in r.stdout
    damaged = bytearray((FIXTURE_LIC).read_bytes())
    damaged[-2] ^= 0xFF
    (tmp_path / "d.lic").write_bytes(bytes(damaged))
    r = run_lic("info", tmp_path / "d.lic", "--json")
    record = json.loads(r.stdout)
    assert r.returncode == 1 and record["header_crc_ok"] and not record["payload_crc_ok"]
    assert record["streams"] == [{"name": "y", "bytes": 14}, {"name": "z", "bytes": 2}]


def test_eval_train_and_bench_pass_their_arguments_on():
    r = run_lic("eval", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: lic eval") and "--baselines" in r.stdout
    r = run_lic("eval", "--frobnicate")
    assert r.returncode == 2 and "usage: lic eval" in r.stderr
    r = run_lic("train", "--help")
    assert r.returncode == 0 and "--arch" in r.stdout
    r = run_lic("bench", "--help")
    if (REPO / "bench" / "coder.py").is_file():
        assert r.returncode == 0, r.stderr
    else:
        assert "bench/coder.py" in _one_line_error(r)


# --------------------------------------------------------------------------- with models

def test_models_lists_ids_and_shipped_qualities(weights_env):
    r = run_lic("models", "--json", env=weights_env)
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert {n: rows[n]["id"] for n in rows} == {"factorized": 1, "hyperprior": 2, "mean-scale": 3, "joint": 4,
                                              "space-channel": 5}
    assert rows["hyperprior"]["qualities"] == [QUALITY] and rows["joint"]["qualities"] == []


def test_compress_info_decompress_round_trip(tmp_path, weights_env, small_png):
    lic = tmp_path / "x.lic"
    r = run_lic("compress", small_png, lic, "-m", "bmshj2018-hyperprior", "-q", QUALITY, env=weights_env)
    assert r.returncode == 0, r.stderr
    assert "bpp" in r.stdout and lic.stat().st_size > 0
    r = run_lic("info", lic, "--json", env=weights_env)
    record = json.loads(r.stdout)
    assert (record["model"], record["quality"], record["width"], record["height"]) == (
        "hyperprior", QUALITY, 96, 80)
    assert record["latent_shapes"] == [[8, 8], [2, 2]]  # padded to 128x128, then /16 and /64
    # a weights folder without RELEASE.json is the release "local"; 64-bit fingerprint in hex
    assert record["weights_release"] == "local" and len(record["weights_fingerprint"]) == 16
    out = tmp_path / "x.png"
    r = run_lic("decompress", lic, out, "--quiet", env=weights_env)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    decoded = np.asarray(Image.open(out))
    assert decoded.shape == (80, 96, 3) and decoded.dtype == np.uint8
    # The CLI and the API agree byte for byte (same model, same input). No cache to clear:
    # the API's model cache follows $LIC_WEIGHTS_DIR.
    import lic_core
    os.environ["LIC_WEIGHTS_DIR"] = weights_env["LIC_WEIGHTS_DIR"]
    try:
        assert lic_core.compress(small_png, model="hyperprior", quality=QUALITY) == lic.read_bytes()
        assert np.array_equal(lic_core.decompress(lic.read_bytes()), decoded)
        # And the Pillow plugin decodes the same pixels.
        with Image.open(lic) as im:
            assert im.format == "LIC" and np.array_equal(np.asarray(im.convert("RGB")), decoded)
    finally:
        del os.environ["LIC_WEIGHTS_DIR"]


def test_missing_weights_fail_in_one_line(tmp_path, weights_env, small_png):
    line = _one_line_error(run_lic("compress", small_png, tmp_path / "x.lic", "-m", "joint", "-q", "3",
                                   env=weights_env))
    assert "joint" in line


def test_demo_prints_the_table_and_writes_the_rd_plot(tmp_path, weights_env):
    out = tmp_path / "demo"
    r = run_lic("demo", "--models", "factorized,hyperprior", "--images", "1", "--crop", "128",
                "--out", out, env=weights_env)
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if line.startswith("model"))
    for column in ("bpp", "PSNR", "enc ms", "dec ms", "bytes", "ideal"):
        assert column in header
    rows = json.loads((out / "results.json").read_text())
    assert {(row["model"], row["quality"]) for row in rows} == {("factorized", QUALITY), ("hyperprior", QUALITY)}
    assert all(row["round_trip_ok"] and row["weights"] == "trained" for row in rows)
    assert r.stdout.count(" ok") >= 2
    with Image.open(out / "rd.png") as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_demo_labels_random_init_models_and_keeps_to_its_budget(tmp_path, weights_env):
    out = tmp_path / "demo"
    r = run_lic("demo", "--models", "mean-scale", "--images", "2", "--crop", "64", "--out", out,
                "--budget", "0.001", env=weights_env)
    assert r.returncode == 0, r.stderr
    assert "RANDOM-INIT" in r.stdout and "random-init" in r.stdout
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 1 and rows[0]["weights"] == "random-init" and rows[0]["image"] == "kodim03"
    # the closing note says exactly which cases ran and which did not
    assert "1 of 2 cases ran (mean-scale random-init on kodim03); not run: mean-scale " \
           "random-init on kodim15" in r.stdout
    assert "(1 of 2 planned cases: 1 image(s) (kodim03)" in r.stdout


def test_analyze_reports_split_side_information_and_heatmaps(tmp_path, weights_env, small_png):
    out = tmp_path / "analysis"
    r = run_lic("analyze", small_png, "-m", "factorized,hyperprior", "-q", QUALITY, "--out", out,
                env=weights_env)
    assert r.returncode == 0, r.stderr
    for text in ("H(ŷ)", "H(ẑ)", "H(ŷ|ẑ)", "I(y;z)", "Bits per channel"):
        assert text in r.stdout
    for name in ("factorized", "hyperprior"):
        with Image.open(out / f"small-{name}-q{QUALITY}-bits.png") as im:
            assert im.format == "PNG"
        lines = (out / f"small-{name}-q{QUALITY}-channels.csv").read_text().splitlines()
        assert lines[0] == "stream,channel,ideal_bits" and len(lines) > 12


def test_alpha_input_warns_in_one_line_and_still_compresses(tmp_path, weights_env):
    png = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 30), (200, 10, 10, 128)).save(png)
    r = run_lic("compress", png, tmp_path / "a.lic", "-m", "factorized", "-q", QUALITY, env=weights_env)
    assert r.returncode == 0, r.stderr
    warning_lines = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warning_lines) == 1 and "composited on white" in warning_lines[0]


def test_file_from_non_zoo_weights_is_refused_by_the_cli_in_one_line(tmp_path):
    from lic_core.container import LicFile, pack
    path = tmp_path / "q0.lic"
    path.write_bytes(pack(LicFile("hyperprior", 0, 64, 64, ((4, 4), (1, 1)), (b"y", b"z"),
                                   weights_fingerprint=1)))
    assert "not from the zoo" in _one_line_error(run_lic("decompress", path, tmp_path / "o.png"))
