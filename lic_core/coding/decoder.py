"""The engine's whole-file decoder: .lic bytes to pixels with NumPy alone, no torch.

A file of container format 4 written with integer synthesis (the zoo from release
zoo-v5 on) decodes to the same pixels on every machine: the entropy decoding, the
probability networks and the synthesis run as the integer arithmetic of
docs/integer.md, in the compiled engine (``csrc/lic/decoder.cpp``, C ABI
``lic_file_decoder_*``). What it reads is a release's decoder weights file
(``<family>-q<A>[-<B>].decoder.safetensors``, docs/format.md "Decoder weights").
``lic_core.decompress`` uses this for such files; this module is the direct way::

    >>> from lic_core.coding.decoder import FileDecoder                # doctest: +SKIP
    >>> dec = FileDecoder("lic_core/zoo/weights/hyperprior-q1-8.decoder.safetensors")
    >>> rgb = dec.decode(open("photo.lic", "rb").read())              # H x W x 3 uint8

Errors are lic_core.errors classes: WeightsError when the file needs other weights
(release, model, quality, fingerprint: the message says which), UnsupportedFormatError
for a file of float synthesis (format 1 to 3: lic_core.decompress decodes those with
torch), ContainerError and the coder's errors for damaged bytes, LimitExceededError
past the pixel limit.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError, MissingDependencyError
from ..limits import Limits

try:
    from . import _decoder
except ImportError as exc:  # pragma: no cover - a broken or partial build
    raise MissingDependencyError(
        f"lic_core.coding.decoder needs the compiled module lic_core.coding._decoder ({exc}); "
        "rebuild lic-core: pip install -e .") from exc

__all__ = ["FileDecoder", "DECODER_SUFFIX", "open_cached"]

#: how a decoder weights file's name ends (its model file's stem before it)
DECODER_SUFFIX = ".decoder.safetensors"


class FileDecoder:
    """One decoder weights file, opened and checked once; decodes any number of files,
    from any number of threads. ``path`` or ``data=`` (the file's bytes)."""

    def __init__(self, path: str | os.PathLike | None = None, *, data=None):
        if (path is None) == (data is None):
            raise InvalidArgumentError("give a decoder weights file's path or its data=, one of them")
        self.path = Path(path) if path is not None else None
        self._w = _decoder.Weights.open(self.path) if path is not None else _decoder.Weights.from_bytes(data)

    @property
    def family(self) -> str:
        """The model family: "factorized", "hyperprior", "mean-scale", "joint" or
        "space-channel"."""
        return self._w.family

    @property
    def qualities(self) -> list[int]:
        return self._w.qualities

    @property
    def release(self) -> str:
        """The label of the zoo release these weights came from."""
        return self._w.release

    def fingerprint(self, quality: int) -> int:
        """The weights fingerprint a file of ``quality`` records (docs/format.md,
        "Weights fingerprint (2)"); WeightsError when the file holds no such quality."""
        return self._w.fingerprint(_quality(quality))

    def synthesis_input(self, quality: int) -> tuple[int, np.ndarray | None, int]:
        """(Fy, the factorized model's input offsets or None, Fm): how the synthesis input
        of ``quality`` is formed from symbols and means (docs/integer.md)."""
        frac, offset, mean_frac, _ = self._w.synthesis_input(_quality(quality))
        return frac, offset, mean_frac

    def synthesize(self, quality: int, y, *, threads: int | None = None) -> np.ndarray:
        """The integer synthesis of ``quality`` alone on an int16 latent ``y`` (h x w x M,
        position-major): the (16 h) x (16 w) x 3 pixels a decode of that latent gives.
        What an encoder runs to know its file's decoded image."""
        from .intnet import _int_array, _threads, default_threads
        y = _int_array(y, "y", np.int16)
        if y.ndim != 3:
            raise InvalidArgumentError(f"y must be h x w x M int16, got shape {y.shape}")
        n = default_threads() if threads is None else _threads(threads)
        return self._w.synthesize(_quality(quality), y.reshape(-1), y.shape[0], y.shape[1], n)

    def decode(self, data, *, max_pixels: int | Limits | None = None, threads: int | None = None) -> np.ndarray:
        """A whole .lic file (bytes-like) -> H x W x 3 uint8, the same bytes on every
        machine. ``max_pixels``: the pixel limit (lic_core.limits); ``threads``: how many
        threads share the large layers (default: lic_core.coding.intnet's), the pixels
        do not depend on it."""
        from .intnet import _threads, default_threads
        limit = Limits.resolve(max_pixels).max_pixels
        n = default_threads() if threads is None else _threads(threads)
        return self._w.decode(data, limit, n)

    def __repr__(self):
        where = f"{str(self.path)!r}" if self.path else "data"
        return f"FileDecoder({where}: {self.family} q{self.qualities}, release {self.release!r})"


def _quality(q) -> int:
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or not 1 <= q <= 255:
        raise InvalidArgumentError(f"quality must be an int in 1..255, got {q!r}")
    return int(q)


_cache: dict[tuple, FileDecoder] = {}
_cache_lock = threading.Lock()


def open_cached(path) -> FileDecoder:
    """The FileDecoder of a decoder weights file, parsed once per process while the file
    stays the same (its resolved path, device, inode, size and modification time): a
    replaced file is read again. Decoders are immutable and thread-safe, so sharing is
    safe."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        found = FileDecoder(path)
        with _cache_lock:
            found = _cache.setdefault(key, found)
    return found
