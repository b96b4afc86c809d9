"""The space-channel family (model id 5) in the engine's whole-file decoder
(csrc/lic/decoder.cpp; docs/format.md "Decoder weights" and "Decoding a file", docs/integer.md
"Space-channel"): a tiny converted model with an integer synthesis writes files of format 4
that the engine decodes, without torch, to exactly the pixels the model's own decoder gives
(its integer walk in Python, lic_core.zoo.space_channel_integer.walk, then the integer
synthesis), on any thread count and kernel, through the Python face and the C ABI; a decoder
weights file that does not fit the family is refused naming the tensor."""
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lic_core import container  # noqa: E402
from lic_core.coding.decoder import FileDecoder  # noqa: E402
from lic_core.errors import ContainerError, LicError, WeightsError  # noqa: E402
from lic_core.images import to_uint8  # noqa: E402
from lic_core.models.entropy_models import GaussianConditional, observe_decoded_symbols  # noqa: E402
from lic_core.zoo.space_channel import channel_groups, group_steps  # noqa: E402
from tests.c_build import build as build_c  # noqa: E402
from tests.coding.exact_models import RELEASE, exact_model, image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QUALITY = 3
SIZES = [(1, 1), (37, 53), (130, 70)]


@pytest.fixture(scope="module")
def exact():
    return exact_model("space-channel", quality=QUALITY)


@pytest.fixture(scope="module")
def files(exact):
    """{(h, w): (.lic bytes, the encoder's reconstruction as H x W x 3 bytes)}"""
    out = {}
    with torch.no_grad():
        for h, w in SIZES:
            data, x_hat = exact.model.compress(image(h, w, seed=h + w), return_x_hat=True)
            out[(h, w)] = data, to_uint8(x_hat)
    return out


def _digest(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()).hexdigest()


def _python_decode(model, data: bytes):
    """The model's own decoder, not the engine's: ŷ by the integer walk of
    space_channel_integer (the engine's networks run one by one from Python), then the
    integer synthesis on the ŷ it rebuilt. Also the ŷ symbols it decoded."""
    f = container.unpack(data)
    seen = []
    with torch.no_grad(), observe_decoded_symbols(
            lambda m, s: seen.append(np.array(s)) if isinstance(m, GaussianConditional) else None):
        x_hat = model.decode_streams(list(f.streams), [tuple(s) for s in f.latent_shapes])
    return to_uint8(x_hat[..., :f.height, :f.width]), np.concatenate([s.reshape(-1) for s in seen])


# --------------------------------------------------------------------------- the weights file

def test_the_decoder_file_names_the_family_tensors_as_documented(exact):
    M = exact.model.M
    groups = channel_groups(M)
    starts = np.concatenate(([0], np.cumsum(groups)))
    expected = {f"prior.{n}" for n in ("z_frac", "z_offset", "mean_frac", "sigma_frac", "scale_thresholds")}
    layers = {"h_s.0": None, "h_s.2": None, "h_s.4": None}
    for i in range(len(groups) - 1):  # conv: [C_out][C_in][k][k]
        layers[f"channel_context.{i}.0"] = (2 * groups[i + 1], int(starts[i + 1]), 3, 3)
    for g, (c, steps) in enumerate(zip(groups, group_steps(len(groups)))):
        for k in range(steps - 1):  # one per step after the first
            layers[f"spatial_context.{g}.{k}"] = (2 * c, c, 5, 5)
        cin = 2 * M + (4 if g else 2) * c
        hidden = max(64, 3 * c)
        layers[f"entropy_parameters.{g}.0"] = (hidden, cin)  # dense: [C_out][C_in]
        layers[f"entropy_parameters.{g}.2"] = (hidden, hidden)
        layers[f"entropy_parameters.{g}.4"] = (2 * c, hidden)
    for name, shape in layers.items():
        expected |= {f"prior.{name}.{field}" for field in ("weight", "bias", "shift")}
        if shape is not None:
            assert exact.tensors[f"prior.{name}.weight"].shape == shape, name
            assert exact.tensors[f"prior.{name}.weight"].dtype == np.int16
            assert exact.tensors[f"prior.{name}.bias"].shape == (shape[0],)
            assert exact.tensors[f"prior.{name}.shift"].dtype == np.uint8
    assert {n for n in exact.tensors if n.startswith("prior.")} == expected
    decoder = FileDecoder(data=exact.weights)
    assert decoder.family == "space-channel" and decoder.qualities == [QUALITY]
    assert decoder.release == RELEASE


