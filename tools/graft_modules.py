#!/usr/bin/env python
"""Replace some modules of a trained model with another model's, as a training --init.

    python tools/graft_modules.py BASE DONOR OUT.safetensors --modules g_a,g_s,gains

Why: after more hyperprior steps the joint family's transforms (copied from the
hyperprior, frozen while its entropy networks were fitted) are out of date, but its context
model, entropy-parameter network and hyper networks still fit latents of nearly the same
statistics. Grafting the new transforms onto the old joint file and fitting from there
costs minutes instead of refitting those networks from random weights.

BASE and DONOR are zoo files or checkpoints (read like ``lic train --init``: a
variable-rate file's gains become the log-gains training learns). ``gains`` names the
per-quality gains, as in ``--freeze``. Every grafted tensor must exist in BASE with the
same shape: a graft never changes a model's architecture. The one exception is the gains:
grafted, they bring DONOR's list of qualities with them (how the joint networks fitted
for qualities 1-8 moved onto transforms trained for 1-10: the networks are shared by
every quality, so they serve the new ones as a start). OUT keeps BASE's metadata, with
a training chain that starts from DONOR's and says what was carried over from BASE."""
import argparse
import os
import re
import sys

from safetensors.torch import save_file

from lic_core.errors import WeightsError
from lic_core.training.freeze import module_path
from lic_core.training.objective import lambda_for_quality
from lic_core.training.variable_rate import GAIN_KEYS
from lic_core.training.warm_start import read_init
from lic_core.zoo.catalog import variable_rate_qualities


def carried_stages(base_chain: str, donor_chain: str) -> list:
    """The stages of BASE's training chain after the part it shares with DONOR's: the
    training of the networks a graft carries over (and whose steps still count). Chains
    with nothing in common give none: the graft then says where the networks came from,
    but their steps are not counted."""
    def same(a: str, b: str) -> bool:
        # a quality's folded file and the variable-rate file it came from share that stage
        unfold = lambda s: re.sub(r", gains folded for q\d+$", "", s)  # noqa: E731
        return unfold(a) == unfold(b)
    base, donor = base_chain.split(" -> "), donor_chain.split(" -> ")
    shared = 0
    while shared < min(len(base), len(donor)) and same(base[shared], donor[shared]):
        shared += 1
    return base[shared:] if shared else []


def stage_steps(stage: str) -> int:
    """Steps of one stage as lic_core.training.export writes it ('...:3038 steps ...'), 0 if
    it says none."""
    m = re.search(r":(\d+) steps", stage)
    return int(m.group(1)) if m else 0


def graft(base: dict, donor: dict, modules) -> tuple[dict, list]:
    """BASE with DONOR's tensors under ``modules``; shapes must agree except the gains'
    number of qualities (rows)."""
    prefixes = tuple(m.strip().rstrip(".") + "." for m in modules if m.strip())
    if not prefixes:
        raise SystemExit("graft_modules: --modules is empty")
    taken = [k for k in donor if module_path(k).startswith(prefixes)]
    missing = sorted({p for p in prefixes if not any(module_path(k).startswith(p) for k in taken)})
    if missing:
        raise SystemExit(f"graft_modules: DONOR has no tensor under {', '.join(missing)}")
    out = dict(base)
    for k in taken:
        if k not in base:
            raise SystemExit(f"graft_modules: BASE has no tensor {k!r} (different architecture "
                             f"or key layout)")
        same_row = k in GAIN_KEYS and base[k].shape[1:] == donor[k].shape[1:]
        if base[k].shape != donor[k].shape and not same_row:
            raise SystemExit(f"graft_modules: {k}: BASE {tuple(base[k].shape)} vs DONOR "
                             f"{tuple(donor[k].shape)}")
        out[k] = donor[k]
    return out, taken


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("donor")
    p.add_argument("dst")
    p.add_argument("--modules", required=True, help="comma-separated, e.g. g_a,g_s,gains")
    args = p.parse_args(argv)
    base, base_meta = read_init(args.base)
    donor, donor_meta = read_init(args.donor)
    # per-quality gains on one side only cannot be grafted, nor gains for other qualities
    # unless the gains themselves are grafted (a quality's folded file still names the
    # variable-rate run it came from: the tensors decide, not that metadata)
    modules = [m.strip().rstrip(".") for m in args.modules.split(",") if m.strip()]
    grafts_gains = "gains" in modules
    def kind(state, meta):
        if any(k in state for k in GAIN_KEYS):
            qualities = "" if grafts_gains else f" for qualities {meta.get('variable_rate')}"
            return "a variable-rate model" + qualities
        return "a one-quality model"
    if kind(base, base_meta) != kind(donor, donor_meta):
        p.error(f"BASE is {kind(base, base_meta)}, DONOR {kind(donor, donor_meta)}")
    state, taken = graft(base, donor, modules)
    meta = {k: str(v) for k, v in base_meta.items() if v is not None}
    if grafts_gains and any(k in donor for k in GAIN_KEYS):
        # the gains' rows are DONOR's qualities now, relative to DONOR's reference λ
        try:
            qualities = variable_rate_qualities(donor_meta)
        except WeightsError as exc:
            p.error(f"DONOR: {exc}")
        if not qualities or not donor_meta.get("lambda"):
            p.error("DONOR's gains need its 'variable_rate' and 'lambda' metadata")
        meta["variable_rate"] = ",".join(map(str, qualities))
        meta["lambda"] = str(donor_meta["lambda"])
        meta["lambdas"] = ",".join(f"{lambda_for_quality(q):g}" for q in qualities)
    kept = sorted({module_path(k).split(".")[0] for k in base} -
                  {module_path(k).split(".")[0] for k in taken})
    carried = carried_stages(base_meta.get("training_chain", ""), donor_meta.get("training_chain", ""))
    # one stage of the chain (kept free of " -> " so later stages still split it right)
    origin = os.path.basename(args.base)
    if carried:
        origin += ", where they were trained by: " + "; ".join(carried)
    meta["training_chain"] = (f"{donor_meta.get('training_chain', args.donor)} -> "
                              f"{','.join(kept)} carried over from [{origin}]")
    meta["steps_total"] = str(int(donor_meta.get("steps_total") or 0)
                              + sum(stage_steps(s) for s in carried))
    save_file({k: v.contiguous() for k, v in state.items()}, args.dst, metadata=meta)
    print(f"{args.dst}: {len(taken)} tensors from {args.donor}, {len(state) - len(taken)} from "
          f"{args.base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
