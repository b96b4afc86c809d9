"""Image-level API: ``compress(image) -> bytes`` and ``decompress(bytes) -> image``.

Images are 8-bit RGB: a path, a PIL image or an H×W×3 uint8 array, converted by
:func:`lic_core.images.to_rgb_array` (grayscale replicated, alpha composited on white
with a :class:`~lic_core.images.LossyConversionWarning`, 16-bit and float refused).
``decompress`` reads the model, quality and weights release from the container header
and loads the matching zoo weights (or uses the ``model=`` it is given).

The path between bytes and a model (header parse, header → weights, checks, error
mapping) is :mod:`lic_core.codec`'s; this module reads and converts images and calls it.

Models by name. ``compress``/``decompress`` with a zoo name use the codec's private cache
of the 8 most recently used models (``codec.cached_model``), so a loop over images
reads each weights file once. The cache is keyed on the weights file that ``zoo.load``
would read *now* (its path, inode, size and modification time, and its folder's release
label; about half a millisecond per call to check), so a changed ``$LIC_WEIGHTS_DIR`` or a replaced file is read again.
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

import numpy as np

from . import codec
# the torch check and its hint live in the codec (its decode path needs them); kept here
# under their old names (lic_core.cli.common reads api.INSTALL_HINT)
from .codec import INSTALL_HINT, require_torch as _require_torch  # noqa: F401
from .errors import InvalidArgumentError, LicError, MissingDependencyError
from .limits import Limits
from .zoo.registry import DEFAULT_MODEL, DEFAULT_QUALITY
# The conversions live in lic_core.images; re-exported here, where they have always been.
from .images import SAMPLES_DIR, LossyConversionWarning, sample_paths, to_rgb_array, to_tensor, to_uint8

__all__ = ["compress", "decompress", "load_model", "random_model", "to_rgb_array", "to_tensor",
           "to_uint8", "sample_paths", "SAMPLES_DIR", "LossyConversionWarning",
           "MissingDependencyError"]


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


def _model_for(model, quality):
    """compress/decompress's model: the cached zoo model for a name, or the object given."""
    if isinstance(model, str):
        return codec.cached_model(model, _check_quality_type(model, quality))
    if hasattr(model, "compress") and hasattr(model, "decompress"):
        return model
    raise InvalidArgumentError(
        f"model must be a zoo name or a zoo model object, got {type(model).__name__}")


def _inference():
    import torch
    return torch.inference_mode()


# --------------------------------------------------------------------------- public API

def compress(image, model=DEFAULT_MODEL, quality: int = DEFAULT_QUALITY, *, effort: int | None = None,
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
        if callable(getattr(net, "decode_streams", None)):  # a zoo model: the codec codes it
            data = codec.encode(net, to_tensor(rgb), max_pixels=limits, **extra)
        else:
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
    header = codec.read_header(data, max_pixels=limits)  # the one parse of the file
    if model is None and header.synthesis == codec.container.EXACT_SYNTHESIS:
        return codec.decode(data, max_pixels=limits, header=header)  # the engine, no torch
    _require_torch("lic_core.decompress")
    net = None if model is None else _model_for(model, None)
    return codec.decode(data, model=net, max_pixels=limits, header=header)
