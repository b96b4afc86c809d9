"""Copy a zoo release to where retired releases live, whole or decoder side only.

    python tools/retire_release.py SRC lic_core/zoo/weights/retired/zoo-v4 [--decoder-only] [--current DIR]

SRC must be a release (its RELEASE.json names the label and every file's SHA-256; each
file is checked against it first, so the copy is of exactly what was released). DEST
must not exist or be empty.

Without ``--decoder-only`` the listed files and RELEASE.json are copied byte for byte,
except the files that the current release (``--current``, default lic_core/zoo/weights)
holds with the same name and SHA-256: those are stored once, there, and the retired
RELEASE.json still lists them (lic_core.zoo.release.release_files finds them; docs/format.md,
"Releases"). So retire after the new release is in place: SRC the old release's files
(e.g. a checkout of the commit before), or, with SRC = lic_core/zoo/weights itself
before it is replaced, ``--current`` the new release's folder. A SRC that is the current
folder shares nothing with itself: every file is copied (tests/zoo/test_weights_once.py then
fails on the duplicates).

With ``--decoder-only`` each weight file is written without its encoder-side tensors
(``g_a.*`` and ``h_a.*``, under ``model.`` in variable-rate files): what the weights
fingerprint does not cover (lic_core.zoo.fingerprint), so every file the release wrote
still decodes, while encoding with it is refused (docs/format.md, "Releases"). The kept
tensors' bytes and the file metadata are unchanged. RELEASE.json keeps every field of
the original and gets ``"decoder_only": true``, ``"files"`` with the new files' SHA-256
and ``"original_files"`` with the released ones (provenance).

Deterministic: the safetensors files are written here, not by the safetensors library,
whose header puts the metadata in hash order (a different byte stream on every run).
RELEASE.json is written last, so an interrupted run leaves no folder that reads as a
release. Torch-free.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import sys
from pathlib import Path

from lic_core.errors import WeightsError
from lic_core.zoo.catalog import DECODER_SUFFIX
from lic_core.zoo.fingerprint import ENCODER_ONLY
from lic_core.zoo.release import PACKAGE_WEIGHTS, RELEASE_FILE, release_manifest

#: the key of a safetensors header that holds the string metadata, not a tensor
METADATA_KEY = "__metadata__"
#: prefix of a variable-rate file's model tensors (lic_core.zoo.weights)
MODEL_PREFIX = "model."


class RetireError(Exception):
    """Why a release cannot be copied (printed by main, exit status 2)."""


def is_encoder_side(name: str) -> bool:
    """Whether a tensor of a zoo file is one only the encoder runs (g_a, h_a)."""
    return name.removeprefix(MODEL_PREFIX).startswith(ENCODER_ONLY)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_safetensors(data: bytes, source: str) -> tuple[dict, bytes]:
    """(header, tensor bytes) of a safetensors file: 8-byte little-endian header length,
    the JSON header, then the tensors' bytes at the header's data_offsets."""
    if len(data) < 8:
        raise RetireError(f"{source}: too short to be a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise RetireError(f"{source}: header length {length} runs past the end of the file")
    try:
        header = json.loads(data[8:8 + length])
    except ValueError as exc:
        raise RetireError(f"{source}: unreadable safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise RetireError(f"{source}: the safetensors header is not an object")
    return header, data[8 + length:]


def strip_encoder(data: bytes, source: str) -> bytes:
    """A safetensors file without its encoder-side tensors, the rest unchanged."""
    header, buffer = split_safetensors(data, source)
    tensors = {k: v for k, v in header.items() if k != METADATA_KEY}
    kept = {k: v for k, v in tensors.items() if not is_encoder_side(k)}
    if len(kept) == len(tensors):
        raise RetireError(f"{source}: holds no g_a/h_a tensor (already decoder-only?)")
    out = {METADATA_KEY: header[METADATA_KEY]} if METADATA_KEY in header else {}
    chunks, offset = [], 0
    # Keep the original order in the buffer: the library lays tensors out by dtype size,
    # largest first, so removing whole tensors keeps every remaining one aligned.
    for name, info in sorted(kept.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        chunks.append(buffer[begin:end])
        out[name] = {"dtype": info["dtype"], "shape": info["shape"],
                     "data_offsets": [offset, offset + end - begin]}
        offset += end - begin
    text = json.dumps(out, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the library pads the header to 8 bytes too
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def stored_in_current(current: Path | None, src: Path, manifest: dict) -> set[str]:
    """The names of ``manifest``'s files (release ``src``) that release ``current`` holds
    with the same SHA-256, each checked by reading it: a retired whole copy leaves them
    there. Nothing when ``current`` is None, not a release, or ``src`` itself."""
    if current is None or not Path(current).is_dir() or Path(current).resolve() == Path(src).resolve():
        return set()
    try:
        theirs = release_manifest(current)
    except WeightsError as exc:
        raise RetireError(f"--current: {exc}") from None
    if theirs is None:
        return set()
    shared = set()
    for name, digest in manifest["files"].items():
        path = Path(current) / name
        if theirs["files"].get(name) == digest and path.is_file() \
                and sha256(path.read_bytes()) == digest:
            shared.add(name)
    return shared


def retire(src: Path, dest: Path, decoder_only: bool = False,
           current: Path | None = PACKAGE_WEIGHTS) -> dict:
    """Copy release ``src`` to ``dest`` (see the module docstring); the manifest written,
    plus ``stored_in_current`` for a whole copy: the names left in ``current``, the
    release that is current once ``src`` is retired (None: copy every file)."""
    src, dest = Path(src), Path(dest)
    try:
        manifest = release_manifest(src)
    except WeightsError as exc:
        raise RetireError(str(exc)) from None
    if manifest is None:
        raise RetireError(f"{src} has no {RELEASE_FILE}: not a release (its manifest names "
                          f"the label and every file's sha256)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RetireError(f"{dest} exists and is not an empty folder; refusing to write into it")
    if decoder_only and manifest.get("decoder_only"):
        raise RetireError(f"{src} is decoder-only already; copy it without --decoder-only")
    files = {}
    for name in sorted(manifest["files"]):
        path = src / name
        if Path(name).name != name or not path.is_file():
            raise RetireError(f"{src}: {RELEASE_FILE} lists {name!r}, which is not a file there")
        data = path.read_bytes()
        if sha256(data) != manifest["files"][name]:
            raise RetireError(f"{path}: sha256 differs from {RELEASE_FILE}; a release never "
                              f"changes, so this folder is not release {manifest['release']!r}")
        # a decoder weights file (zoo-v5 on) is decoder side already: kept as it is
        strip = decoder_only and not name.endswith(DECODER_SUFFIX)
        files[name] = strip_encoder(data, str(path)) if strip else data
    # a decoder-only file is new bytes (its own sha256): only whole copies share
    shared = set() if decoder_only else stored_in_current(current, src, manifest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name not in shared:
            (dest / name).write_bytes(data)
    if not decoder_only:
        shutil.copyfile(src / RELEASE_FILE, dest / RELEASE_FILE)  # unchanged, byte for byte
        return {**manifest, "stored_in_current": sorted(shared)}
    new = dict(manifest)  # the label, description and any other field stay
    new["files"] = {name: sha256(data) for name, data in files.items()}
    new["decoder_only"] = True
    new["original_files"] = {name: manifest["files"][name] for name in sorted(manifest["files"])}
    (dest / RELEASE_FILE).write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return new


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="the release folder (with RELEASE.json)")
    parser.add_argument("dest", type=Path, help="where to copy it (absent or empty)")
    parser.add_argument("--decoder-only", action="store_true",
                        help="drop the encoder-side tensors (g_a.*, h_a.*)")
    parser.add_argument("--current", type=Path, default=PACKAGE_WEIGHTS,
                        help="the release current after this one retires (default: %(default)s); "
                             "a whole copy leaves out the files it holds identically")
    args = parser.parse_args(argv)
    try:
        manifest = retire(args.src, args.dest, args.decoder_only, args.current)
    except RetireError as exc:
        print(f"retire_release: error: {exc}", file=sys.stderr)
        return 2
    kind = "decoder side only" if args.decoder_only else "whole"
    shared = manifest.get("stored_in_current", [])
    copied = len(manifest["files"]) - len(shared)
    note = f"; {len(shared)} identical in {args.current}, stored there once" if shared else ""
    print(f"{manifest['release']}: {copied} files copied to {args.dest} ({kind}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
