"""Weight files: safetensors only (never pickle), validated before a model sees them.

Two kinds of file in ``lic_core/zoo/weights/``:

* ``<canonical>-q<Q>.safetensors``: one quality, the model's state dict;
* ``<canonical>-q<A>-<B>.safetensors``: a variable-rate file for several qualities (the
  ``variable_rate`` metadata lists them, A first and B last): the model's state dict
  under ``model.`` plus ``gain`` and ``inv_gain`` (qualities × M, float32, positive).
  Quality q is the model with row q's gains multiplied into g_a's last and g_s's first
  layer at load (:func:`fold_quality`), so one set of transforms serves every quality
  for the size of one file.

String metadata (safetensors header): ``format`` = "lic-core-weights/1",
``architecture`` (canonical name), ``N``, ``M``, ``quality`` ("" in a variable-rate
file), ``lic_core_version``, plus whatever the trainer adds (``lambda``, ``steps``,
``crop``, ``data``, ...). A one-quality file wins over a variable-rate file holding the
same quality.

A file is refused with :class:`lic_core.errors.WeightsError` when it cannot be parsed,
names another architecture, claims channel counts out of bounds (checked before any
model is built: :func:`check_channels`), lacks or adds tensors, has a wrong shape or
dtype, holds a NaN or infinity, an integer outside its buffer's dtype, entropy-model
parameters that decoding or ``update()`` cannot use (:func:`check_entropy_parameters`),
or coding tables the coder would reject (missing, inconsistent or non-monotone) — at
load time, not at the first compress().

Before any of that, a file is read only if it is a regular file and only as far as its
safetensors header describes, within bounds checked before reading
(:func:`lic_core.zoo.catalog.read_weight_file`); :func:`load` also checks a release's
file against the release's ``RELEASE.json`` (its sha256, once per process:
:func:`lic_core.zoo.release.verify_file`), which catches a changed encoder-side tensor
that the fingerprint cannot see. Integer tensors (``integer.*``) are checked by
:meth:`lic_core.zoo.integer.IntegerPrior.check_state`: presence, shape and range.

The one exception to "lacks tensors": a file of a release whose manifest says
``decoder_only`` (:func:`lic_core.zoo.release.is_decoder_only`; a retired release kept
without g_a and h_a) may lack exactly those. :func:`load` then reads N and M off g_s,
leaves g_a and h_a as built, and marks the model ``decoder_only``: it decodes that
release's files (the fingerprint covers neither) and refuses to encode.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from lic_core.models.entropy_models import TABLE_BUFFERS
from lic_core.errors import InvalidArgumentError, LicError, WeightsError
from .gains import fold
from .layout import transform_ends

from .registry import REGISTRY, check_quality, resolve
from .catalog import (  # noqa: F401  (the torch-free half of this module, re-exported)
    decoder_for, list_models, locate, parse_model_file_name, qualities_text, read_metadata,
    read_weight_file, shipped_files, variable_rate_qualities, weights_path,
)
from .fingerprint import ENCODER_ONLY
from .release import is_decoder_only, known_releases, release_label, verify_file, weights_dir

__all__ = ["weights_dir", "weights_path", "list_models", "build", "load", "load_file", "save_weights",
           "load_state_dict_checked", "check_channels", "check_entropy_parameters",
           "WEIGHTS_FORMAT", "MAX_CHANNELS", "MAX_STATE_ELEMENTS"]

WEIGHTS_FORMAT = "lic-core-weights/1"
#: a variable-rate file's gain matrices: the factors themselves, not their logarithms, so
#: loading multiplies and never evaluates a transcendental function (docs/models.md)
FILE_GAIN_KEYS = ("gain", "inv_gain")
_TABLE_BUFFERS = TABLE_BUFFERS

# Bounds on what a weight file may make us build or compute. A file's shapes claim N and
# M, and a model is built from them before the tensors are loaded into it; building first
# let a 192-byte file (zero-sized dimensions cost no bytes) ask for 4.8 GB and 40 GB.
#: widest N or M accepted: 5x CompressAI's widest (M = 320 at its top qualities)
MAX_CHANNELS = 1024
#: most state-dict elements a family may be built with: 2^27 (512 MiB of float32), about
#: 4x the joint model at N = 192, M = 320 (31 M); a joint model at N = M = 512 (113 M)
#: fits, one at N = M = 1024 (453 M) does not
MAX_STATE_ELEMENTS = 1 << 27
#: largest |quantile| of an entropy bottleneck: float32 holds every integer up to 2^24,
#: so medians, round(y - median) and symbol + median stay exact and fit int32 (a file
#: with quantiles of 1e38 loaded and decoded to NaN)
MAX_QUANTILE = float(1 << 24)
#: largest entry of a Gaussian scale table: 4096 x 6.11 (the tail multiplier at the
#: default tail mass, lic_core.tables.DEFAULT_TAIL_MASS = 1e-9) needs 2 x 25025 + 2 slots,
#: within a 16-bit table; the default scale table ends at SCALE_TABLE_MAX = 256
MAX_TABLE_SCALE = 4096.0
#: most entries of a scale table: each makes a coding table as wide as the widest one
#: (update() builds them dense), so 256 x 50 K int32 = 51 MB at worst; the default has
#: SCALE_TABLE_LEVELS = 64
MAX_SCALE_LEVELS = 256


def build(name: str, quality: int | None = None, N: int | None = None, M: int | None = None):
    """A randomly initialised model; N, M default to the quality's (quality 1's if None).
    ``model.quality`` stays None: random weights are not zoo weights."""
    spec = resolve(name)
    default_n, default_m = spec.default_channels(quality)
    return spec.model_class()(N=int(N or default_n), M=int(M or default_m))


# --------------------------------------------------------------------------- validation

def check_channels(name: str, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str],
                   source: str, decoder_only: bool = False) -> tuple[int, int]:
    """(N, M) of family ``name`` in a state dict, validated before anything is built:
    the one function :func:`load`, :func:`load_file` and ``from_compressai`` use.

    N and M come from g_a's first and last convolutions, whose whole shapes must be
    N×3×5×5 and M×N×5×5 (a zero-sized dimension would let a few bytes claim any N);
    both must be in 1..MAX_CHANNELS, the metadata's N and M must agree, and the family
    built at N, M must hold at most MAX_STATE_ELEMENTS (its ``state_size``, computed
    without building it). WeightsError otherwise.

    ``decoder_only`` (a decoder-only release's file, which has no g_a): N and M come from
    g_s's first and last layers instead, M×N×5×5 and N×3×5×5 (transposed convolutions
    store input channels first), under the same checks."""
    spec = resolve(name)
    ends = transform_ends()  # the latent's side; the image's is g_a's first layer, g_s's last
    first, last = ((f"{ends.synthesis_input}.weight", "g_s.6.weight") if decoder_only
                   else ("g_a.0.weight", f"{ends.analysis_output}.weight"))
    shapes = {}
    for key in (first, last):
        t = tensors.get(key)
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise WeightsError(f"{source}: cannot tell N and M: {key} is missing or not a "
                               f"4-dimensional tensor")
        shapes[key] = tuple(int(d) for d in t.shape)
    if decoder_only:
        m, n = shapes[first][0], shapes[last][0]
        wants = ((first, (m, n, 5, 5)), (last, (n, 3, 5, 5)))
    else:
        n, m = shapes[first][0], shapes[last][0]
        wants = ((first, (n, 3, 5, 5)), (last, (m, n, 5, 5)))
    for key, want in wants:
        if shapes[key] != want:
            raise WeightsError(f"{source}: {key} has shape {shapes[key]}, expected {want} "
                               f"(N={n}, M={m})")
    for key, value in (("N", n), ("M", m)):
        if not 1 <= value <= MAX_CHANNELS:
            raise WeightsError(f"{source}: {key}={value} is outside 1..{MAX_CHANNELS}")
        if key in metadata and str(metadata[key]).strip() != str(value):
            raise WeightsError(f"{source}: cannot tell N and M: metadata says "
                               f"{key}={metadata[key]} but the tensors say {value}")
    size = spec.model_class().state_size(n, m)
    if size > MAX_STATE_ELEMENTS:
        raise WeightsError(f"{source}: a {spec.name} model with N={n}, M={m} holds {size} "
                           f"elements, more than the {MAX_STATE_ELEMENTS} lic-core builds")
    return n, m


def check_entropy_parameters(model, state: Mapping[str, torch.Tensor], source: str) -> None:
    """The float parameters that decoding and ``update()`` read besides the networks.

    * An EntropyBottleneck's ``quantiles`` (C×1×3: lower, median, upper): ordered, within
      ±MAX_QUANTILE, and the support ⌈median − lower⌉ + ⌈upper − median⌉ + 1 symbols plus
      the escape slot within 2^PRECISION (what update() can code; it also bounds the C ×
      width grid it evaluates). The medians are decoding's rounding centres.
    * A GaussianConditional's ``scale_table``: 1..MAX_SCALE_LEVELS entries, positive,
      strictly increasing, at most MAX_TABLE_SCALE (so update() can build every table).

    Finiteness is checked before (every float tensor); WeightsError names the tensor."""
    from lic_core.coding.coder import PRECISION
    from lic_core.models.entropy_models import EntropyBottleneck, GaussianConditional
    for prefix, module in model.named_modules():
        if isinstance(module, EntropyBottleneck) and f"{prefix}.quantiles" in state:
            q = state[f"{prefix}.quantiles"].detach().double().reshape(-1, 3)
            lower, median, upper = q[:, 0], q[:, 1], q[:, 2]
            if not bool(((lower <= median) & (median <= upper)).all()):
                raise WeightsError(f"{source}: {prefix}.quantiles must be ordered "
                                   f"lower <= median <= upper in every channel")
            if q.numel() and float(q.abs().max()) > MAX_QUANTILE:
                raise WeightsError(f"{source}: {prefix}.quantiles exceed ±{MAX_QUANTILE:g} "
                                   f"(largest |value| {float(q.abs().max()):g})")
            support = torch.ceil(median - lower) + torch.ceil(upper - median) + 2
            if q.numel() and float(support.max()) > (1 << PRECISION):
                raise WeightsError(f"{source}: {prefix}.quantiles span {float(support.max()):.0f} "
                                   f"slots, more than a {PRECISION}-bit coding table holds")
        if isinstance(module, GaussianConditional) and f"{prefix}.scale_table" in state:
            table = state[f"{prefix}.scale_table"].detach().double()
            if table.dim() != 1 or not 1 <= table.numel() <= MAX_SCALE_LEVELS:
                raise WeightsError(f"{source}: {prefix}.scale_table must be 1-D with "
                                   f"1..{MAX_SCALE_LEVELS} entries, got {tuple(table.shape)}")
            if not bool((table > 0).all()) or not bool((table[1:] > table[:-1]).all()):
                raise WeightsError(f"{source}: {prefix}.scale_table must be positive and increasing")
            if float(table.max()) > MAX_TABLE_SCALE:
                raise WeightsError(f"{source}: {prefix}.scale_table reaches "
                                   f"{float(table.max()):g}, above {MAX_TABLE_SCALE:g}")


def _check_tables(model, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Each entropy model's tables: present, consistent, and accepted by the coder."""
    from lic_core.coding import coder
    from lic_core.models.entropy_models import EntropyBottleneck, EntropyModel, GaussianConditional
    for prefix, module in model.named_modules():
        if not isinstance(module, EntropyModel):
            continue
        keys = [f"{prefix}.{b}" for b in _TABLE_BUFFERS]
        missing = [k for k in keys if k not in state]
        if missing:
            raise WeightsError(f"{source}: coding tables missing: {', '.join(missing)}")
        cdfs, lengths, offsets = (state[k] for k in keys)
        if cdfs.dim() != 2 or lengths.dim() != 1 or offsets.dim() != 1 or not (
                cdfs.shape[0] == lengths.shape[0] == offsets.shape[0]):
            raise WeightsError(f"{source}: {prefix} tables have inconsistent shapes "
                               f"{tuple(cdfs.shape)}, {tuple(lengths.shape)}, {tuple(offsets.shape)}")
        if isinstance(module, EntropyBottleneck) and cdfs.shape[0] != module.channels:
            raise WeightsError(f"{source}: {prefix} has {cdfs.shape[0]} tables for "
                               f"{module.channels} channels")
        if isinstance(module, GaussianConditional):
            table = state.get(f"{prefix}.scale_table")
            if table is None or table.dim() != 1 or table.shape[0] != cdfs.shape[0]:
                raise WeightsError(f"{source}: {prefix}.scale_table does not match its "
                                   f"{cdfs.shape[0]} coding tables")
        try:
            coder.TableSet(cdfs.numpy().astype(np.int32), lengths.numpy().astype(np.int32),
                           offsets.numpy().astype(np.int32), precision=coder.PRECISION)
        except LicError as exc:
            raise WeightsError(f"{source}: {prefix} coding tables are invalid: {exc}") from exc


