"""g_a and the float g_s in tiles of bounded memory (lic_core.zoo.tiling, issue 21 point 5):
the tiles cover the output once each, every tile computes its outputs from the inputs
the whole-image run reads (so only float rounding differs: equal in float64 to 1e-12,
latents and 8-bit pixels equal wherever the whole run is not within rounding error of a
boundary), the largest tensor a tiled run holds is within the bound, and the whole-image
computation is kept where it fits, where gradients are recorded and for layers the
tiling does not know."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from lic_core import zoo  # noqa: E402
from lic_core.testing import LIVELY, tiny_model  # noqa: E402
from lic_core.zoo import tiling  # noqa: E402
from lic_core.zoo.base import CompressionModel  # noqa: E402

ODD_SIZES = [(1, 1), (1, 77), (77, 1), (37, 53)]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiles of a few hundred values are many small calls: on a busy machine torch's
    thread team spends seconds waiting on each other (tests/conftest.py gives the
    count back after each test)."""
    torch.set_num_threads(1)


def image(h, w, seed=0, dtype=torch.float32):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def model(name="hyperprior", bound=None):
    m = tiny_model(name, gains=LIVELY, fresh=True)
    m.tile_bound = bound
    return m


def odd_layers():
    """Strides 2 and 3, dilation, output padding, a kernel wider than its stride."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=3), nn.ReLU(),
        nn.ConvTranspose2d(4, 5, 4, stride=3, padding=1, output_padding=2, dilation=2),
        nn.LeakyReLU(), nn.Conv2d(5, 2, 5, stride=2, padding=4, dilation=2)).double()


def whole_and_tiled(module, x, parts=6):
    """module(x) whole, and in the tiles of a bound 1/parts of its largest activation
    (an output of one position cannot be split: its one tile is the whole run)."""
    bound = tiling.whole_largest(module, x.shape, x.element_size()) // parts
    p = tiling.plan(module, x.shape, x.element_size(), bound)
    with torch.no_grad():
        whole = module(x)
        if p is None or len(p.tiles) == 1:  # a 1x1 latent, or g_a's output of one position
            assert x.shape[-2:].numel() == 1 or whole.shape[-2:].numel() == 1
            return whole, module(x) if p is None else tiling.run(module, x, p)
        return whole, tiling.run(module, x, p)


def agree_after_rounding(whole, tiled, scale=1.0, tol=1e-4):
    """round(scale·t) equal wherever scale·whole is not within tol of a .5 boundary."""
    a, b = whole * scale, tiled * scale
    near = ((a - a.floor()) - 0.5).abs() < tol
    return bool(torch.equal(a.round()[~near], b.round()[~near]))


# ------------------------------------------------------------------ the plan

@pytest.mark.parametrize("which", ["g_a", "g_s", "odd"])
@pytest.mark.parametrize("size", ODD_SIZES + [(64, 320), (96, 64)])
def test_the_tiles_cover_the_output_exactly_once(which, size):
    m = model()
    module = odd_layers() if which == "odd" else getattr(m, which)
    if which == "g_s":  # a latent: 16x smaller
        size = (-(-size[0] // 16), -(-size[1] // 16))
    shape = (1, m.M if which == "g_s" else 3, *size)
    p = tiling.plan(module, shape, 4, bound=1)
    if p is None:  # the odd layers' output is empty for a side under 3: nothing to tile
        assert which == "odd" and min(size) < 3
        return
    coverage = torch.zeros(p.out_shape[2:], dtype=torch.int32)
    for t in p.tiles:
        assert 0 <= t.rows.c < t.rows.e <= size[0] and 0 <= t.cols.c < t.cols.e <= size[1]
        coverage[t.rows.a:t.rows.b, t.cols.a:t.cols.b] += 1
    assert bool((coverage == 1).all())
    with torch.no_grad():
        assert tuple(module(torch.zeros(shape, dtype=next(module.parameters()).dtype)).shape) == p.out_shape


def test_the_plan_is_a_function_of_the_shape():
    m = model()
    plans = [tiling.plan(m.g_a, (1, 3, 200, 333), 4, 1 << 14) for _ in range(2)]
    assert plans[0] == plans[1] and len(plans[0].tiles) > 1


def test_the_halo_comes_from_the_layers():
    """g_a's receptive field is 61 pixels (four 5x5 convolutions of stride 2: 1 + 4·15),
    so an interior tile's crop reaches 30 pixels before its first output's centre at
    least, rounded down to g_a's 16-pixel grid."""
    p = tiling.plan(model().g_a, (1, 3, 64, 64 * 64), 4, 1 << 18)
    assert len(p.col_spans) > 2
    inner = p.col_spans[len(p.col_spans) // 2]
    assert inner.c % 16 == 0 and 30 <= inner.a * 16 - inner.c < 30 + 16
    assert inner.e - 1 >= (inner.b - 1) * 16 + 30


def test_layers_it_does_not_know_keep_the_whole_image():
    module = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Upsample(scale_factor=2))
    assert tiling.axes(module) is None
    assert tiling.plan(module, (1, 3, 512, 512), 4, bound=1) is None
    reflect = nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")
    assert tiling.plan(reflect, (1, 3, 512, 512), 4, bound=1) is None


# ------------------------------------------------------------------ the same outputs

