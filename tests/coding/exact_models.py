"""Tiny models with an integer synthesis, for the tests and the fuzz harness of the engine's
whole-file decoder (lic_core.coding.decoder, csrc/lic/decoder.cpp): one home for how they
are made.

:func:`exact_model` converts a seeded tiny zoo model (lic_core.testing.tiny_model, with
LIVELY gains so it codes something) to the integer probability path, writes its decoder
weights file the way tools/make_decoder_release.py writes a release's
(lic_core.zoo.synthesis.decoder_tensors, tensorfile.write_safetensors, the same metadata)
and attaches the engine's decoder of that file, so that ``model.compress`` writes files of
format 4 with integer synthesis, as a zoo-v5 model does. Needs torch.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: every family the engine's decoder reads
FAMILIES = ("factorized", "hyperprior", "mean-scale", "joint", "space-channel")
RELEASE = "test"


def image(h: int, w: int, seed: int = 0):
    """A smooth 1x3xHxW image in [0, 1] (random noise codes poorly at any size)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear").clamp(0, 1)


def calibration_images():
    return [image(64, 64, 1), image(70, 90, 2)]


@dataclass
class ExactModel:
    model: object               # the zoo model, its integer synthesis attached
    tensors: dict               # the decoder weights file's tensors (name -> array)
    metadata: dict              # and its metadata
    weights: bytes              # the file's bytes

    def rewrite(self, tensors=None, **metadata) -> bytes:
        """The decoder weights file's bytes with ``tensors`` and ``metadata`` changed."""
        return weights_bytes(tensors if tensors is not None else self.tensors, {**self.metadata, **metadata})


def weights_bytes(tensors: dict, metadata: dict) -> bytes:
    from lic_core.zoo.tensorfile import write_safetensors
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.decoder.safetensors"
        write_safetensors(path, tensors, metadata=metadata)
        return path.read_bytes()


def exact_model(family: str, seed: int = 0, quality: int = 3) -> ExactModel:
    """A fresh tiny ``family`` model of ``quality`` (release label :data:`RELEASE`) with the
    integer probability path (but factorized, which needs none) and integer synthesis."""
    import torch

    from lic_core.coding.decoder import FileDecoder
    from lic_core.testing import LIVELY, tiny_model
    from lic_core.zoo.integer import convert
    from lic_core.zoo.synthesis import DECODER_FORMAT, SYNTHESIS_SPEC, decoder_tensors

    model = tiny_model(family, seed=seed, gains=LIVELY, fresh=True)
    model.quality, model.weights_release = quality, RELEASE
    images = calibration_images()
    with torch.no_grad():
        if family != "factorized":
            convert(model, images)
        latents = [model._encode(model.pad(x), "native")[2] for x in images]
        tensors = decoder_tensors({quality: model}, {quality: latents})
    metadata = {"format": DECODER_FORMAT, "architecture": family, "qualities": str(quality),
                "N": str(model.N), "M": str(model.M), "integer_spec": SYNTHESIS_SPEC,
                "model_file": f"{family}-q{quality}.safetensors", "release": RELEASE,
                "calibration": "tests/coding/exact_models.py"}
    data = weights_bytes(tensors, metadata)
    model.attach_exact_decoder(FileDecoder(data=data))
    return ExactModel(model, tensors, metadata, data)

