"""One registry: canonical name → class, container id, aliases, default N/M per quality.

The numeric ids are the .lic container's model ids, read from their one home,
``lic_core.container.MODEL_IDS`` (written there as numbers, fixed forever, never derived
from the order of this table). ``DEFAULT_MODEL`` and ``DEFAULT_QUALITY`` are the one home
of what compress uses when given no model or quality (the API, the CLI, the Pillow plugin).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from lic_core.container import MODEL_IDS
from lic_core.errors import InvalidArgumentError

__all__ = ["ModelSpec", "REGISTRY", "QUALITIES", "LAMBDAS", "DEFAULT_MODEL", "DEFAULT_QUALITY",
           "resolve", "canonical_names"]

#: the model compress uses when given none (lic_core.compress, lic compress, img.save)
DEFAULT_MODEL = "hyperprior"
#: the quality compress uses when given none (lic compress and analyze: else the nearest
#: quality the model ships)
DEFAULT_QUALITY = 3

#: 1..8 as in CompressAI; 9 and 10 are lic-core's high-fidelity qualities (zoo-v5 on)
QUALITIES = tuple(range(1, 11))
#: the rate-distortion trade-off each quality was trained for (loss = bpp + λ·255²·MSE):
#: 1..8 are CompressAI's MSE zoo values, 9 and 10 continue its doubling per quality. The
#: one home of this table: training weighs its loss with it, the encoder's effort levels
#: their search.
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.18, 0.36, 0.72)


def _channels(low: tuple[int, int], high: tuple[int, int], last_low: int) -> dict[int, tuple[int, int]]:
    return {q: (low if q <= last_low else high) for q in QUALITIES}


@dataclass(frozen=True)
class ModelSpec:
    """What the zoo knows about one family."""

    name: str                # canonical name (container, file names)
    model_id: int            # container id (container.MODEL_IDS), fixed forever
    class_path: str          # "module:Class" inside lic_core.zoo, imported lazily
    aliases: tuple[str, ...]
    channels: Mapping[int, tuple[int, int]]  # quality → default (N, M)
    stream_names: tuple[str, ...]            # the latents coded, in stream order

    def model_class(self):
        import importlib
        module, cls = self.class_path.split(":")
        return getattr(importlib.import_module(f"lic_core.zoo.{module}"), cls)

    def default_channels(self, quality: int | None) -> tuple[int, int]:
        if quality is None:
            quality = QUALITIES[0]
        check_quality(quality)
        return self.channels[quality]


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("factorized", MODEL_IDS["factorized"],
              "factorized:FactorizedPrior", ("bmshj2018-factorized",),
              _channels((128, 192), (192, 320), 5), ("y",)),
    ModelSpec("hyperprior", MODEL_IDS["hyperprior"],
              "hyperprior:ScaleHyperprior", ("bmshj2018-hyperprior",),
              _channels((128, 192), (192, 320), 5), ("y", "z")),
    ModelSpec("mean-scale", MODEL_IDS["mean-scale"],
              "hyperprior:MeanScaleHyperprior", ("mbt2018-mean",),
              _channels((128, 192), (192, 320), 4), ("y", "z")),
    ModelSpec("joint", MODEL_IDS["joint"],
              "joint:JointAutoregressiveHierarchicalPriors", ("mbt2018",),
              _channels((192, 192), (192, 320), 4), ("y", "z")),
    ModelSpec("space-channel", MODEL_IDS["space-channel"],
              "space_channel:SpaceChannelContext", ("checkerboard-channel",),
              _channels((192, 192), (192, 320), 4), ("y", "z")),
)}

_BY_ALIAS = {alias: spec for spec in REGISTRY.values() for alias in (spec.name,) + spec.aliases}
_BY_CLASS_NAME = {spec.class_path.split(":")[1]: spec for spec in REGISTRY.values()}


def canonical_names() -> list[str]:
    return list(REGISTRY)


def resolve(name: str) -> ModelSpec:
    """The spec for a canonical name, an alias or a CompressAI class name."""
    if isinstance(name, str):
        spec = _BY_ALIAS.get(name.strip().lower()) or _BY_CLASS_NAME.get(name.strip())
        if spec is not None:
            return spec
    valid = ", ".join(f"{s.name} ({', '.join(s.aliases)})" for s in REGISTRY.values())
    raise InvalidArgumentError(f"unknown model {name!r}; valid names: {valid}")


def check_quality(quality) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in QUALITIES:
        raise InvalidArgumentError(
            f"quality must be an int in {QUALITIES[0]}..{QUALITIES[-1]}, got {quality!r}")
    return quality
