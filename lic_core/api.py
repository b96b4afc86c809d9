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
INSTALL_HINT = ('pip install "lic-core[models]" (install torch==2.13.0 first, e.g. '
                'pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, '
                'so that pip takes the CPU wheel and not a CUDA build)')


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


def _model_for_header(header):
    """The zoo model a header names (model, quality, release), or WeightsError: every value
    here was read from the file, so none of the problems is the caller's argument."""
    from .zoo.registry import QUALITIES
    if header.quality == 0:
        raise WeightsError(
            f"this file was written by a {header.model!r} model with weights not from the zoo "
            "(quality 0); pass model= the model that wrote it")
    if header.quality not in QUALITIES:
        raise WeightsError(
            f"this file was written by {header.model} quality {header.quality}; the zoo ships "
            f"qualities {QUALITIES[0]}..{QUALITIES[-1]}, so no weights here can decode it")
    # The release the header names (format 1 files name none: FORMAT1_RELEASE wrote them).
    from .zoo.release import FORMAT1_RELEASE
    release = header.weights_release or (FORMAT1_RELEASE if header.version == 1 else None)
    try:
        return _cached_model(header.model, header.quality, release)
    except InvalidArgumentError as exc:  # e.g. the current weights lack that quality
        raise WeightsError(f"this file needs {header.model} quality {header.quality}: {exc}") from exc


def _inference():
    import torch
    return torch.inference_mode()


# --------------------------------------------------------------------------- public API

def compress(image, model="hyperprior", quality: int = 3, *,
             max_pixels: int | Limits | None = None, effort: int | None = None,
             progress=None) -> bytes:
    """Compress ``image`` with zoo model ``model`` at ``quality``; returns .lic bytes.

    ``model`` may also be a model object (e.g. ``zoo.build(...)``), whose own
    quality is then recorded and ``quality`` is ignored. An image whose padded size
    (lic_core.limits) exceeds ``max_pixels`` (default: $LIC_MAX_PIXELS or 2^24) raises
    LimitExceededError before any model is loaded; the same limit goes to the model.
    ``effort`` (0..9; default ``lic_core.zoo.effort.DEFAULT_EFFORT``): how long the
    encoder searches for a better file for this image; every level decodes with the same
    decoder (README, "Effort levels"). ``progress(step, steps)`` follows that search.
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
        kwargs = {} if effort is None else {"effort": effort, "progress": progress}
        data = net.compress(to_tensor(rgb), max_pixels=limits, **kwargs)
    if not isinstance(data, (bytes, bytearray)):
        raise LicError(f"model {getattr(net, 'name', net)!r} returned {type(data).__name__}, not bytes")
    return bytes(data)


def decompress(data, *, model=None, max_pixels: int | None = None) -> np.ndarray:
    """Decode .lic bytes to an H×W×3 uint8 array.

    The header names model, quality and zoo weights release (docs/format.md); those
    weights are loaded (format 1 files: release ``zoo-v3``), and a release this
    installation lacks raises WeightsError naming it. A file with quality 0 (weights not
    from the zoo) needs ``model=`` (the model object that wrote it).

    Errors follow where a value came from (docs/format.md, "Errors"): a quality in the
    header that the zoo does not ship, or a header disagreeing with ``model=``, is
    WeightsError (the file needs other weights), never InvalidArgumentError.
    """
    _require_torch("lic_core.decompress")
    limits = Limits.resolve(max_pixels)
    header = container.unpack(data, max_pixels=limits)
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