def load_state_dict_checked(model, state: Mapping[str, torch.Tensor], source: str,
                            require_tables: bool = True, decoder_only: bool = False):
    """Load ``state`` into ``model`` strictly, raising WeightsError for anything off.
    ``decoder_only``: g_a and h_a may be missing (a decoder-only release's file); they
    keep the values the model was built with."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if not require_tables:
        missing = [k for k in missing if not k.endswith(_TABLE_BUFFERS)]
    if decoder_only:
        missing = [k for k in missing if not k.startswith(ENCODER_ONLY)]
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(f"{source}: does not fit {model.name} N={model.N} M={model.M}: "
                           f"missing {missing[:8]}{'...' if len(missing) > 8 else ''}, "
                           f"unexpected {unexpected[:8]}{'...' if len(unexpected) > 8 else ''}")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source}: {key} is not a tensor")
        ref = expected[key]
        variable = key.endswith(_TABLE_BUFFERS) or key.endswith(("scale_table", "scale_thresholds"))
        if not variable and tuple(value.shape) != tuple(ref.shape):
            raise WeightsError(f"{source}: {key} has shape {tuple(value.shape)}, "
                               f"expected {tuple(ref.shape)}")
        if value.dtype.is_floating_point != ref.dtype.is_floating_point:
            raise WeightsError(f"{source}: {key} has dtype {value.dtype}, expected {ref.dtype}")
        if value.dtype.is_floating_point and not bool(torch.isfinite(value).all()):
            raise WeightsError(f"{source}: {key} holds NaN or infinite values")
        if not ref.dtype.is_floating_point and value.dtype != ref.dtype and value.numel():
            # the cast below would wrap an int64 table entry mod 2^32, not refuse it
            info = torch.iinfo(ref.dtype)
            lo, hi = int(value.min()), int(value.max())
            if lo < info.min or hi > info.max:
                raise WeightsError(f"{source}: {key} holds values in [{lo}, {hi}], outside "
                                   f"{ref.dtype}'s range")
    check_entropy_parameters(model, state, source)
    if model.integer is not None:
        model.integer.check_state(state, source,
                                  levels=state.get("gaussian_conditional.scale_table",
                                                   model.gaussian_conditional.scale_table).numel())
    if require_tables or all(k in state for k in expected if k.endswith(_TABLE_BUFFERS)):
        _check_tables(model, state, source)
    cast = {k: v.to(expected[k].dtype) for k, v in state.items()}
    try:
        # not strict where keys may be absent: the check above already decided which may
        model.load_state_dict(cast, strict=require_tables and not decoder_only)
    except (RuntimeError, ValueError) as exc:
        raise WeightsError(f"{source}: {exc}") from exc
    return model


# --------------------------------------------------------------------------- files

def _read_safetensors(path: Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a weight file; ``tensors=False`` reads the header only.
    Read by :func:`lic_core.zoo.catalog.read_weight_file`: regular files only, no more
    bytes than the file's header describes and the bounds allow."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors
    data, header = read_weight_file(path, header_only=not tensors)
    metadata = dict(header.get("__metadata__") or {})
    if not tensors:
        return {}, metadata
    try:
        loaded = load_tensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file: {exc}") from exc
    return loaded, metadata


def load(name: str, quality: int, release: str | None = None):
    """The zoo model ``name`` at ``quality``, with its shipped weights, in eval mode.

    ``release`` (a label such as "zoo-v3", see :mod:`lic_core.zoo.release`) asks for the
    weights of that release: what a .lic file names. None: the current weights. A
    release this installation does not have raises WeightsError naming it; a label that
    is not one ("..") InvalidArgumentError. The file is checked against its release's
    manifest first (WeightsError naming it if it differs or is not listed).
    """
    spec = resolve(name)
    path, folder = locate(spec.name, quality, release)
    if folder is None:
        raise WeightsError(
            f"needs the zoo weights release {release!r} ({spec.name} quality {quality}), which "
            f"this installation does not have (it has: {', '.join(known_releases())}); "
            f"install the lic-core release that shipped {release!r}")
    if path is None:
        # what ships of this family, e.g. "hyperprior ships qualities 1..8 in the weights
        # release 'zoo-v4'": read by people, not Python
        available = qualities_text(spec.name, folder)
        if release is not None:
            raise WeightsError(
                f"the zoo weights release {release!r} in {folder} has no {spec.name} quality "
                f"{quality}; {available}")
        raise InvalidArgumentError(
            f"no weights for {spec.name} quality {quality} in {folder}; {available}")
    # a release's file is the one released (its sha256 against RELEASE.json, once per
    # process and file state): a changed encoder-side tensor escapes the fingerprint, not this
    verify_file(folder, path)
    tensors, metadata = _read_safetensors(path)
    arch = metadata.get("architecture", spec.name)
    if resolve(arch).name != spec.name if _is_known(arch) else True:
        raise WeightsError(f"{path}: holds a {arch!r} model, not {spec.name!r}")
    # only a retired release's own manifest may excuse missing g_a/h_a, never the file
    # itself; the current weights are what encoders use, so they must be whole
    decoder_only = is_decoder_only(folder)
    if decoder_only and Path(folder).resolve() == weights_dir().resolve():
        raise WeightsError(
            f"{folder}: the current weights release {release_label(folder)!r} says it is "
            f"decoder side only; only a retired release may be (tools/retire_release.py)")
    named = parse_model_file_name(path.name)
    if (named is not None and named[2] is not None) or _is_variable_rate(tensors):
        tensors = fold_quality(tensors, metadata, quality, str(path), decoder_only=decoder_only)
    n, m = check_channels(spec.name, tensors, metadata, str(path), decoder_only=decoder_only)
    model = _build_for(spec.name, n, m, tensors)
    load_state_dict_checked(model, tensors, str(path), decoder_only=decoder_only)
    model.quality = quality
    model.weights_release = release_label(folder)
    model.decoder_only = decoder_only  # every encoder path refuses (zoo.base.check_can_encode)
    decoder = decoder_for(folder, path)
    if decoder is not None:  # the release's integer synthesis (zoo-v5 on): files of format 4
        verify_file(folder, decoder)
        from lic_core.coding.decoder import open_cached
        exact = open_cached(decoder)
        model.attach_exact_decoder(exact)
        # files name the release that first shipped the weights they need, which the
        # decoder file records: a later release that carries this family's files
        # unchanged (stored once, docs/format.md "Releases") writes files that every
        # installation holding that first release decodes, with the same bytes
        model.weights_release = exact.release
    return model.eval()



def load_file(path, quality: int | None = None):
    """A model from a lic-core weight file anywhere (architecture from its metadata, or
    ``from_compressai`` rules for a file without it); validated like :func:`load`.
    A variable-rate file needs ``quality`` (one it lists). ``.quality`` stays None: only
    :func:`load` gives zoo models."""
    path = Path(path)
    tensors, metadata = _read_safetensors(path)
    arch = metadata.get("architecture")
    if arch is None or not _is_known(arch):
        raise WeightsError(f"{path}: no known 'architecture' in its metadata ({arch!r}); "
                           f"use lic_core.zoo.from_compressai(name, path) for other checkpoints")
    if _is_variable_rate(tensors):
        if quality is None:
            raise InvalidArgumentError(
                f"{path} is a variable-rate file for qualities {metadata.get('variable_rate', '?')}: "
                f"pass quality=")
        tensors = fold_quality(tensors, metadata, check_quality(quality), str(path))
    elif quality is not None:
        raise InvalidArgumentError(f"{path} holds one model; quality= is for variable-rate files")
    n, m = check_channels(arch, tensors, metadata, str(path))
    model = _build_for(arch, n, m, tensors)
    load_state_dict_checked(model, tensors, str(path))
    return model.eval()


def _build_for(name: str, n: int, m: int, tensors: Mapping[str, torch.Tensor]):
    """A model of family ``name`` shaped for ``tensors``: with an IntegerPrior when they
    hold ``integer.*`` tensors (zoo-v4 on), so that a strict load then fills it."""
    model = resolve(name).model_class()(N=n, M=m)
    if any(k.startswith("integer.") for k in tensors):
        if not hasattr(model, "h_s"):
            raise WeightsError(f"a {model.name} model has no probability network for "
                               f"integer.* tensors to replace")
        from .integer import IntegerPrior
        model.attach_integer_prior(IntegerPrior(model))
    return model


def fold_quality(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], quality: int,
                 source: str, decoder_only: bool = False) -> dict[str, torch.Tensor]:
    """The one-quality state dict held by a variable-rate file: ``model.`` stripped, and
    row ``quality`` of the gains multiplied into g_a's last layer (output channels) and
    g_s's first (input channels), one float32 multiply per weight: the same weights on
    every machine. The gains touch only g_a and g_s, never ẑ, the hyper networks, the
    context model or the coding tables, so how a stream is entropy-decoded does not
    depend on them at all. Shapes are checked before any arithmetic.

    ``decoder_only`` (a decoder-only release's file, without g_a): only g_s is folded."""
    qualities = variable_rate_qualities(metadata)
    if not qualities:
        raise WeightsError(f"{source}: variable-rate file without 'variable_rate' metadata")
    if quality not in qualities:
        raise InvalidArgumentError(f"{source} holds qualities {qualities}, not {quality}")
    model_keys = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    other = sorted(set(tensors) - {f"model.{k}" for k in model_keys} - set(FILE_GAIN_KEYS))
    if other or not all(k in tensors for k in FILE_GAIN_KEYS):
        raise WeightsError(f"{source}: a variable-rate file holds model.* tensors and "
                           f"{', '.join(FILE_GAIN_KEYS)}; unexpected {other[:8]}, "
                           f"missing {[k for k in FILE_GAIN_KEYS if k not in tensors]}")
    row = qualities.index(quality)
    M = None
    factors = []
    for key in FILE_GAIN_KEYS:
        gains = tensors[key]
        if gains.dim() != 2 or gains.shape[0] != len(qualities) or gains.dtype != torch.float32:
            raise WeightsError(f"{source}: {key} must be a float32 qualities×M matrix "
                               f"({len(qualities)} rows), got {tuple(gains.shape)} {gains.dtype}")
        if M is not None and gains.shape[1] != M:
            raise WeightsError(f"{source}: gain and inv_gain have different widths")
        M = gains.shape[1]
        factor = gains[row]
        if not bool(torch.isfinite(factor).all()) or not bool((factor > 0).all()):
            raise WeightsError(f"{source}: {key} holds gains that are not finite and positive")
        factors.append(factor)
    # what fold() multiplies must have M rows (and the layer's rank), or a crafted file
    # could make it broadcast into a huge tensor or fail inside torch
    makes_y, reads_y = transform_ends().analysis_output, transform_ends().synthesis_input
    for key, dims in ((f"{makes_y}.weight", 4), (f"{makes_y}.bias", 1), (f"{reads_y}.weight", 4)):
        if decoder_only and key.startswith(ENCODER_ONLY):
            continue
        t = model_keys.get(key)
        if t is None or t.dim() != dims or t.shape[0] != M:
            shape = None if t is None else tuple(t.shape)
            raise WeightsError(f"{source}: model.{key} must have {dims} dimensions and M={M} "
                               f"rows to take the gains, got {shape}")
    if decoder_only:
        # fold() also multiplies g_a's last layer, which this file lacks: give it stand-ins
        # and drop them after, so that g_s is folded by the very code that folds whole
        # files (its bytes are in the fingerprint: any other rounding would not decode)
        stand_ins = {f"{makes_y}.weight": torch.zeros(M, 1, 1, 1), f"{makes_y}.bias": torch.zeros(M)}
        folded = fold({**model_keys, **stand_ins}, *factors, keep_tables=True)
        return {k: v for k, v in folded.items() if k not in stand_ins}
    return fold(model_keys, *factors, keep_tables=True)


def _is_variable_rate(tensors: Mapping[str, torch.Tensor]) -> bool:
    return any(k in tensors for k in FILE_GAIN_KEYS) or any(k.startswith("model.") for k in tensors)


def _is_known(name: str) -> bool:
    try:
        resolve(name)
        return True
    except InvalidArgumentError:
        return False


def save_weights(model, path, half: Sequence[str] = (), gains=None, **metadata) -> Path:
    """Write ``model`` to ``path`` as safetensors, after rebuilding its coding tables.

    Metadata values are stored as strings; ``architecture``, ``N``, ``M``, ``quality``,
    ``format`` and ``lic_core_version`` are filled in (``quality`` may be passed).

    ``half``: module prefixes (e.g. ``("g_a", "g_s")``) whose floating-point parameters
    are stored as float16, halving the file. They are rounded in ``model`` itself first,
    so the model in memory is exactly the one :func:`load` rebuilds (load casts them back
    to float32) and the coding tables are built from it. Keep entropy models in float32.

    ``gains``: ``(qualities, gain, inv_gain)`` (positive qualities×M factors) writes a
    variable-rate file (module docstring); name it ``<canonical>-q<A>-<B>.safetensors``
    with A and B the first and last of the increasing ``qualities``."""
    from lic_core import __version__
    from safetensors.torch import save_file
    if not hasattr(model, "name") or model.name not in REGISTRY:
        raise InvalidArgumentError(f"save_weights() takes a lic_core.zoo model, got {type(model).__name__}")
    prefixes = tuple(p.strip().rstrip(".") + "." for p in half if p.strip())
    halved = []
    if prefixes:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.startswith(prefixes) and p.is_floating_point():
                    p.copy_(p.half().float())
                    halved.append(name)
        if not halved:
            raise InvalidArgumentError(f"half={list(half)} names no parameter of {model.name}")
        metadata.setdefault("storage", "float16: " + ", ".join(p.rstrip(".") for p in prefixes)
                            + "; everything else float32")
    model.update(force=True)
    quality = metadata.pop("quality", model.quality)
    meta = {str(k): str(v) for k, v in metadata.items()}
    meta.update({"format": WEIGHTS_FORMAT, "architecture": model.name, "N": str(model.N),
                 "M": str(model.M), "quality": "" if quality is None else str(quality),
                 "lic_core_version": __version__})
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    for name in halved:
        state[name] = state[name].half()
    # float buffers under the same prefixes that float16 holds exactly (the joint model's
    # 0/1 context mask: as large as the context weights) are halved too, losslessly
    for name, b in model.named_buffers():
        if prefixes and name.startswith(prefixes) and b.is_floating_point() \
                and torch.equal(b.half().float(), b.float()):
            state[name] = state[name].half()
    if gains is not None:
        qualities, gain, inv_gain = gains
        qualities = [check_quality(int(q)) for q in qualities]
        if len(qualities) < 2 or any(a >= b for a, b in zip(qualities, qualities[1:])):
            raise InvalidArgumentError(f"a variable-rate file needs increasing qualities, got {qualities}")
        factors = [torch.as_tensor(g).detach().float().cpu().contiguous().clone() for g in (gain, inv_gain)]
        for key, value in zip(FILE_GAIN_KEYS, factors):
            if tuple(value.shape) != (len(qualities), model.M):
                raise InvalidArgumentError(f"{key} must be {len(qualities)}×{model.M}, "
                                           f"got {tuple(value.shape)}")
            if not bool(torch.isfinite(value).all()) or not bool((value > 0).all()):
                raise InvalidArgumentError(f"{key} must be finite and positive")
        state = {f"model.{k}": v for k, v in state.items()}
        state.update(zip(FILE_GAIN_KEYS, factors))
        meta["variable_rate"] = ",".join(map(str, qualities))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=meta)
    return path
