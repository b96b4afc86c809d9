#!/usr/bin/env python
"""Turn a trained space-channel prior into a complete zoo release folder, in one command.

    python tools/make_space_channel_release.py CHECKPOINT OUT LABEL \\
        [--from lic_core/zoo/weights] [--joint FILE] [--data ../shared/data/train] [--crops 12] \\
        [--description TEXT]

e.g. ``python tools/make_space_channel_release.py checkpoints/space-channel/prior.pt
/tmp/zoo-v6 zoo-v6``. OUT (new or empty) receives:

1. every file the release in ``--from`` lists (default the current weights, zoo-v5),
   byte for byte, each checked against its RELEASE.json first (files stored once in
   another release folder are found there: lic_core.zoo.release.release_files);
2. ``space-channel-q<A>-<B>.safetensors``: tools/export_space_channel.py's float file
   (the joint file's gains and transforms, the checkpoint's prior), then the integer
   probability path added by tools/make_integer_release.py's ``convert_file``, calibrated
   on ``--crops`` crops of ``--data`` at every quality;
3. ``space-channel-q<A>-<B>.decoder.safetensors``: tools/make_decoder_release.py's
   ``convert_file`` (the integer synthesis and everything the engine's whole-file
   decoder reads), on the same crops;
4. RELEASE.json (label LABEL, a description, every file's SHA-256), written last, so an
   interrupted run leaves no folder that reads as a release.

Deterministic: the same checkpoint, joint file, source release and crops give the same
bytes (every safetensors file goes through lic_core.zoo.tensorfile.write_safetensors).
The joint file defaults to the source release's joint variable-rate file. Heavy on CPU
(the conversion runs every calibration crop through every quality several times: a few
minutes on 2 cores); run it niced beside a training.

Then, to make it the current release (by hand, reviewed; in this order):

    # check the folder as a release: models listed, round trip, the engine's decoder
    LIC_WEIGHTS_DIR=OUT python -c "from lic_core import zoo; print(zoo.list_models())"
    # retire the current release (before replacing lic_core/zoo/weights: --current is the
    # new folder, so the files both share are stored once, in the new release)
    python tools/retire_release.py lic_core/zoo/weights lic_core/zoo/weights/retired/zoo-v5 --current OUT
    # install: the new release's files and RELEASE.json replace the old ones
    rm lic_core/zoo/weights/*.safetensors lic_core/zoo/weights/RELEASE.json
    cp OUT/* lic_core/zoo/weights/
    # golden files of the new release (tests/fixtures/golden/LABEL/)
    python tools/make_golden.py && python tools/make_golden.py --digests
    # and the pins: tests/zoo/test_weights_identity.py (RELEASES, the retired and current
    # manifests' SHA-256, known_releases), docs/format.md "Releases", docs/training.md

What else pins the current release (found when this tool was written; none of it is
changed here): tools/make_golden.py's CASES has no space-channel case, so it refuses to
write until one per shipped quality is added; tests/zoo/test_shipped_weights.py caps the
model files at 60 MB and the decoder files at 30 MB together (zoo-v5: 43.6 and 27.8 MB,
so the space-channel files must fit in what is left, or the caps move with a reason);
tests/zoo/test_weights_identity.py pins the current label, known_releases() and the
manifests' SHA-256; tests/web/test_web.py expects ``lic serve`` to print "releases:
zoo-v5" and serves the current RELEASE.json as zoo-v5's; docs/models.md,
docs/architecture.md and bench/decode.py say space-channel ships no weights yet.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
TOOLS = Path(__file__).resolve().parent
FAMILY = "space-channel"


def _tool(name: str):
    """One of tools/*.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_release(source: Path, out: Path) -> tuple[str, dict[str, str]]:
    """Copy every file release ``source`` lists into ``out``, each checked against its
    listed SHA-256 first; (the source's label, {name: sha256})."""
    from lic_core.zoo.release import release_files, release_manifest
    manifest = release_manifest(source)
    if manifest is None:
        raise SystemExit(f"{source}: not a release (no RELEASE.json)")
    files = {}
    for name, path in sorted(release_files(source).items()):
        digest = sha256(path)
        if digest != manifest["files"][name]:
            raise SystemExit(f"{path}: its sha256 is not the one {manifest['release']} lists")
        shutil.copyfile(path, out / name)
        (out / name).chmod(0o644)
        files[name] = digest
    return manifest["release"], files


def joint_file(source: Path) -> Path:
    """The joint variable-rate file of release ``source``."""
    from lic_core.zoo.catalog import parse_model_file_name
    from lic_core.zoo.release import release_files
    found = [p for n, p in release_files(source).items()
             if (parsed := parse_model_file_name(n)) and parsed[0] == "joint" and parsed[2] is not None]
    if len(found) != 1:
        raise SystemExit(f"{source}: expected one joint variable-rate file, found {[p.name for p in found]}")
    return found[0]


def _run(argv) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="tools/train_prior.py's checkpoint")
    p.add_argument("out", type=Path, help="the new release's folder (new or empty)")
    p.add_argument("label", help="the new release's label, e.g. zoo-v6")
    p.add_argument("--from", dest="source", type=Path, default=REPO / "lic_core" / "zoo" / "weights",
                   help="the release whose files the new one keeps (default %(default)s)")
    p.add_argument("--joint", type=Path, help="the joint variable-rate file the prior was trained on "
                                              "(default: the one in --from)")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "train",
                   help="calibration images (default %(default)s)")
    p.add_argument("--crops", type=int, default=12, help="calibration crops (default %(default)s)")
    p.add_argument("--description", default="")
    a = p.parse_args(argv)

    import torch
    from lic_core.zoo.catalog import read_metadata, variable_rate_qualities
    from lic_core.zoo.release import RELEASE_FILE, check_label, release_label
    check_label(a.label)
    if release_label(a.source) == a.label:
        raise SystemExit(f"{a.label} is the label of {a.source} already: a new release takes a new label")
    if a.out.exists() and any(a.out.iterdir()):
        raise SystemExit(f"{a.out}: not empty (a release folder is written whole, once)")
    export = _tool("export_space_channel")
    integer = _tool("make_integer_release")
    decoder = _tool("make_decoder_release")

    joint = a.joint or joint_file(a.source)
    qualities = variable_rate_qualities(read_metadata(joint))
    name = f"{FAMILY}-q{qualities[0]}-{qualities[-1]}.safetensors"
    a.out.mkdir(parents=True, exist_ok=True)
    old_label, files = copy_release(a.source, a.out)
    if name in files:
        raise SystemExit(f"{a.source} has a {name} already")
    images = integer.crops(a.data, a.crops)
    with tempfile.TemporaryDirectory() as tmp:
        float_file = export.export(a.checkpoint, joint, Path(tmp) / name)
        integer.convert_file(float_file, a.out / name, images, a.label)
    written = [a.out / name, decoder.convert_file(a.out / name, a.out, images, a.label)]
    for path in written:
        path.chmod(0o644)
        files[path.name] = sha256(path)
    meta = read_metadata(a.out / name)
    description = a.description or (
        f"{old_label}'s files unchanged plus the space-channel family (model id 5), qualities "
        f"{qualities[0]}-{qualities[-1]}: the joint model's transforms and gains with a space-channel "
        f"prior trained by tools/train_prior.py ({meta.get('steps')} steps), its integer probability "
        f"path and its decoder weights file")
    manifest = {"release": a.label, "description": description, "files": dict(sorted(files.items()))}
    (a.out / RELEASE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    for path in written:
        print(f"{path}: {path.stat().st_size} bytes, sha256 {files[path.name]}")
    print(f"{a.out / RELEASE_FILE}: release {a.label}, {len(files)} files")
    return 0


def main(argv=None) -> int:
    # no_grad as a context, not set_grad_enabled(False): tests call main() in-process,
    # and a switched-off autograd leaked into every test after them
    import torch
    with torch.no_grad():
        return _run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
