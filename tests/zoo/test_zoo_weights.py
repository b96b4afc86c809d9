"""Weight files: save_weights → load round trip, metadata, list_models, and refusal of
tampered files with WeightsError at load time."""
import struct
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
# The compiled faces are plain imports: a broken build must fail here, never skip.
from lic_core import coder, tables  # noqa: E402,F401

from safetensors.torch import load_file, save_file  # noqa: E402

import lic_core.zoo as zoo  # noqa: E402
from lic_core import container  # noqa: E402
from lic_core.errors import InvalidArgumentError, WeightsError  # noqa: E402


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def _saved(weights_dir, name="hyperprior", quality=3, **meta):
    torch.manual_seed(0)
    model = zoo.build(name, N=8, M=12)
    path = weights_dir / f"{name}-q{quality}.safetensors"
    zoo.save_weights(model, path, quality=quality, **meta)
    return model, path


def test_saved_weights_load_with_quality_metadata_and_same_outputs(weights_dir):
    model, path = _saved(weights_dir, **{"lambda": 0.013, "steps": 1000, "crop": 128, "data": "x"})
    meta = zoo.read_metadata(path)
    assert meta["architecture"] == "hyperprior" and meta["N"] == "8" and meta["M"] == "12"
    assert meta["quality"] == "3" and meta["lambda"] == "0.013" and meta["steps"] == "1000"
    assert "lic_core_version" in meta and meta["format"].startswith("lic-core-weights")
    loaded = zoo.load("bmshj2018-hyperprior", 3)
    assert loaded.name == "hyperprior" and loaded.quality == 3 and not loaded.training
    x = torch.rand(1, 3, 64, 64)
    model.eval()
    header = container.unpack(loaded.compress(x))  # the container names model and quality
    assert (header.model, header.quality, header.height, header.width) == ("hyperprior", 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["x_hat"], loaded(x)["x_hat"])


def test_a_file_records_the_quality_of_the_weights_that_wrote_it(weights_dir):
    _saved(weights_dir, "hyperprior", 3)
    torch.manual_seed(1)  # other weights for quality 5
    zoo.save_weights(zoo.build("hyperprior", N=8, M=12), weights_dir / "hyperprior-q5.safetensors",
                     quality=5)
    x = torch.rand(1, 3, 40, 72)
    q3, q5 = zoo.load("hyperprior", 3), zoo.load("hyperprior", 5)
    file3, file5 = q3.compress(x), q5.compress(x)
    assert container.unpack(file3).quality == 3 and container.unpack(file5).quality == 5
    assert file3[10] == 3 and file5[10] == 5  # byte 10 of the header (docs/format.md)
    assert q3.decompress(file3).shape == q5.decompress(file5).shape == (1, 3, 40, 72)
    with pytest.raises(WeightsError, match="quality 3"):  # the file needs other weights
        q5.decompress(file3)


def test_shipped_qualities_give_their_own_headers_and_rising_rates(monkeypatch):
    # The shipped zoo (not a test folder): one crop of a sample image at three qualities
    # of each shipped family. A higher quality must cost more bytes and come closer
    # to the image; each file names its own quality and decodes only with it.
    import numpy as np
    from PIL import Image
    from lic_core.api import sample_paths
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)
    rgb = np.asarray(Image.open(sample_paths()[0]).convert("RGB"))[64:128, 96:192]
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
    for name in ("factorized", "hyperprior", "joint"):
        sizes, errors = [], []
        for quality in (1, 4, 8):
            model = zoo.load(name, quality)
            data = model.compress(x)
            header = container.unpack(data)
            assert (header.model, header.quality) == (name, quality)
            sizes.append(len(data))
            errors.append(float(((model.decompress(data) - x) ** 2).mean()))
        assert sizes[0] < sizes[1] < sizes[2], sizes
        assert errors[0] > errors[1] > errors[2], errors
        with pytest.raises(WeightsError, match="quality 8"):
            zoo.load(name, 1).decompress(data)


def test_list_models_reports_shipped_qualities(weights_dir):
    _saved(weights_dir, "factorized", 2)
    _saved(weights_dir, "factorized", 5)
    listed = zoo.list_models()
    assert listed["factorized"] == [2, 5]
    assert listed["joint"] == [] and set(listed) == {"factorized", "hyperprior", "mean-scale", "joint", "space-channel"}


