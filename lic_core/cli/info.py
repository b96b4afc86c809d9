"""``lic info IN.lic [--json]``: header, the weights that wrote the file, latent shapes,
stream sizes, bpp and both CRC-32 results, without torch. A file whose CRCs do not match is still described (that is the
point), then the command fails in one line."""
from __future__ import annotations

import json

from .. import container
from ..zoo.registry import REGISTRY
from ..zoo.release import FORMAT1_RELEASE
from .common import EXPECTED_ERRORS, CommandError, named, read_lic


def add_parser(sub, parents) -> None:
    p = sub.add_parser("info", parents=parents, help="show a .lic file's header, streams and CRCs")
    p.add_argument("input", help=".lic file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    # imported here: zoo.fingerprint needs NumPy (0.1 s), which `lic` would otherwise
    # import at start for every command, `lic --help` and usage errors included
    from ..zoo.fingerprint import format_fingerprint
    try:  # read no further than the header accounts for (common.read_lic)
        data = read_lic(args.input, args.max_pixels)
        f, crc = container.check_crcs(data, max_pixels=args.max_pixels)
    except ImportError:
        raise
    except EXPECTED_ERRORS as exc:  # named, as every command names the file that failed
        if getattr(args, "debug", False):
            raise
        raise CommandError(named(args.input, exc)) from None
    hsize = container.header_size(len(f.latent_shapes), len(f.streams), f.version)
    names = REGISTRY[f.model].stream_names if f.model in REGISTRY else ()
    if len(names) != len(f.streams):
        names = tuple(f"s{i}" for i in range(len(f.streams)))
    record = {
        "file": args.input, "bytes": len(data), "format_version": f.version,
        "model": f.model, "model_id": container.MODEL_IDS[f.model], "quality": f.quality,
        "weights_release": f.weights_release, "weights_fingerprint": format_fingerprint(f.weights_fingerprint),
        "probability_path": container.PROBABILITY_PATHS[f.probability_path],
        "height": f.height, "width": f.width, "latent_shapes": [list(s) for s in f.latent_shapes],
        "header_bytes": hsize, "streams": [{"name": n, "bytes": len(s)} for n, s in zip(names, f.streams)],
        "bpp": 8 * len(data) / f.num_pixels, "payload_bpp": 8 * f.payload_bytes / f.num_pixels,
        "header_crc_ok": crc.header_ok, "payload_crc_ok": crc.payload_ok,
    }
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_record(args.input, f, record)
    if not crc.ok:
        part = "header" if not crc.header_ok else "payload"
        raise CommandError(f"{args.input}: {part} CRC-32 mismatch, the file is damaged")
    return 0


def _print_record(path: str, f, record: dict) -> None:
    quality = f"quality {f.quality}" if f.quality else "quality 0 (weights not from the zoo)"
    lines = [
        ("file", f"{path} ({record['bytes']} bytes)"),
        ("format", f".lic version {record['format_version']}"),
        ("model", f"{f.model} (id {record['model_id']}), {quality}"),
        ("weights", _weights_text(f)),
        ("tables", _tables_text(f)),
        ("image", f"{f.width} x {f.height} ({f.num_pixels} pixels)"),
        ("latents", ", ".join(f"{h}x{w}" for h, w in f.latent_shapes)),
        ("header", f"{record['header_bytes']} bytes"),
    ]
    lines += [(f"stream {s['name']}", f"{s['bytes']} bytes ({8 * s['bytes'] / f.num_pixels:.4f} bpp)")
              for s in record["streams"]]
    lines += [
        ("bpp", f"{record['bpp']:.4f} (file), {record['payload_bpp']:.4f} (streams)"),
        ("CRC-32", f"header {'ok' if record['header_crc_ok'] else 'MISMATCH'}, "
                   f"payload {'ok' if record['payload_crc_ok'] else 'MISMATCH'}"),
    ]
    for key, value in lines:
        print(f"{key:<10} {value}")


def _tables_text(f) -> str:
    """How the writer derived the coding tables (docs/format.md, "Probability path")."""
    if f.probability_path == container.EXACT_PATH:
        return "exact (integer networks or stored tables): decodes the same on every machine"
    if f.version < 3:
        return (f"not recorded (format {f.version}): float32 networks, or stored tables for "
                f"the factorized model")
    return "float32 networks: decodes only where the float kernels round the same way"


def _weights_text(f) -> str:
    from ..zoo.fingerprint import format_fingerprint
    if f.version == 1:
        return f"not recorded (format 1; decoded with zoo release {FORMAT1_RELEASE})"
    release = f"zoo release {f.weights_release}" if f.weights_release else "not from the zoo"
    return f"{release}, fingerprint {format_fingerprint(f.weights_fingerprint)}"
