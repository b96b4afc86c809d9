"""Encoder effort levels (lic_core.zoo.effort): every level round-trips with the one
decoder, higher levels never write a file with a larger objective (the coded one: the
file's bits + λ·MSE), and what the decoder does is independent of the level."""
import numpy as np
import pytest
import torch

import lic_core
from lic_core import coder, container, zoo
from lic_core.errors import InvalidArgumentError
from lic_core.zoo import effort

FAMILIES = ["factorized", "hyperprior", "joint"]


@pytest.fixture(scope="module")
def image():
    from PIL import Image
    from lic_core.api import sample_paths
    with Image.open(sorted(sample_paths())[0]) as im:
        rgb = np.asarray(im.convert("RGB"))[200:248, 300:356]
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


@pytest.fixture(scope="module", params=FAMILIES)
def model(request):
    return zoo.load(request.param, 4)


def test_the_search_weighs_distortion_with_the_qualitys_training_lambda():
    # the values training used (docs/training.md), written out: a changed table must show here
    trained = {1: 0.0018, 4: 0.013, 8: 0.18, 9: 0.36, 10: 0.72}
    for q in set(trained) & set(zoo.list_models()["hyperprior"]):
        assert effort.quality_lambda(zoo.load("hyperprior", q)) == trained[q]
    foreign = zoo.build("hyperprior", N=8, M=12)  # not from the zoo: quality 4's λ
    assert foreign.quality is None and effort.quality_lambda(foreign) == trained[4]


def test_levels_are_nested_prefixes_of_one_search():
    for schedule in (effort.STEPS, effort.JOINT_STEPS):
        assert len(schedule) == len(effort.EFFORTS) and schedule[0] == 0
        assert all(a < b for a, b in zip(schedule, schedule[1:]))
    assert effort.steps_for(zoo.load("joint", 1)) == effort.JOINT_STEPS
    assert effort.steps_for(zoo.load("hyperprior", 1)) == effort.STEPS


@pytest.fixture(scope="module")
def levels(model, image):
    """Every level's latents from one search at effort 9 (zoo.effort.refine_levels), the
    coded objective of each level's file, and the search's history of checks."""
    h, w = image.shape[-2:]
    x = model.pad(image)
    chosen, history = effort.refine_levels(model, x, 9, h, w)
    lam = effort.quality_lambda(model)
    scores = [effort.coded_objective(model, x, *chosen[level], lam, h, w)[0]
              for level in effort.EFFORTS]
    schedule = effort.steps_for(model)
    checked = sorted({s for s in range(0, schedule[9] + 1, effort.CHECK_EVERY)} | set(schedule))
    assert [step for step, _ in history] == checked
    return chosen, scores, history


def test_every_effort_level_round_trips(model, image, levels):
    chosen, _, _ = levels
    for level in effort.EFFORTS:
        data, x_hat = model.compress(image, return_x_hat=True, latents=chosen[level])
        assert torch.equal(model.decompress(data), x_hat), level


def test_compress_at_a_level_codes_that_levels_latents(model, image, levels):
    chosen, _, _ = levels
    for level in (0, 2):
        assert model.compress(image, effort=level) == model.compress(image, latents=chosen[level])


def test_a_higher_effort_never_writes_a_file_with_a_larger_objective(levels):
    _, scores, _ = levels
    assert all(b <= a for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] < scores[0], f"effort 9 found nothing better than g_a's latents: {scores}"


def test_each_level_keeps_the_best_file_checked_within_its_steps(model, levels):
    # the coded objective picks: a level's file scores what the best check up to its
    # last step scored, so what the search reports is what the file is
    _, scores, history = levels
    for level in effort.EFFORTS:
        within = [value for step, value in history if step <= effort.steps_for(model)[level]]
        assert scores[level] == pytest.approx(min(within), rel=1e-12), level


