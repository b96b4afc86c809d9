"""The codec: the one owner of the path between .lic bytes and a model.

``encode(model, x)`` turns a model's streams into a .lic file and ``decode(data)`` turns
a file back into pixels; everything between the container (:mod:`lic_core.container`,
the one reader of the format) and a torch model lives here once:

* the pixel limit (:class:`lic_core.limits.Limits`, resolved once per call);
* which weights a header names: the release (:func:`release_for_header`), the engine's
  decoder of an integer-synthesis file (:func:`exact_decoder_for_header`) and the zoo
  model of any other file (:func:`model_for_header`, through a cache of 8 models keyed
  on the weights file ``zoo.load`` would read now);
* the header built from a model (fingerprint, format version, probability and synthesis
  paths) and the header checked against a model (model, quality, fingerprint, paths,
  latent shapes, stream count);
* the mapping of what torch or NumPy raise to a :class:`~lic_core.errors.LicError`
  (:func:`guard`).

A model only encodes an image to streams (``model._encode``) and decodes parsed streams
to an image (``model.decode_streams``); it never packs or parses a header. A file is
parsed once (``container.unpack``) on every decode path: the API, the model's own
``decompress``, the CLI and the Pillow plugin all come here.

Layers: this module sits above the zoo and below the API. It imports the zoo's
torch-free modules (registry, release, catalog) and loads models through
``lic_core.zoo``'s lazy attributes, never ``lic_core.zoo.base`` (which calls this
module); a file of integer synthesis decodes without importing torch.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from . import container
from .errors import (ContainerError, CorruptStreamError, InvalidArgumentError, LicError,
                     LimitExceededError, MissingDependencyError, WeightsError)
from .limits import Limits

__all__ = ["encode", "decode", "decode_tensor", "read_header", "release_for_header",
           "exact_decoder_for_header", "model_for_header", "cached_model", "guard"]


# --------------------------------------------------------------------------- torch

#: how to install what a NumPy-only install lacks for the models: the [models] extra
#: (torch, safetensors, Pillow, tqdm, matplotlib); the CLI gives it for any of them missing
#: (lic_core.cli.common.error_text)
INSTALL_HINT = ('pip install -e ".[models]" in a lic-core checkout (lic-core is installed from '
                'its source tree; install torch==2.13.0 first, e.g. pip install torch==2.13.0 '
                '--index-url https://download.pytorch.org/whl/cpu, so that pip takes the CPU wheel '
                'and not a CUDA build)')


def require_torch(what: str) -> None:
    """MissingDependencyError naming the extra to install, unless torch imports. Called
    first by everything that needs the models, so a NumPy-only install gets this instead
    of "No module named 'torch'" from somewhere inside the zoo."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs PyTorch, which this installation lacks ({exc}); the coder faces "
            f"(lic_core.coder, .tables, .ans) work without it. Install the models: "
            f"{INSTALL_HINT}", name="torch") from exc


# --------------------------------------------------------------------------- header

def read_header(data, *, max_pixels: int | Limits | None = None) -> container.LicFile:
    """The parsed file (``container.unpack``): header checked, CRCs checked, limit applied.
    Callers that need the header before decoding (the CLI, the Pillow plugin) parse it
    here and hand it to :func:`decode` (``header=``), so the file is parsed once."""
    return container.unpack(data, max_pixels=max_pixels)


# --------------------------------------------------------------------------- weights of a header