@pytest.mark.parametrize("size", [(3, 77), (77, 3), (37, 53), (70, 90)])
def test_tiles_compute_what_the_whole_run_does_in_float64(size):
    module = odd_layers()
    whole, tiled = whole_and_tiled(module, image(*size, dtype=torch.float64))
    assert whole.shape == tiled.shape
    assert float((whole - tiled).abs().max()) <= 1e-12


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "joint"])
@pytest.mark.parametrize("size", ODD_SIZES + [(64, 192), (130, 70)])
def test_tiled_g_a_gives_the_same_latents(name, size):
    m = model(name).double()
    x = image(*size, seed=1, dtype=torch.float64)
    whole, tiled = whole_and_tiled(m.g_a, x)
    assert float((whole - tiled).abs().max()) <= 1e-12
    m = model(name)
    whole, tiled = whole_and_tiled(m.g_a, x.float())
    assert float((whole - tiled).abs().max()) <= 1e-4 * (1 + float(whole.abs().max()))
    assert agree_after_rounding(whole, tiled)


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "joint"])
@pytest.mark.parametrize("size", ODD_SIZES + [(4, 12), (9, 5)])
def test_tiled_g_s_gives_the_same_pixels(name, size):
    m = model(name)
    y_hat = torch.randn(1, m.M, *size, generator=torch.Generator().manual_seed(2)).mul_(4).round_()
    whole, tiled = whole_and_tiled(m.double().g_s, y_hat.double())
    assert float((whole - tiled).abs().max()) <= 1e-12
    m = model(name)
    whole, tiled = whole_and_tiled(m.g_s, y_hat)
    assert float((whole - tiled).abs().max()) <= 1e-5 * (1 + float(whole.abs().max()))
    assert agree_after_rounding(whole.clamp(0, 1), tiled.clamp(0, 1), scale=255)


# ------------------------------------------------------------------ through the model

@pytest.mark.parametrize("name, size", [("hyperprior", s) for s in ODD_SIZES]
                         + [("joint", (37, 53)), ("factorized", (37, 53)), ("mean-scale", (77, 1))])
def test_files_round_trip_and_repeat_when_tiled(name, size, monkeypatch):
    m = model(name, bound=1 << 14)
    x = image(*size, seed=3)
    tiled = []
    run = tiling.run

    def counting(module, *args, **kwargs):
        tiled.append(module)
        return run(module, *args, **kwargs)

    monkeypatch.setattr(tiling, "run", counting)
    data, x_hat = m.compress(x, return_x_hat=True)
    assert m.compress(x) == data  # the same bytes every time
    assert torch.equal(m.decompress(data), x_hat)
    assert m.g_a in tiled and m.g_s in tiled


@pytest.mark.parametrize("name", ["factorized", "hyperprior", "mean-scale"])
def test_the_eval_forward_is_still_the_decoded_image_when_tiled(name):
    m = model(name, bound=1 << 14)
    x = image(37, 150, seed=4)
    with torch.no_grad():
        forward = m(x)["x_hat"].clamp(0, 1)
    assert torch.equal(forward, m.decompress(m.compress(x)))


def test_a_tiled_file_decodes_as_the_whole_run_would_up_to_rounding():
    tiled, whole = model("hyperprior", bound=1 << 14), model("hyperprior")
    x = image(64, 256, seed=5)
    data = whole.compress(x)
    assert tiled.compress(x) == data  # these latents are nowhere near a rounding boundary
    a, b = whole.decompress(data), tiled.decompress(data)
    assert agree_after_rounding(a, b, scale=255)


def test_training_and_gradients_keep_the_whole_image(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tiled under autograd")

    m = model("hyperprior", bound=1)
    monkeypatch.setattr(tiling, "run", refuse)
    x = image(64, 64, seed=6)
    m.train()
    out = m(x)
    out["x_hat"].sum().backward()  # the graph is the whole image's
    m.eval()
    m(x)  # an eval forward recording gradients: whole too
    with torch.no_grad():
        with pytest.raises(AssertionError, match="tiled"):
            m(x)


def test_images_within_the_bound_keep_the_whole_image_computation(monkeypatch):
    monkeypatch.setattr(tiling, "run", lambda *a, **k: pytest.fail("tiled"))
    assert CompressionModel.tile_bound == tiling.DEFAULT_BOUND == 8 << 20
    m = tiny_model("hyperprior", gains=LIVELY)
    x = image(512, 768, seed=7)  # 8 channels: g_a's largest output is 3 MB
    m.decompress(m.compress(x))
    # the zoo's N=64 models: 64 channels x 256 x 512 / 4 x 4 bytes = 8 MiB, the bound
    big = zoo.build("hyperprior", N=64, M=192)
    assert tiling.plan(big.g_a, (1, 3, 256, 512), 4) is None
    assert tiling.plan(big.g_a, (1, 3, 320, 512), 4) is not None
    assert tiling.plan(big.g_s, (1, 192, 16, 32), 4) is None
    assert tiling.plan(big.g_s, (1, 192, 4, 4096), 4) is not None


# ------------------------------------------------------------------ memory

@pytest.mark.parametrize("which", ["g_a", "g_s"])
def test_the_largest_tensor_of_a_tiled_run_is_within_the_bound(which):
    """Forward hooks on every layer see each input and output: in a tiled run none is
    over the bound (the output the tiles are written into is the only tensor of the
    whole image's size), in the whole run some are."""
    m = model()
    bound = 1 << 16
    x = image(64, 1024) if which == "g_a" else torch.randn(1, m.M, 4, 64)
    module = getattr(m, which)
    seen = []

    def hook(_module, inputs, output):
        seen.extend(t.numel() * t.element_size() for t in (*inputs, output))

    handles = [layer.register_forward_hook(hook) for layer in module.modules()]
    try:
        with torch.no_grad():
            module(x)
        assert max(seen) > 4 * bound
        seen.clear()
        with torch.no_grad():
            p = tiling.plan(module, x.shape, x.element_size(), bound)
            tiling.run(module, x, p)
        assert 0 < max(seen) <= p.largest <= bound
    finally:
        for h in handles:
            h.remove()
