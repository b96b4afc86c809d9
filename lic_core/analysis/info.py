"""Information-theory estimators and rate reports.

Two kinds of quantities live here:

* **Estimates from discrete samples** (NumPy only): entropy H(X), joint entropy
  H(X,Y), conditional entropy H(X|Y) = H(X,Y) − H(Y), mutual information
  I(X;Y) = H(X) + H(Y) − H(X,Y), and cross-entropy of samples under a given pmf.
  All are in bits by default (``base=2``).

  The plug-in ("maximum likelihood") estimator replaces p by the empirical
  frequencies: Ĥ = −Σ_k (n_k/N) log(n_k/N). It is biased **low**: to first order
  E[Ĥ] ≈ H − (m−1)/(2N) nats, with m the number of symbols of non-zero
  probability (Miller 1955). ``correction="miller-madow"`` adds (m̂−1)/(2N) nats
  back, m̂ being the number of *observed* symbols. Consequently plug-in MI is
  biased **high** (the joint term loses most); Miller–Madow reduces both. Neither
  is reliable once m is comparable to N.

* **Rates from a model's likelihoods** (torch, imported lazily): the ideal code
  length of a latent under the model's own probabilities, −Σ log2 p(ŷ), i.e. the
  empirical cross-entropy the entropy coder approaches, and ``rate_report``,
  which sets these beside the real coded stream lengths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgumentError
from ..limits import Limits

__all__ = [
    "entropy", "joint_entropy", "conditional_entropy", "mutual_information", "cross_entropy",
    "ideal_bits", "StreamRate", "RateReport", "rate_report",
]

_CORRECTIONS = (None, "miller-madow")


# --------------------------------------------------------------------------- helpers

def _log(base: float) -> float:
    if not (isinstance(base, (int, float)) and base > 0 and base != 1):
        raise InvalidArgumentError(f"base must be a positive number other than 1, got {base!r}")
    return math.log(base)


def _labels(x, name: str) -> np.ndarray:
    """Samples as a flat array of integer labels 0..m−1 (any hashable dtype NumPy can sort)."""
    arr = np.asarray(x)
    if arr.dtype == object:
        raise InvalidArgumentError(f"{name} must be a numeric or string array, not objects")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise InvalidArgumentError(f"{name} is empty: entropy needs at least one sample")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} holds NaN or infinite values")
    _, inverse = np.unique(arr, return_inverse=True)
    return inverse.reshape(-1)


def _paired(x, y):
    lx, ly = _labels(x, "x"), _labels(y, "y")
    if lx.size != ly.size:
        raise InvalidArgumentError(f"x and y must hold the same number of samples, got {lx.size} and {ly.size}")
    return lx, ly


def _entropy_of_labels(labels: np.ndarray, correction, base: float) -> float:
    if correction not in _CORRECTIONS:
        raise InvalidArgumentError(f"correction must be one of {_CORRECTIONS}, got {correction!r}")
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    n = labels.size
    p = counts / n
    h_nats = float(-(p * np.log(p)).sum())
    if correction == "miller-madow":
        h_nats += (counts.size - 1) / (2.0 * n)
    return max(h_nats, 0.0) / _log(base)


# --------------------------------------------------------------------------- estimators

def entropy(x, *, base: float = 2, correction: str | None = None) -> float:
    """Plug-in entropy of the samples ``x`` (any shape, flattened), in units of log ``base``.

    Ĥ(X) = −Σ_k p̂_k log p̂_k with p̂_k = n_k/N. ``correction="miller-madow"`` adds
    (m̂−1)/(2N) nats. Example: ``entropy([0, 1, 2, 3])`` is 2.0 bits.
    """
    return _entropy_of_labels(_labels(x, "x"), correction, base)


def joint_entropy(x, y, *, base: float = 2, correction: str | None = None) -> float:
    """Ĥ(X,Y) from paired samples (x[i], y[i])."""
    lx, ly = _paired(x, y)
    pair = lx.astype(np.int64) * (int(ly.max()) + 1) + ly
    return _entropy_of_labels(_labels(pair, "pairs"), correction, base)


def conditional_entropy(x, y, *, base: float = 2, correction: str | None = None) -> float:
    """Ĥ(X|Y) = Ĥ(X,Y) − Ĥ(Y), clipped at 0 (each term with the same correction)."""
    h = joint_entropy(x, y, base=base, correction=correction) - entropy(y, base=base, correction=correction)
    return max(h, 0.0)


def mutual_information(x, y, *, base: float = 2, correction: str | None = None) -> float:
    """Î(X;Y) = Ĥ(X) + Ĥ(Y) − Ĥ(X,Y), clipped at 0.

    The plug-in value is biased upwards (independent samples give Î > 0 of order
    (m_x−1)(m_y−1)/(2N ln 2) bits); Miller–Madow removes that first-order term.
    """
    h = (entropy(x, base=base, correction=correction) + entropy(y, base=base, correction=correction)
         - joint_entropy(x, y, base=base, correction=correction))
    return max(h, 0.0)


def cross_entropy(x, pmf, *, offset: int = 0, base: float = 2) -> float:
    """Average code length of the integer samples ``x`` under the model ``pmf``.

    Ĥ(P̂, Q) = −(1/N) Σ_i log q(x_i) with q(k) = pmf[k − offset]. ``pmf`` may
    also be a dict {symbol: probability}. It is ∞ if a sample has q = 0, and
    equals ``entropy(x)`` plus the KL divergence D(P̂‖Q) ≥ 0.
    """
    arr = np.asarray(x).reshape(-1)
    if arr.size == 0:
        raise InvalidArgumentError("x is empty: cross-entropy needs at least one sample")
    if isinstance(pmf, dict):
        symbols, first = np.unique(arr, return_inverse=True)
        q = np.array([float(pmf.get(s.item(), 0.0)) for s in symbols])[first]
    else:
        table = np.asarray(pmf, dtype=np.float64).reshape(-1)
        if arr.dtype.kind not in "iu":
            raise InvalidArgumentError(f"x must hold integers to index a pmf array, got {arr.dtype}")
        if table.size == 0 or np.any(table < 0) or not np.all(np.isfinite(table)):
            raise InvalidArgumentError("pmf must be non-empty, finite and non-negative")
        if abs(table.sum() - 1.0) > 1e-6:
            raise InvalidArgumentError(f"pmf must sum to 1, sums to {table.sum():.6g}")
        k = arr.astype(np.int64) - offset
        inside = (k >= 0) & (k < table.size)
        q = np.zeros(arr.size)
        q[inside] = table[k[inside]]
    if np.any(q <= 0):
        return math.inf
    return float(-np.log(q).mean()) / _log(base)


def ideal_bits(likelihoods) -> float:
    """Ideal code length −Σ log2 p of a likelihood tensor/array (entries in (0, 1])."""
    p = _as_numpy(likelihoods)
    if p.size and (np.any(p <= 0) or np.any(p > 1 + 1e-6) or not np.all(np.isfinite(p))):
        raise InvalidArgumentError("likelihoods must lie in (0, 1]")
    return float(-np.log2(p.astype(np.float64)).sum())


def _as_numpy(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


# --------------------------------------------------------------------------- model rates

#: What each stream's ideal bits measure, per zoo family (ŷ's conditioning grows
#: with the family: nothing, the hyperprior ẑ, ẑ and the causal context).
_CONDITIONING = {
    "factorized": {"y": "H(ŷ)"},
    "hyperprior": {"z": "H(ẑ)", "y": "H(ŷ|ẑ)"},
    "mean-scale": {"z": "H(ẑ)", "y": "H(ŷ|ẑ)"},
    "joint": {"z": "H(ẑ)", "y": "H(ŷ|ẑ,ctx)"},
    "space-channel": {"z": "H(ẑ)", "y": "H(ŷ|ẑ,ctx)"},
}


@dataclass(frozen=True)
class StreamRate:
    """Rate of one stream of one image.

    ``ideal_bits`` = −Σ log2 p over the latent under the model's own (eval-mode)
    likelihoods; ``coded_bits`` = 8 × the real stream's length in bytes.
    ``per_channel_bits`` [C] and ``bit_map`` [h, w] split ``ideal_bits`` over
    channels and over latent positions.
    """

    name: str
    conditioning: str
    ideal_bits: float
    coded_bits: int
    per_channel_bits: np.ndarray
    bit_map: np.ndarray


@dataclass(frozen=True)
class RateReport:
    """Rates of one image under one model (see :func:`rate_report`)."""

    model: str
    quality: int
    height: int
    width: int
    streams: tuple
    file_bytes: int
    y_marginal_bits: float

    @property
    def num_pixels(self) -> int:
        return self.height * self.width

    @property
    def ideal_bits(self) -> float:
        return sum(s.ideal_bits for s in self.streams)

    @property
    def coded_bits(self) -> int:
        return sum(s.coded_bits for s in self.streams)

    def stream(self, name: str) -> StreamRate | None:
        return next((s for s in self.streams if s.name == name), None)

    @property
    def side_information_saving(self) -> float | None:
        """Estimated I(ŷ;ẑ) in bits: ŷ's cost under its own per-channel marginal
        minus its cost under p(ŷ|ẑ[,ctx]). None for models without ẑ."""
        y, z = self.stream("y"), self.stream("z")
        if y is None or z is None:
            return None
        return self.y_marginal_bits - y.ideal_bits


def _per_channel_marginal_bits(y_hat: np.ndarray, correction: str | None = None) -> float:
    """Σ_c n·Ĥ(ŷ_c): ŷ coded i.i.d. per channel with its own empirical pmf.

    y_hat: 1×C×h×w integers, n = h·w. This is the cost of the best per-channel
    i.i.d. code for this very image with its histogram sent for free; it
    ignores dependencies between channels and positions.
    """
    _, c, h, w = y_hat.shape
    return float(sum(entropy(y_hat[0, k], correction=correction) for k in range(c)) * h * w)


def rate_report(model, image, *, correction: str | None = None,
                max_pixels: int | Limits | None = None) -> RateReport:
    """Ideal and coded bits of ``image`` under zoo ``model``, per stream and channel.

    image: path, PIL image or H×W×3 uint8 array (see :func:`lic_core.images.to_rgb_array`).
    ``max_pixels`` (an int or a resolved :class:`~lic_core.limits.Limits`; default
    $LIC_MAX_PIXELS or 2^24) bounds the image padded to 64, as ``lic_core.compress``
    does: a larger one raises LimitExceededError before any tensor is made.

    * ideal bits come from ``model(x)["likelihoods"]`` in eval mode (rounded
      latents); for the joint model the forward pass rounds ŷ without its mean,
      so its ideal ŷ bits are for a latent that differs from the coded one by
      at most the rounding of the means;
    * coded bits are the lengths of the native streams that ``model.compress``
      writes (the .lic payload); ``file_bytes`` is the whole .lic file;
    * ``y_marginal_bits`` is the per-channel plug-in entropy of the coded ŷ
      times its positions, i.e. the bits of ŷ without side information, used
      for the estimate I(ŷ;ẑ) ≈ H_marg(ŷ) − H(ŷ|ẑ); ``correction="miller-madow"``
      applies the Miller–Madow term to each channel's entropy.
    """
    import torch

    from .. import container
    from ..images import to_rgb_array, to_tensor

    limits = Limits.resolve(max_pixels)
    rgb = to_rgb_array(image)
    # The forward pass and the encoder both run on the whole padded image; refuse it
    # before the first tensor, as compress() would.
    limits.check_image(rgb.shape[0], rgb.shape[1])
    x = to_tensor(rgb)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(x)
            # The hook model.compress() wraps: the same native streams, plus the ŷ
            # the decoder rebuilds; the container adds a fixed-size header. Private, but
            # no public entry point returns ŷ (compress() and compress_strings() give
            # only the streams).
            streams, shapes, y_hat = model._encode(model.pad(x), "native")
    finally:
        model.train(was_training)
    file_bytes = container.header_size(len(shapes), len(streams)) + sum(len(s) for s in streams)
    conditioning = _CONDITIONING.get(model.name, {})
    rates = []
    for name, stream in zip(model.stream_names, streams):
        lik = out["likelihoods"][name].double()
        bits = -torch.log2(lik)
        rates.append(StreamRate(
            name=name, conditioning=conditioning.get(name, f"H({name})"),
            ideal_bits=float(bits.sum()), coded_bits=8 * len(stream),
            per_channel_bits=bits.sum(dim=(0, 2, 3)).numpy(),
            bit_map=bits.sum(dim=(0, 1)).numpy()))
    # ŷ rounded to integers for the histogram (a mean-scale ŷ is symbol + mean).
    y_sym = torch.round(y_hat).to(torch.int64).numpy()
    return RateReport(model=model.name, quality=int(model.quality or 0), height=rgb.shape[0],
                      width=rgb.shape[1], streams=tuple(rates), file_bytes=file_bytes,
                      y_marginal_bits=_per_channel_marginal_bits(y_sym, correction))
