"""What every zoo model shares: input checks, padding, the container, update/aux loss.

A family subclass provides the transforms and five hooks:

* ``_forward(x)``: the training graph on a padded image → x̂ and likelihoods;
* ``_encode(x, stream_format)`` on a padded image → (streams, latent shapes, ŷ) where
  ŷ is exactly what the decoder will rebuild;
* ``_decode(streams, latent_shapes, stream_format)`` → ŷ;
* ``latent_shapes(height, width)``: the shapes its streams code for a padded size.
* ``latent_interface()``: which of its modules make, read and model the latent y (how
  training rescales y and folds per-quality gains).

Everything else (any-size images, the .lic container, CompressAI's string layout, the
training options) lives here once.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from lic_core.models.entropy_models import EntropyBottleneck, EntropyModel, _check_stream_format
from lic_core.errors import ContainerError, InvalidArgumentError

from .registry import REGISTRY

__all__ = ["CompressionModel", "TrainingOptions", "LatentInterface"]


@dataclass(frozen=True)
class TrainingOptions:
    """How a training-mode forward runs; set by :meth:`CompressionModel.set_training_options`.

    Only training-mode forwards read them: eval mode, compress and decompress never do,
    so no option can change a stream or a decoded image.

    * ``quantization``: what the decoder side (g_s, h_s, the context model) sees in place
      of Q(y). "noise": the y + U(-½, ½) proxy the likelihoods are computed on
      (CompressAI's forward, the default so that forward() matches it). "mixed":
      round(y − μ) + μ with a straight-through gradient (Minnen & Singh, ICIP 2020), the
      values decoding really feeds them, while the rate term keeps the noise proxy.
      ``lic train`` uses "mixed" unless told otherwise.
    * ``transform_autocast``: None, or torch.bfloat16 to run g_a and g_s under autocast
      (``lic train --bf16``: about 2x faster on CPUs with AVX512-BF16); they hand float32
      on, so the entropy models and the loss stay float32.
    * ``skip_synthesis``: when g_a, g_s (and a variable-rate run's gains) are all frozen
      the distortion cannot change, so forwards skip g_s (about 40 % of a step) and
      return x_hat None.
    """
    quantization: str = "noise"
    transform_autocast: torch.dtype | None = None
    skip_synthesis: bool = False

    def __post_init__(self):
        if self.quantization not in ("noise", "mixed"):
            raise InvalidArgumentError(
                f'quantization must be "noise" or "mixed", got {self.quantization!r}')
        if self.transform_autocast not in (None, torch.bfloat16):
            raise InvalidArgumentError(
                f"transform_autocast must be None or torch.bfloat16, got {self.transform_autocast!r}")
        if not isinstance(self.skip_synthesis, bool):
            raise InvalidArgumentError(f"skip_synthesis must be a bool, got {self.skip_synthesis!r}")


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


def check_image(x) -> torch.Tensor:
    """A 1×3×H×W float tensor with H, W ≥ 1, or InvalidArgumentError saying what is wrong."""
    if not isinstance(x, torch.Tensor):
        raise InvalidArgumentError(f"expected a torch.Tensor image, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise InvalidArgumentError(f"expected an image tensor of shape 1x3xHxW, got {tuple(x.shape)}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise InvalidArgumentError(
            f"cannot compress an empty image ({x.shape[2]}x{x.shape[3]} pixels)")
    if not x.is_floating_point():
        raise InvalidArgumentError(f"expected a float image in [0, 1], got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise InvalidArgumentError("the image holds NaN or infinite values")
    return x


class CompressionModel(nn.Module):
    """Base of the zoo families. ``name`` is the canonical zoo name; ``quality`` is the
    zoo quality the weights came from, or None for weights from anywhere else."""

    name: str = ""
    #: Total down-sampling of the analysis transforms: inputs are padded to a multiple.
    stride: int = 64
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
        self.training_options = TrainingOptions()

    # ----------------------------------------------------------------- training
    def set_training_options(self, **changes) -> TrainingOptions:
        """Change the named :class:`TrainingOptions` (``quantization``,
        ``transform_autocast``, ``skip_synthesis``), validated; returns the new options."""
        known = {f.name for f in fields(TrainingOptions)}
        if set(changes) - known:
            raise InvalidArgumentError(f"unknown training options {sorted(set(changes) - known)}; "
                                       f"known: {sorted(known)}")
        self.training_options = replace(self.training_options, **changes)
        return self.training_options

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
                      means: torch.Tensor | None = None) -> torch.Tensor:
        """The tensor a decoder-side module receives in place of Q(x): ``noisy`` except in
        a training forward with ``training_options.quantization == "mixed"``."""
        if not self.training or self.training_options.quantization == "noise":
            return noisy
        rounded = EntropyModel.quantize(x, "dequantize", means)
        # rounded + (x − x) is exactly ``rounded`` in value (x + (rounded − x) would not be
        # in floating point), with gradient 1 to x and none to μ: the straight-through
        # estimator of round(x − μ) + μ.
        return rounded.detach() + (x - x.detach())

    def bottleneck_input(self, noisy: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """decoder_input for a tensor coded by the factorized entropy_bottleneck (centred on
        its per-channel medians)."""
        medians = self.entropy_bottleneck.medians().reshape(1, -1, *([1] * (x.dim() - 2)))
        return self.decoder_input(noisy, x, medians)

    def forward(self, x: torch.Tensor) -> dict:
        """Training graph: {"x_hat": N×3×H×W, "likelihoods": {"y": ..., "z": ...}}.

        Any H, W: the image is padded as compress() pads it and x̂ is cropped back, so
        in eval mode clamp(x̂) is the image decompress(compress(x)) returns (non-autoregressive
        models). Likelihoods cover the padded latents."""
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] == 0 or x.shape[3] == 0:
            raise InvalidArgumentError(f"expected images of shape Nx3xHxW, H, W > 0; got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        out = self._forward(self.pad(x))
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
    def compress_strings(self, x: torch.Tensor, *, stream_format: str = "compressai") -> dict:
        """CompressAI's ``compress()``: {"strings": [[bytes per image] per stream], "shape": (h, w)}
        with ``shape`` the last latent's size. H and W must be multiples of ``stride``."""
        _check_stream_format(stream_format)
        if x.dim() != 4 or x.shape[1] != 3:
            raise InvalidArgumentError(f"expected images of shape Nx3xHxW, got {tuple(x.shape)}")
        self._check_aligned(x)
        per_image = [self._encode(x[i:i + 1], stream_format) for i in range(x.shape[0])]
        strings = [[p[0][s] for p in per_image] for s in range(len(self.stream_names))]
        return {"strings": strings, "shape": tuple(per_image[0][1][-1])}

    @torch.no_grad()
    def decompress_strings(self, strings: Sequence[Sequence[bytes]], shape: Sequence[int], *,
                           stream_format: str = "compressai") -> dict:
        """CompressAI's ``decompress()``: {"x_hat": N×3×H×W clamped to [0, 1]}."""
        _check_stream_format(stream_format)
        if len(strings) != len(self.stream_names):
            raise InvalidArgumentError(
                f"{self.name} needs {len(self.stream_names)} string lists, got {len(strings)}")
        shapes = self.latent_shapes_from_last(tuple(int(s) for s in shape))
        x_hats = []
        for i in range(len(strings[0])):
            y_hat = self._decode([s[i] for s in strings], shapes, stream_format)
            x_hats.append(self.synthesize(y_hat))
        return {"x_hat": torch.cat(x_hats, 0)}

    def _transform(self, module: nn.Module, t: torch.Tensor) -> torch.Tensor:
        t = t.contiguous(memory_format=torch.channels_last)
        autocast = self.training_options.transform_autocast if self.training else None
        if autocast is not None:
            with torch.autocast(t.device.type, dtype=autocast):
                return module(t).float().contiguous()
        return module(t).contiguous()

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """y = g_a(x), run channels-last (oneDNN's faster layout on CPU), returned NCHW."""
        return self._transform(self.g_a, x)

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor | None:
        """x̂ = g_s(ŷ) before clamping, channels-last inside like :meth:`analysis`.

        Training, forward and decoding all go through here, so the eval forward and the
        decoder compute x̂ with the same kernels, bit for bit. A training forward returns
        None when ``training_options.skip_synthesis`` says the distortion cannot change."""
        if self.training and self.training_options.skip_synthesis:
            return None
        return self._transform(self.g_s, y_hat)

    def synthesize(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Decoded image: clamp(g_s(ŷ), 0, 1)."""
        return self.synthesis(y_hat).clamp_(0, 1)

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

    # ----------------------------------------------------------------- .lic files
    def decoder_fingerprint(self) -> int:
        """The fingerprint of the tensors decoding uses (lic_core.zoo.fingerprint), cached
        until a tensor changes (any in-place update bumps its version counter)."""
        from .fingerprint import decoder_fingerprint
        state = self.state_dict(keep_vars=True)
        key = tuple((name, t.data_ptr(), t._version, tuple(t.shape)) for name, t in state.items())
        if self._fingerprint_cache is None or self._fingerprint_cache[0] != key:
            self._fingerprint_cache = (key, decoder_fingerprint(self))
        return self._fingerprint_cache[1]

    @torch.no_grad()
    def compress(self, x: torch.Tensor, *, return_x_hat: bool = False):
        """Any-size 1×3×H×W image in [0, 1] → .lic bytes (native streams in the container).

        With ``return_x_hat=True`` also returns the encoder's own reconstruction (cropped,
        clamped), which decompress() reproduces bit for bit."""
        from lic_core import container
        x = check_image(x)
        h, w = x.shape[-2:]
        padded = self.pad(x)
        streams, shapes, y_hat = self._encode(padded, "native")
        f = container.LicFile(model=self.name, quality=int(self.quality or 0), height=int(h),
                              width=int(w), latent_shapes=tuple(shapes), streams=tuple(streams),
                              weights_fingerprint=self.decoder_fingerprint(),
                              weights_release=self.weights_release)
        data = container.pack(f)
        if return_x_hat:
            return data, self.synthesize(y_hat)[..., :h, :w]
        return data

    @torch.no_grad()
    def decompress(self, data, *, max_pixels: int | None = None) -> torch.Tensor:
        """.lic bytes → 1×3×H×W x̂ in [0, 1]. The file must come from this architecture."""
        from lic_core import container
        f = container.unpack(data, max_pixels=max_pixels)
        if f.model != self.name:
            raise InvalidArgumentError(
                f"this file was written by the {f.model!r} model; decode it with that model, "
                f"not {self.name!r} (lic_core.zoo.load({f.model!r}, {f.quality}))")
        if self.quality is not None and f.quality not in (0, self.quality):
            raise InvalidArgumentError(
                f"this file was written with {f.model} quality {f.quality}, "
                f"this model has quality {self.quality}")
        if f.weights_fingerprint and f.weights_fingerprint != self.decoder_fingerprint():
            from lic_core.errors import WeightsError
            from .fingerprint import format_fingerprint
            written_by = (f"zoo release {f.weights_release!r}" if f.weights_release
                          else "weights not from the zoo")
            raise WeightsError(
                f"this file was written by other {f.model} weights ({written_by}, quality "
                f"{f.quality}, fingerprint {format_fingerprint(f.weights_fingerprint)}); this "
                f"model's fingerprint is {format_fingerprint(self.decoder_fingerprint())}: "
                f"decoding would give a wrong image")
        ph = f.height + (-f.height) % self.stride
        pw = f.width + (-f.width) % self.stride
        shapes = self.latent_shapes(ph, pw)
        if tuple(tuple(s) for s in f.latent_shapes) != shapes:
            raise ContainerError(
                f"latent shapes {f.latent_shapes} do not match a {f.height}x{f.width} image "
                f"(expected {shapes})")
        if len(f.streams) != len(self.stream_names):
            raise ContainerError(
                f"{self.name} files hold {len(self.stream_names)} streams, this one has {len(f.streams)}")
        y_hat = self._decode(list(f.streams), shapes, "native")
        return self.synthesize(y_hat)[..., :f.height, :f.width]

    # ----------------------------------------------------------------- hooks
    def _forward(self, x: torch.Tensor) -> dict:
        raise NotImplementedError

    def _encode(self, x: torch.Tensor, stream_format: str):
        raise NotImplementedError

    def _decode(self, streams, shapes, stream_format: str) -> torch.Tensor:
        raise NotImplementedError
