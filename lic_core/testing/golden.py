"""Golden files: .lic files kept with what they decode to, so that a change which alters
how written files decode is caught (docs/reliability.md, "Golden files").

The one definition of the golden files' layout, shared by the program that writes them
(tools/make_golden.py, tools/make_golden_mean_scale.py) and everything that checks them
(lic-core's tests, the C programs through ``digests.txt``); also usable to pin files of
one's own the same way. Importing this module needs nothing beyond the standard
library; :func:`decode` needs torch.

* A golden folder holds ``<name>.lic`` files, their decoded ``<name>.png`` and a
  ``manifest.json`` (:data:`MANIFEST`): per file its header fields, SHA-256, and per
  stream the count and SHA-256 of the entropy-decoded symbols (:func:`decode`); for
  files of integer synthesis also ``image_sha256``, repeated as plain text in
  ``digests.txt`` (:data:`DIGESTS`, :func:`digests_text`).
* A golden root holds the oldest release's files itself and each later release's in a
  ``zoo-v<N>`` subfolder (:func:`release_folders`).
* Files are written and decoded under :data:`BASELINE_ENV`, torch's portable kernels,
  so that machines with other instruction sets compute the same floats.

Example (needs torch)::

    >>> from lic_core.testing import golden
    >>> symbols, image = golden.decode(open("x.lic", "rb").read())   # doctest: +SKIP
    >>> symbols["y"]["sha256"]                                        # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

__all__ = ["BASELINE_ENV", "MANIFEST", "DIGESTS", "RELEASE_FOLDER_GLOB", "in_baseline_environment",
           "release_number", "release_folders", "digests_text", "decode"]

#: a golden folder's manifest: header fields, file and symbol digests of each file
MANIFEST = "manifest.json"
#: the decoded-pixel digests of a golden folder's files of integer synthesis, as text
DIGESTS = "digests.txt"
#: a golden release subfolder: named after its release label (zoo-v4, zoo-v5, ...)
RELEASE_FOLDER_GLOB = "zoo-v*"

#: The process environment of every golden write and decode: ATen's portable kernels,
#: oneDNN capped at SSE4.1, MKL in its conditional-numerical-reproducibility mode, one
#: thread. It must be in place before torch loads (tools/make_golden.py re-executes
#: itself with it); a process that decodes with it also switches oneDNN convolutions off
#: (``torch.backends.mkldnn.enabled = False``) and runs on one torch thread.
BASELINE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",   # ATen's portable kernels, no AVX2/AVX-512 dispatch
    "ONEDNN_MAX_CPU_ISA": "SSE41",      # oneDNN (where still used) at the oldest x86-64 ISA
    "MKL_CBWR": "COMPATIBLE,STRICT",    # MKL: the same results on every x86-64 CPU
    "OMP_NUM_THREADS": "1",             # one thread: no split reductions
    "MKL_NUM_THREADS": "1",
}


def in_baseline_environment() -> bool:
    """Whether this process was started with :data:`BASELINE_ENV`."""
    return all(os.environ.get(k) == v for k, v in BASELINE_ENV.items())


def release_number(label: str) -> int:
    """N of a label zoo-vN, for ordering releases (zoo-v10 after zoo-v9; a text sort would
    not); a label of another shape sorts last."""
    m = re.fullmatch(r"zoo-v(\d+)", label)
    return int(m[1]) if m else sys.maxsize


def release_folders(golden: str | os.PathLike) -> dict[str, Path]:
    """{release label: folder} of every release with golden files under ``golden``,
    oldest first: the golden folder itself, whose files predate per-release folders and
    so are labelled by what its manifest says, and each ``zoo-v*`` subfolder with a
    manifest, labelled by its name. The one definition of what is a golden release."""
    golden = Path(golden)
    root_labels = {e["weights_release"] for e in
                   json.loads((golden / MANIFEST).read_text(encoding="utf-8"))["files"]}
    if len(root_labels) != 1:
        raise ValueError(f"{golden / MANIFEST}: files of several releases {sorted(root_labels)}")
    folders = {root_labels.pop(): golden}
    for sub in golden.glob(RELEASE_FOLDER_GLOB):
        if (sub / MANIFEST).is_file():
            if sub.name in folders:
                raise ValueError(f"{sub}: release {sub.name} already has golden files in {golden}")
            folders[sub.name] = sub
    return dict(sorted(folders.items(), key=lambda item: (release_number(item[0]), item[0])))


def digests_text(manifest: dict) -> str:
    """digests.txt of a manifest: ``<name>.lic <image_sha256>`` for each file of integer
    synthesis, sorted by name, one line each ("" when there are none)."""
    lines = sorted(f"{e['lic']} {e['image_sha256']}" for e in manifest["files"]
                   if e.get("synthesis") == 1)
    return "".join(line + "\n" for line in lines)


def _stream_of(model: str, kind: str) -> str:
    """Which stream an entropy model decodes: the factorized prior's bottleneck codes ŷ;
    in the hyperprior families the bottleneck codes ẑ and the Gaussian conditional ŷ."""
    if kind == "GaussianConditional":
        return "y"
    return "y" if model == "factorized" else "z"


def decode(data: bytes, model=None):
    """``(symbols, image)`` of one .lic file, decoded the way a user decodes it:
    ``lic_core.decompress(data, model=model)`` (``model=None``: the weights its header
    names). ``image`` is the H×W×3 uint8 array; ``symbols`` is ``{stream: {"count",
    "nonzero", "sha256"}}`` per latent (``"y"``, and ``"z"`` for the hyperprior
    families), over the entropy-decoded int32 symbols, little-endian, in the order the
    decoder reads them (:func:`lic_core.models.entropy_models.observe_decoded_symbols`).

    A file of integer synthesis (format 4) is decoded whole by the engine, which no
    Python observer sees: its image comes from ``lic_core.decompress``, and its symbols
    from the model's own decoding of the same streams
    (:meth:`~lic_core.zoo.base.CompressionModel.decode_streams`). Needs torch.
    """
    import numpy as np

    from lic_core import container
    from lic_core.api import decompress
    from lic_core.models.entropy_models import observe_decoded_symbols
    header = container.unpack(data)
    log: list = []

    def record(entropy_model, symbols):
        log.append((type(entropy_model).__name__,
                    np.asarray(symbols, dtype=np.int32).reshape(-1).copy()))

    if header.synthesis == container.EXACT_SYNTHESIS:
        image = decompress(data, model=model)
        if model is None:
            from lic_core import zoo
            model = zoo.load(header.model, header.quality, release=header.weights_release)
        with observe_decoded_symbols(record):
            model.decode_streams(list(header.streams), tuple(tuple(s) for s in header.latent_shapes))
    else:
        with observe_decoded_symbols(record):
            image = decompress(data, model=model)
    digests, counts, nonzero = {}, {}, {}
    for kind, symbols in log:
        stream = _stream_of(header.model, kind)
        digests.setdefault(stream, hashlib.sha256()).update(symbols.astype("<i4").tobytes())
        counts[stream] = counts.get(stream, 0) + int(symbols.size)
        nonzero[stream] = nonzero.get(stream, 0) + int(np.count_nonzero(symbols))
    streams = {s: {"count": counts[s], "nonzero": nonzero[s], "sha256": digests[s].hexdigest()}
               for s in sorted(digests)}
    return streams, image
