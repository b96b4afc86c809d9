"""Properties of lic_core.training and ``lic train`` on tiny models and tiny images (each
test a few seconds)."""
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lic_core import zoo
from lic_core.cli.train import main as lic_train
from lic_core.errors import InvalidArgumentError
from lic_core.training.data import CropSampler
from lic_core.training.freeze import freeze
from lic_core.training.objective import lambda_for_quality, rate_distortion
from lic_core.training.options import TrainingOptions
from lic_core.training.schedule import Schedule
from lic_core.training.trainer import TrainConfig, Trainer
from lic_core.training.warm_start import copy_matching, rescale_latents


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Six small RGB PNGs, one smaller than the crop (to exercise padding)."""
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(80, 96), (96, 80), (64, 64), (72, 100), (90, 90), (40, 50)]):
        base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        img = np.kron(base, np.ones((8, 8, 1), np.uint8))[:h, :w]
        Image.fromarray(img).save(folder / f"img{i}.png")
    return folder


def tiny_trainer(image_folder, arch="factorized", steps=4, seed=0, **cfg):
    torch.manual_seed(seed)
    model = zoo.build(arch, N=8, M=8)
    sampler = CropSampler(str(image_folder), 64, seed=seed)
    config = TrainConfig(lmbda=0.013, steps=steps, batch=2, crop=64, lr=1e-3, warmup=2,
                               val_every=0, quiet=True, **cfg)
    return Trainer(model, sampler, config)


def test_lambda_follows_quality_and_rejects_others():
    assert [lambda_for_quality(q) for q in (1, 4, 8, 9, 10)] == [0.0018, 0.0130, 0.18, 0.36, 0.72]
    for bad in (0, 11, 2.5, "3"):
        with pytest.raises(InvalidArgumentError, match="quality"):
            lambda_for_quality(bad)


def test_crop_sampler_gives_unit_range_crops_of_the_requested_size(image_folder):
    sampler = CropSampler(str(image_folder), 64, seed=1)
    assert len(sampler.images) == 6
    assert all(min(img.shape[:2]) >= 64 for img in sampler.images)  # small image padded
    x = sampler.batch(5)
    assert x.shape == (5, 3, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_crop_sampler_is_reproducible_from_its_seed(image_folder):
    a = CropSampler(str(image_folder), 64, seed=7).batch(3)
    b = CropSampler(str(image_folder), 64, seed=7).batch(3)
    c = CropSampler(str(image_folder), 64, seed=8).batch(3)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_missing_or_empty_folders_raise_clear_errors(tmp_path):
    with pytest.raises(InvalidArgumentError, match="not found"):
        CropSampler(str(tmp_path / "nope"), 64)
    with pytest.raises(InvalidArgumentError, match="no images"):
        CropSampler(str(tmp_path), 64)


def test_rate_distortion_loss_is_lambda_mse_plus_bits_per_pixel():
    x = torch.zeros(2, 3, 4, 4)
    out = {"x_hat": torch.full_like(x, 0.1),
           "likelihoods": {"y": torch.full((2, 1, 2, 2), 0.5), "z": torch.full((2, 1, 1, 1), 0.25)}}
    rd = rate_distortion(out, x, lmbda=0.01)
    bits = 2 * 4 * 1 + 2 * 1 * 2  # y: 8 symbols × 1 bit, z: 2 symbols × 2 bits
    assert rd["bpp"].item() == pytest.approx(bits / (2 * 16))
    assert rd["mse"].item() == pytest.approx(0.01)
    assert rd["loss"].item() == pytest.approx(0.01 * 255 ** 2 * 0.01 + bits / 32)
    assert rd["psnr"] == pytest.approx(20.0)


def test_schedule_warms_up_then_decays_to_its_floor():
    s = Schedule(lr=1e-3, steps=100, warmup=10, final_fraction=0.1)
    assert s(0, 0) == pytest.approx(1e-4)
    cos = lambda p: 1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))  # noqa: E731
    assert s(5, 0) == pytest.approx(cos(0.05) * 0.55)
    assert s(10, 0) == pytest.approx(cos(0.1))
    assert s(55, 0) == pytest.approx(cos(0.55))
    assert s(100, 0) == pytest.approx(1e-4)
    timed = Schedule(lr=1e-3, steps=10 ** 6, warmup=0, max_seconds=60)
    assert timed.progress(5, 30.0) == pytest.approx(0.5)  # the wall clock ends it first


def test_main_loss_trains_the_transforms_and_aux_loss_only_the_quantiles(image_folder):
    t = tiny_trainer(image_folder)
    before = {n: p.detach().clone() for n, p in t.model.named_parameters()}
    # the quantiles go to the aux optimizer, nothing else does
    aux_ids = {id(p) for g in t.aux_optimizer.param_groups for p in g["params"]}
    main_ids = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    names = {id(p): n for n, p in t.model.named_parameters()}
    assert {names[i] for i in aux_ids} == {"entropy_bottleneck.quantiles"}
    assert not aux_ids & main_ids
    aux0 = t.model.aux_loss().item()
    for _ in range(3):
        stats = t.train_step()
    assert all(math.isfinite(v) for v in stats.values())
    changed = {n for n, p in t.model.named_parameters() if not torch.equal(p, before[n])}
    assert "g_a.0.weight" in changed and "entropy_bottleneck.quantiles" in changed
    assert t.model.aux_loss().item() < aux0


def test_resume_continues_exactly_where_the_checkpoint_stopped(image_folder, tmp_path):
    torch.set_num_threads(1)  # exact resume needs one summation order; conftest restores
    straight = tiny_trainer(image_folder, steps=6)
    for _ in range(6):
        straight.train_step()

    first = tiny_trainer(image_folder, steps=6)
    for _ in range(3):
        first.train_step()
    ckpt = tmp_path / "ckpt.pt"
    first.save_checkpoint(str(ckpt))
    resumed = tiny_trainer(image_folder, steps=6, seed=123)  # different init and crops
    resumed.resume(str(ckpt))
    assert resumed.step == 3
    for _ in range(3):
        resumed.train_step()
    for (n, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), n


def test_resume_from_a_missing_checkpoint_raises(image_folder, tmp_path):
    t = tiny_trainer(image_folder)
    with pytest.raises(InvalidArgumentError, match="checkpoint not found"):
        t.resume(str(tmp_path / "absent.pt"))


def test_copy_matching_moves_shared_transforms_from_hyperprior_to_joint():
    hp = zoo.build("hyperprior", N=8, M=12)
    joint = zoo.build("joint", N=8, M=12)
    copied, skipped = copy_matching(joint, hp.state_dict())
    assert "g_a.0.weight" in copied and "g_s.6.weight" in copied and "h_a.2.weight" in copied
    assert "h_s.0.weight" in skipped  # N→N in the hyperprior, N→M in the joint model
    assert torch.equal(joint.g_a[0].weight, hp.g_a[0].weight)


def test_main_trains_exports_and_the_zoo_loads_the_file(image_folder, tmp_path, monkeypatch):
    out = tmp_path / "weights" / "factorized-q3.safetensors"
    log = tmp_path / "log.jsonl"
    ckpt = tmp_path / "ckpt.pt"
    rc = lic_train(["--arch", "factorized", "--quality", "3", "--N", "8", "--M", "8",
                     "--data", str(image_folder), "--val", str(image_folder), "--crop", "64",
                     "--batch", "2", "--steps", "4", "--warmup", "1", "--val-every", "2",
                     "--checkpoint", str(ckpt), "--out", str(out), "--log-file", str(log),
                     "--quiet", "--threads", "1"])
    assert rc == 0 and out.is_file() and ckpt.is_file()
    meta = zoo.read_metadata(out)
    assert meta["architecture"] == "factorized" and meta["quality"] == "3"
    assert float(meta["lambda"]) == pytest.approx(0.0067)
    assert meta["steps"] == "4" and meta["crop"] == "64" and meta["N"] == "8"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert any("val_bpp" in r for r in records) and records[-1].get("final")
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(out.parent))
    model = zoo.load("factorized", 3)
    x = torch.rand(1, 3, 64, 64)
    data = model.compress(x)
    assert isinstance(data, bytes) and model.decompress(data).shape == x.shape


def test_init_flag_starts_from_other_weights(image_folder, tmp_path):
    src = zoo.build("factorized", N=8, M=8)
    with torch.no_grad():
        src.g_a[0].weight.fill_(0.0123)
    path = zoo.save_weights(src, tmp_path / "src.safetensors")
    out = tmp_path / "dst.safetensors"
    lic_train(["--arch", "factorized", "--quality", "2", "--N", "8", "--M", "8",
                "--data", str(image_folder), "--no-val", "--crop", "64", "--batch", "1",
                "--steps", "1", "--lr", "1e-12", "--warmup", "0", "--init", str(path),
                "--out", str(out), "--quiet", "--threads", "1"])
    loaded = zoo.from_compressai("factorized", str(out))
    assert torch.allclose(loaded.g_a[0].weight, torch.full_like(loaded.g_a[0].weight, 0.0123), atol=1e-6)
    meta = zoo.read_metadata(out)
    assert meta["init"] == "src.safetensors"
    assert meta["training_chain"] == (
        "src.safetensors -> factorized@lambda=0.0035:1 steps")
    assert meta["steps_total"] == "1"


def test_zero_steps_with_init_derives_another_quality_with_half_precision_transforms(
        image_folder, tmp_path):
    """How the zoo's other qualities are made: rescale a trained file's latents to the new
    λ, train 0 steps, store g_a/g_s as float16; the file loads to the model that was saved."""
    torch.manual_seed(0)
    src = zoo.build("hyperprior", N=8, M=8)
    src.quality = 4
    path = zoo.save_weights(src, tmp_path / "hyperprior-q4.safetensors", **{"lambda": 0.013, "steps": 10})
    out = tmp_path / "weights" / "hyperprior-q6.safetensors"
    lic_train(["--arch", "hyperprior", "--quality", "6", "--N", "8", "--M", "8",
                "--data", str(image_folder), "--no-val", "--steps", "0", "--init", str(path),
                "--half", "g_a,g_s", "--out", str(out), "--quiet", "--threads", "1"])
    from safetensors import safe_open
    with safe_open(str(out), "pt") as f:
        dtypes = {k: f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes["g_a.0.weight"] == torch.float16 and dtypes["g_s.6.weight"] == torch.float16
    assert dtypes["h_s.0.weight"] == torch.float32
    meta = zoo.read_metadata(out)
    assert meta["steps"] == "0" and meta["steps_total"] == "10"
    assert meta["training_chain"].endswith("hyperprior@lambda=0.0483:0 steps (latents x1.9275 first)")
    assert meta["storage"].startswith("float16: g_a, g_s")
    model = zoo.load_file(out)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y = model.g_a(x)
        y_src = src.g_a(x)
    # the derived model codes y · gain (float16 transforms: to ~1e-3 relative)
    assert torch.allclose(y, y_src * 1.9275, rtol=2e-2, atol=2e-2)
    assert model.decompress(model.compress(x)).shape == x.shape


def test_half_storage_rejects_prefixes_that_name_nothing(tmp_path):
    with pytest.raises(InvalidArgumentError, match="names no parameter"):
        zoo.save_weights(zoo.build("factorized", N=8, M=8), tmp_path / "x.safetensors", half=["nope"])


@pytest.mark.parametrize("arch", ["factorized", "hyperprior", "mean-scale", "joint"])
def test_rescaled_latents_change_only_the_quantisation_step(arch):
    torch.manual_seed(0)
    model = zoo.build(arch, N=8, M=12).eval()
    gain = 1.7
    scaled = zoo.build(arch, N=8, M=12).eval()
    copy_matching(scaled, rescale_latents(model.state_dict(), arch, gain))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y, y2 = model.g_a(x), scaled.g_a(x)
        assert torch.allclose(y2, gain * y, rtol=1e-5, atol=1e-6)
        assert torch.allclose(scaled.g_s(y2), model.g_s(y), atol=1e-5)  # same image from same y
        if arch == "factorized":
            v = y.permute(1, 0, 2, 3).reshape(12, 1, -1)
            f1 = model.entropy_bottleneck._logits_cumulative(v, stop_gradient=True)
            f2 = scaled.entropy_bottleneck._logits_cumulative(gain * v, stop_gradient=True)
            assert torch.allclose(f1, f2, atol=1e-4)  # density of y' is the density of y, stretched
        elif arch in ("hyperprior", "mean-scale"):
            inp = model.hyper_analysis_input
            z, z2 = model.h_a(inp(y)), scaled.h_a(scaled.hyper_analysis_input(y2))
            assert torch.allclose(z, z2, atol=1e-5)  # the hyper-latent does not move
            assert torch.allclose(scaled.h_s(z2), gain * model.h_s(z), atol=1e-5)
        else:
            assert torch.allclose(scaled.h_a(y2), model.h_a(y), atol=1e-5)
            ctx = model.context_prediction(y)
            ctx2 = scaled.context_prediction(y2)
            assert torch.allclose(ctx2 - scaled.context_prediction.bias.view(1, -1, 1, 1),
                                  ctx - model.context_prediction.bias.view(1, -1, 1, 1), atol=1e-5)


def test_rescale_refuses_a_nonpositive_gain():
    with pytest.raises(InvalidArgumentError, match="gain"):
        rescale_latents(zoo.build("factorized", N=8, M=8).state_dict(), "factorized", 0.0)


def test_frozen_transforms_stay_fixed_while_the_entropy_model_trains(image_folder):
    t = tiny_trainer(image_folder, arch="hyperprior")
    n = freeze(t.model, ["g_a", "g_s"])
    t = Trainer(t.model, t.sampler, t.cfg)  # optimisers built after freezing
    assert n == sum(1 for k, _ in t.model.named_parameters() if k.startswith(("g_a.", "g_s.")))
    before = {k: v.detach().clone() for k, v in t.model.named_parameters()}
    for _ in range(2):
        t.train_step()
    after = dict(t.model.named_parameters())
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("g_a.", "g_s.")))
    assert not torch.equal(before["h_s.0.weight"], after["h_s.0.weight"])
    with pytest.raises(InvalidArgumentError, match="matches no parameter"):
        freeze(t.model, ["nothing_here"])


def test_a_fit_on_frozen_transforms_skips_synthesis_and_minimises_the_rate(image_folder):
    t = tiny_trainer(image_folder, arch="joint")
    assert not t.options.skip_synthesis  # transforms train: x̂ is needed
    freeze(t.model, ["g_a", "g_s"])
    t = Trainer(t.model, t.sampler, t.cfg)
    assert t.options.skip_synthesis
    x = t.sampler.batch(2)
    with torch.no_grad():
        out = t.model.train()(x, options=t.options)
        assert out["x_hat"] is None
        rd = rate_distortion(out, x, 0.013)
        assert rd["loss"] == rd["bpp"] and math.isnan(rd["psnr"])
        assert t.model.train()(x)["x_hat"].shape == x.shape  # without options g_s runs
        # eval mode always synthesises, whatever options it is handed
        assert t.model.eval()(x, options=t.options)["x_hat"].shape == x.shape
    stats = t.train_step()
    assert math.isfinite(stats["bpp"]) and stats["loss"] == pytest.approx(stats["bpp"])
    for p in t.model.parameters():  # unfrozen again: a new trainer synthesises again
        p.requires_grad_(True)
    assert not Trainer(t.model, t.sampler, t.cfg).options.skip_synthesis


def test_bf16_transforms_train_and_leave_eval_and_coding_in_float32(image_folder):
    t = tiny_trainer(image_folder, arch="hyperprior", bf16=True)
    assert t.options.transform_autocast == torch.bfloat16
    x = t.sampler.batch(2)
    t.model.train()
    with torch.no_grad():
        torch.manual_seed(1)  # the same quantisation noise in both training forwards
        autocast = t.model(x, options=t.options)["x_hat"]
        torch.manual_seed(1)
        plain = t.model(x)["x_hat"]
    assert autocast.dtype == torch.float32  # float32 handed on to the loss
    assert not torch.equal(autocast, plain)  # the options are what autocasts
    stats = t.train_step()
    assert all(math.isfinite(v) for v in stats.values())
    t.model.eval()
    with torch.no_grad():
        a = t.model(x, options=t.options)["x_hat"]
        b = t.model(x)["x_hat"]
    assert torch.equal(a, b)  # eval mode never autocasts


def test_training_options_are_made_by_one_validated_constructor():
    assert TrainingOptions() == TrainingOptions("noise", None, False)  # CompressAI's forward
    options = TrainingOptions(quantization="mixed", skip_synthesis=True)
    assert options == TrainingOptions("mixed", None, True)
    with pytest.raises(InvalidArgumentError, match="quantization"):
        TrainingOptions(quantization="bogus")
    with pytest.raises(InvalidArgumentError, match="transform_autocast"):
        TrainingOptions(transform_autocast=torch.float64)
    with pytest.raises(InvalidArgumentError, match="skip_synthesis"):
        TrainingOptions(skip_synthesis=1)
    with pytest.raises(TypeError, match="train_quantization"):
        TrainingOptions(train_quantization="mixed")
    with pytest.raises(InvalidArgumentError, match="quantization"):  # a change is checked too
        dataclasses.replace(options, quantization="bogus")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.skip_synthesis = False
    assert options == TrainingOptions("mixed", None, True)  # a refused change changes nothing


def test_the_trainer_builds_its_options_from_its_config(image_folder):
    t = tiny_trainer(image_folder, arch="hyperprior", quantization="mixed", bf16=True)
    assert t.options == TrainingOptions("mixed", torch.bfloat16, False)
    with pytest.raises(InvalidArgumentError, match="quantization"):  # refused before training
        tiny_trainer(image_folder, quantization="rounded")


@pytest.mark.parametrize("arch", ["factorized", "hyperprior", "mean-scale", "joint"])
def test_each_family_names_existing_layers_around_its_latent(arch):
    model = zoo.build(arch, N=8, M=12)
    latent = model.latent_interface()
    modules = dict(model.named_modules())
    names = [latent.analysis_output, latent.synthesis_input, *latent.entropy_readers,
             *latent.entropy_predictors] + ([latent.density] if latent.density else [])
    assert all(name in modules for name in names), names
    assert modules[latent.analysis_output].out_channels == 12  # it makes the M latents
    assert all(modules[n].in_channels == 12 for n in (latent.synthesis_input, *latent.entropy_readers))


def test_the_command_builds_zoo_models_only(image_folder, tmp_path):
    with pytest.raises(SystemExit):  # no option runs code from a file
        lic_train(["--arch", "factorized", "--quality", "2", "--data", str(image_folder),
                   "--factory", str(tmp_path / "x.py") + ":build"])
    with pytest.raises(InvalidArgumentError, match="unknown model"):
        lic_train(["--arch", "my-net", "--quality", "2", "--data", str(image_folder), "--steps", "0"])
