"""The weights in lic_core/zoo/weights/ as a user gets them: what ships, what each file says about
how it was made, that each decodes its own streams, and that quality orders rate and
distortion on a real photo (a bundled Kodak sample)."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lic_core
from lic_core import zoo
from lic_core.training.objective import lambda_for_quality

WEIGHTS = Path(zoo.__file__).resolve().parent / "weights"
SAMPLE = Path(lic_core.__file__).resolve().parent / "samples" / "kodim23.png"
#: the model files (the transforms and probability networks a model is built from); a
#: release's decoder weights files (*.decoder.safetensors, zoo-v5 on) are the engine's
DECODER_FILES = sorted(WEIGHTS.glob("*.decoder.safetensors"))
FILES = sorted(set(WEIGHTS.glob("*.safetensors")) - set(DECODER_FILES))
REQUIRED = ("factorized", "hyperprior", "joint")


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="module")
def photo():
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"))[128:320, 256:512]  # 192×256 crop
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255


def test_three_families_ship_at_least_three_qualities_within_60_mb():
    shipped = zoo.list_models()
    for name in REQUIRED:
        assert len(shipped[name]) >= 3, (name, shipped[name])
    total = sum(f.stat().st_size for f in FILES)
    assert total <= 60 * 10 ** 6, f"{total / 1e6:.1f} MB of weights"
    # the decoder files add the integer synthesis and a copy of the integer prior, one
    # per model file: what a decoder without torch (C, the browser) fetches; 30 MB of it
    decoders = sum(f.stat().st_size for f in DECODER_FILES)
    assert len(DECODER_FILES) == len(FILES) and decoders <= 30 * 10 ** 6, f"{decoders / 1e6:.1f} MB"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_file_records_how_it_was_trained(path):
    meta = zoo.read_metadata(path)
    name, span = path.stem.rsplit("-q", 1)
    assert meta["architecture"] == name
    if "-" in span:  # a variable-rate file: every quality it names, each with its own λ
        first, last = map(int, span.split("-"))
        qualities = [int(q) for q in meta["variable_rate"].split(",")]
        assert qualities[0] == first and qualities[-1] == last and meta["quality"] == ""
        assert [float(v) for v in meta["lambdas"].split(",")] == [
            lambda_for_quality(q) for q in qualities]
    else:
        assert meta["quality"] == span
        assert float(meta["lambda"]) == lambda_for_quality(int(span))
    for key in ("N", "M", "steps", "steps_total", "crop", "batch", "data", "lr", "lr_schedule",
                "lic_core_version", "training_chain", "train_seconds", "lambda"):
        assert meta.get(key), (path.name, key)
    assert meta["data"].replace(os.sep, "/").endswith("shared/data/train")
    assert int(meta["steps_total"]) >= int(meta["steps"]) > 0


@pytest.mark.parametrize("name", REQUIRED)
def test_rate_rises_and_distortion_falls_with_quality_on_a_photo(name, photo):
    """Each shipped model round-trips exactly, and a higher quality spends more bits for a
    closer reconstruction: what a trained family must do, whatever its absolute figures."""
    bpp, psnr = [], []
    for q in zoo.list_models()[name]:
        model = zoo.load(name, q)
        data, x_hat = model.compress(photo, return_x_hat=True)
        assert torch.equal(model.decompress(data), x_hat)
        bpp.append(8 * len(data) / (photo.shape[2] * photo.shape[3]))
        mse = torch.mean((torch.round(x_hat * 255) / 255 - photo) ** 2).item()
        psnr.append(10 * np.log10(1 / mse))
    assert all(a < b for a, b in zip(bpp, bpp[1:])), bpp
    assert all(a < b for a, b in zip(psnr, psnr[1:])), psnr
