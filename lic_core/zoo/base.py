"""What every zoo model shares: padding, CompressAI's string layout, update/aux loss.

A family subclass provides the transforms and five hooks:

* ``_forward(x, options)``: the training graph on a padded image → x̂ and likelihoods,
  handing ``options`` (None in eval mode) to analysis, decoder_input and synthesis;
* ``_encode(x, stream_format)`` on a padded image → (streams, latent shapes, ŷ) where
  ŷ is exactly what the decoder will rebuild;
* ``_decode(streams, latent_shapes, stream_format)`` → ŷ;
* ``latent_shapes(height, width)``: the shapes its streams code for a padded size.
* ``latent_interface()``: which of its modules make, read and model the latent y (how
  training rescales y and folds per-quality gains).

Everything else a torch model shares (any-size images, CompressAI's string layout, what
a training forward's options change) lives here once. The .lic file (header built and
checked, fingerprint and release, limits, the mapping of torch errors) is
:mod:`lic_core.codec`'s: ``compress``/``decompress`` here are thin calls to it, and the
codec hands a model parsed streams through :meth:`CompressionModel.decode_streams`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from lic_core.models.entropy_models import EntropyBottleneck, EntropyModel, _check_stream_format
from lic_core.errors import InvalidArgumentError, WeightsError
from lic_core.limits import Limits
from lic_core.tables import SCALE_TABLE_LEVELS
from lic_core import codec
from lic_core.codec import check_image  # noqa: F401  (its home is the codec; kept importable here)

from . import tiling
from .registry import REGISTRY
from .tiling import DEFAULT_BOUND as DEFAULT_TILE_BOUND

__all__ = ["CompressionModel", "ForwardOptions", "LatentInterface", "conv_size", "gdn_size",
           "bottleneck_size", "GAUSSIAN_CONDITIONAL_SIZE"]


# ----------------------------------------------------------------- sizes before building
# What a family allocates for N, M, counted without building it: a weight file's shapes
# claim N and M, and building first is what let a 192-byte file ask for 40 GB
# (zoo.weights.check_channels). Each family's ``state_size`` adds these up;
# tests/test_hardening_limits.py pins every family's count against a built model's
# state dict, so a change of layout that forgets the formula fails there.

def conv_size(cin: int, cout: int, kernel: int = 5) -> int:
    """Elements of a (transposed) convolution: weight cin·cout·k² plus bias cout."""
    return cin * cout * kernel * kernel + cout


def gdn_size(channels: int) -> int:
    """Elements of a GDN: gamma C², beta C, and each of its two non-negative
    parametrizers' pedestal and lower bound (one element each)."""
    return channels * channels + channels + 4


def bottleneck_size(channels: int) -> int:
    """Elements of an EntropyBottleneck with the default filters (3, 3, 3, 3), before
    tables: per channel, matrices 3+9+9+9+3, biases 3+3+3+3+1, factors 4·3 and three
    quantiles (61); plus the loss target (3) and the likelihood bound (1)."""
    return 61 * channels + 4


#: a GaussianConditional before tables: the default scale table (the engine's
#: LIC_SCALE_TABLE_LEVELS entries), scale_bound, the scale lower bound and the likelihood bound
GAUSSIAN_CONDITIONAL_SIZE = SCALE_TABLE_LEVELS + 3


class ForwardOptions(Protocol):
    """What a training forward reads from its ``options``: the attributes of
    lic_core.training.options.TrainingOptions, which documents and validates them (the
    zoo never imports training, so it names only the attributes it reads). ``None`` in
    their place is CompressAI's forward: noise quantisation, no autocast, g_s runs."""
    quantization: str                        # "noise" or "mixed"
    transform_autocast: torch.dtype | None   # None or torch.bfloat16
    skip_synthesis: bool


@dataclass(frozen=True)
class LatentInterface:
    """Where the latent y meets the rest of a model, as module names of its state dict.

    What a rescaled latent y' = a·y (a > 0) changes: ``analysis_output`` makes y (its
    weight and bias scale by a); ``synthesis_input`` and ``entropy_readers`` read y
    through their input channels (their weights scale by 1/a); ``entropy_predictors``
    output y's Gaussian parameters, σ and μ, both linear in y's scale (weight and bias
    scale by a); ``density`` names an entropy bottleneck that codes y itself (None where
    y is coded by a Gaussian). Latent gains fold into the first two
    (:mod:`lic_core.zoo.gains`); ``lic train --init`` at another λ rescales all of them.
    Families derive the names from their own modules, so a change of layout moves them.
    """
    analysis_output: str
    synthesis_input: str
    entropy_readers: tuple[str, ...] = ()
    entropy_predictors: tuple[str, ...] = ()
    density: str | None = None


