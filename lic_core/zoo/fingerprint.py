"""The fingerprint of the tensors a decoder uses: what a .lic file records so that it
is never decoded under other weights.

A stream decodes only under the exact entropy-model tensors and tables that wrote it,
and its image only means something under the synthesis transform that goes with them.
So the fingerprint covers every tensor of the model's state dict except those only the
encoder runs (g_a, h_a): rebuilding the zoo changes the fingerprint, retraining just an
encoder does not.

Specification (reproducible without torch): SHA-256 over the ASCII line
``lic-core decoder tensors/1`` and a NUL, then for every state-dict entry in ascending
byte order of its name, skipping names that start with ``g_a.`` or ``h_a.``:
``name NUL dtype NUL shape NUL`` (dtype as NumPy's little-endian code such as ``<f4``,
shape as decimal sizes joined by ``x``, ``"scalar"`` for 0-d) followed by the raw values,
C order, little-endian. The fingerprint is the first 8 bytes of the digest read as an
unsigned little-endian integer; 0 is never a fingerprint (container formats 2 and 3
refuse it: docs/format.md, "Weights identity") and maps to 1.

A model's fingerprint names its weights as released: :meth:`CompressionModel.decoder_fingerprint`
computes it from the tensors as loaded and keeps it across moves to another dtype or
device, recomputing it only when a value changes (docs/format.md).
"""
from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["ENCODER_ONLY", "decoder_fingerprint", "fingerprint_state", "format_fingerprint"]

#: state-dict prefixes that only the encoder runs
ENCODER_ONLY = ("g_a.", "h_a.")
_DOMAIN = b"lic-core decoder tensors/1\0"


def fingerprint_state(state) -> int:
    """The fingerprint of a state dict (name → torch tensor or NumPy array)."""
    digest = hashlib.sha256(_DOMAIN)
    for name in sorted(state, key=lambda n: n.encode()):
        if name.startswith(ENCODER_ONLY):
            continue
        value = state[name]
        if hasattr(value, "detach"):
            value = value.detach().cpu().contiguous().numpy()
        array = np.ascontiguousarray(value)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        shape = "x".join(map(str, array.shape)) or "scalar"
        digest.update(f"{name}\0{array.dtype.str}\0{shape}\0".encode())
        digest.update(array.tobytes())
    return int.from_bytes(digest.digest()[:8], "little") or 1


def decoder_fingerprint(model) -> int:
    """The fingerprint of ``model``'s decoder-side tensors (see the module docstring)."""
    return fingerprint_state(model.state_dict())


def format_fingerprint(fingerprint: int) -> str:
    """How messages and ``lic info`` show a fingerprint: 16 hex digits."""
    return f"{fingerprint:016x}"
