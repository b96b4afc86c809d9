"""Issue 21, what a new user met (points 6, 8, 9, 12, 14), each a claim that was false:

6. ``lic eval`` and the README's example work from a fresh clone (the bundled samples),
   and a folder that does not exist is refused naming what to pass;
8. a model with no shipped weights gets advice that works for the command at hand, and
   a usage error prints the command's own usage;
9. ``lic compress --help`` states the qualities that ship, the default model and quality;
12. nothing is converted quietly: a .lic given to compress is refused, the EXIF
    orientation is applied, a dropped colour profile is named, greyscale is noted once;
14. the default output folders of demo, analyze and eval are ignored by git.

The runs call ``lic_core.cli.main.main`` in this process, with the small weights of
conftest.tiny_zoo (factorized and hyperprior at quality 2 only).
"""
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from lic_core import container
from tests.cli.helpers import FIXTURE_LIC, QUALITY, REPO, png


def _flat(text: str) -> str:
    """argparse's wrapped help as one line."""
    return " ".join(text.split())


# --------------------------------------------------------------------------- 6. lic eval from a clone

def test_eval_without_a_folder_evaluates_the_bundled_samples(lic, monkeypatch):
    from lic_core.analysis import evaluate
    from lic_core.images import SAMPLES_DIR
    seen = []

    def load_images(folder, limit=None):
        seen.append(folder)
        raise KeyboardInterrupt  # stop before any evaluation work
    monkeypatch.setattr(evaluate, "load_images", load_images)
    status, _, _ = lic("eval", "--models", "--baselines")
    assert status == 130 and seen == [str(SAMPLES_DIR)]


def test_eval_refuses_a_missing_folder_naming_what_to_pass(lic, tmp_path):
    status, _, err = lic("eval", tmp_path / "no-such-folder")
    assert status == 1
    line = _flat(err)
    assert "no-such-folder" in line and "no folder for the 3 bundled samples" in line
    assert "../shared/data/kodak-dev" in line


def test_the_readmes_eval_example_needs_nothing_outside_the_clone():
    """The README's `lic eval` line names no folder, or one inside the repository."""
    from lic_core.cli.eval import parse_args
    readme = (REPO / "README.md").read_text()
    lines = [line.split("#")[0] for line in readme.splitlines() if line.startswith("lic eval")]
    assert lines, "the README lost its lic eval example"
    for line in lines:
        folder = parse_args(shlex.split(line)[2:]).directory
        assert folder is None or ((REPO / folder).resolve().is_relative_to(REPO)
                                  and (REPO / folder).is_dir()), line


# --------------------------------------------------------------------------- 8. advice that works

def test_compress_with_a_model_without_weights_names_what_works_for_compress(lic, tmp_path):
    src = png(tmp_path / "in.png")
    status, _, err = lic("compress", src, tmp_path / "j.lic", "-m", "joint")
    assert status == 1
    line = _flat(err)
    assert "no trained weights ship for joint" in line
    assert "factorized 2; hyperprior 2" in line  # the models that do ship, with qualities
    assert "`lic demo --models joint`" in line
    # --random-init is offered only where a command takes it (analyze), never to compress
    assert "where offered" not in line and "--random-init`" in line
    assert line.index("--random-init") > line.index("lic analyze")
    assert not (tmp_path / "j.lic").exists()


def test_analyze_with_a_model_without_weights_suggests_its_random_init(lic, tmp_path):
    src = png(tmp_path / "in.png", size=(64, 64))
    status, _, err = lic("analyze", src, "-m", "joint", "--out", tmp_path / "a")
    assert status == 1 and "add --random-init" in err and "lic demo" not in err


def test_lic_models_points_to_the_commands_that_run_an_untrained_model(lic):
    status, out, _ = lic("models")
    assert status == 0 and "where offered" not in out
    assert "none shipped (untrained: lic demo --models joint, lic analyze --random-init)" in out


def test_an_option_a_command_does_not_take_prints_that_commands_usage(lic):
    status, _, err = lic("compress", "x.png", "x.lic", "--random-init")
    assert status == 2
    assert err.startswith("usage: lic compress") and "--random-init" in err
    assert "lic compress: error: unrecognized arguments: --random-init" in err


# --------------------------------------------------------------------------- 9. the help says it

def test_compress_help_states_the_shipped_qualities_and_the_defaults(lic):
    status, out, _ = lic("compress", "--help")
    assert status == 0
    text = _flat(out)
    assert "Qualities whose weights ship: factorized 2; hyperprior 2; mean-scale none; joint none" in text
    assert "Defaults: -m hyperprior -q 3" in text
    assert "default hyperprior" in text and "default 3" in text


