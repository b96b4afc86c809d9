"""Training and validation images: where they are, how they are read, how crops are drawn.

No DataLoader workers: every image is decoded once into RAM as uint8, and a batch is
slicing plus one float conversion, well under 1 % of a training step on CPU. Imports
without torch (``lic eval`` lists and reads its images through here).
"""
from __future__ import annotations

import numpy as np

from ..datasets import IMAGE_SUFFIXES, default_folder, list_images, load_rgb, repo_root  # noqa: F401
from ..errors import InvalidArgumentError

class CropSampler:
    """Random crops with horizontal/vertical flips, drawn from images decoded once into RAM.

    Every image is decoded a single time (uint8, about 0.6 MB per 512×384 image), on the
    first batch. Images smaller than the crop are reflect-padded. ``rng`` is the only
    source of randomness, so a checkpoint that saves its state resumes the same crops.
    """

    def __init__(self, folder: str, crop: int, seed: int = 0):
        if crop <= 0 or crop % 16:
            raise InvalidArgumentError(f"crop must be a positive multiple of 16, got {crop}")
        self.crop = crop
        self.files = list_images(folder)
        self._images = None
        self.rng = np.random.default_rng(seed)

    @property
    def images(self) -> list[np.ndarray]:
        # decoded on the first batch, so a run that trains 0 steps (deriving a quality by
        # latent gain) does not spend a minute decoding the training set
        if self._images is None:
            self._images = [self._pad(load_rgb(f)) for f in self.files]
        return self._images

    def _pad(self, img: np.ndarray) -> np.ndarray:
        h, w, _ = img.shape
        ph, pw = max(0, self.crop - h), max(0, self.crop - w)
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
        return img

    def batch(self, size: int):
        """A float32 torch tensor of shape (size, 3, crop, crop) in [0, 1]."""
        import torch
        c = self.crop
        out = np.empty((size, c, c, 3), dtype=np.uint8)
        for i in range(size):
            img = self.images[self.rng.integers(len(self.images))]
            h, w, _ = img.shape
            top = self.rng.integers(h - c + 1)
            left = self.rng.integers(w - c + 1)
            patch = img[top:top + c, left:left + c]
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            if self.rng.random() < 0.5:
                patch = patch[::-1]
            out[i] = patch
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)