def test_the_coded_objective_is_the_files_own(model, image, levels):
    # bits of the written file's streams and the 8-bit decoded image's MSE, for g_a's
    # latents and for the ones effort 9 chose
    chosen, _, _ = levels
    h, w = image.shape[-2:]
    x = model.pad(image)
    lam = effort.quality_lambda(model)
    for level in (0, 9):
        value, bpp, mse = effort.coded_objective(model, x, *chosen[level], lam, h, w)
        data = model.compress(image, latents=chosen[level])
        assert bpp == 8 * sum(len(s) for s in container.unpack(data).streams) / (h * w)
        decoded = torch.round(model.decompress(data) * 255) / 255
        assert mse == pytest.approx(float(torch.mean((decoded - image) ** 2)), rel=1e-6)
        assert value == pytest.approx(bpp + lam * 255 ** 2 * mse)


@pytest.mark.parametrize("name", ["hyperprior", "joint"])
def test_the_search_is_deterministic_and_leaves_torchs_generator_alone(image, name):
    model = zoo.load(name, 3)
    state = torch.get_rng_state()
    assert model.compress(image, effort=3) == model.compress(image, effort=3)
    assert torch.equal(torch.get_rng_state(), state)  # the search seeds its own generator


def test_latents_and_an_effort_together_are_refused(image):
    model = zoo.load("factorized", 1)
    with pytest.raises(InvalidArgumentError, match="latents"):
        model.compress(image, effort=2, latents=(model.analysis(model.pad(image)), None))


def test_the_decoder_does_the_same_work_whatever_the_effort(model, image, levels):
    # same header layout, same latent shapes, same symbol counts per stream: decoding
    # cost does not depend on the level (bench/effort.py times it)
    chosen, _, _ = levels
    files = [container.unpack(model.compress(image, latents=chosen[level])) for level in (0, 9)]
    assert files[0].latent_shapes == files[1].latent_shapes
    assert [coder.stream_info(s)["n_symbols"] for s in files[0].streams] == \
           [coder.stream_info(s)["n_symbols"] for s in files[1].streams]


@pytest.mark.parametrize("bad", [-1, 10, 2.5, True, "9"])
def test_an_effort_outside_0_to_9_is_refused(image, bad):
    with pytest.raises(InvalidArgumentError, match="effort"):
        zoo.load("factorized", 1).compress(image, effort=bad)
    rgb = (image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    with pytest.raises(InvalidArgumentError, match="effort"):
        lic_core.compress(rgb, "factorized", 1, effort=bad)


def test_the_api_takes_an_effort_and_reports_progress(image):
    rgb = (image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    seen = []
    data = lic_core.compress(rgb, "hyperprior", 2, effort=2, progress=lambda s, n: seen.append((s, n)))
    assert seen[-1] == (effort.STEPS[2], effort.STEPS[2])
    assert lic_core.decompress(data).shape == rgb.shape


def test_lic_compress_takes_an_effort_and_refuses_one_out_of_range(tmp_path):
    import subprocess
    import sys
    from PIL import Image
    from lic_core.api import sample_paths
    src = tmp_path / "crop.png"
    with Image.open(sorted(sample_paths())[0]) as im:
        im.convert("RGB").crop((300, 200, 364, 248)).save(src)

    def lic(*args):
        return subprocess.run([sys.executable, "-m", "lic_core", *map(str, args)],
                              capture_output=True, text=True, timeout=300)
    done = lic("compress", src, tmp_path / "a.lic", "-m", "hyperprior", "-q", "2", "--effort", "3")
    assert done.returncode == 0, done.stderr
    assert "effort 3" in done.stdout
    back = lic("decompress", tmp_path / "a.lic", tmp_path / "a.png")
    assert back.returncode == 0, back.stderr
    bad = lic("compress", src, tmp_path / "b.lic", "--effort", "12")
    assert bad.returncode == 2 and "effort must be an integer 0..9" in bad.stderr