def release_for_header(header) -> str:
    """The zoo release a header names, or WeightsError: every value here was read from
    the file, so none of the problems is the caller's argument.

    What a header means (docs/format.md, "Weights identity"): quality 0, or (format 2 and
    on) an empty release label, is weights not from the zoo, which only ``model=`` can
    decode; a format 1 file names no release and was written by
    ``zoo.release.FORMAT1_RELEASE``; otherwise the release the label names."""
    from .zoo.catalog import qualities_text
    from .zoo.registry import QUALITIES
    from .zoo.release import FORMAT1_RELEASE, check_label, release_dir
    if header.quality == 0:
        raise WeightsError(
            f"this file was written by a {header.model!r} model with weights not from the zoo "
            "(quality 0); pass model= the model that wrote it")
    if header.version >= 2 and not header.weights_release:
        raise WeightsError(
            f"this file was written by {header.model} weights not from the zoo (quality "
            f"{header.quality} but no weights release recorded: lic-core's zoo always records "
            f"one); pass model= the model that wrote it (lic_core.decompress(data, model=...))")
    release = header.weights_release or FORMAT1_RELEASE
    try:
        check_label(release)
    except InvalidArgumentError as exc:
        raise WeightsError(f"this file names the weights release {release!r}, which cannot "
                           f"be one: {exc}") from None
    if header.quality not in QUALITIES:
        folder = release_dir(release)
        ships = qualities_text(header.model, folder) if folder is not None else (
            f"this installation lacks the weights release {release!r}")
        raise WeightsError(
            f"this file was written by {header.model} quality {header.quality}; {ships}, "
            f"so no weights here can decode it")
    return release


def exact_decoder_for_header(header):
    """The engine's decoder of the decoder weights file a header of integer synthesis
    names (its release's, for its model and quality), checked against the release's
    manifest; WeightsError saying what is missing. Imports no torch."""
    from .coding.decoder import open_cached
    from .zoo.catalog import locate_decoder
    from .zoo.release import known_releases, verify_file
    release = release_for_header(header)
    try:
        path, folder = locate_decoder(header.model, header.quality, release)
    except InvalidArgumentError as exc:
        raise WeightsError(f"this file needs {header.model} quality {header.quality}: {exc}") from exc
    if folder is None:
        raise WeightsError(
            f"needs the zoo weights release {release!r} ({header.model} quality {header.quality}), "
            f"which this installation does not have (it has: {', '.join(known_releases())}); "
            f"install the lic-core release that shipped {release!r}")
    if path is None:
        from .zoo.catalog import locate, qualities_text
        if locate(header.model, header.quality, release)[0] is None:  # the quality does not ship
            raise WeightsError(
                f"this file was written by {header.model} quality {header.quality}; "
                f"{qualities_text(header.model, folder)}, so no weights here can decode it")
        raise WeightsError(
            f"this file was written with integer synthesis, but the weights release {release!r} "
            f"in {folder} has no decoder weights for {header.model} quality {header.quality}")
    verify_file(folder, path)
    return open_cached(path)


_CACHE_SIZE = 8
_cache: OrderedDict = OrderedDict()  # weights key -> model, least recently used first
_cache_lock = threading.Lock()


def _weights_key(name: str, quality: int, release: str | None):
    """What identifies the weights ``zoo.load(name, quality, release)`` would read now: the
    file's resolved path, the quality (a variable-rate file holds several), the file's
    device, inode, size and modification time, and the folder's release label (it is
    written into every file). None when there is no such file or release (``zoo.load``
    then raises the error naming it). ``zoo.catalog.locate`` says which file that is."""
    from .zoo import release as releases
    from .zoo.catalog import locate
    path, folder = locate(name, quality, release)  # InvalidArgumentError for a bad name
    try:
        st = path.stat() if path is not None else None
    except OSError:
        st = None
    if st is None:
        return None
    return (str(path.resolve()), quality, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            releases.release_label(folder))


def cached_model(name: str, quality: int, release: str | None = None):
    """The zoo model for ``(name, quality, release)`` from the private cache of the 8 most
    recently used (loaded on a miss). Only the API's compress/decompress and the codec use
    it, and they never hand it out nor change it. Here, beside the header → model
    resolution it serves, so that decoding a file needs no module above the codec."""
    key = _weights_key(name, quality, release)
    if key is not None:
        with _cache_lock:
            model = _cache.get(key)
            if model is not None:
                _cache.move_to_end(key)
                return model
    from . import zoo
    model = zoo.load(name, quality, release=release)
    # Cache only what was read from an unchanged file: a file replaced while it was being
    # read would otherwise stay cached under the new file's key.
    if key is not None and _weights_key(name, quality, release) == key:
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return model


