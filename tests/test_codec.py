"""lic_core.codec owns the path between .lic bytes and a model: every decode path parses
the header once (container.unpack), and the API, the model's own methods, the Pillow
plugin and the CLI all go through it (issue 22)."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
import lic_core.api  # noqa: E402
from lic_core import codec, container, zoo  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXACT_FILE = REPO / "tests" / "fixtures" / "golden" / "zoo-v5" / "hyperprior-q4-kodim23-64x48.lic"


@pytest.fixture
def parses(monkeypatch):
    """The number of container.unpack calls made since the test began."""
    calls = []
    real = container.unpack

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(container, "unpack", counting)
    return calls


@pytest.fixture(scope="module")
def float_file():
    """A format-3 file (float synthesis): zoo-v4's weights write the float g_s."""
    model = zoo.load("hyperprior", 4, release="zoo-v4")
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(3))
    data = model.compress(x)
    assert container.unpack(data).version == 3
    return model, data


def test_an_exact_file_is_parsed_once_by_the_api(parses):
    data = EXACT_FILE.read_bytes()
    header = container.unpack(data)
    assert header.version == 4
    parses.clear()
    assert lic_core.decompress(data).shape == (header.height, header.width, 3)
    assert len(parses) == 1


def test_an_exact_file_is_parsed_once_with_a_model(parses):
    data = EXACT_FILE.read_bytes()
    model = zoo.load("hyperprior", 4)
    parses.clear()
    expected = lic_core.decompress(data)
    assert len(parses) == 1
    parses.clear()
    assert np.array_equal(lic_core.decompress(data, model=model), expected)
    assert len(parses) == 1
    parses.clear()
    model.decompress(data)
    assert len(parses) == 1


def test_a_float_file_is_parsed_once_by_the_api_and_by_the_model(float_file, parses):
    model, data = float_file
    x_hat = model.decompress(data)
    assert len(parses) == 1
    parses.clear()
    rgb = lic_core.decompress(data)  # loads zoo-v4, the release the header names
    assert len(parses) == 1
    assert rgb.shape == (48, 64, 3)
    assert np.array_equal(rgb, lic_core.api.to_uint8(x_hat))
    parses.clear()
    lic_core.decompress(data, model=model)
    assert len(parses) == 1


def test_the_pillow_plugin_parses_once_through_the_codec(float_file, parses, tmp_path, monkeypatch):
    from PIL import Image
    _, data = float_file
    path = tmp_path / "x.lic"
    path.write_bytes(data)
    decoded = []
    real = codec.decode
    monkeypatch.setattr(codec, "decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    with Image.open(path) as im:
        assert im.size == (64, 48) and im.info["lic_version"] == 3
        rgb = np.asarray(im.convert("RGB"))
    assert len(parses) == 1 and decoded == [1]
    assert np.array_equal(rgb, lic_core.decompress(data))


def test_the_cli_decompresses_through_the_codec_with_one_parse(parses, tmp_path, monkeypatch):
    from lic_core.cli.main import main
    decoded = []
    real = codec.decode
    monkeypatch.setattr(codec, "decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    src = tmp_path / "x.lic"
    src.write_bytes(EXACT_FILE.read_bytes())
    assert main(["decompress", "-Q", str(src), str(tmp_path / "x.png")]) == 0
    assert len(parses) == 1 and decoded == [1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {f"{'.' * node.level}{node.module or ''}:{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_the_plugin_and_the_cli_decoder_reach_the_bytes_only_through_codec_and_container():
    # no decoding through the API (which would be a second owner) and no header bytes read
    # at hand-written offsets: the container is the one reader
    plugin = REPO / "lic_core" / "pillow_plugin.py"
    decoder = REPO / "lic_core" / "cli" / "decompress.py"
    assert ".api:decompress" not in _imported_modules(plugin)
    assert not any(name.startswith("..api") or name == "..:api"
                   for name in _imported_modules(decoder))
    for path in (plugin, decoder):
        source = path.read_text(encoding="utf-8")
        assert "from_bytes" not in source and "struct" not in source, path