def test_unknown_quality_or_name_lists_what_ships(weights_dir):
    _saved(weights_dir, "hyperprior", 3)
    # what ships of that family only (issue 21 point 24), not of every family
    with pytest.raises(InvalidArgumentError,
                       match=r"hyperprior ships quality 3 in the weights release 'local'$"):
        zoo.load("hyperprior", 4)
    with pytest.raises(InvalidArgumentError, match="valid names"):
        zoo.load("bpg", 3)


def _tamper(path, edit):
    tensors = load_file(str(path))
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


@pytest.mark.parametrize("edit,match", [
    (lambda t, m: t.__setitem__("g_s.0.weight", torch.zeros(3, 3, 5, 5)), "shape"),
    (lambda t, m: t["h_s.2.weight"].view(-1).__setitem__(0, float("nan")), "NaN"),
    (lambda t, m: t.pop("gaussian_conditional._quantized_cdf"), "missing"),
    (lambda t, m: t.pop("entropy_bottleneck._offset"), "missing"),
    (lambda t, m: t["entropy_bottleneck._quantized_cdf"].__setitem__((0, 1), 70000), "tables"),
    (lambda t, m: t.__setitem__("gaussian_conditional._cdf_length",
                                t["gaussian_conditional._cdf_length"][:10].clone()), "tables"),
    (lambda t, m: t.__setitem__("extra.weight", torch.zeros(1)), "unexpected"),
    (lambda t, m: m.__setitem__("architecture", "joint"), "joint"),
    (lambda t, m: m.__setitem__("N", "64"), "N"),
])
def test_tampered_weight_files_raise_weights_error(weights_dir, edit, match):
    _, path = _saved(weights_dir)
    _tamper(path, edit)
    with pytest.raises(WeightsError, match=match):
        zoo.load("hyperprior", 3)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "header"])
def test_unparseable_weight_files_raise_weights_error(weights_dir, damage):
    _, path = _saved(weights_dir)
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"\x80\x04this is a pickle, not safetensors" * 10
    else:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        key = next(k for k in header if k != "__metadata__")
        header[key]["data_offsets"][1] += 10 ** 9
        body = json.dumps(header).encode()
        data = struct.pack("<Q", len(body)) + body + data[8 + n:]
    path.write_bytes(data)
    with pytest.raises(WeightsError):
        zoo.load("hyperprior", 3)


def test_save_weights_rebuilds_tables_so_saved_tables_match_the_weights(weights_dir):
    model, path = _saved(weights_dir, "factorized", 1)
    with torch.no_grad():
        model.entropy_bottleneck.quantiles[:, 0, 2] += 5.0
    zoo.save_weights(model, path)
    lengths = load_file(str(path))["entropy_bottleneck._cdf_length"]
    assert torch.equal(lengths, model.entropy_bottleneck._cdf_length)


def test_load_file_reads_a_weight_file_anywhere_but_is_not_a_zoo_model(tmp_path):
    torch.manual_seed(0)
    model = zoo.build("joint", N=8, M=12)
    path = zoo.save_weights(model, tmp_path / "mine.safetensors", steps=5)
    loaded = zoo.load_file(path)
    assert loaded.name == "joint" and loaded.quality is None and (loaded.N, loaded.M) == (8, 12)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_load_file_without_architecture_points_to_from_compressai(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "bare.safetensors"
    model = zoo.build("factorized", N=8, M=12)
    model.update()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    with pytest.raises(WeightsError, match="from_compressai"):
        zoo.load_file(path)
    assert zoo.from_compressai("factorized", path).name == "factorized"


def test_half_storage_halves_the_context_mask_losslessly(weights_dir):
    torch.manual_seed(0)
    model = zoo.build("joint", N=8, M=12)
    path = weights_dir / "joint-q2.safetensors"
    zoo.save_weights(model, path, quality=2, half=("g_a", "g_s", "context_prediction"))
    stored = load_file(str(path))
    assert stored["context_prediction.mask"].dtype == torch.float16
    assert torch.equal(stored["context_prediction.mask"].float(), model.context_prediction.mask)
    loaded = zoo.load("joint", 2)
    x = torch.rand(1, 3, 64, 64)
    assert loaded.decompress(model.eval().compress(x)).shape == x.shape
    assert torch.equal(loaded.context_prediction.mask, model.context_prediction.mask)
