#!/usr/bin/env python
"""Widen a scale-hyperprior's latent (M) for further training: lic_core.training.widen.

    python tools/widen_latents.py IN(.pt|.safetensors) OUT.safetensors --M 192

OUT keeps IN's metadata (λ, variable-rate qualities, training chain) with the new M,
ready for ``lic train --init OUT --M 192``."""
import argparse
import sys

from safetensors.torch import save_file

from lic_core.training.warm_start import read_init
from lic_core.training.widen import widen_hyperprior


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--M", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    state, meta = read_init(args.src)
    wide = widen_hyperprior(state, args.M, seed=args.seed)
    meta = {k: str(v) for k, v in meta.items() if v is not None}
    if "log_gain" not in wide:
        meta.pop("variable_rate", None)  # a one-quality model
    elif not meta.get("variable_rate"):
        p.error(f"{args.src}: has per-quality gains but does not say for which qualities")
    meta["M"] = str(args.M)
    meta["training_chain"] = meta.get("training_chain", args.src) + f" -> widened to M={args.M}"
    save_file({k: v.contiguous() for k, v in wide.items()}, args.dst, metadata=meta)
    print(f"{args.dst}: M={args.M}, {len(wide)} tensors", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
