"""The .lic container: a small, checked header around the model's entropy-coded streams.

The byte layout is specified in ``docs/format.md``; this module is its only
reader and writer. Everything is little-endian and fixed-width::

    off  size  field
      0     8  magic  89 4C 49 43 0D 0A 1A 0A   ("\\x89LIC\\r\\n\\x1a\\n")
      8     1  format version (4 or 3; versions 1 and 2 are still read)
      9     1  model id (fixed numbers, see MODEL_IDS)
     10     1  quality (0 = weights not from the zoo)
     11     1  latent group count G (1..MAX_GROUPS)
     12     1  stream count S (1..MAX_STREAMS)
     13     1  probability path (version 3; 0 in older versions): 0 = float32
                 networks, 1 = exact (integer networks v1, docs/integer.md, or none)
     14     1  synthesis path (version 4; reserved, zero, before): 0 = float32 g_s,
                 1 = exact (integer synthesis v1, docs/integer.md)
     15     1  reserved, zero
     16     4  image height (u32)
     20     4  image width  (u32)
     24     8  weights fingerprint (u64, never 0; versions 2 to 4)
     32     8  weights release, ASCII, NUL-padded (versions 2 to 4)
      .    8G  latent shapes, G x (u32 height, u32 width)
      .    4S  stream lengths, S x u32
      .     4  CRC-32 of the payload
      .     4  CRC-32 of the header (every byte before this field)
      .        payload: the S streams back to back

Why the weights fields: a stream only decodes under the exact tensors that wrote it.
The fingerprint (lic_core.zoo.fingerprint) identifies those tensors; the release names
the zoo release that shipped them, so a decoder without them can say what it needs.

Why two CRCs: ``lic info`` can then say whether the header or the payload is
damaged, and a flipped header byte (say, the quality) is caught even though
the payload still checks out.

Parsing never trusts a claimed size: the pixel limit (lic_core.limits: it counts the
image padded to a multiple of 64) is checked before anything is allocated, the header
length is checked against the bytes actually present, and the stream lengths must add
up to exactly the payload that follows (no trailing bytes).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import ContainerError, InvalidArgumentError, LimitExceededError, UnsupportedFormatError
from .limits import DEFAULT_MAX_PIXELS, MAX_PAD_MULTIPLE, Limits, padded_side

__all__ = [
    "LicFile", "pack", "unpack", "check_crcs", "CrcStatus",
    "MAGIC", "FORMAT_VERSION", "MODEL_IDS", "MODEL_NAMES", "DEFAULT_MAX_PIXELS",
    "MAX_GROUPS", "MAX_STREAMS", "header_size", "max_pixels_limit", "READABLE_VERSIONS",
    "RELEASE_LABEL_BYTES", "check_release_label", "FLOAT_PATH", "EXACT_PATH",
    "PROBABILITY_PATHS", "Limits", "MAX_PAD_MULTIPLE", "latent_bound", "FLOAT_SYNTHESIS",
    "EXACT_SYNTHESIS", "SYNTHESIS_PATHS", "LATEST_VERSION",
]

#: PNG-style signature: a high-bit byte (catches 7-bit transports), the name, and
#: CR LF / ^Z / LF (catch newline translation and stop ``type`` on DOS).
MAGIC = b"\x89LIC\r\n\x1a\n"
#: what a LicFile is written as unless it says otherwise: files of float synthesis stay
#: version 3, which every reader since format 3 takes; a file of integer synthesis must
#: be version 4 (the lowest version that holds what a file says is the one written)
FORMAT_VERSION = 3
#: the newest version this module reads and writes
LATEST_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
#: the probability path byte (version 3): how a decoder derives the coding tables.
#: FLOAT_PATH: float32 networks, exact only under the same kernels (every version 1 and 2
#: file); EXACT_PATH: integer networks (docs/integer.md) or no network at all (the
#: factorized model's stored tables), the same on every machine
FLOAT_PATH, EXACT_PATH = 0, 1
PROBABILITY_PATHS = {FLOAT_PATH: "float32 networks", EXACT_PATH: "exact (integer networks v1)"}
#: the synthesis path byte (version 4): how a decoder turns ŷ into pixels.
#: FLOAT_SYNTHESIS: g_s in float32 (every file before version 4), pixels within a level
#: across machines; EXACT_SYNTHESIS: the integer synthesis of docs/integer.md (zoo-v5
#: on), the same pixels everywhere, decoded by the engine without torch
FLOAT_SYNTHESIS, EXACT_SYNTHESIS = 0, 1
SYNTHESIS_PATHS = {FLOAT_SYNTHESIS: "float32 synthesis", EXACT_SYNTHESIS: "exact (integer synthesis v1)"}

#: Model ids are part of the format: written out here as numbers, never derived
#: from the order of a registry. Append only.
MODEL_IDS = {"factorized": 1, "hyperprior": 2, "mean-scale": 3, "joint": 4, "space-channel": 5}
MODEL_NAMES = {v: k for k, v in MODEL_IDS.items()}

# DEFAULT_MAX_PIXELS and MAX_PAD_MULTIPLE live in lic_core.limits (the one home of the
# pixel limit) and are re-exported here, where they have always been.
MAX_GROUPS = 8
MAX_STREAMS = 16
_U32_MAX = 0xFFFFFFFF

_FIXED = struct.Struct("<8sBBBBBB2sII")  # magic .. width: 24 bytes
_WEIGHTS = struct.Struct("<Q8s")         # version 2: fingerprint, release label
#: a release label: 1..8 characters of [a-z0-9.-] ("zoo-v3"); "" = not recorded
RELEASE_LABEL_BYTES = 8
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_SHAPE = struct.Struct("<II")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class LicFile:
    """One decoded container.

    ``latent_shapes[g]`` is the (height, width) of latent group g (e.g. ŷ then ẑ);
    ``streams[s]`` is the s-th entropy-coded stream, opaque to the container.
    """

    model: str
    quality: int
    height: int
    width: int
    latent_shapes: tuple[tuple[int, int], ...]
    streams: tuple[bytes, ...]
    #: 64-bit fingerprint of the decoder-side tensors that wrote the file: never 0 in
    #: versions 2 and 3 (pack and unpack refuse it); 0 in every version 1 file, which has
    #: no such field
    weights_fingerprint: int = 0
    #: the zoo release that shipped those weights ("": not recorded)
    weights_release: str = ""
    #: FLOAT_PATH or EXACT_PATH (version 3; always FLOAT_PATH in older versions)
    probability_path: int = FLOAT_PATH
    #: the format version: what unpack read, what pack writes. New files are version 3,
    #: or 4 when they record integer synthesis; versions 1 and 2 are written only to
    #: re-serialise a file as it was read
    version: int = FORMAT_VERSION
    #: FLOAT_SYNTHESIS or EXACT_SYNTHESIS (version 4; always FLOAT_SYNTHESIS before)
    synthesis: int = FLOAT_SYNTHESIS

    @property
    def num_pixels(self) -> int:
        return self.height * self.width

    @property
    def payload_bytes(self) -> int:
        return sum(len(s) for s in self.streams)


@dataclass(frozen=True)
class CrcStatus:
    """Result of :func:`check_crcs`: whether each stored CRC matches the bytes."""

    header_ok: bool
    payload_ok: bool

    @property
    def ok(self) -> bool:
        return self.header_ok and self.payload_ok


def latent_bound(side: int) -> int:
    """Largest latent side a valid file may claim for an image side of ``side`` pixels.

    A latent is never larger than the padded image (stride >= 1), and the padded side is
    ``side`` rounded up to a multiple of at most 64. A 1-pixel side thus allows a 64-row
    latent bound, while a tiny hyperprior image codes a 4x4 ŷ.
    """
    return padded_side(side, MAX_PAD_MULTIPLE)


def header_size(groups: int, streams: int, version: int = FORMAT_VERSION) -> int:
    """Bytes before the payload for G latent groups and S streams: 40 + 8G + 4S + 8 in
    format version 2, 24 + 8G + 4S + 8 in version 1."""
    weights = _WEIGHTS.size if version >= 2 else 0
    return _FIXED.size + weights + _SHAPE.size * groups + _U32.size * streams + 8


def check_release_label(label) -> str:
    """``label`` if it is a valid weights release label (see RELEASE_LABEL_BYTES)."""
    if not isinstance(label, str):
        raise InvalidArgumentError(f"weights_release must be a str, got {type(label).__name__}")
    if len(label) > RELEASE_LABEL_BYTES or not set(label) <= _LABEL_CHARS:
        raise InvalidArgumentError(
            f"weights_release must be at most {RELEASE_LABEL_BYTES} characters of a-z, 0-9, "
            f"'.', '-'; got {label!r}")
    return label


def max_pixels_limit(max_pixels: "int | Limits | None" = None) -> int:
    """The pixel limit in force: the argument, else $LIC_MAX_PIXELS, else 2^24
    (``Limits.resolve(max_pixels).max_pixels``; kept for callers that want the number)."""
    return Limits.resolve(max_pixels).max_pixels


# --------------------------------------------------------------------------- writing

def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _validate_for_pack(f: LicFile, limits: Limits) -> None:
    if not isinstance(f, LicFile):
        raise InvalidArgumentError(f"pack() takes a LicFile, got {type(f).__name__}")
    if f.model not in MODEL_IDS:
        raise InvalidArgumentError(
            f"model must be a canonical zoo name {sorted(MODEL_IDS)}, got {f.model!r}")
    _check_int("quality", f.quality, 0, 255)
    _check_int("height", f.height, 1, _U32_MAX)
    _check_int("width", f.width, 1, _U32_MAX)
    limits.check_image(f.height, f.width)  # what unpack checks: the image padded to 64
    shapes = tuple(f.latent_shapes)
    if not 1 <= len(shapes) <= MAX_GROUPS:
        raise InvalidArgumentError(f"latent_shapes must hold 1..{MAX_GROUPS} shapes, got {len(shapes)}")
    for g, shape in enumerate(shapes):
        if len(tuple(shape)) != 2:
            raise InvalidArgumentError(f"latent_shapes[{g}] must be (height, width), got {shape!r}")
        _check_int(f"latent_shapes[{g}] height", shape[0], 1, latent_bound(f.height))
        _check_int(f"latent_shapes[{g}] width", shape[1], 1, latent_bound(f.width))
    if not 1 <= len(f.streams) <= MAX_STREAMS:
        raise InvalidArgumentError(f"streams must hold 1..{MAX_STREAMS} streams, got {len(f.streams)}")
    for s, stream in enumerate(f.streams):
        if not isinstance(stream, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"streams[{s}] must be bytes, got {type(stream).__name__}")
        if len(stream) > _U32_MAX:
            raise LimitExceededError(f"streams[{s}] is longer than 2^32-1 bytes")
    _check_int("weights_fingerprint", f.weights_fingerprint, 0, (1 << 64) - 1)
    check_release_label(f.weights_release)
    if f.version not in READABLE_VERSIONS:
        raise InvalidArgumentError(f"version must be one of {READABLE_VERSIONS}, got {f.version!r}")
    if f.version == 1 and (f.weights_fingerprint or f.weights_release):
        raise InvalidArgumentError("format version 1 has no weights fields: write version 3")
    if f.version >= 2 and f.weights_fingerprint == 0:
        # what unpack refuses (docs/format.md, "Weights identity"): a file of a format with
        # fingerprints always names the tensors that wrote it
        raise InvalidArgumentError(
            "weights fingerprint: 0 is not a fingerprint (formats 2 to 4 record the "
            "decoder-side tensors' fingerprint, never 0)")
    if f.synthesis not in SYNTHESIS_PATHS:
        raise InvalidArgumentError(f"synthesis must be one of {sorted(SYNTHESIS_PATHS)}, got {f.synthesis!r}")
    if f.version < 4 and f.synthesis != FLOAT_SYNTHESIS:
        raise InvalidArgumentError("format versions 1 to 3 have no synthesis path: write version 4")
    if f.probability_path not in PROBABILITY_PATHS:
        raise InvalidArgumentError(f"probability_path must be one of {sorted(PROBABILITY_PATHS)}, "
                                   f"got {f.probability_path!r}")
    if f.version < 3 and f.probability_path != FLOAT_PATH:
        raise InvalidArgumentError("format versions 1 and 2 have no probability path: write version 3")


def pack(f: LicFile, *, max_pixels: "int | Limits | None" = None) -> bytes:
    """Serialise ``f`` to .lic bytes (layout in the module docstring).

    Refuses what :func:`unpack` would refuse, so every packed file reads back.
    ``max_pixels``: an int, a resolved :class:`~lic_core.limits.Limits`, or None
    ($LIC_MAX_PIXELS, else 2^24).
    """
    _validate_for_pack(f, Limits.resolve(max_pixels))
    streams = [bytes(s) for s in f.streams]
    payload = b"".join(streams)
    parts = [_FIXED.pack(MAGIC, f.version, MODEL_IDS[f.model], f.quality,
                         len(f.latent_shapes), len(streams), f.probability_path,
                         bytes([f.synthesis, 0]), f.height, f.width)]
    if f.version >= 2:
        parts.append(_WEIGHTS.pack(f.weights_fingerprint, f.weights_release.encode("ascii")))
    parts += [_SHAPE.pack(int(h), int(w)) for h, w in f.latent_shapes]
    parts += [_U32.pack(len(s)) for s in streams]
    parts.append(_U32.pack(zlib.crc32(payload)))
    header = b"".join(parts)
    return header + _U32.pack(zlib.crc32(header)) + payload


# --------------------------------------------------------------------------- reading

def _as_bytes(data) -> memoryview:
    """A flat byte view of ``data``. A non-contiguous memoryview (a strided slice, a
    transposed array's buffer) is copied: its bytes in C order are the file, and
    ``memoryview.cast`` cannot reinterpret it in place."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        if not view.c_contiguous:
            return memoryview(view.tobytes())
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    raise InvalidArgumentError(f"expected bytes-like .lic data, got {type(data).__name__}")


def _parse_label(raw: bytes) -> str:
    """The release label of a version 2 header: ASCII of _LABEL_CHARS, NUL-padded."""
    text = raw.rstrip(b"\0")
    if b"\0" in text or not set(text.decode("latin-1")) <= _LABEL_CHARS:
        raise ContainerError(f"weights release: {raw!r} is not a NUL-padded release label")
    return text.decode("ascii")


def _parse(data, max_pixels: "int | Limits | None"):
    """Parse and validate everything except the CRCs. Returns (LicFile, stored CRCs, header end)."""
    limits = Limits.resolve(max_pixels)
    view = _as_bytes(data)
    n = len(view)
    if n < len(MAGIC) or bytes(view[:len(MAGIC)]) != MAGIC:
        raise ContainerError("magic: not a .lic file (the first 8 bytes are not \\x89LIC\\r\\n\\x1a\\n)")
    if n < _FIXED.size:
        raise ContainerError(f"header: file is {n} bytes, shorter than the {_FIXED.size}-byte fixed header")
    (magic, version, model_id, quality, groups, nstreams, path, reserved, height,
     width) = _FIXED.unpack_from(view, 0)
    if version == 0:
        raise ContainerError("version: 0 is not a valid format version")
    if version not in READABLE_VERSIONS:
        raise UnsupportedFormatError(
            f"version: file has format version {version}; this lic-core reads up to {LATEST_VERSION}")
    if model_id not in MODEL_NAMES:
        raise UnsupportedFormatError(
            f"model id: {model_id} is not a known model (known: {sorted(MODEL_NAMES)})")
    synthesis = reserved[0] if version >= 4 else FLOAT_SYNTHESIS
    if reserved[1] != 0 or (version < 4 and reserved[0] != 0) or (version < 3 and path != 0):
        if version >= 4:
            raise ContainerError("reserved: byte 15 must be zero")
        raise ContainerError(f"reserved: bytes {13 if version < 3 else 14}..15 must be zero")
    if path not in PROBABILITY_PATHS:
        raise UnsupportedFormatError(
            f"probability path: {path} is not a known one (known: {sorted(PROBABILITY_PATHS)}); "
            f"a newer lic-core wrote this file")
    if synthesis not in SYNTHESIS_PATHS:
        raise UnsupportedFormatError(
            f"synthesis path: {synthesis} is not a known one (known: {sorted(SYNTHESIS_PATHS)}); "
            f"a newer lic-core wrote this file")
    if height == 0 or width == 0:
        raise ContainerError(f"height/width: image size {width}x{height} (width x height) is empty")
    # The limit is checked before anything proportional to the claimed size exists, on
    # the image padded to 64: that is what a model allocates for (lic_core.limits).
    limits.check_image(height, width, field="height/width")
    if not 1 <= groups <= MAX_GROUPS:
        raise ContainerError(f"latent group count: {groups} is outside 1..{MAX_GROUPS}")
    if not 1 <= nstreams <= MAX_STREAMS:
        raise ContainerError(f"stream count: {nstreams} is outside 1..{MAX_STREAMS}")
    hsize = header_size(groups, nstreams, version)
    if n < hsize:
        raise ContainerError(f"header: file is {n} bytes, shorter than its {hsize}-byte header")
    off = _FIXED.size
    fingerprint, release = 0, ""
    if version >= 2:
        fingerprint, raw_label = _WEIGHTS.unpack_from(view, off)
        off += _WEIGHTS.size
        if fingerprint == 0:
            # 0 would switch the decoder's fingerprint check off: a file whose header was
            # changed (its quality, its release) would decode under other weights to a
            # wrong image. No writer ever wrote 0 in versions 2 and 3 (docs/format.md).
            raise ContainerError("weights fingerprint: 0 is not a fingerprint; versions 2 "
                                 "to 4 always record the weights that wrote the file")
        release = _parse_label(raw_label)
    shapes = []
    for g in range(groups):
        lh, lw = _SHAPE.unpack_from(view, off)
        off += _SHAPE.size
        if not (1 <= lh <= latent_bound(height) and 1 <= lw <= latent_bound(width)):
            raise ContainerError(
                f"latent shape {g}: {lw}x{lh} is empty or larger than the {width}x{height} "
                f"image padded to a multiple of {MAX_PAD_MULTIPLE}")
        shapes.append((lh, lw))
    lengths = []
    for _ in range(nstreams):
        (length,) = _U32.unpack_from(view, off)
        off += _U32.size
        lengths.append(length)
    (payload_crc,) = _U32.unpack_from(view, off)
    (header_crc,) = _U32.unpack_from(view, off + 4)
    payload_size = n - hsize
    if sum(lengths) != payload_size:
        kind = "truncated" if sum(lengths) > payload_size else "trailing bytes"
        raise ContainerError(
            f"stream lengths: they sum to {sum(lengths)} bytes but {payload_size} payload bytes "
            f"follow the header ({kind})")
    streams = []
    pos = hsize
    for length in lengths:
        streams.append(bytes(view[pos:pos + length]))
        pos += length
    f = LicFile(model=MODEL_NAMES[model_id], quality=quality, height=height, width=width,
                latent_shapes=tuple(shapes), streams=tuple(streams),
                weights_fingerprint=fingerprint, weights_release=release,
                probability_path=path, version=version, synthesis=synthesis)
    return f, payload_crc, header_crc, view, hsize


def check_crcs(data, *, max_pixels: "int | Limits | None" = None) -> tuple[LicFile, CrcStatus]:
    """Parse ``data`` without enforcing the CRCs; report whether each one matches.

    Used by ``lic info`` to show a damaged file's header. Structural errors still raise.
    """
    f, payload_crc, header_crc, view, hsize = _parse(data, max_pixels)
    header_ok = zlib.crc32(view[:hsize - 4]) == header_crc
    payload_ok = zlib.crc32(view[hsize:]) == payload_crc
    return f, CrcStatus(header_ok=header_ok, payload_ok=payload_ok)


def unpack(data, *, max_pixels: "int | Limits | None" = None) -> LicFile:
    """Parse and fully validate .lic bytes (any bytes-like object; a non-contiguous
    memoryview is copied).

    Raises ContainerError naming the bad field (magic, version, sizes, lengths,
    CRC), UnsupportedFormatError for a newer version or unknown model id,
    LimitExceededError when the image padded to a multiple of 64 exceeds ``max_pixels``
    (an int or a resolved Limits; default: $LIC_MAX_PIXELS or 2^24),
    InvalidArgumentError when ``data`` is not bytes.
    """
    f, status = check_crcs(data, max_pixels=max_pixels)
    if not status.header_ok:
        raise ContainerError("header CRC-32: mismatch, the header is damaged")
    if not status.payload_ok:
        raise ContainerError("payload CRC-32: mismatch, the streams are damaged")
    return f
