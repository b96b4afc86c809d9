"""Image-level API: ``compress(image) -> bytes`` and ``decompress(bytes) -> image``.

Images are 8-bit RGB: a path, a PIL image or an H×W×3 uint8 array, converted by
:func:`lic_core.images.to_rgb_array` (grayscale replicated, alpha composited on white
with a :class:`~lic_core.images.LossyConversionWarning`, 16-bit and float refused).
``decompress`` reads the model, quality and weights release from the container header
and loads the matching zoo weights (or uses the ``model=`` it is given).

Models by name. ``compress``/``decompress`` with a zoo name use a private cache of the
8 most recently used models, so a loop over images reads each weights file once. The
cache is keyed on the weights file that ``zoo.load`` would read *now* (its path, inode,
size and modification time, and its folder's release label; about half a millisecond
per call to check), so a changed ``$LIC_WEIGHTS_DIR`` or a replaced file is read again.
It never hands its models out: :func:`load_model` returns a new model each call, the
caller's to mutate (``.train()``, ``.to()``, fine-tuning) without changing what
``compress`` computes.

Limits. ``max_pixels=`` is resolved once per call (argument, else ``$LIC_MAX_PIXELS``, else
2^24) into a :class:`lic_core.limits.Limits`, and that one value goes to the container and
to the model: nothing below re-reads the environment, so an argument can raise the limit
as well as lower it. It counts the image padded to a multiple of 64 (lic_core.limits).

Without torch (a NumPy-only install) every function here that needs the models raises
:class:`MissingDependencyError` saying what to install.

Example::

    >>> import numpy as np, lic_core
    >>> data = lic_core.compress(np.zeros((64, 64, 3), np.uint8), "hyperprior", 3)  # doctest: +SKIP
    >>> lic_core.decompress(data).shape                                            # doctest: +SKIP
    (64, 64, 3)
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from . import container
from .errors import InvalidArgumentError, LicError, MissingDependencyError, WeightsError
from .limits import Limits
# The conversions live in lic_core.images; re-exported here, where they have always been.
from .images import SAMPLES_DIR, LossyConversionWarning, sample_paths, to_rgb_array, to_tensor, to_uint8

__all__ = ["compress", "decompress", "load_model", "random_model", "to_rgb_array", "to_tensor",
           "to_uint8", "sample_paths", "SAMPLES_DIR", "LossyConversionWarning",
           "MissingDependencyError"]


# --------------------------------------------------------------------------- torch

#: how to install what a NumPy-only install lacks for the models: the [models] extra
#: (torch, safetensors, Pillow, tqdm, matplotlib); the CLI gives it for any of them missing
#: (lic_core.cli.common.error_text)
INSTALL_HINT = ('pip install -e ".[models]" in a lic-core checkout (lic-core is installed from '
                'its source tree; install torch==2.13.0 first, e.g. pip install torch==2.13.0 '
                '--index-url https://download.pytorch.org/whl/cpu, so that pip takes the CPU wheel '
                'and not a CUDA build)')


def _require_torch(what: str) -> None:
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



# --------------------------------------------------------------------------- models

def _check_quality_type(name: str, quality) -> int:
    if quality is None:
        raise InvalidArgumentError(f"a quality is needed to load zoo model {name!r}")
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise InvalidArgumentError(f"quality must be an int, got {type(quality).__name__}")
    return int(quality)


def load_model(name: str, quality: int):
    """A new zoo model ``name`` (canonical or CompressAI alias) with its trained weights for
    ``quality``, in eval mode.

    Each call reads and validates the weights file and returns a model no one else holds:
    mutate it freely, it does not change what ``compress``/``decompress`` compute. Keep
    the object to reuse it. Raises InvalidArgumentError for an unknown name or quality,
    or when no weights ship for them; WeightsError for a damaged file.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"model must be a zoo name, got {type(name).__name__}")
    quality = _check_quality_type(name, quality)
    _require_torch("lic_core.load_model")
    from . import zoo
    return zoo.load(name, quality)


def random_model(name: str, *, seed: int = 0):
    """A new zoo model ``name`` with random weights (seeded) and coding tables, in eval mode.

    For showing that the pipeline works where no trained weights ship: its rates and
    PSNR say nothing about compression quality. ``.quality`` is None, so the files it
    writes record quality 0 and need ``decompress(data, model=...)``. Torch's global
    random state is left as it was.
    """
    _require_torch("lic_core.random_model")
    import torch

    from . import zoo
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = zoo.build(name)
    net.update(force=True)  # a fresh model has no coding tables yet
    return net.eval()


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


