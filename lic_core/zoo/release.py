"""Zoo releases: which weights a .lic file needs, and where a decoder finds them.

Every set of zoo weights is released under a label (``zoo-v3``: the third build of the
zoo, the one current when files began to record their weights). A release is immutable:
its files are listed with their SHA-256 in ``RELEASE.json`` beside them, and a test
refuses a changed byte. New training ships as a new label; the files of an older release
that its decoder needs stay in the package under ``weights/retired/<label>/`` (docs/format.md,
"Weights identity").

A .lic file of format version 2 records the release label and the fingerprint of the
decoder-side tensors (:mod:`lic_core.zoo.fingerprint`). Format version 1 files record
neither; they were written by the weights current until format 2, which are
:data:`FORMAT1_RELEASE`.

A weights folder without ``RELEASE.json`` (``$LIC_WEIGHTS_DIR`` pointing at one's own
training output) is the release :data:`LOCAL_RELEASE`.

A retired release may be kept decoder side only (``tools/retire_release.py
--decoder-only``): its manifest says ``"decoder_only": true``, its files lack g_a and h_a,
and models loaded from it decode but refuse to encode (:func:`is_decoder_only`).

Each weight file is stored once: a release's manifest may list a file that is absent
from its folder when another release folder of the package holds a file of the same name
and the same SHA-256 (zoo-v3's factorized files are zoo-v4's); :func:`release_files`
says where each listed file is. Before a release's file is used, :func:`verify_file`
checks it against the manifest (its SHA-256, once per process and file state).

Release labels (:func:`check_label`) are ``zoo-v<N>``, ``local``, or 1..8 characters of
``a-z 0-9 . -`` that start with a letter or digit and hold no ``..``: never a path.

Torch-free: ``lic info`` and the Pillow header reader use it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
from pathlib import Path

from lic_core.errors import InvalidArgumentError, WeightsError

__all__ = ["RELEASE_FILE", "FORMAT1_RELEASE", "LOCAL_RELEASE", "PACKAGE_WEIGHTS",
           "weights_dir", "release_label", "release_manifest", "release_dir", "known_releases",
           "is_decoder_only", "check_label", "release_files", "release_folders", "verify_file"]

RELEASE_FILE = "RELEASE.json"
#: the release whose weights decode format-1 files (they name no weights)
FORMAT1_RELEASE = "zoo-v3"
#: the label of a weights folder that has no RELEASE.json
LOCAL_RELEASE = "local"
#: the weights shipped inside the package
PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
_RETIRED = PACKAGE_WEIGHTS / "retired"
#: what a release label may be: 1..8 characters of the container's alphabet (a-z 0-9 . -,
#: docs/format.md) starting with a letter or digit, with no ".." anywhere, so that no
#: label names a path ("." , "..", ".hidden"); zoo-vN and local fit it
_LABEL_RE = re.compile(r"^(?!.*\.\.)[a-z0-9][a-z0-9.-]{0,7}$")


def check_label(label) -> str:
    """``label`` if it is a release label (see _LABEL_RE), else InvalidArgumentError: a
    label becomes a folder name under ``weights/retired/``, so "..", "." or anything else
    path-like must never reach the file system."""
    if not isinstance(label, str) or not _LABEL_RE.match(label):
        raise InvalidArgumentError(
            f"{label!r} is not a weights release label (zoo-vN, {LOCAL_RELEASE!r}, or 1..8 "
            f"characters of a-z 0-9 . - starting with a letter or digit, no '..')")
    return label


def weights_dir() -> Path:
    """Where the current weights live ($LIC_WEIGHTS_DIR overrides, e.g. for tests)."""
    env = os.environ.get("LIC_WEIGHTS_DIR", "").strip()
    return Path(env) if env else PACKAGE_WEIGHTS


def release_manifest(folder: Path) -> dict | None:
    """The parsed RELEASE.json of ``folder`` ({"release": label, "files": {name: sha256}}),
    or None when the folder has none."""
    path = Path(folder) / RELEASE_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: unreadable release manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("release"), str) \
            or not isinstance(manifest.get("files"), dict):
        raise WeightsError(f"{path}: a release manifest needs 'release' (str) and 'files' (object)")
    if not _LABEL_RE.match(manifest["release"]):
        raise WeightsError(f"{path}: {manifest['release']!r} is not a release label (zoo-vN, "
                           f"or 1..8 characters of a-z 0-9 . - starting with a letter or digit)")
    return manifest


def is_decoder_only(folder: Path) -> bool:
    """Whether ``folder``'s manifest says its files hold the decoder side only (no g_a,
    h_a): the one thing that lets the loader accept such files. Only a literal ``true``
    counts, so a malformed manifest never loosens the checks."""
    manifest = release_manifest(folder)
    return bool(manifest) and manifest.get("decoder_only") is True


def release_label(folder: Path | None = None) -> str:
    """The release label of a weights folder (default: the current one)."""
    manifest = release_manifest(weights_dir() if folder is None else folder)
    return manifest["release"] if manifest else LOCAL_RELEASE


def release_dir(label: str) -> Path | None:
    """The folder holding release ``label``: the current weights folder if it is that
    release, else the package's retired copy of it; None if this installation has neither.
    A label that is not one (:func:`check_label`: "..", ".", ...) raises
    InvalidArgumentError: it would name a path, not a release."""
    check_label(label)
    current = weights_dir()
    if release_label(current) == label:
        return current
    if label != LOCAL_RELEASE and (_RETIRED / label / RELEASE_FILE).is_file():
        return _RETIRED / label
    if PACKAGE_WEIGHTS != current and release_label(PACKAGE_WEIGHTS) == label:
        return PACKAGE_WEIGHTS
    return None


def known_releases() -> list[str]:
    """Labels of the releases this installation can decode (current first)."""
    labels = [release_label()]
    if release_label(PACKAGE_WEIGHTS) not in labels:
        labels.append(release_label(PACKAGE_WEIGHTS))
    if _RETIRED.is_dir():
        labels += sorted(p.name for p in _RETIRED.iterdir()
                         if (p / RELEASE_FILE).is_file() and p.name not in labels
                         and _LABEL_RE.match(p.name))
    return labels


# --------------------------------------------------------------------------- files

def release_folders() -> list[Path]:
    """Every release folder of this installation: the current weights, the package's
    own weights (if the current ones are elsewhere), then each retired release."""
    folders = [weights_dir()]
    if PACKAGE_WEIGHTS.resolve() != folders[0].resolve():
        folders.append(PACKAGE_WEIGHTS)
    if _RETIRED.is_dir():
        folders += sorted(p for p in _RETIRED.iterdir()
                          if (p / RELEASE_FILE).is_file() and _LABEL_RE.match(p.name))
    return folders


def _listed(manifest: dict, name: str):
    """The digest ``manifest`` lists for ``name``, or None."""
    digest = manifest["files"].get(name)
    return digest if isinstance(digest, str) else None


def release_files(folder: Path) -> dict[str, Path]:
    """{file name: where it is} for every file the manifest of release ``folder`` lists.

    A listed file is in ``folder``, or, when it is absent there, in another release
    folder (:func:`release_folders`) whose manifest lists the same name with the same
    SHA-256: a file shared by two releases is stored once (docs/format.md, "Releases").
    A file found nowhere keeps its path in ``folder`` (missing: :func:`verify_file` says
    so). {} for a folder without a manifest."""
    folder = Path(folder)
    manifest = release_manifest(folder)
    if manifest is None:
        return {}
    files = {}
    others = None
    for name in sorted(manifest["files"]):
        if Path(name).name != name or name in (".", ".."):
            continue  # not a file name: never a path out of the folder
        own = folder / name
        if os.path.lexists(own):
            files[name] = own
            continue
        digest = _listed(manifest, name)
        if others is None:
            here = folder.resolve()
            others = []
            for other in release_folders():
                try:
                    if other.resolve() != here:
                        others.append((other, release_manifest(other)))
                except WeightsError:
                    continue  # an unreadable manifest shares nothing
        files[name] = next((other / name for other, m in others
                            if m is not None and digest is not None
                            and _listed(m, name) == digest and (other / name).is_file()),
                           own)
    return files


#: (resolved path, device, inode, size, mtime) -> the sha256 found there: each file is
#: hashed once per process while it stays the same (a replaced file is hashed again)
_verified: dict[tuple, str] = {}
_verified_lock = threading.Lock()


def _file_state(path: Path) -> tuple:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise WeightsError(f"{path}: not a regular file")
    return (str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise WeightsError(f"{path}: not a regular file")
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(folder: Path, path: Path) -> None:
    """Check ``path``, a weight file of release ``folder``, against the release's manifest:
    the manifest must list its name, and its SHA-256 must be the listed one. Hashed once
    per process for a file that keeps its path, inode, size and modification time (a few
    tens of milliseconds for the largest zoo file). A folder without a manifest (the
    release ``local``) has nothing to check. WeightsError naming the file otherwise: a
    release never changes, so a file that differs is not the one released."""
    folder, path = Path(folder), Path(path)
    manifest = release_manifest(folder)
    if manifest is None:
        return
    label = manifest["release"]
    expected = _listed(manifest, path.name)
    if expected is None:
        raise WeightsError(
            f"{path}: not part of the weights release {label!r} (its {RELEASE_FILE} in "
            f"{folder} does not list it); a release never gains files: ship new weights "
            f"under a new label")
    try:
        key = _file_state(path)
    except FileNotFoundError:
        raise WeightsError(
            f"{path.name}: listed by the weights release {label!r} ({folder / RELEASE_FILE}) "
            f"but missing, there and in every other release folder of this installation; "
            f"reinstall lic-core") from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read: {exc}") from None
    with _verified_lock:
        found = _verified.get(key)
    if found is None:
        try:
            found = _sha256_file(path)
        except OSError as exc:
            raise WeightsError(f"{path}: cannot be read: {exc}") from None
        if found == expected:  # only what matched is remembered: a bad file is re-read
            with _verified_lock:
                _verified[key] = found
    if found != expected:
        raise WeightsError(
            f"{path}: its sha256 {found[:16]}... is not the {expected[:16]}... that the weights "
            f"release {label!r} lists ({folder / RELEASE_FILE}): the file was changed after "
            f"it was released; reinstall lic-core (or put one's own weights in a folder "
            f"without {RELEASE_FILE}: the release 'local')")
