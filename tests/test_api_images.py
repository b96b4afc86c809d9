"""lic_core.images (re-exported by lic_core.api): what images are accepted and how they are converted."""
import warnings

import numpy as np
import pytest
from PIL import Image

from lic_core import InvalidArgumentError
from lic_core.images import LossyConversionWarning, sample_paths, to_rgb_array


def test_rgb_uint8_array_passes_through_unchanged():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = to_rgb_array(rgb)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and np.array_equal(out, rgb)


def test_grayscale_array_is_replicated_to_three_channels_without_warning():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = to_rgb_array(gray)
    assert out.shape == (3, 4, 3) and all(np.array_equal(out[..., c], gray) for c in range(3))


def test_alpha_is_composited_on_white_with_a_warning():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255  # opaque: keeps its colour
    rgba[0, 1, 3] = 0    # transparent: white
    rgba[1, :, 3] = 128  # half: 200*128/255 + 255*127/255
    with pytest.warns(LossyConversionWarning, match="composited on white"):
        out = to_rgb_array(rgba)
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[1, 0].tolist() == [round((200 * 128 + 255 * 127) / 255), 127, 127]


def test_pil_modes_are_converted_like_arrays():
    rgba = Image.new("RGBA", (3, 2), (10, 20, 30, 0))
    with pytest.warns(LossyConversionWarning):
        assert to_rgb_array(rgba)[0, 0].tolist() == [255, 255, 255]
    assert to_rgb_array(Image.new("L", (3, 2), 77))[1, 2].tolist() == [77, 77, 77]
    assert to_rgb_array(Image.new("RGB", (3, 2), (1, 2, 3))).shape == (2, 3, 3)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_16_bit_and_float_images_are_refused(mode):
    with pytest.raises(InvalidArgumentError, match="16-bit or float"):
        to_rgb_array(Image.new(mode, (4, 4)))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4, 3), dtype=np.float32), "uint8"),
    (np.zeros((4, 4, 3), dtype=np.uint16), "uint8"),
    (np.zeros((4, 4, 5), dtype=np.uint8), "shape"),
    (np.zeros((2, 4, 4, 3), dtype=np.uint8), "shape"),
    (np.zeros((0, 4, 3), dtype=np.uint8), "empty"),
    ([[1, 2], [3, 4]], "path, a PIL image"),
    (42, "path, a PIL image"),
])
def test_wrong_dtypes_and_shapes_are_invalid_arguments(bad, message):
    with pytest.raises(InvalidArgumentError, match=message):
        to_rgb_array(bad)


def test_paths_are_read_with_pillow(tmp_path):
    path = tmp_path / "x.png"
    Image.new("RGB", (6, 5), (9, 8, 7)).save(path)
    assert to_rgb_array(path)[4, 5].tolist() == [9, 8, 7]
    assert to_rgb_array(str(path)).shape == (5, 6, 3)


def test_missing_and_non_image_files_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError):
        to_rgb_array(tmp_path / "missing.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(InvalidArgumentError, match="not an image"):
        to_rgb_array(junk)


def test_three_kodak_samples_are_bundled():
    paths = sample_paths()
    assert [p.name for p in paths] == ["kodim03.png", "kodim15.png", "kodim23.png"]
    assert to_rgb_array(paths[0]).shape == (512, 768, 3)


def test_pillow_opens_a_lic_header_after_import(tmp_path):
    import lic_core  # noqa: F401  (registers the plugin)
    from lic_core.container import LicFile, pack
    path = tmp_path / "x.lic"
    path.write_bytes(pack(LicFile("joint", 5, 40, 70, ((3, 5), (1, 2)), (b"ab", b"c"),
                                   weights_fingerprint=1)))
    with Image.open(path) as im:
        assert (im.format, im.size, im.mode) == ("LIC", (70, 40), "RGB")
        assert im.info["lic_model"] == "joint" and im.info["lic_quality"] == 5


def test_container_info_cli_and_plugin_import_without_torch():
    import subprocess
    import sys
    code = ("import sys, lic_core, lic_core.container, lic_core.analysis.info, lic_core.cli, lic_core.api, "
            "lic_core.images; "
            "from PIL import Image; "
            "assert 'LIC' in Image.OPEN; "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_the_api_re_exports_the_conversions_it_always_had():
    from lic_core import api, images
    assert api.to_rgb_array is images.to_rgb_array and api.sample_paths is images.sample_paths
    assert api.LossyConversionWarning is images.LossyConversionWarning


def test_to_tensor_and_to_uint8_are_inverse_on_uint8_images():
    torch = pytest.importorskip("torch")
    from lic_core.images import to_tensor, to_uint8
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgb.flags.writeable = False  # e.g. np.asarray of a PIL image
    x = to_tensor(rgb)
    assert x.shape == (1, 3, 5, 7) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert np.array_equal(to_uint8(x), rgb)
    assert to_uint8(torch.full((1, 3, 1, 1), 2.0))[0, 0].tolist() == [255, 255, 255]  # clamped