def test_a_quality_outside_the_range_lists_what_ships(lic):
    status, _, err = lic("compress", "x.png", "x.lic", "-q", "11")
    assert status == 2 and err.startswith("usage: lic compress")
    assert "quality must be in 1..10, got 11; the weights that ship: factorized 2; hyperprior 2" in err


def test_the_shipped_listing_gives_runs_as_ranges():
    from lic_core.cli.common import shipped_listing
    assert shipped_listing({"factorized": [1, 2, 4, 6, 8], "mean-scale": [],
                            "hyperprior": list(range(1, 9))}) == \
        "factorized 1, 2, 4, 6, 8; hyperprior 1..8; mean-scale none"


# --------------------------------------------------------------------------- 12. no quiet conversions

def test_compress_refuses_a_lic_file_rather_than_coding_it_again(lic, tmp_path):
    lic_file = tmp_path / "a.lic"
    lic_file.write_bytes(FIXTURE_LIC.read_bytes())
    renamed = tmp_path / "a.png"  # the magic decides, not the name
    renamed.write_bytes(lic_file.read_bytes())
    for args in ((lic_file, tmp_path / "b.lic"), (renamed, tmp_path / "b.lic"), (lic_file,)):
        status, _, err = lic("compress", *args, "-q", QUALITY)
        assert status == 1, err
        assert "is a .lic file already" in err and "lic decompress" in err, err
    assert not (tmp_path / "b.lic").exists()


def test_the_exif_orientation_is_applied_as_viewers_do(lic, tmp_path):
    from lic_core.images import to_rgb_array
    stored = np.random.default_rng(1).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    Image.fromarray(stored).save(tmp_path / "sideways.png", exif=exif)
    shown = np.rot90(stored, -1)
    assert np.array_equal(to_rgb_array(tmp_path / "sideways.png"), shown)
    with Image.open(tmp_path / "sideways.png") as img:
        assert np.array_equal(to_rgb_array(img), shown)
    status, _, err = lic("compress", tmp_path / "sideways.png", tmp_path / "s.lic", "-q", QUALITY)
    assert status == 0, err
    header = container.unpack((tmp_path / "s.lic").read_bytes())
    assert (header.width, header.height) == (24, 40)


def test_a_colour_profile_other_than_srgb_is_dropped_with_a_warning(lic, tmp_path):
    from lic_core.images import LossyConversionWarning, to_rgb_array
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    wide = png(tmp_path / "wide.png", icc_profile=lab)
    plain = png(tmp_path / "plain.png", icc_profile=srgb)
    with pytest.warns(LossyConversionWarning, match=r"ICC colour profile \(Lab identity built-in\): dropped"):
        to_rgb_array(wide)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_rgb_array(plain)  # sRGB is what a decoder assumes: nothing is lost
    status, _, err = lic("compress", wide, tmp_path / "w.lic", "-q", QUALITY)
    assert status == 0
    (line,) = [x for x in err.splitlines() if "warning" in x]
    assert line.startswith(f"lic: warning: {wide}: ") and "ICC colour profile" in line


def test_greyscale_input_is_noted_once_per_run(lic, tmp_path):
    from lic_core.images import to_rgb_array
    greys = [png(tmp_path / f"g{i}.png", mode="L", seed=i) for i in range(3)]
    notes = []
    rgb = to_rgb_array(greys[0], notes=notes)
    assert rgb.shape == (24, 40, 3) and len(notes) == 1 and "greyscale" in notes[0]
    status, _, err = lic("compress", *greys, "-o", tmp_path / "out", "-q", QUALITY)
    assert status == 0, err
    noted = [line for line in err.splitlines() if line.startswith("lic: note:")]
    assert len(noted) == 1 and "g0.png is greyscale: coded as RGB" in noted[0], err


# --------------------------------------------------------------------------- 14. outputs out of git's way

def test_the_default_output_folders_are_ignored_by_git():
    from lic_core.cli import eval as eval_command
    from lic_core.cli.main import build_parser
    parser = build_parser()
    defaults = {
        "demo": parser.parse_args(["demo"]).out,
        "analyze": parser.parse_args(["analyze", "x.png"]).out,
        "eval": eval_command.parse_args([]).out,
    }
    ignored = {line.strip().strip("/") for line in (REPO / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for command, folder in defaults.items():
        assert not Path(folder).is_absolute() and folder.strip("/") in ignored, (command, folder)


def test_demo_and_analyze_say_where_they_wrote(lic, tmp_path):
    src = png(tmp_path / "in.png", size=(64, 64))
    status, out, err = lic("analyze", src, "-m", "factorized", "--out", tmp_path / "a")
    assert status == 0, err
    assert re.search(rf"files in {re.escape(str(tmp_path / 'a'))}/", out)