def _fingerprint_2(tensors: dict, family: str, quality: int) -> int:
    """docs/format.md "Weights fingerprint (2)" for a one-quality file, written from the
    text (no prefixed names to resolve)."""
    names = {"int16": "I16", "int32": "I32", "uint8": "U8"}
    h = hashlib.sha256(b"lic-core decoder weights/2\0" + family.encode() + b"\0" + str(quality).encode() + b"\0")
    for name in sorted(tensors, key=lambda n: n.encode()):
        a = np.ascontiguousarray(tensors[name])
        shape = "x".join(map(str, a.shape)) if a.ndim else "scalar"
        h.update(name.encode() + b"\0" + names[a.dtype.name].encode() + b"\0" + shape.encode() + b"\0")
        h.update(a.astype(a.dtype.newbyteorder("<")).tobytes())
    value = int.from_bytes(h.digest()[:8], "little")
    return value or 1


def test_fingerprint_2_covers_every_context_tensor(exact, files):
    decoder = FileDecoder(data=exact.weights)
    assert decoder.fingerprint(QUALITY) == _fingerprint_2(exact.tensors, "space-channel", QUALITY)
    data, _ = files[(37, 53)]
    assert container.unpack(data).weights_fingerprint == decoder.fingerprint(QUALITY)
    for name in ("prior.channel_context.3.0.weight", "prior.spatial_context.0.0.bias",
                 "prior.spatial_context.1.2.weight",
                 "prior.entropy_parameters.4.4.shift"):
        tensors = dict(exact.tensors)
        changed = tensors[name].copy()
        changed.reshape(-1)[0] ^= 1
        tensors[name] = changed
        other = FileDecoder(data=exact.rewrite(tensors))
        assert other.fingerprint(QUALITY) != decoder.fingerprint(QUALITY), name
        with pytest.raises(WeightsError, match="other space-channel weights .*fingerprint"):
            other.decode(data)


# --------------------------------------------------------------------------- decoding

@pytest.mark.parametrize("h, w", SIZES)
def test_the_engine_decodes_to_the_models_own_pixels(exact, files, h, w):
    data, encoder_view = files[(h, w)]
    f = container.unpack(data)
    assert (f.model, f.version, f.synthesis, f.probability_path) == ("space-channel", 4, 1, container.EXACT_PATH)
    expected, symbols = _python_decode(exact.model, data)
    assert expected.shape == (h, w, 3)
    assert np.array_equal(expected, encoder_view)
    hy, wy = f.latent_shapes[0]
    assert symbols.size == hy * wy * exact.model.M
    assert np.count_nonzero(symbols) > symbols.size // 20  # the walk decodes something
    decoder = FileDecoder(data=exact.weights)
    for threads in (1, 2):
        rgb = decoder.decode(data, threads=threads)
        assert rgb.dtype == np.uint8 and rgb.shape == (h, w, 3)
        assert np.array_equal(rgb, expected), f"{threads} threads"


