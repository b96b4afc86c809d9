#!/usr/bin/env python
"""Write the space-channel family's variable-rate model file from a trained prior.

    python tools/export_space_channel.py --checkpoint checkpoints/space-channel/prior.pt \\
        --joint lic_core/zoo/weights/joint-q1-8.safetensors --out OUT/space-channel-q1-8.safetensors

The space-channel prior (docs/training.md, "Space-channel prior") is trained by
tools/train_prior.py on the joint model's frozen transforms, so its file is assembled
from two sources, the way the joint file itself was written (zoo.save_weights with
gains, lic_core.training.export):

* from the joint variable-rate file (``--joint``): the per-quality ``gain`` and
  ``inv_gain``, g_a and g_s (unfolded, as stored there), the Gaussian conditional's
  scale table, and h_a, the entropy bottleneck and h_s unless the checkpoint holds them;
* from the checkpoint (``"model"``: the trained tensors only): the channel contexts,
  the spatial contexts and the entropy-parameter networks, and h_a, the bottleneck and
  h_s when the run trained them (``--train-hyper``). A module comes whole from one
  source: a checkpoint holding part of one is refused.

The networks are stored as float16 like the joint file's (everything but the entropy
models), rounded in the model *before* update() rebuilds the bottleneck's and the
Gaussian conditional's tables, so that what loads is what was saved. No integer tensors:
tools/make_integer_release.py adds them (tools/make_space_channel_release.py runs both).

Metadata: the joint file's, with ``architecture`` space-channel, the training chain
extended by the prior's stage, ``steps``/``train_seconds``/``lr``/``batch``/``crop`` of
the prior run, ``steps_total`` summed, and without what belonged to the joint file as
released (``release``, ``probability_path``, ``integer_calibration``, ``storage``).

The file is written with lic_core.zoo.tensorfile.write_safetensors (the safetensors
library orders its metadata by hash, so its bytes change from process to process), so
the same inputs give the same bytes. After writing, every quality is loaded back with
lic_core.zoo.weights.load_file and checked: a SpaceChannelContext whose g_a and g_s are
the joint model's at that quality, and whose trained networks are the checkpoint's
rounded to float16.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere, and imported by the tests
    sys.path.insert(0, str(REPO))

#: the networks tools/train_prior.py always trains
CONTEXT = ("channel_context", "spatial_context", "entropy_parameters")
#: the hyperprior's modules, trained too when the run had --train-hyper
HYPER = ("h_a", "entropy_bottleneck", "h_s")
#: from the joint file always (frozen in training; the Gaussian conditional holds only
#: its scale table and constants)
JOINT_ONLY = ("g_a", "g_s", "gaussian_conditional")
#: stored as float16, as the joint file stores its networks (entropy models stay float32)
HALF = ("g_a", "g_s", "h_a", "h_s") + CONTEXT
#: metadata of the joint file as released that the new file must not inherit: the
#: integer step writes the first three again for the new file; storage is recomputed
STALE = ("release", "probability_path", "integer_calibration", "storage")


def module_of(key: str) -> str:
    return key.split(".", 1)[0]


def merge_state(model_keys, joint_state: dict, prior_state: dict, table_buffers=()) -> tuple[dict, dict]:
    """(state, source) for a space-channel model with state-dict keys ``model_keys``:
    each module (first key component) whole from the checkpoint's ``prior_state`` when
    it holds any of it, else from ``joint_state`` (the joint file's ``model.`` tensors,
    prefix stripped); ``source`` maps module -> "checkpoint" or "joint".

    The context networks must come from the checkpoint; g_a, g_s and the Gaussian
    conditional from the joint file. Keys ending in ``table_buffers`` are left out (the
    coding tables are rebuilt after the float16 rounding; a training checkpoint holds
    empty ones). ValueError for a checkpoint key the model lacks or of another shape, a
    module the checkpoint holds in part, or a key neither source has."""
    model_keys = dict(model_keys)  # key -> shape

    def wanted(k):
        return not k.endswith(tuple(table_buffers))
    unknown = sorted(k for k in prior_state if k not in model_keys)
    if unknown:
        raise ValueError(f"the checkpoint holds tensors a space-channel model does not have: {unknown[:8]}")
    bad = sorted(k for k, v in prior_state.items()
                 if wanted(k) and tuple(v.shape) != tuple(model_keys[k]))
    if bad:
        raise ValueError("the checkpoint's tensors do not fit the model (was it trained with another "
                         "kernel or width?): " + ", ".join(
                             f"{k} {tuple(prior_state[k].shape)} vs {tuple(model_keys[k])}" for k in bad[:8]))
    modules = sorted({module_of(k) for k in model_keys})
    source = {m: ("checkpoint" if any(module_of(k) == m for k in prior_state) else "joint") for m in modules}
    for m in CONTEXT:
        if m in source and source[m] != "checkpoint":
            raise ValueError(f"the checkpoint holds no {m}: not a space-channel prior checkpoint")
    for m in JOINT_ONLY:
        if source.get(m) == "checkpoint":
            raise ValueError(f"the checkpoint holds {m}, which the prior's training keeps frozen "
                             f"(the transforms and their gains are the joint file's)")
    state, missing = {}, []
    for k in model_keys:
        if not wanted(k):
            continue
        held = prior_state if source[module_of(k)] == "checkpoint" else joint_state
        if k in held:
            state[k] = held[k]
        else:
            missing.append(f"{k} ({source[module_of(k)]})")
    if missing:
        raise ValueError(f"tensors missing from their module's source: {missing[:8]}")
    return state, source


def relative_data(path: str) -> str:
    """A data folder as the zoo's metadata writes it, relative to the repository
    (``../shared/data/train``), so the file does not depend on where it was built."""
    try:
        return os.path.relpath(os.path.abspath(path), REPO).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return path


def release_metadata(joint_meta: dict, step: int, elapsed: float, config: dict, history: list,
                     trained: list[str], joint_name: str) -> dict:
    """The new file's metadata (module docstring) from the joint file's and the
    checkpoint's record; ``architecture``, N, M, format and the rest that save_weights
    fills in are left to it."""
    meta = {k: v for k, v in joint_meta.items() if k not in STALE}
    span = joint_meta.get("variable_rate", "").split(",")
    qualities = f"q{span[0]}-{span[-1]}" if len(span) > 1 else ""
    frozen = "g_a,g_s,gains" + ("" if "h_a" in trained else ",h_a,entropy_bottleneck,h_s")
    stage = (f"space-channel prior variable-rate {qualities}:{step} steps, {elapsed / 60:.1f} min "
             f"({','.join(trained)} trained; {frozen} frozen from {joint_name}; tools/train_prior.py)")
    before = joint_meta.get("training_chain") or joint_name
    meta["training_chain"] = f"{before} -> {stage}"
    try:
        meta["steps_total"] = str(int(joint_meta.get("steps_total") or joint_meta.get("steps") or 0) + step)
    except ValueError:
        meta["steps_total"] = str(step)
    meta["steps"] = str(step)
    meta["train_seconds"] = f"{elapsed:.1f}"
    meta["init"] = joint_name
    # the prior run's own settings (its argparse record), not the joint stage's
    if "lr" in config:
        meta["lr"] = f"{config['lr']:g}"
        meta["lr_schedule"] = (f"cosine from {config['lr']:g} to {config.get('lr_final', 0):g} over "
                               f"{config.get('total_steps', '?')} steps")
        if config.get("train_hyper"):
            meta["lr_schedule"] += (f"; h_a, h_s peak {config.get('hyper_lr', '?'):g}, "
                                    f"bottleneck quantiles {config.get('aux_lr', '?'):g}")
    if "batch" in config:
        meta["batch"] = str(config["batch"])
    if "crop" in config:  # a latent crop side: 16 pixels per latent position
        meta["crop"] = str(int(config["crop"]) * 16)
    if config.get("data"):
        meta["data"] = relative_data(config["data"])
    meta["quantization"] = "rate only: likelihoods on y + U(-1/2, 1/2), contexts on round(y - mu) + mu"
    evaluated = [h for h in history if "mean_change_percent" in h]
    if evaluated:
        last = evaluated[-1]
        meta["prior_eval"] = (f"ideal rate {last['mean_change_percent']:+.3f} % against the joint "
                              f"model's prior, mean over qualities, kodak-dev latents, step {last['step']}")
    return meta


def read_checkpoint(path) -> dict:
    import torch
    ck = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict):
        raise ValueError(f"{path}: not a tools/train_prior.py checkpoint (no 'model' dict)")
    if "channel_order" in ck:
        # a reordered prior needs the order folded into g_a, the gains, g_s and h_a,
        # which this tool does not do: refuse rather than write a wrong model
        raise ValueError(f"{path}: trained with --channel-order (an experiment); exporting it is not supported")
    return {"model": ck["model"], "step": int(ck.get("step", 0)), "elapsed": float(ck.get("elapsed", 0.0)),
            "config": json.loads(ck.get("config") or "{}"), "history": json.loads(ck.get("history") or "[]")}


def read_joint(path) -> tuple[dict, dict]:
    """(tensors, metadata) of the joint variable-rate file, through the zoo's own reader
    (regular files only, sizes checked)."""
    from safetensors.torch import load as load_tensors
    from lic_core.zoo.catalog import read_weight_file
    data, header = read_weight_file(Path(path))
    return load_tensors(data), dict(header.get("__metadata__") or {})


def write_deterministic(path: Path, tensors: dict, metadata: dict) -> Path:
    from lic_core.zoo.tensorfile import write_safetensors
    return write_safetensors(path, {k: v.detach().cpu().contiguous().numpy() for k, v in tensors.items()},
                             metadata=metadata)


def export(checkpoint, joint, out) -> Path:
    """Write the float variable-rate file to ``out`` and check it (module docstring)."""
    import torch
    with torch.no_grad():  # a context: callers (tests, the release tool) keep their autograd mode
        return _export(checkpoint, joint, out)


def _export(checkpoint, joint, out) -> Path:
    from safetensors.torch import load as load_tensors
    from lic_core.models.entropy_models import TABLE_BUFFERS
    from lic_core.zoo import weights as zw
    from lic_core.zoo.catalog import read_weight_file, variable_rate_qualities
    from lic_core.zoo.space_channel import SpaceChannelContext

    checkpoint, joint, out = Path(checkpoint), Path(joint), Path(out)
    ck = read_checkpoint(checkpoint)
    tensors, meta = read_joint(joint)
    if meta.get("architecture") != "joint":
        raise ValueError(f"{joint}: holds a {meta.get('architecture')!r} model, not the joint model")
    qualities = variable_rate_qualities(meta)
    if len(qualities) < 2:
        raise ValueError(f"{joint}: not a variable-rate file")
    joint_state = {k[len("model."):]: v.float() if v.is_floating_point() else v
                   for k, v in tensors.items() if k.startswith("model.") and not k.startswith("model.integer.")}
    N, M = int(joint_state["g_a.0.weight"].shape[0]), int(joint_state["g_a.6.weight"].shape[0])
    model = SpaceChannelContext(N=N, M=M)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    prior = {k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()}
    state, source = merge_state(shapes, joint_state, prior, TABLE_BUFFERS)
    model.load_state_dict(state, strict=False)  # the table buffers: rebuilt by update() below
    trained = [m for m in CONTEXT + HYPER if source.get(m) == "checkpoint"]
    metadata = release_metadata(meta, ck["step"], ck["elapsed"], ck["config"], ck["history"],
                                trained, joint.name)
    model.eval()
    gains = (qualities, tensors["gain"], tensors["inv_gain"])
    with tempfile.TemporaryDirectory() as tmp:
        # zoo.save_weights is the one writer of zoo files (float16 rounding in the model,
        # then update(force=True), which buffers are halved): used as is, then rewritten
        # byte-deterministically
        written = zw.save_weights(model, Path(tmp) / out.name, half=HALF, gains=gains, **metadata)
        data, header = read_weight_file(written)
        result = load_tensors(data)
        file_meta = dict(header["__metadata__"])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_deterministic(out, result, file_meta)
    check(out, joint, prior, trained, qualities)
    return out


def check(out: Path, joint: Path, prior: dict, trained: list[str], qualities) -> None:
    """Every quality of ``out`` loads as a SpaceChannelContext with the joint file's g_a
    and g_s at that quality, and the checkpoint's trained networks as stored (float16
    where the file halves them). AssertionError naming the tensor otherwise."""
    import torch
    from lic_core.models.entropy_models import TABLE_BUFFERS
    from lic_core.zoo import weights as zw
    from lic_core.zoo.space_channel import SpaceChannelContext
    halves = tuple(f"{m}." for m in HALF)
    joint_tensors, joint_meta = read_joint(joint)
    for q in qualities:
        ours = zw.load_file(out, quality=q)
        assert isinstance(ours, SpaceChannelContext), type(ours)
        # the joint model at q as its load_file folds it, without building it (half the
        # time of this check, which runs on a CPU shared with training)
        theirs = zw.fold_quality(joint_tensors, joint_meta, q, str(joint))
        mine = ours.state_dict()
        for k, v in theirs.items():
            if k.startswith(("g_a.", "g_s.")):
                assert torch.equal(mine[k], v.to(mine[k].dtype)), f"q{q}: {k} differs from the joint model's"
        for k, v in prior.items():
            if module_of(k) not in trained or k.endswith(TABLE_BUFFERS):
                continue  # the tables were rebuilt
            want = v.half().float() if k.startswith(halves) and v.is_floating_point() else v
            assert torch.equal(mine[k], want.to(mine[k].dtype)), f"q{q}: {k} is not the checkpoint's"
    print(f"{out}: {out.stat().st_size} bytes; qualities {','.join(map(str, qualities))} load as "
          f"space-channel with the joint model's g_a, g_s; trained: {', '.join(trained)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, required=True, help="tools/train_prior.py's checkpoint")
    p.add_argument("--joint", type=Path, default=REPO / "lic_core" / "zoo" / "weights" / "joint-q1-8.safetensors",
                   help="the joint variable-rate file the prior was trained on (default %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="the file to write (space-channel-q<A>-<B>.safetensors)")
    a = p.parse_args(argv)
    export(a.checkpoint, a.joint, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