def model_for_header(header):
    """The zoo model a header names (model, quality, release), or WeightsError."""
    release = release_for_header(header)
    try:
        return cached_model(header.model, header.quality, release)
    except InvalidArgumentError as exc:  # e.g. the current weights lack that quality
        raise WeightsError(f"this file needs {header.model} quality {header.quality}: {exc}") from exc


# --------------------------------------------------------------------------- errors

def guard(name: str, direction: str, what: str, run):
    """Run ``run()`` (encoding or decoding ``what`` with the model called ``name``) so that
    what torch or NumPy raise comes out as a LicError a caller can act on: the one mapping
    for both directions.

    LicErrors pass unchanged. An allocation failure (MemoryError, NumPy's array memory
    error, torch's "can't allocate memory" or "out of memory" RuntimeError) becomes
    LimitExceededError, chained to the original, whichever the direction: the pixel limit
    bounds the work, not the memory a given machine has. While decoding, any other
    RuntimeError/ValueError becomes CorruptStreamError (the file's values reached torch:
    docs/format.md, "Errors"); while encoding it is left as it is (the input was checked,
    so it is a bug to report, not a file to refuse)."""
    try:
        return run()
    except LicError:
        raise
    except (MemoryError, RuntimeError, ValueError) as exc:
        text = str(exc)
        if isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text:
            hint = ("lower the pixel limit to refuse such files up front"
                    if direction == "decoding" else
                    "compress a smaller image or with a lower effort, or lower the pixel "
                    "limit (max_pixels=) to refuse such images up front")
            raise LimitExceededError(
                f"{name}: {direction} {what} needs more memory than is available "
                f"({type(exc).__name__}: {exc}); {hint}") from exc
        if direction != "decoding":
            raise
        raise CorruptStreamError(
            f"{name} could not decode {what}: torch raised {type(exc).__name__}: "
            f"{exc}") from exc


def guard_decoding(name: str, what: str, decode):
    """Run ``decode()`` (entropy decoding and synthesis) so that only LicErrors leave
    (:func:`guard`). The checks before it (container, limits, shapes) refuse what they
    can name; what is left for torch to trip over (an allocation the machine cannot
    give, a tensor op on values no valid file holds) must not escape as a RuntimeError
    a caller cannot tell from a bug. A decoded image holding NaN is refused the same
    way: clamping cannot repair it and callers were promised an image in [0, 1]."""
    import torch
    x_hat = guard(name, "decoding", what, decode)
    if bool(torch.isnan(x_hat).any()):
        raise CorruptStreamError(
            f"{name}: decoding {what} produced NaN: its streams or this model's "
            f"weights hold values the synthesis cannot reconstruct")
    return x_hat


# --------------------------------------------------------------------------- encoding

