"""Variable-rate training (lic_core.training.variable_rate): gains, folding, the CLI path,
resume."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lic_core import zoo
from lic_core.cli.train import main as lic_train
from lic_core.errors import InvalidArgumentError
from lic_core.training import variable_rate as vr
from lic_core.training.data import CropSampler
from lic_core.training.freeze import freeze
from lic_core.training.objective import (balance_weights, lambda_for_quality, rate_distortion,
                                         rate_distortion_per_sample)
from lic_core.training.options import TrainingOptions
from lic_core.training.trainer import TrainConfig, Trainer
from lic_core.training.warm_start import copy_matching, read_init


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vr_imgs")
    rng = np.random.default_rng(1)
    for i in range(4):
        base = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(np.kron(base, np.ones((8, 8, 1), np.uint8))).save(folder / f"im{i}.png")
    return folder


def perturbed_wrapper(arch="hyperprior", qualities=(1, 4, 8), seed=0):
    torch.manual_seed(seed)
    w = vr.VariableRate(zoo.build(arch, N=8, M=12), qualities, lambda_ref=0.013)
    with torch.no_grad():  # gains away from their start, so folding has work to do
        w.log_gain.add_(0.3 * torch.randn_like(w.log_gain))
        w.log_inv_gain.add_(0.3 * torch.randn_like(w.log_inv_gain))
    return w.eval()


@pytest.mark.parametrize("text,expected", [("1-8", tuple(range(1, 9))), ("1,3,5", (1, 3, 5)),
                                           ("2-4, 7", (2, 3, 4, 7)), ("5,1,5", (1, 5))])
def test_quality_lists_parse_ranges_and_lists(text, expected):
    assert vr.parse_qualities(text) == expected


@pytest.mark.parametrize("bad", ["0-3", "9", "x", "3", "4-2", ""])
def test_bad_quality_lists_are_refused_by_name(bad):
    with pytest.raises(InvalidArgumentError, match="qualit"):
        vr.parse_qualities(bad)


def test_gains_start_at_the_square_root_of_the_lambda_ratio():
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
    for i, q in enumerate((1, 4, 8)):
        s = math.sqrt(lambda_for_quality(q) / 0.013)
        assert torch.allclose(w.log_gain[i].exp(), torch.full((12,), s))
        assert torch.allclose(w.log_inv_gain[i].exp(), torch.full((12,), 1 / s))


def test_the_reference_quality_is_the_plain_model():
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = w(x, torch.tensor([1]))["x_hat"], w.model(x)["x_hat"]
    assert torch.allclose(a, b, atol=1e-6)


def test_the_wrapper_hands_its_options_to_the_model():
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
    x, q_index = torch.rand(2, 3, 64, 64), torch.tensor([0, 2])
    skip = TrainingOptions(skip_synthesis=True)
    with torch.no_grad():
        assert w.train()(x, q_index, options=skip)["x_hat"] is None
        assert w.train()(x, q_index)["x_hat"].shape == x.shape  # no options: g_s runs
        assert w.eval()(x, q_index, options=skip)["x_hat"].shape == x.shape  # eval ignores them


def test_a_variable_rate_trainer_passes_its_options_to_its_training_forwards(image_folder):
    w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
    freeze(w, ["g_a", "g_s", "gains"])
    cfg = TrainConfig(lmbda=0.013, steps=1, batch=2, crop=64, warmup=1, val_every=0,
                      quiet=True, qualities=(1, 4, 8), lambda_ref=0.013)
    t = Trainer(w, CropSampler(str(image_folder), 64, seed=0), cfg)
    assert t.options.skip_synthesis
    stats = t.train_step()
    assert math.isnan(stats["psnr"])  # g_s skipped: the loss is the rate alone


@pytest.mark.parametrize("arch", ["hyperprior", "joint", "factorized"])
def test_folded_model_is_the_wrapper_at_that_quality(arch):
    """Each quality's exported model computes what the wrapper computed for it."""
    w = perturbed_wrapper(arch)
    x = torch.rand(1, 3, 64, 64)
    for i, q in enumerate(w.qualities):
        plain = zoo.build(arch, quality=q, N=8, M=12)
        copied, skipped = copy_matching(plain, w.folded_state(q))
        assert not skipped and copied
        plain.eval()
        with torch.no_grad():
            a, b = w(x, torch.tensor([i])), plain(x)
        assert torch.allclose(a["x_hat"], b["x_hat"], atol=1e-5)
        for k in a["likelihoods"]:
            assert torch.allclose(a["likelihoods"][k], b["likelihoods"][k], atol=1e-6)