def test_baseline_kernels_and_threads_decode_to_the_same_pixels(exact, files, tmp_path):
    """The portable kernel, forced (LIC_INTNET_KERNEL is read once per process), in a fresh
    process that never imports torch, on 1 and 2 threads."""
    weights = tmp_path / "space-channel-q3.decoder.safetensors"
    weights.write_bytes(exact.weights)
    cases = []
    for (h, w), (data, encoder_view) in files.items():
        path = tmp_path / f"{h}x{w}.lic"
        path.write_bytes(data)
        cases.append((str(path), _digest(encoder_view)))
    script = textwrap.dedent(f"""
        import hashlib, sys
        from lic_core.coding import _intnet
        from lic_core.coding.decoder import FileDecoder
        assert _intnet.kernel_name() == "portable", _intnet.kernel_name()
        decoder = FileDecoder({str(weights)!r})
        for path, digest in {cases!r}:
            for threads in (1, 2):
                rgb = decoder.decode(open(path, "rb").read(), threads=threads)
                got = hashlib.sha256(rgb.tobytes()).hexdigest()
                assert got == digest, (path, threads, got, digest)
        assert "torch" not in sys.modules
        print("ok", len({cases!r}))
        """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, LIC_INTNET_KERNEL="portable"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", str(len(SIZES))]


def test_the_c_abi_decodes_them_and_refuses_damage(exact, files, tmp_path):
    """tests/c_abi/golden_decode.c on a release folder of the family: through lic.h alone
    (lic_file_decoder_open_release finds space-channel-q3.decoder.safetensors for model id
    5), 1, 2 and 4 threads, and a damaged payload refused."""
    weights_dir, golden_dir = tmp_path / "weights", tmp_path / "golden"
    weights_dir.mkdir(), golden_dir.mkdir()
    name = f"space-channel-q{QUALITY}.decoder.safetensors"
    (weights_dir / name).write_bytes(exact.weights)
    (weights_dir / "RELEASE.json").write_text(json.dumps(
        {"release": RELEASE, "files": {name: hashlib.sha256(exact.weights).hexdigest()}}))
    lines = []
    for (h, w), (data, encoder_view) in sorted(files.items()):
        (golden_dir / f"sc-{h}x{w}.lic").write_bytes(data)
        lines.append(f"sc-{h}x{w}.lic {_digest(encoder_view)}\n")
    (golden_dir / "digests.txt").write_text("".join(sorted(lines)))
    exe = build_c(tmp_path, "golden_decode.c")
    out = subprocess.run([exe, str(weights_dir), str(golden_dir)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.count(f"space-channel q{QUALITY}") == len(SIZES), out.stdout
    assert f"OK {len(SIZES)} golden files" in out.stdout, out.stdout


# --------------------------------------------------------------------------- refusals

def _swap(tensors: dict, target: str, source: str) -> dict:
    """``tensors`` with layer ``target``'s weight, bias and shift replaced by ``source``'s."""
    out = dict(tensors)
    for field in ("weight", "bias", "shift"):
        out[f"{target}.{field}"] = tensors[f"{source}.{field}"]
    return out


REFUSALS = {
    # a spatial context of another group's size
    "spatial context": (lambda t: _swap(t, "prior.spatial_context.2.0", "prior.spatial_context.3.0"),
                        r"'prior.spatial_context.2.0.weight' takes 4 channels; with M = 12: groups of 1, 1, 2, 4 "
                        r"and 4 channels it must take 2"),
    # a channel context over the wrong earlier groups
    "channel context": (lambda t: _swap(t, "prior.channel_context.1.0", "prior.channel_context.2.0"),
                        r"'prior.channel_context.1.0.weight' takes 4 channels; .* it must take 2"),
    # group 0's entropy parameters (no channel context in its input) for group 1's
    "entropy parameters in": (lambda t: {**t, **{k.replace(".0.", ".1.", 1): v for k, v in t.items()
                                                 if k.startswith("prior.entropy_parameters.0.")}},
                              r"'prior.entropy_parameters.1.0.weight' takes 26 channels; .* it must take 28"),
    "entropy parameters out": (lambda t: _swap(t, "prior.entropy_parameters.2.4", "prior.entropy_parameters.3.4"),
                               r"'prior.entropy_parameters.2.4.weight' gives 8 channels; .* it must give 4"),
    "missing": (lambda t: {k: v for k, v in t.items() if k != "prior.spatial_context.4.0.shift"},
                r"tensor 'prior.spatial_context.4.0.shift' is missing"),
    # a four-step group's last spatial context absent: the schedule is the family's, not
    # the file's, so the file is refused rather than decoded in fewer steps
    "missing step": (lambda t: {k: v for k, v in t.items() if not k.startswith("prior.spatial_context.0.2.")},
                     r"tensor 'prior.spatial_context.0.2.weight' is missing"),
    "bias count": (lambda t: {**t, "prior.channel_context.0.0.bias": t["prior.channel_context.0.0.bias"][:1]},
                   r"'prior.channel_context.0.0' has 2 output channels but 1 biases"),
    "kernel": (lambda t: {**t, "prior.spatial_context.0.0.weight": np.zeros((2, 1, 2, 2), np.int16)},
               r"'prior.spatial_context.0.0': .*kernel size 2 must be odd"),
    # h_s giving 2 x 10 channels: fewer than the five groups need
    "M": (lambda t: {**t, **{f"prior.h_s.4.{f}": t[f"prior.h_s.4.{f}"][:20] for f in ("weight", "bias", "shift")}},
          r"h_s gives 10 latent channels; the space-channel model needs at least 12"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_decoder_file_that_does_not_fit_the_family_is_refused_naming_the_tensor(exact, files, case):
    change, message = REFUSALS[case]
    decoder = FileDecoder(data=exact.rewrite(change(exact.tensors)))  # parsed; built on first use
    with pytest.raises(WeightsError, match=message):
        decoder.fingerprint(QUALITY)
    with pytest.raises(WeightsError, match=message):
        decoder.decode(files[(37, 53)][0])


def test_files_and_weights_of_other_families_or_damage_are_refused(exact, files):
    data, _ = files[(37, 53)]
    joint = exact_model("joint", quality=QUALITY)
    with pytest.raises(WeightsError, match="written by the space-channel model; these are joint weights"):
        FileDecoder(data=joint.weights).decode(data)
    with pytest.raises(WeightsError, match="written by the joint model; these are space-channel weights"):
        FileDecoder(data=exact.weights).decode(joint.model.compress(image(37, 53)))
    # a space-channel file's weights named as another family's
    with pytest.raises(WeightsError, match="written by the space-channel model; these are joint weights"):
        FileDecoder(data=exact.rewrite(architecture="joint")).decode(data)
    with pytest.raises(WeightsError, match="unknown architecture"):
        FileDecoder(data=exact.rewrite(architecture="space_channel"))
    with pytest.raises(LicError):
        FileDecoder(data=exact.weights[:-7])
    # the ŷ stream cut short, both CRCs recomputed: the engine's decoder refuses it
    f = container.unpack(data)
    short = container.pack(dataclasses.replace(f, streams=(f.streams[0][:-4], f.streams[1])))
    with pytest.raises(LicError) as info:
        FileDecoder(data=exact.weights).decode(short)
    assert not isinstance(info.value, (WeightsError, ContainerError)), info.value
