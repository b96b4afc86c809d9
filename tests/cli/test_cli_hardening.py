"""Issue 13's CLI points, each a claim a new user or an adversarial run found false:

1. no command overwrites its input (same path, symlink, hard link), and outputs are
   written through a temporary file renamed into place;
11. the demo announces its cases and its closing lines say what ran;
12. a model that does not ship the default quality gets the nearest one, with a note,
    and no message shows a Python dict;
13. output problems are found before the work; a folder given as an image says so;
    16-bit PNGs are refused as docs/cli.md says; a NumPy-only install names the extra;
14. bench/load.py measures where a first compress spends its time, and no bar costs
    no tqdm import;
15. several files per command, each model loaded once, bad files named and skipped.

Most runs call ``lic_core.cli.main.main`` in this process (one torch import for the
file); the ones about imports and a missing torch need a fresh interpreter.
"""
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from lic_core import container
from tests.cli.helpers import FIXTURE_LIC, QUALITY, REPO, error_lines, png


@pytest.fixture(scope="module")
def weights_dir(tiny_zoo):
    """conftest.tiny_zoo: quality QUALITY only, so factorized lacks the default 3."""
    return tiny_zoo


def _png16(path, colour_type=2, w=4, h=3):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    rows = np.arange(h * w * channels, dtype=">u2").reshape(h, w * channels) * 997
    raw = b"".join(b"\0" + rows[r].astype(">u2").tobytes() for r in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


# --------------------------------------------------------------------------- 1. inputs are never outputs

def test_compress_refuses_to_overwrite_its_input_by_name_symlink_or_hard_link(lic, tmp_path):
    src = png(tmp_path / "in.png")
    before = src.read_bytes()
    (tmp_path / "link.lic").symlink_to(src)
    os.link(src, tmp_path / "hard.lic")
    for out in (src, tmp_path / "link.lic", tmp_path / "hard.lic"):
        status, _, err = lic("compress", src, out, "-m", "hyperprior", "-q", QUALITY)
        assert status == 1 and len(error_lines(err)) == 1, err
        assert src.read_bytes() == before
    # an image named .lic, written to the folder it is in: -o maps it onto itself
    odd = tmp_path / "odd.lic"
    odd.write_bytes(before)
    status, _, err = lic("compress", odd, "-o", tmp_path, "-q", QUALITY)
    assert status == 1 and "is the input" in err and odd.read_bytes() == before


def test_decompress_refuses_to_overwrite_its_input_through_a_symlink(lic, tmp_path):
    src = tmp_path / "x.lic"
    src.write_bytes(FIXTURE_LIC.read_bytes())
    before = src.read_bytes()
    (tmp_path / "x.png").symlink_to(src)
    status, _, err = lic("decompress", src, tmp_path / "x.png")
    assert status == 1 and "is the input" in err and "same file" in err
    assert src.read_bytes() == before


def test_an_output_is_replaced_by_rename_not_rewritten_in_place(lic, tmp_path):
    """A file hard-linked to the output keeps its bytes: the output's name now points at a
    new file (os.replace), which is what makes a part-written output impossible."""
    src = png(tmp_path / "in.png")
    out = tmp_path / "out.lic"
    out.write_bytes(b"previous")
    os.link(out, tmp_path / "other")
    status, _, err = lic("compress", src, out, "-q", QUALITY, "-f")  # -f: issue 21 point 13
    assert status == 0, err
    assert (tmp_path / "other").read_bytes() == b"previous"
    assert container.unpack(out.read_bytes()).quality == QUALITY


def test_a_failed_write_leaves_the_previous_output_and_no_temporary_file(tmp_path, monkeypatch):
    from lic_core.cli import common
    out = tmp_path / "out.lic"
    out.write_bytes(b"previous")

    def fail(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(common.os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        common.write_atomic(out, b"new bytes that never land")
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.lic"]


# --------------------------------------------------------------------------- 11. the demo says what ran

def test_the_demo_runs_low_middle_and_high_quality_by_default():
    from lic_core.cli.demo import DEMO_CROP, default_qualities
    assert default_qualities([1, 2, 3, 4, 5, 6, 7, 8]) == [1, 4, 8]
    assert default_qualities([1, 2, 4, 6, 8]) == [1, 4, 8]
    assert default_qualities([2, 5]) == [2, 5]
    assert DEMO_CROP == 256  # 27 cases on 256x256 crops: docs/cli.md has the timings


def test_the_demos_announcement_multiplies_families_qualities_and_images():
    """The default plan is 3 families x 3 qualities; the line said "9 models x 3 images"
    (it counted (model, quality) pairs as models)."""
    from lic_core.cli.demo import _plan_size
    default = [(name, q) for name in ("factorized", "hyperprior", "joint") for q in (1, 4, 8)]
    assert _plan_size(default, 3) == "3 families x 3 qualities x 3 images"
    uneven = [("factorized", 2), ("joint", 1), ("joint", 4), ("joint", 8)]
    assert _plan_size(uneven, 1) == "2 families x 1-3 qualities (4 model-quality pairs) x 1 image"
    assert _plan_size([("factorized", None), ("joint", None)], 2) == \
        "2 families (random-init) x 2 images"


def test_the_demo_announces_its_cases_and_its_summary_counts_what_ran(lic, tmp_path):
    status, out, err = lic("demo", "--models", "factorized", "--images", "2", "--crop", "32",
                           "--out", tmp_path / "demo", "--budget", "0.000001")
    assert status == 0, err
    first = out.splitlines()[0]
    assert first.startswith("lic demo: 2 cases (1 family x 1 quality x 2 images, 32x32 centre crops")
    assert "factorized q2 on kodim03, kodim15" in first
    # the budget stopped the second case: every line says so, none claims two images
    assert "(1 of 2 planned cases: 1 image(s) (kodim03), 32x32;" in out
    assert "1 of 2 cases ran (factorized q2 on kodim03); not run: factorized q2 on kodim15" in out


# --------------------------------------------------------------------------- 12. the default quality

def test_nearest_shipped_quality_breaks_ties_upwards():
    from lic_core.cli.common import nearest_quality
    assert nearest_quality(3, [1, 2, 4, 6, 8]) == 4
    assert nearest_quality(5, [1, 2, 4, 6, 8]) == 6
    assert nearest_quality(3, [2]) == 2
    assert nearest_quality(8, [1, 2, 4, 6]) == 6


def test_a_model_without_the_default_quality_uses_the_nearest_with_a_note(lic, tmp_path):
    src = png(tmp_path / "in.png")
    status, _, err = lic("compress", src, tmp_path / "f.lic", "-m", "factorized")
    assert status == 0, err
    assert "lic: note: factorized ships qualities 2, not the default 3; using quality 2" in err
    assert container.unpack((tmp_path / "f.lic").read_bytes()).quality == 2


def test_an_unshipped_explicit_quality_fails_naming_the_shipped_ones_without_a_dict(lic, tmp_path):
    src = png(tmp_path / "in.png")
    status, _, err = lic("compress", src, tmp_path / "f.lic", "-m", "factorized", "-q", "5")
    assert status == 1
    (line,) = error_lines(err)
    assert "factorized ships qualities 2" in line and "-q 2" in line
    assert "{" not in err and "[" not in err
    status, _, err = lic("compress", src, tmp_path / "j.lic", "-m", "joint")
    assert status == 1 and "no trained weights ship for joint" in err and "{" not in err


def test_analyze_without_q_uses_each_models_nearest_quality(lic, tmp_path):
    src = png(tmp_path / "in.png", size=(64, 64))
    status, out, err = lic("analyze", src, "-m", "factorized", "--out", tmp_path / "a", "--json")
    assert status == 0, err
    assert "using quality 2" in err and '"quality": 2' in out


def test_analyze_refuses_an_image_over_the_pixel_limit_before_loading_a_model(lic, tmp_path,
                                                                             monkeypatch):
    """--max-pixels is global, and $LIC_MAX_PIXELS applies to every command: analyze ran
    the models on any image whatever either said."""
    import lic_core.cli.analyze as analyze

    def never(*args, **kwargs):
        raise AssertionError("a model was loaded for an image over the limit")
    monkeypatch.setattr(analyze, "model_for", never)
    src = png(tmp_path / "in.png")  # 40 x 24, processed padded to 64 x 64 = 4096 pixels
    for args, env in (((src, "--max-pixels", 4095), None), ((src,), "4095")):
        if env is not None:
            monkeypatch.setenv("LIC_MAX_PIXELS", env)
        status, _, err = lic("analyze", *args, "-m", "factorized", "--out", tmp_path / "a")
        assert status == 1, err
        (line,) = error_lines(err)
        assert "64x64 = 4096 pixels" in line and "limit of 4095" in line, line
        assert "--max-pixels" in line and "LIC_MAX_PIXELS" in line, line
        assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- 13. checks first, clear messages

def test_output_problems_are_reported_before_any_work(lic, tmp_path):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(b"not a lic file at all")
    # decompress: an unknown extension is named, not the corrupt input behind it
    status, _, err = lic("decompress", bad, tmp_path / "out.xyz")
    assert status == 1 and "'.xyz'" in err and "magic" not in err
    status, _, err = lic("decompress", bad, tmp_path / "missing" / "out.png")
    assert status == 1 and "output directory does not exist" in err
    # compress: the missing folder is named, not the missing weights
    src = png(tmp_path / "in.png")
    status, _, err = lic("compress", src, tmp_path / "missing" / "x.lic", "-m", "joint")
    assert status == 1 and "output directory does not exist" in err and "joint" not in err


def test_a_directory_given_as_input_is_called_a_directory(lic, tmp_path):
    status, _, err = lic("compress", tmp_path, tmp_path / "x.lic")
    assert status == 1 and "is a directory" in err and "no such" not in err
    status, _, err = lic("decompress", tmp_path, tmp_path / "x.png")
    assert status == 1 and "is a directory" in err
    from lic_core.images import to_rgb_array
    with pytest.raises(IsADirectoryError, match="is a directory"):
        to_rgb_array(tmp_path)


@pytest.mark.parametrize("colour_type, name", [(2, "RGB"), (6, "RGBA"), (0, "grayscale"),
                                                (4, "grayscale \\+ alpha")])
def test_16_bit_pngs_are_refused_naming_the_conversion(tmp_path, colour_type, name):
    from lic_core import InvalidArgumentError
    from lic_core.images import to_rgb_array
    path = _png16(tmp_path / "deep.png", colour_type)
    with pytest.raises(InvalidArgumentError, match=f"16-bit PNG \\({name}.*convert it to 8 bits"):
        to_rgb_array(path)
    with Image.open(path) as img:  # opened by the caller, not yet loaded: its decoder says so
        with pytest.raises(InvalidArgumentError, match="16-bit"):
            to_rgb_array(img)


def test_the_cli_refuses_a_16_bit_png_in_one_line(lic, tmp_path):
    path = _png16(tmp_path / "deep.png")
    status, _, err = lic("compress", path, tmp_path / "x.lic", "-q", QUALITY)
    assert status == 1 and len(error_lines(err)) == 1 and "16-bit PNG (RGB" in err
    assert not (tmp_path / "x.lic").exists()


# What `pip install lic-core` leaves out: every module of the [models] extra. A meta-path
# finder refuses them the way an absent package is refused (ModuleNotFoundError naming
# it), whichever route imports them later; sys.modules['torch'] = None covered torch only.
EXTRA_MODULES = ("torch", "safetensors", "PIL", "tqdm", "matplotlib", "pytorch_msssim", "bjontegaard")
#: pyproject.toml's distribution names -> the modules above
EXTRA_DISTRIBUTIONS = {"torch": "torch", "safetensors": "safetensors", "pillow": "PIL",
                       "tqdm": "tqdm", "matplotlib": "matplotlib", "pytorch-msssim": "pytorch_msssim",
                       "bjontegaard": "bjontegaard"}
_NOT_INSTALLED = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def _without(modules, code, tmp_path):
    """Run ``code`` in a fresh interpreter in which ``modules`` cannot be imported."""
    prelude = _NOT_INSTALLED.format(blocked=tuple(modules))
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def test_the_blocked_modules_are_the_models_extra_of_pyproject():
    """The test below blocks, and the CLI names the extra for, exactly what pyproject.toml
    puts in [models] (a new dependency there must be added to both)."""
    tomllib = pytest.importorskip("tomllib")
    from lic_core.cli.common import MODELS_EXTRA
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0].lower()
             for req in project["optional-dependencies"]["models"]}
    assert names == set(EXTRA_DISTRIBUTIONS)
    assert set(EXTRA_DISTRIBUTIONS.values()) == set(EXTRA_MODULES) == set(MODELS_EXTRA)


def test_a_missing_submodule_of_an_installed_package_is_not_called_a_missing_extra():
    from lic_core.cli.common import error_text, missing_extra
    import PIL  # noqa: F401  (installed here)
    exc = ModuleNotFoundError("No module named 'PIL.NoSuchPlugin'", name="PIL.NoSuchPlugin")
    assert missing_extra(exc) is None and "[models]" not in error_text(exc)


def test_a_numpy_only_install_names_the_extra_to_install(tmp_path):
    from lic_core.cli.common import MODELS_EXTRA
    hint = 'pip install -e ".[models]"'
    data = FIXTURE_LIC.read_bytes()
    (tmp_path / "x.lic").write_bytes(data)
    r = _without(EXTRA_MODULES,
                 "import numpy as np, lic_core\n"
                 "for call in (lambda: lic_core.compress(np.zeros((8, 8, 3), np.uint8)),\n"
                 "             lambda: lic_core.decompress(open('x.lic', 'rb').read())):\n"
                 "    try:\n"
                 "        call()\n"
                 "    except ImportError as e:\n"
                 "        print(type(e).__name__, '|', e)\n", tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(hint in line and "torch==2.13.0" in line for line in lines)
    assert all(line.startswith("MissingDependencyError") for line in lines)
    png(tmp_path / "in.png")
    # `lic models` only lists what ships (zoo.catalog reads the weight files' headers
    # itself since 6b121b0), so it needs nothing of the extra...
    r = _without(EXTRA_MODULES, "from lic_core.cli.main import main; sys.exit(main(['models']))",
                 tmp_path)
    assert r.returncode == 0 and "hyperprior" in r.stdout, r.stderr
    # ...while compress and decompress name the extra
    for args in (["compress", "in.png", "out.lic"], ["decompress", "x.lic", "out.png"]):
        r = _without(EXTRA_MODULES, f"from lic_core.cli.main import main; sys.exit(main({args!r}))",
                     tmp_path)
        assert r.returncode == 1, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lic: error: ") and hint in lines[0], r.stderr
        assert "torch==2.13.0" in lines[0] and "[models] extra" in lines[0], r.stderr
        assert any(f"needs {package}," in lines[0] for package in MODELS_EXTRA.values()), r.stderr
    assert not (tmp_path / "out.lic").exists() and not (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- 14. load time

def test_the_load_benchmark_times_each_stage_after_checking_its_round_trip(weights_dir, tmp_path):
    """bench/load.py's per-process measurement (what it runs once per family and repeat)."""
    pytest.importorskip("torch")
    image = png(tmp_path / "in.png", size=(64, 64))
    r = subprocess.run([sys.executable, str(REPO / "bench" / "load.py"), "--child", "factorized",
                        str(QUALITY), str(image)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "LIC_WEIGHTS_DIR": str(weights_dir)})
    assert r.returncode == 0, r.stderr
    import json
    times = json.loads(r.stdout)
    assert set(times) == {"import lic_core.cli", "import torch", "zoo.load (first)", "zoo.load (again)",
                          "zoo.build (random init)", "compress (first)", "decompress (first)",
                          "compress (again)"}
    assert all(v > 0 for v in times.values())


def test_the_lic_program_starts_without_numpy_or_torch():
    """`lic --help`, usage errors and the parser itself pay for neither: NumPy (0.1 s) is
    imported by the commands that use it, when they run."""
    code = ("import sys, lic_core.cli.main\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'torch', 'tqdm'}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_no_progress_bar_means_no_tqdm_import():
    """Without a bar (--quiet, or stderr not a terminal) the helper costs nothing: tqdm's
    import is 40 ms of a torch-free command's start."""
    code = ("import sys, argparse; from lic_core.cli.common import progress\n"
            "with progress(argparse.Namespace(quiet=False), 3, 'x') as bar:\n"
            "    bar.update(); bar.set_postfix_str('y')\n"
            "print('tqdm' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False" and r.stderr == ""  # stderr is a pipe here: no bar


# --------------------------------------------------------------------------- 15. many files

def test_compress_and_decompress_take_many_files_and_skip_a_bad_one(lic, tmp_path, monkeypatch):
    from lic_core import api
    calls = []
    load_model = api.load_model
    monkeypatch.setattr(api, "load_model", lambda *a, **k: calls.append(a) or load_model(*a, **k))
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = [png(photos / f"p{i}.png", seed=i) for i in range(3)]
    (photos / "broken.png").write_bytes(b"not an image")
    files = [*sources, photos / "broken.png"]
    status, out, err = lic("compress", *files, "-o", tmp_path / "lic", "-q", QUALITY)
    assert status == 1  # one file failed
    assert calls == [("hyperprior", QUALITY)]  # the model was loaded once for all files
    errors = error_lines(err)
    assert len(errors) == 2 and "broken.png" in errors[0] and "not an image" in errors[0]
    assert errors[1] == "lic: error: 1 of 4 files failed (named above)"
    written = sorted(p.name for p in (tmp_path / "lic").iterdir())
    assert written == ["p0.lic", "p1.lic", "p2.lic"]  # and no temporary files
    # the same bytes as the one-file form and the API
    import lic_core
    assert (tmp_path / "lic" / "p1.lic").read_bytes() == lic_core.compress(
        sources[1], model="hyperprior", quality=QUALITY)
    status, out, err = lic("decompress", *sorted((tmp_path / "lic").iterdir()), "-o", tmp_path / "png")
    assert status == 0, err
    for i in range(3):
        decoded = np.asarray(Image.open(tmp_path / "png" / f"p{i}.png"))
        assert decoded.shape == (24, 40, 3)
    assert out.count("RGB from hyperprior") == 3


def test_two_inputs_with_one_output_name_are_refused_before_any_work(lic, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = png(tmp_path / "a" / "x.png"), png(tmp_path / "b" / "x.png", seed=1)
    status, _, err = lic("compress", first, second, "-o", tmp_path / "out", "-q", QUALITY)
    assert status == 1 and "would both be written to" in err
    assert not (tmp_path / "out").exists()


def test_several_files_without_o_are_a_usage_error_and_two_images_are_not_in_out(lic, tmp_path):
    a, b = png(tmp_path / "a.png"), png(tmp_path / "b.png", seed=1)
    before = b.read_bytes()
    assert lic("compress", a, b, tmp_path / "c.png")[0] == 2  # argparse's usage error
    # `lic compress a.png b.png` would have written .lic bytes over b.png
    status, _, err = lic("compress", a, b, "-q", QUALITY)
    assert status == 1 and "-o DIR" in err and b.read_bytes() == before