def test_samples_of_one_batch_use_their_own_quality():
    w = perturbed_wrapper()
    x = torch.rand(1, 3, 64, 64).repeat(3, 1, 1, 1)
    with torch.no_grad():
        both = w(x, torch.tensor([0, 2, 1]))["x_hat"]
        alone = [w(x[:1], torch.tensor([i]))["x_hat"] for i in (0, 2, 1)]
    for k in range(3):
        assert torch.allclose(both[k], alone[k][0], atol=1e-5)
    assert not torch.allclose(both[0], both[1], atol=1e-3)


def test_wrapper_refuses_a_wrong_number_of_quality_indexes_and_untrained_qualities():
    w = perturbed_wrapper()
    with pytest.raises(InvalidArgumentError, match="one quality index per sample"):
        w(torch.rand(2, 3, 64, 64), torch.tensor([0]))
    with pytest.raises(InvalidArgumentError, match="not trained"):
        w.folded_state(5)


def test_per_sample_loss_matches_the_single_lambda_loss_when_all_lambdas_agree():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    out = {"x_hat": x + 0.01 * torch.randn_like(x),
           "likelihoods": {"y": torch.rand(2, 4, 2, 2).clamp_min(1e-3)}}
    lam = torch.full((2,), 0.013)
    a = rate_distortion_per_sample(out, x, lam, torch.ones(2))
    b = rate_distortion(out, x, 0.013)
    assert torch.allclose(a["loss"], b["loss"]) and torch.allclose(a["bpp"], b["bpp"])
    w = balance_weights(torch.tensor([0.0018, 0.013, 0.18]), 0.013)
    # λ_ref / λ is a float32 division: exact on some kernels, one ulp off on others
    assert w[0] > 1 and torch.isclose(w[1], torch.tensor(1.0)) and w[2] < 1


def vr_args(image_folder, out, *extra):
    return ["--N", "8", "--M", "12", "--data", str(image_folder), "--no-val", "--crop", "64",
            "--batch", "2", "--warmup", "1", "--quiet", "--threads", "1", "--out", str(out), *extra]


def test_cli_variable_rate_run_exports_one_zoo_file_per_quality_and_the_wrapper(image_folder, tmp_path):
    out = tmp_path / "w" / "hyperprior-q{q}.safetensors"
    assert lic_train(["--arch", "hyperprior", "--qualities", "2,5,8", "--steps", "3",
                       *vr_args(image_folder, out)]) == 0
    x = torch.rand(1, 3, 64, 64)
    for q in (2, 5, 8):
        path = tmp_path / "w" / f"hyperprior-q{q}.safetensors"
        meta = zoo.read_metadata(path)
        assert meta["quality"] == str(q) and float(meta["lambda"]) == lambda_for_quality(q)
        assert meta["variable_rate"] == "2,5,8" and "gains folded for q" + str(q) in meta["training_chain"]
        model = zoo.load_file(path)  # .quality stays None outside the zoo
        data, x_hat = model.compress(x, return_x_hat=True)
        assert torch.equal(model.decompress(data), x_hat)
    wrapper_file = tmp_path / "w" / "hyperprior-q2-8.safetensors"
    assert set(vr.GAIN_KEYS) <= set(read_init(str(wrapper_file))[0])

    # a joint model fitted on the frozen transforms and gains of that wrapper
    jout = tmp_path / "j" / "joint-q{q}.safetensors"
    assert lic_train(["--arch", "joint", "--qualities", "2,5,8", "--steps", "2",
                       "--init", str(wrapper_file), "--freeze", "g_a,g_s,gains",
                       *vr_args(image_folder, jout)]) == 0
    hp5 = zoo.load_file(tmp_path / "w" / "hyperprior-q5.safetensors")
    j5 = zoo.load_file(tmp_path / "j" / "joint-q5.safetensors")
    assert torch.equal(hp5.g_a[6].weight, j5.g_a[6].weight)  # same folded transform
    assert "g_a,g_s,gains frozen" in zoo.read_metadata(tmp_path / "j" / "joint-q5.safetensors")[
        "training_chain"]


def test_cli_refuses_an_output_without_a_quality_placeholder(image_folder, tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"\{q\}"):
        lic_train(["--arch", "hyperprior", "--qualities", "1-3", "--steps", "1",
                    *vr_args(image_folder, tmp_path / "x.safetensors")])


def test_variable_rate_resume_draws_the_same_qualities_and_ends_identical(image_folder, tmp_path):
    torch.set_num_threads(1)  # exact resume needs one summation order; conftest restores

    def trainer(seed):
        torch.manual_seed(seed)
        w = vr.VariableRate(zoo.build("hyperprior", N=8, M=12), (1, 4, 8), lambda_ref=0.013)
        cfg = TrainConfig(lmbda=0.013, steps=4, batch=2, crop=64, warmup=1, val_every=0,
                                quiet=True, qualities=(1, 4, 8), lambda_ref=0.013)
        return Trainer(w, CropSampler(str(image_folder), 64, seed=seed), cfg)

    straight = trainer(0)
    for _ in range(4):
        straight.train_step()
    first = trainer(0)
    for _ in range(2):
        first.train_step()
    first.save_checkpoint(str(tmp_path / "ck.pt"))
    resumed = trainer(99)
    resumed.resume(str(tmp_path / "ck.pt"))
    for _ in range(2):
        resumed.train_step()
    for (n, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), n
    assert not torch.equal(straight.model.log_gain, trainer(0).model.log_gain)  # gains learn


