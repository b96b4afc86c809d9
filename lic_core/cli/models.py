"""``lic models [--json]``: ids, canonical names, aliases and the qualities whose weights ship."""
from __future__ import annotations

import json

from .. import container
from .common import ALIASES, shipped_models


def add_parser(sub, parents) -> None:
    p = sub.add_parser("models", parents=parents, help="list zoo models, ids and trained qualities")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    shipped = shipped_models()
    rows = [{"name": name, "id": container.MODEL_IDS[name], "aliases": list(aliases),
             "qualities": shipped[name]} for name, aliases in ALIASES.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'id':>2}  {'model':<{width}} {'aliases':<22} trained qualities")
    for r in rows:
        q = (",".join(map(str, r["qualities"]))
             or f"none shipped (untrained: lic demo --models {r['name']}, lic analyze --random-init)")
        print(f"{r['id']:>2}  {r['name']:<{width}} {', '.join(r['aliases']):<22} {q}")
    return 0
