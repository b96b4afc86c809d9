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

Torch-free: ``lic info`` and the Pillow header reader use it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from lic_core.errors import WeightsError

__all__ = ["RELEASE_FILE", "FORMAT1_RELEASE", "LOCAL_RELEASE", "PACKAGE_WEIGHTS",
           "weights_dir", "release_label", "release_manifest", "release_dir", "known_releases",
           "is_decoder_only"]

RELEASE_FILE = "RELEASE.json"
#: the release whose weights decode format-1 files (they name no weights)
FORMAT1_RELEASE = "zoo-v3"
#: the label of a weights folder that has no RELEASE.json
LOCAL_RELEASE = "local"
#: the weights shipped inside the package
PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
_RETIRED = PACKAGE_WEIGHTS / "retired"


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
    release, else the package's retired copy of it; None if this installation has neither."""
    current = weights_dir()
    if release_label(current) == label:
        return current
    if label not in (LOCAL_RELEASE, "") and (_RETIRED / label / RELEASE_FILE).is_file():
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
                         if (p / RELEASE_FILE).is_file() and p.name not in labels)
    return labels