def test_models_whose_layers_cannot_take_the_gains_are_refused():
    model = zoo.build("hyperprior", N=8, M=12)
    model.g_a = torch.nn.Sequential(*model.g_a, torch.nn.ReLU())
    with pytest.raises(InvalidArgumentError, match="folds its gains"):
        vr.VariableRate(model, (1, 8), lambda_ref=0.013)


def test_init_mistakes_are_named_before_training(image_folder, tmp_path):
    out = tmp_path / "w" / "hyperprior-q{q}.safetensors"
    lic_train(["--arch", "hyperprior", "--qualities", "2,5", "--steps", "1",
                *vr_args(image_folder, out)])
    wrapper_file = str(tmp_path / "w" / "hyperprior-q2-5.safetensors")
    with pytest.raises(InvalidArgumentError, match="variable-rate model"):
        lic_train(["--arch", "hyperprior", "--quality", "2", "--steps", "1", "--init", wrapper_file,
                    *vr_args(image_folder, tmp_path / "x.safetensors")])
    with pytest.raises(InvalidArgumentError, match=r"leaves out \[5\]"):
        lic_train(["--arch", "hyperprior", "--qualities", "1-3", "--steps", "1", "--init", wrapper_file,
                    *vr_args(image_folder, tmp_path / "y-q{q}.safetensors")])


def test_a_variable_rate_init_grows_to_more_qualities(image_folder, tmp_path):
    """How zoo-v5 went from 1-8 to 1-10: the trained rows are kept, a new quality starts
    from its nearest trained one at √(λ ratio), and the run trains and exports them all."""
    lic_train(["--arch", "hyperprior", "--qualities", "2,5", "--steps", "1",
                *vr_args(image_folder, tmp_path / "w" / "hyperprior-q{q}.safetensors")])
    small = str(tmp_path / "w" / "hyperprior-q2-5.safetensors")
    state, meta = read_init(small)
    from lic_core.training.warm_start import extend_gains
    grown = extend_gains(state, (2, 5), (1, 2, 5, 9))
    for key, sign in zip(vr.GAIN_KEYS, (1, -1)):
        rows = grown[key]
        assert rows.shape == (4, state[key].shape[1])
        assert torch.equal(rows[1], state[key][0]) and torch.equal(rows[2], state[key][1])
        expect1 = state[key][0] + sign * 0.5 * math.log(lambda_for_quality(1) / lambda_for_quality(2))
        expect9 = state[key][1] + sign * 0.5 * math.log(lambda_for_quality(9) / lambda_for_quality(5))
        assert torch.allclose(rows[0], expect1) and torch.allclose(rows[3], expect9)
    lic_train(["--arch", "hyperprior", "--qualities", "2,5,9", "--steps", "1", "--init", small,
                *vr_args(image_folder, tmp_path / "g" / "hyperprior-q{q}.safetensors")])
    meta = zoo.read_metadata(tmp_path / "g" / "hyperprior-q2-9.safetensors")
    assert meta["variable_rate"] == "2,5,9"
    q9 = zoo.read_metadata(tmp_path / "g" / "hyperprior-q9.safetensors")
    assert (q9["quality"], float(q9["lambda"])) == ("9", lambda_for_quality(9))


def test_resume_refuses_other_qualities_and_keeps_the_checkpoints_reference(image_folder, tmp_path):
    ck = tmp_path / "ck.pt"
    lic_train(["--arch", "hyperprior", "--qualities", "2,5", "--steps", "1", "--checkpoint", str(ck),
                *vr_args(image_folder, tmp_path / "a-q{q}.safetensors")])
    with pytest.raises(InvalidArgumentError, match="same --qualities"):
        lic_train(["--arch", "hyperprior", "--qualities", "2,6", "--steps", "2", "--resume", str(ck),
                    *vr_args(image_folder, tmp_path / "b-q{q}.safetensors")])
    lic_train(["--arch", "hyperprior", "--qualities", "2,5", "--quality", "2", "--steps", "2",
                "--resume", str(ck), *vr_args(image_folder, tmp_path / "c-q{q}.safetensors")])
    # the first run had no --quality, so its reference was the list's middle quality (5);
    # the resumed run asked for 2 and still kept the checkpoint's reference
    assert float(zoo.read_metadata(tmp_path / "c-q2-5.safetensors")["lambda"]) == 0.025
