"""Writing safetensors files deterministically, without torch.

The safetensors library writes its header's metadata in hash order, so one call gives
different bytes in different processes; a zoo release's files are pinned by SHA-256
(docs/format.md, "Releases") and the tools that make them promise the same bytes for
the same inputs. This writer lays the file out the same way every time: tensors by
element size, largest first (so every tensor stays aligned to its element), then by
name; the JSON header with sorted keys and no spaces, padded with spaces to a multiple
of 8 bytes, as the library pads it. Any safetensors reader reads the result.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Mapping

import numpy as np

from lic_core.errors import InvalidArgumentError

__all__ = ["write_safetensors", "DTYPES"]

#: NumPy dtype -> the safetensors dtype name
DTYPES = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
          np.dtype(np.uint16): "U16", np.dtype(np.int16): "I16", np.dtype(np.uint32): "U32",
          np.dtype(np.int32): "I32", np.dtype(np.uint64): "U64", np.dtype(np.int64): "I64",
          np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}


def write_safetensors(path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` (name -> NumPy array) and string ``metadata`` to ``path``;
    values little-endian, C order. The file appears whole (written beside, then renamed)."""
    arrays = {}
    for name, value in tensors.items():
        a = np.asarray(value)
        if a.dtype.newbyteorder("=") not in DTYPES:
            raise InvalidArgumentError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name")
        arrays[name] = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset, chunks = 0, []
    for name in order:
        a = arrays[name]
        data = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)
    return path