def _cached_model(name: str, quality: int, release: str | None = None):
    """The zoo model for ``(name, quality, release)`` from the private cache (loaded on a
    miss). Only compress/decompress use it, and they never hand it out nor change it."""
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


def _model_for(model, quality):
    """compress/decompress's model: the cached zoo model for a name, or the object given."""
    if isinstance(model, str):
        return _cached_model(model, _check_quality_type(model, quality))
    if hasattr(model, "compress") and hasattr(model, "decompress"):
        return model
    raise InvalidArgumentError(
        f"model must be a zoo name or a zoo model object, got {type(model).__name__}")


def _release_for_header(header) -> str:
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


def _model_for_header(header):
    """The zoo model a header names (model, quality, release), or WeightsError."""
    release = _release_for_header(header)
    try:
        return _cached_model(header.model, header.quality, release)
    except InvalidArgumentError as exc:  # e.g. the current weights lack that quality
        raise WeightsError(f"this file needs {header.model} quality {header.quality}: {exc}") from exc


def _exact_decoder_for_header(header):
    """The engine's decoder of the decoder weights file a header of integer synthesis
    names (its release's, for its model and quality), checked against the release's
    manifest; WeightsError saying what is missing. Imports no torch."""
    from .coding.decoder import open_cached
    from .zoo.catalog import locate_decoder
    from .zoo.release import known_releases, verify_file
    release = _release_for_header(header)
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
        raise WeightsError(
            f"this file was written with integer synthesis, but the weights release {release!r} "
            f"in {folder} has no decoder weights for {header.model} quality {header.quality}")
    verify_file(folder, path)
    return open_cached(path)


def _inference():
    import torch
    return torch.inference_mode()


# --------------------------------------------------------------------------- public API

def compress(image, model="hyperprior", quality: int = 3, *, effort: int | None = None,
             max_pixels: int | Limits | None = None, progress=None) -> bytes:
    """Compress an 8-bit RGB image to the bytes of a .lic file (docs/format.md).

    Args:
        image: a path (str or os.PathLike) to an image file, a PIL image, or an H×W×3
            uint8 NumPy array (H×W and H×W×4 arrays too). Grayscale is replicated to RGB,
            alpha composited on white with a :class:`LossyConversionWarning`; 16-bit and
            float images are refused (:func:`lic_core.images.to_rgb_array`).
        model: a zoo name (``"factorized"``, ``"hyperprior"``, ``"mean-scale"``,
            ``"joint"`` or a CompressAI alias such as ``"mbt2018"``; see ``lic models``),
            or a model object (e.g. :func:`load_model`, ``zoo.build(...)``,
            ``zoo.from_compressai(...)``), whose own quality is then recorded.
        quality: the zoo quality, for a zoo name: what the current weights release ships
            of that model (``lic models``: hyperprior and joint 1..8, factorized 1, 2, 4,
            6, 8 in zoo-v4); ignored for a model object.
        effort: 0..9, how long the encoder searches for better latents for this image
            (default ``lic_core.zoo.effort.DEFAULT_EFFORT``, 0: as fast as decoding).
            Every level writes a file the same decoder reads (README, "Effort levels").
        max_pixels: the pixel limit (an int, or a resolved
            :class:`lic_core.limits.Limits`); default ``$LIC_MAX_PIXELS``, else 2^24. It
            counts the image padded to a multiple of 64 and is checked before any model
            is loaded; files over it would be refused by decoders with the same limit.
        progress: ``progress(step, steps)``, called during an effort level's search.

    Returns:
        The .lic file as ``bytes``: a header naming the model, quality, image size and
        the weights (release label and fingerprint), then the entropy-coded streams.

    Raises:
        InvalidArgumentError: an unknown model name, a quality its release does not ship
            (the message says which do), an effort outside 0..9, an image that cannot be
            read or converted.
        LimitExceededError: the image padded to 64 is over ``max_pixels``, or encoding it
            needs more memory than the machine gives.
        WeightsError: the shipped weights are missing or damaged (checked against their
            release's manifest), or the model object cannot encode (a decoder-only
            retired release).
        MissingDependencyError: torch is not installed.

    Example::

        >>> import numpy as np, lic_core
        >>> image = np.zeros((64, 96, 3), np.uint8)
        >>> data = lic_core.compress(image, "hyperprior", 3)           # doctest: +SKIP
        >>> data[:4], lic_core.decompress(data).shape                   # doctest: +SKIP
        (b'\\x89LIC', (64, 96, 3))
    """
    _require_torch("lic_core.compress")
    from .zoo.effort import check_effort
    if effort is not None:
        check_effort(effort)
    limits = Limits.resolve(max_pixels)
    rgb = to_rgb_array(image)
    h, w = rgb.shape[:2]
    limits.check_image(h, w)
    net = _model_for(model, quality)
    import torch
    # the search needs autograd, which inference mode switches off for good
    with (torch.no_grad() if effort else _inference()):
        # a model object need not know effort levels unless one is asked for
        extra = {} if effort is None else {"effort": effort, "progress": progress}
        data = net.compress(to_tensor(rgb), max_pixels=limits, **extra)
    if not isinstance(data, (bytes, bytearray)):
        raise LicError(f"model {getattr(net, 'name', net)!r} returned {type(data).__name__}, not bytes")
    return bytes(data)