def check_image(x):
    """A 1×3×H×W float tensor with H, W ≥ 1, or InvalidArgumentError saying what is wrong."""
    import torch
    if not isinstance(x, torch.Tensor):
        raise InvalidArgumentError(f"expected a torch.Tensor image, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise InvalidArgumentError(f"expected an image tensor of shape 1x3xHxW, got {tuple(x.shape)}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise InvalidArgumentError(
            f"cannot compress an empty image ({x.shape[2]}x{x.shape[3]} pixels)")
    if not x.is_floating_point():
        raise InvalidArgumentError(f"expected a float image in [0, 1], got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise InvalidArgumentError("the image holds NaN or infinite values")
    return x


def encode(model, x, *, max_pixels: int | Limits | None = None, effort: int | None = None,
           progress=None, latents=None, return_x_hat: bool = False):
    """Any-size 1×3×H×W image in [0, 1] → .lic bytes, coded by the zoo model ``model``
    (what ``CompressionModel.compress`` documents; it calls this).

    Checks the model can encode, the effort level and the image, applies the pixel limit
    to the image padded to 64, runs the effort search (``zoo.effort.refine``) unless
    ``latents`` are given, has the model code the streams (``model._encode``) and packs
    the header: with an integer synthesis attached, format 4 and the fingerprint of the
    decoder file the engine reads, else format 3 and ``model.decoder_fingerprint()``.
    With ``return_x_hat`` also returns the reconstruction every decoder gets."""
    from .zoo.effort import DEFAULT_EFFORT, check_effort, refine
    model.check_can_encode()
    effort = check_effort(DEFAULT_EFFORT if effort is None else effort)
    x = check_image(x)
    h, w = (int(s) for s in x.shape[-2:])
    limits = Limits.resolve(max_pixels)
    limits.check_image(h, w)
    padded = model.pad(x)
    if latents is not None and effort:
        raise InvalidArgumentError("pass latents= or an effort above 0, not both")

    def run():
        found = latents
        if found is None:
            found, _ = refine(model, padded, effort, h, w, progress)
        return model._encode(padded, "native", found)

    streams, shapes, y_hat = guard(model.name, "encoding", "this image", run)
    exact = model.exact_decoder is not None
    # integer synthesis: format 4, and the fingerprint of the decoder file's tensors
    # the engine reads (docs/format.md, "Weights fingerprint (2)")
    f = container.LicFile(model=model.name, quality=int(model.quality or 0), height=h,
                          width=w, latent_shapes=tuple(shapes), streams=tuple(streams),
                          weights_fingerprint=(model.exact_decoder.fingerprint(model.quality) if exact
                                               else model.decoder_fingerprint()),
                          weights_release=model.weights_release,
                          probability_path=model.probability_path,
                          version=container.LATEST_VERSION if exact else container.FORMAT_VERSION,
                          synthesis=model.synthesis_path)
    data = container.pack(f, max_pixels=limits)
    if return_x_hat:
        return data, guard(model.name, "encoding", "this image",
                           lambda: model.synthesize(y_hat)[..., :h, :w])
    return data


# --------------------------------------------------------------------------- decoding

def _rgb_to_tensor(rgb):
    import torch
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(torch.float32).div_(255.0)


def _check_header_against(model, f: container.LicFile) -> tuple:
    """WeightsError or ContainerError where header ``f`` disagrees with ``model``; the
    latent shapes its streams code otherwise. Files of integer synthesis are the engine's
    to check beyond model and quality (release, quality, fingerprint)."""
    if f.model != model.name:
        raise WeightsError(
            f"this file was written by the {f.model!r} model; decode it with that model, "
            f"not {model.name!r} (lic_core.zoo.load({f.model!r}, {f.quality}))")
    if model.quality is not None and f.quality not in (0, model.quality):
        raise WeightsError(
            f"this file was written with {f.model} quality {f.quality}, "
            f"this model has quality {model.quality}")
    if f.synthesis == container.EXACT_SYNTHESIS:
        if model.exact_decoder is None:
            raise WeightsError(
                f"this file was written with integer synthesis by the zoo release "
                f"{f.weights_release!r}; this {model.name} model has none: decode it with "
                f"lic_core.decompress, or load that release's weights "
                f"(lic_core.zoo.load({f.model!r}, {f.quality}, release={f.weights_release!r}))")
        return ()
    # formats 2 and 3 always name the tensors (the container refuses fingerprint 0);
    # format 1 names none, and only model and quality protect its files
    if f.version >= 2 and f.weights_fingerprint != model.decoder_fingerprint():
        from .zoo.fingerprint import format_fingerprint
        written_by = (f"zoo release {f.weights_release!r}" if f.weights_release
                      else "weights not from the zoo")
        raise WeightsError(
            f"this file was written by other {f.model} weights ({written_by}, quality "
            f"{f.quality}, fingerprint {format_fingerprint(f.weights_fingerprint)}); this "
            f"model's fingerprint is {format_fingerprint(model.decoder_fingerprint())}: "
            f"decoding would give a wrong image")
    if f.probability_path != model.probability_path and model.probability_networks:
        raise WeightsError(
            f"this file's coding tables come from {container.PROBABILITY_PATHS[f.probability_path]}, "
            f"this {model.name} model's from {container.PROBABILITY_PATHS[model.probability_path]}: "
            f"load the weights that wrote it (zoo release {f.weights_release or 'not recorded'!r})")
    ph = f.height + (-f.height) % model.stride
    pw = f.width + (-f.width) % model.stride
    shapes = model.latent_shapes(ph, pw)
    if tuple(tuple(s) for s in f.latent_shapes) != shapes:
        raise ContainerError(
            f"latent shapes {f.latent_shapes} do not match a {f.height}x{f.width} image "
            f"(expected {shapes})")
    if len(f.streams) != len(model.stream_names):
        raise ContainerError(
            f"{model.name} files hold {len(model.stream_names)} streams, this one has {len(f.streams)}")
    return shapes


def decode_tensor(model, data, *, max_pixels: int | Limits | None = None, header=None):
    """.lic bytes → 1×3×H×W x̂ in [0, 1] with the zoo model ``model`` (what
    ``CompressionModel.decompress`` documents; it calls this). ``header``: the file as
    :func:`read_header` parsed it (parsed here if None). Checks the header against the
    model (WeightsError where another model, quality, fingerprint or probability path
    wrote it; ContainerError for latent shapes or streams it cannot have), then has the
    model decode the parsed streams (``model.decode_streams``); a file of integer
    synthesis is decoded by the model's engine decoder."""
    limits = Limits.resolve(max_pixels)
    f = read_header(data, max_pixels=limits) if header is None else header
    shapes = _check_header_against(model, f)
    if f.synthesis == container.EXACT_SYNTHESIS:
        # the engine decodes it, checking release, quality and fingerprint itself
        rgb = guard(model.name, "decoding", "this file",
                    lambda: model.exact_decoder.decode(bytes(data), max_pixels=limits))
        return _rgb_to_tensor(rgb)
    return guard_decoding(model.name, "this file", lambda: model.decode_streams(
        list(f.streams), shapes)[..., :f.height, :f.width])


def decode(data, *, model=None, max_pixels: int | Limits | None = None, header=None) -> "numpy.ndarray":
    """Decode the bytes of a .lic file to an H×W×3 uint8 RGB array (what
    ``lic_core.decompress`` documents; it calls this).

    The file is parsed once (``container.unpack``; or ``header``, the file as
    :func:`read_header` parsed it). A file of integer synthesis without ``model`` is
    decoded by the engine from its release's decoder weights, without torch. Otherwise
    ``model`` (a model object), or the zoo model the header names, decodes it: a zoo model
    through :func:`decode_tensor` with the header already parsed; any other object with
    a ``decompress(bytes, max_pixels=)`` method (a CompressAI-style ``{"x_hat": ...}``
    result is accepted) through that method."""
    limits = Limits.resolve(max_pixels)
    f = read_header(data, max_pixels=limits) if header is None else header
    if model is None and f.synthesis == container.EXACT_SYNTHESIS:
        # integer synthesis (format 4, zoo-v5 on): the engine decodes the whole file from
        # the release's decoder weights, the same pixels everywhere, without torch
        return exact_decoder_for_header(f).decode(data, max_pixels=limits)
    require_torch("lic_core.decompress")
    net = model_for_header(f) if model is None else model
    import torch
    from .images import to_uint8
    with torch.inference_mode():
        if callable(getattr(net, "decode_streams", None)):
            x_hat = decode_tensor(net, data, max_pixels=limits, header=f)
        else:
            x_hat = net.decompress(bytes(data), max_pixels=limits)
    if isinstance(x_hat, dict):  # tolerate a CompressAI-style {"x_hat": ...} result
        x_hat = x_hat["x_hat"]
    out = to_uint8(x_hat)
    if out.shape != (f.height, f.width, 3):
        raise LicError(f"decoder returned an image of shape {out.shape}, "
                       f"the header says {f.height}x{f.width}x3")
    return out