def last_convolution(name: str, layers: nn.Sequential) -> str:
    """State-dict prefix of the last (transposed) convolution of ``layers``, e.g. "h_s.4"
    (an activation after it is skipped: ReLU and LeakyReLU commute with a positive factor)."""
    for i in reversed(range(len(layers))):
        if isinstance(layers[i], (nn.Conv2d, nn.ConvTranspose2d)):
            return f"{name}.{i}"
    raise InvalidArgumentError(f"{name} has no convolution")


class CompressionModel(nn.Module):
    """Base of the zoo families. ``name`` is the canonical zoo name; ``quality`` is the
    zoo quality the weights came from, or None for weights from anywhere else."""

    name: str = ""
    #: Total down-sampling of the analysis transforms: inputs are padded to a multiple.
    stride: int = 64
    #: True when loaded from a release kept decoder side only (zoo.weights.load): g_a and
    #: h_a hold no trained values, so :meth:`check_can_encode` refuses to encode. A class
    #: default, so that models made without __init__ (unpickled ones) have it too.
    decoder_only: bool = False
    @property
    def stream_names(self) -> tuple[str, ...]:
        """Streams in CompressAI's order, e.g. ("y", "z"): the registry's, one home."""
        return REGISTRY[self.name].stream_names

    def __init__(self, N: int, M: int):
        super().__init__()
        if int(N) < 1 or int(M) < 1:
            raise InvalidArgumentError(f"N and M must be positive, got N={N}, M={M}")
        self.N, self.M = int(N), int(M)
        self.quality: int | None = None
        #: the zoo release the weights came from (lic_core.zoo.release), "" if not the zoo
        self.weights_release = ""
        self._fingerprint_cache: tuple | None = None
        #: the integer probability path (zoo.integer.IntegerPrior), when the weights have one
        self.integer = None

    @classmethod
    def state_size(cls, N: int, M: int) -> int:
        """Elements of the state dict (parameters and buffers, before coding tables) that
        ``cls(N=N, M=M)`` allocates, computed without building it."""
        raise NotImplementedError

    # ----------------------------------------------------------------- training
    def latent_interface(self) -> LatentInterface:
        """Which modules make, read and model the latent y (each family says)."""
        raise NotImplementedError

    def _transform_ends(self) -> dict:
        """The latent's side of g_a and g_s: g_a's last layer makes y, g_s's first reads it."""
        return {"analysis_output": f"g_a.{len(self.g_a) - 1}", "synthesis_input": "g_s.0"}

    def entropy_models(self) -> list[EntropyModel]:
        return [m for m in self.modules() if isinstance(m, EntropyModel)]

    def aux_loss(self) -> torch.Tensor:
        """Sum of the entropy bottlenecks' quantile losses (train with its own optimizer)."""
        return sum(m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck))

    def update(self, force: bool = False, method: str = "greedy") -> bool:
        """(Re)build every coding table; True if any was built."""
        updated = False
        for m in self.entropy_models():
            updated |= m.update(force=force, method=method)
        return updated

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Replicate-pad right and bottom to a multiple of ``stride`` (no copy if aligned).

        Replicating the edge (rather than zeros) keeps the padded area cheap to code."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph == 0 and pw == 0:
            return x
        return F.pad(x, (0, pw, 0, ph), mode="replicate")

    def decoder_input(self, noisy: torch.Tensor, x: torch.Tensor,
                      means: torch.Tensor | None = None,
                      options: ForwardOptions | None = None) -> torch.Tensor:
        """The tensor a decoder-side module receives in place of Q(x): ``noisy`` unless
        ``options.quantization == "mixed"`` (only a training forward passes options)."""
        if options is None or options.quantization == "noise":
            return noisy
        rounded = EntropyModel.quantize(x, "dequantize", means)
        # rounded + (x − x) is exactly ``rounded`` in value (x + (rounded − x) would not be
        # in floating point), with gradient 1 to x and none to μ: the straight-through
        # estimator of round(x − μ) + μ.
        return rounded.detach() + (x - x.detach())

    def bottleneck_input(self, noisy: torch.Tensor, x: torch.Tensor,
                         options: ForwardOptions | None = None) -> torch.Tensor:
        """decoder_input for a tensor coded by the factorized entropy_bottleneck (centred on
        its per-channel medians)."""
        medians = self.entropy_bottleneck.medians().reshape(1, -1, *([1] * (x.dim() - 2)))
        return self.decoder_input(noisy, x, medians, options)

    def forward(self, x: torch.Tensor, options: ForwardOptions | None = None) -> dict:
        """Training graph: {"x_hat": N×3×H×W, "likelihoods": {"y": ..., "z": ...}}.

        Any H, W: the image is padded as compress() pads it and x̂ is cropped back, so
        in eval mode clamp(x̂) is the image decompress(compress(x)) returns (non-autoregressive
        models). Likelihoods cover the padded latents.

        ``options`` (lic_core.training.options.TrainingOptions; None is CompressAI's
        forward) shape training-mode forwards only: in eval mode they are ignored, so an
        eval forward always computes what the decoder does."""
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] == 0 or x.shape[3] == 0:
            raise InvalidArgumentError(f"expected images of shape Nx3xHxW, H, W > 0; got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        out = self._forward(self.pad(x), options if self.training else None)
        if out["x_hat"] is not None:
            out["x_hat"] = out["x_hat"][..., :h, :w]
        return out

    # ----------------------------------------------------------------- CompressAI layout
    def _check_aligned(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise InvalidArgumentError(
                f"compress_strings() needs H and W divisible by {self.stride} (CompressAI's "
                f"layout keeps no image size), got {h}x{w}; compress() pads any size")

    @torch.no_grad()
    def compress_strings(self, x: torch.Tensor, *, stream_format: str = "compressai",
                         max_pixels: int | Limits | None = None) -> dict:
        """CompressAI's ``compress()``: {"strings": [[bytes per image] per stream], "shape": (h, w)}
        with ``shape`` the last latent's size. H and W must be multiples of ``stride``;
        H·W over ``max_pixels`` (lic_core.limits) raises LimitExceededError."""
        self.check_can_encode()
        _check_stream_format(stream_format)
        if x.dim() != 4 or x.shape[1] != 3:
            raise InvalidArgumentError(f"expected images of shape Nx3xHxW, got {tuple(x.shape)}")
        self._check_aligned(x)
        Limits.resolve(max_pixels).check_image(x.shape[2], x.shape[3], multiple=self.stride)
        per_image = codec.guard(self.name, "encoding", "these images", lambda: [
            self._encode(x[i:i + 1], stream_format) for i in range(x.shape[0])])
        strings = [[p[0][s] for p in per_image] for s in range(len(self.stream_names))]
        return {"strings": strings, "shape": tuple(per_image[0][1][-1])}

    @torch.no_grad()
    def decompress_strings(self, strings: Sequence[Sequence[bytes]], shape: Sequence[int], *,
                           stream_format: str = "compressai",
                           max_pixels: int | Limits | None = None) -> dict:
        """CompressAI's ``decompress()``: {"x_hat": N×3×H×W clamped to [0, 1]}.

        ``shape`` (the last latent's) is all that says how large the images are, so it is
        bounded before anything is allocated: the N images of (h·stride)×(w·stride) pixels
        must fit ``max_pixels`` together (lic_core.limits), or LimitExceededError."""
        _check_stream_format(stream_format)
        if len(strings) != len(self.stream_names):
            raise InvalidArgumentError(
                f"{self.name} needs {len(self.stream_names)} string lists, got {len(strings)}")
        count = len(strings[0])
        if count == 0 or any(len(s) != count for s in strings):
            raise InvalidArgumentError(
                f"every string list needs one string per image; got {[len(s) for s in strings]}")
        last = tuple(int(s) for s in shape)
        if len(last) != 2 or min(last) < 1:
            raise InvalidArgumentError(f"shape must be a positive (height, width), got {last}")
        Limits.resolve(max_pixels).check_latent(*last, self.stride, count=count)
        shapes = self.latent_shapes_from_last(last)

        def decode():
            return torch.cat([self.synthesize(self._decode([s[i] for s in strings], shapes,
                                                           stream_format))
                              for i in range(count)], 0)

        return {"x_hat": codec.guard_decoding(self.name, "these strings", decode)}

    #: run g_a and g_s on contiguous NCHW tensors, CompressAI's layout, instead of
    #: channels-last: the two layouts take different kernels whose sums differ in the last
    #: bits, enough to round a latent the other way. zoo.from_compressai sets it so its
    #: models compute CompressAI's floats (docs/compat.md); zoo weights keep channels-last.
    compressai_numerics: bool = False

    def _transform(self, module: nn.Module, t: torch.Tensor,
                   options: ForwardOptions | None = None) -> torch.Tensor:
        t = t.contiguous() if self.compressai_numerics else t.contiguous(
            memory_format=torch.channels_last)
        autocast = None if options is None else options.transform_autocast
        if autocast is not None:
            with torch.autocast(t.device.type, dtype=autocast):
                return module(t).float().contiguous()
        return module(t).contiguous()

    #: the largest activation, in bytes, g_a or the float g_s may hold in one run before
    #: it runs in tiles (lic_core.zoo.tiling; None: never tile). Tiles only where autograd
    #: records nothing (no_grad, inference mode: every codec path), so training and the
    #: effort search's gradients keep the whole-image graph.
    tile_bound: int | None = DEFAULT_TILE_BOUND

    def _bounded_transform(self, module: nn.Module, t: torch.Tensor,
                           options: ForwardOptions | None = None) -> torch.Tensor:
        """``_transform(module, t)``, in tiles when its whole-image run would hold an
        activation over :attr:`tile_bound` bytes and no gradient is recorded: each output
        element from the same inputs as the whole-image run (lic_core.zoo.tiling), so
        only float rounding may differ. The tiling is a function of the shape alone."""
        if options is None and self.tile_bound is not None and not torch.is_grad_enabled():
            plan = tiling.plan(module, t.shape, t.element_size(), self.tile_bound)
            if plan is not None:
                def prepare(crop):
                    return crop.contiguous() if self.compressai_numerics else crop.contiguous(
                        memory_format=torch.channels_last)
                return tiling.run(module, t, plan, prepare)
        return self._transform(module, t, options)

    def analysis(self, x: torch.Tensor, options: ForwardOptions | None = None) -> torch.Tensor:
        """y = g_a(x), run channels-last (oneDNN's faster layout on CPU), returned NCHW.
        Every encoder path (compress, compress_strings, forward, rate reports) starts here,
        so this is where a decoder-only model refuses (:meth:`check_can_encode`).
        ``options`` (a training forward's) may run g_a under autocast. A large image
        without gradients runs in tiles of bounded memory (:attr:`tile_bound`)."""
        self.check_can_encode()
        return self._bounded_transform(self.g_a, x, options)

    def synthesis(self, y_hat: torch.Tensor,
                  options: ForwardOptions | None = None) -> torch.Tensor | None:
        """x̂ = g_s(ŷ) before clamping, channels-last inside like :meth:`analysis`.

        Training, forward and decoding all go through here, so the eval forward and the
        decoder compute x̂ with the same kernels, bit for bit (and the same tiles: a large
        ŷ without gradients runs in tiles of bounded memory, :attr:`tile_bound`, the tiling
        a function of the shape alone). Returns None when
        ``options.skip_synthesis`` (a training forward's) says the distortion cannot change."""
        if options is not None and options.skip_synthesis:
            return None
        return self._bounded_transform(self.g_s, y_hat, options)

    def synthesize(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Decoded image: clamp(g_s(ŷ), 0, 1). ŷ is handed to g_s in g_s's dtype and on its
        device: the entropy decoders and the integer path give float32 on the CPU, exactly
        (symbols plus means on a 2^-F grid), and a float64 or GPU model decodes them too.

        A model with integer synthesis (:attr:`exact_decoder`) runs the engine's instead:
        the pixels every decoder of its files gets, over 255 (what the encoder's
        reconstruction and the effort search's coded objective must see)."""
        if self.exact_decoder is not None:
            return self._exact_synthesis(y_hat)
        weight = next(self.g_s.parameters(), None)
        if weight is not None:
            y_hat = y_hat.to(device=weight.device, dtype=weight.dtype)
        return self.synthesis(y_hat).clamp_(0, 1)

    def _exact_synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        from .synthesis import synthesis_input
        frac, offset, mean_frac = self.exact_decoder.synthesis_input(self.quality)
        y16 = synthesis_input(self, y_hat, frac, offset, mean_frac)
        rgb = self.exact_decoder.synthesize(self.quality, y16, threads=max(1, min(torch.get_num_threads(), 8)))
        weight = next(self.g_s.parameters(), None)
        x_hat = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(torch.float32).div_(255.0)
        return x_hat if weight is None else x_hat.to(device=weight.device, dtype=weight.dtype)

    # ----------------------------------------------------------------- integer synthesis
    #: the engine's decoder of this model's integer synthesis (a
    #: lic_core.coding.decoder.FileDecoder over its release's decoder weights file, zoo-v5
    #: on), or None: files then record the float synthesis, as before format 4
    exact_decoder = None

    def attach_exact_decoder(self, decoder) -> None:
        """Write and decode files with integer synthesis through ``decoder`` (a FileDecoder
        holding this model's family and quality, from the same release), or stop (None).
        zoo.load attaches the release's decoder file; the model's float g_s stays for
        training and for files of the float synthesis."""
        if decoder is not None:
            if decoder.family != self.name or self.quality not in decoder.qualities:
                raise WeightsError(f"the decoder weights {decoder!r} do not hold {self.name} quality "
                                   f"{self.quality}")
        self.exact_decoder = decoder

    @property
    def synthesis_path(self) -> int:
        """What files this model writes record (lic_core.container): EXACT_SYNTHESIS with
        an integer synthesis attached, else FLOAT_SYNTHESIS."""
        from lic_core.container import EXACT_SYNTHESIS, FLOAT_SYNTHESIS
        return FLOAT_SYNTHESIS if self.exact_decoder is None else EXACT_SYNTHESIS

    # ----------------------------------------------------------------- shapes
    def latent_shapes(self, height: int, width: int) -> tuple[tuple[int, int], ...]:
        """Latent (h, w) of each stream for a padded image of height × width."""
        raise NotImplementedError

    def latent_shapes_from_last(self, last: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        """All latent shapes from the last stream's shape (CompressAI's ``shape``): the
        last latent is the image down-sampled by ``stride``."""
        if len(last) != 2 or min(last) < 1:
            raise InvalidArgumentError(f"shape must be a positive (height, width), got {last}")
        return self.latent_shapes(last[0] * self.stride, last[1] * self.stride)

    # ----------------------------------------------------------------- probability path
    def attach_integer_prior(self, prior) -> None:
        """Code with ``prior`` (a zoo.integer.IntegerPrior; its tensors join the state dict
        under ``integer.`` and so the fingerprint), or with the float networks if None."""
        # drop a registered prior first: assigning None to a registered submodule name
        # keeps the name in _modules, and deleting it after would leave no attribute
        self._modules.pop("integer", None)
        self.integer = prior

    @property
    def probability_path(self) -> int:
        """What files this model writes record (lic_core.container): EXACT_PATH when its
        coding tables come from integer networks or from no network, else FLOAT_PATH."""
        from lic_core.container import EXACT_PATH, FLOAT_PATH
        exact = self.integer is not None or not self.probability_networks
        return EXACT_PATH if exact else FLOAT_PATH

    #: whether decoding derives coding tables with networks (False for the factorized
    #: model, whose tables are stored: exact on every machine, whatever a file records)
    probability_networks: bool = True

    # ----------------------------------------------------------------- .lic files
    def check_can_encode(self) -> None:
        """WeightsError when this model cannot encode: its release is kept decoder side
        only, so g_a and h_a are untrained (what it wrote would decode to noise).
        Every encoder entry point (compress, compress_strings) calls it first."""
        if not self.decoder_only:
            return
        from .release import release_label
        raise WeightsError(
            f"{self.weights_release!r} is kept decoder side only (retired: its g_a and h_a "
            f"were dropped), so this {self.name} model decodes that release's files but "
            f"cannot encode; encode with the current release {release_label()!r} "
            f"(lic_core.zoo.load({self.name!r}, {self.quality}))")

    def _fingerprint_key(self) -> tuple:
        """What identifies the tensors' current values: each tensor's storage, version
        counter (bumped by every in-place change) and shape."""
        state = self.state_dict(keep_vars=True)
        return tuple((name, t.data_ptr(), t._version, tuple(t.shape)) for name, t in state.items())

    def decoder_fingerprint(self) -> int:
        """The fingerprint of the weights decoding uses (lic_core.zoo.fingerprint): that of
        the decoder-side tensors as they were loaded (float32 in every zoo file), so the
        weights as released. Cached until a value changes: an in-place update (an
        optimiser step, load_state_dict of other values) bumps a tensor's version counter,
        and the fingerprint is then computed again from the tensors as they are. Moving the
        model to another dtype or device (``.double()``, ``.half()``, ``.to(...)``) keeps
        it (:meth:`_apply`): the same weights, so the same files (docs/format.md)."""
        from .fingerprint import decoder_fingerprint
        key = self._fingerprint_key()
        if self._fingerprint_cache is None or self._fingerprint_cache[0] != key:
            self._fingerprint_cache = (key, decoder_fingerprint(self))
        return self._fingerprint_cache[1]

    def _apply(self, fn, recurse=True):
        """nn.Module's dtype and device moves (``.to``, ``.double``, ``.half``, ``.cuda``, ...)
        all come here: the fingerprint of the weights before the move is carried over to
        the moved tensors, so a float64 or half-precision copy of a release's model writes
        files that its float32 model decodes, and decodes them."""
        fingerprint = self.decoder_fingerprint()
        out = super()._apply(fn, recurse)
        self._fingerprint_cache = (self._fingerprint_key(), fingerprint)
        return out

    def to_empty(self, *args, **kwargs):
        """nn.Module.to_empty: uninitialised tensors are not the weights any more, so the
        fingerprint is computed again from whatever values they are given."""
        out = super().to_empty(*args, **kwargs)
        self._fingerprint_cache = None
        return out

    @torch.no_grad()
    def compress(self, x: torch.Tensor, *, return_x_hat: bool = False,
                 max_pixels: int | Limits | None = None, effort: int | None = None,
                 progress=None, latents=None):
        """Any-size 1×3×H×W image in [0, 1] → .lic bytes (native streams in the container):
        :func:`lic_core.codec.encode` with this model, which owns the limits, the effort
        search, the header and the error mapping.

        With ``return_x_hat=True`` also returns the encoder's own reconstruction (cropped,
        clamped), which decompress() reproduces bit for bit. ``max_pixels`` (an int or a
        resolved :class:`~lic_core.limits.Limits`; default $LIC_MAX_PIXELS or 2^24) bounds
        the image padded to 64, checked before padding: what the container will check.
        ``effort`` (0..9, default zoo.effort.DEFAULT_EFFORT): how long the encoder searches
        for better latents for this image (zoo.effort); the decoder is the same for all.
        ``progress(step, steps)`` is called during that search. ``latents``: (y, z) (z None
        for the factorized model) to code instead of g_a's and h_a's, as an effort level's
        search does (zoo.effort.refine_levels gives every level's at once); ``effort``
        must then be 0 or None."""
        return codec.encode(self, x, max_pixels=max_pixels, effort=effort, progress=progress,
                            latents=latents, return_x_hat=return_x_hat)

    @torch.no_grad()
    def decompress(self, data, *, max_pixels: int | Limits | None = None) -> torch.Tensor:
        """.lic bytes → 1×3×H×W x̂ in [0, 1]. The file must come from these weights:
        :func:`lic_core.codec.decode_tensor` with this model (one header parse).

        ``max_pixels``: an int or a resolved :class:`~lic_core.limits.Limits` (default
        $LIC_MAX_PIXELS or 2^24), applied by the container to the image padded to 64.
        A header naming another model, quality or fingerprint than this model's raises
        WeightsError (the file was written by other weights; docs/format.md, "Errors");
        anything torch raises while decoding comes out as a LicError (codec.guard)."""
        return codec.decode_tensor(self, data, max_pixels=max_pixels)

    def decode_streams(self, streams, shapes) -> torch.Tensor:
        """Native streams of a parsed file and their latent shapes (for the padded image)
        → the padded 1×3×H×W image, clamped: entropy decoding and synthesis, nothing of
        the container (the codec has parsed and checked the header)."""
        return self.synthesize(self._decode(list(streams), shapes, "native"))

    # ----------------------------------------------------------------- hooks
    def _forward(self, x: torch.Tensor, options: ForwardOptions | None = None) -> dict:
        raise NotImplementedError

    def _encode(self, x: torch.Tensor, stream_format: str):
        raise NotImplementedError

    def _decode(self, streams, shapes, stream_format: str) -> torch.Tensor:
        raise NotImplementedError