def decompress(data, *, model=None, max_pixels: int | Limits | None = None) -> np.ndarray:
    """Decode the bytes of a .lic file to an H×W×3 uint8 RGB array.

    Args:
        data: the file's bytes (any bytes-like object: bytes, bytearray, memoryview).
        model: None to load the weights the header names (model, quality and weights
            release; format 1 files, which name no release: ``zoo-v3``), or the model
            object that wrote the file, needed for weights not from the zoo (files whose
            header has quality 0 or no release label).
        max_pixels: the pixel limit (an int, or a resolved
            :class:`lic_core.limits.Limits`); default ``$LIC_MAX_PIXELS``, else 2^24. A
            header whose image, padded to a multiple of 64, is over it is refused before
            anything of that size is allocated.

    Returns:
        The image as a C-contiguous ``numpy.ndarray`` of shape (H, W, 3), dtype uint8.

    Raises:
        ContainerError: the bytes are not a valid .lic file (magic, sizes, CRCs, ...).
        UnsupportedFormatError: a newer format version or an unknown model id.
        LimitExceededError: the image is over ``max_pixels``, or decoding it needs more
            memory than the machine gives.
        WeightsError: the file needs weights this installation does not have or
            ``model`` is not: a release not installed (named), a quality its release does
            not ship, weights not from the zoo without ``model=``, or a header (model,
            quality, fingerprint) disagreeing with ``model``. Never InvalidArgumentError
            for what the file says (docs/format.md, "Errors").
        CorruptStreamError (and its subclasses): the streams do not decode.
        InvalidArgumentError: ``data`` is not bytes-like, or ``model`` is not a model.
        MissingDependencyError: torch is not installed and the file needs it (files of
            integer synthesis, format 4, decode with NumPy and the engine alone).

    Example::

        >>> import lic_core
        >>> data = lic_core.compress("lic_core/samples/kodim23.png", "joint", 4)  # doctest: +SKIP
        >>> lic_core.decompress(data).dtype                                      # doctest: +SKIP
        dtype('uint8')
    """
    limits = Limits.resolve(max_pixels)
    header = container.unpack(data, max_pixels=limits)
    if model is None and header.synthesis == container.EXACT_SYNTHESIS:
        # integer synthesis (format 4, zoo-v5 on): the engine decodes the whole file from
        # the release's decoder weights, the same pixels everywhere, without torch
        return _exact_decoder_for_header(header).decode(data, max_pixels=limits)
    _require_torch("lic_core.decompress")
    if model is None:
        net = _model_for_header(header)
    else:
        net = _model_for(model, None)
    with _inference():
        x_hat = net.decompress(bytes(data), max_pixels=limits)
    if isinstance(x_hat, dict):  # tolerate a CompressAI-style {"x_hat": ...} result
        x_hat = x_hat["x_hat"]
    out = to_uint8(x_hat)
    if out.shape != (header.height, header.width, 3):
        raise LicError(f"decoder returned an image of shape {out.shape}, "
                       f"the header says {header.height}x{header.width}x3")
    return out
