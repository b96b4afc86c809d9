"""The space-channel model's schedule: its channel groups and the checkerboard of each
group's two halves (docs/models.md, "Space-channel context"). Plain NumPy, shared by the
float model (space_channel) and its integer path (space_channel_integer)."""
from __future__ import annotations

import numpy as np

from lic_core.errors import InvalidArgumentError

__all__ = ["channel_groups", "anchor_mask", "half_positions"]


def channel_groups(M: int) -> tuple[int, ...]:
    """The group sizes for M ≥ 12 channels: u, u, 2u, 4u and the rest, u = min(16, M // 12)
    (16, 16, 32, 64, 64 for the zoo's M = 192; ELIC's 16, 16, 32, 64, 192 at M = 320).

    Uneven on purpose: the first channels of a trained latent carry most of the bits, so
    small early groups give most channels a channel context early, at little cost in
    steps (the measured bit shares per group are in docs/models.md)."""
    if isinstance(M, bool) or not isinstance(M, int) or M < 12:
        raise InvalidArgumentError(f"the space-channel model needs M >= 12 channels, got {M!r}")
    u = min(16, M // 12)
    return (u, u, 2 * u, 4 * u, M - 8 * u)


def anchor_mask(h: int, w: int) -> np.ndarray:
    """h×w bool: True at the anchors (r + c even)."""
    r, c = np.ogrid[:h, :w]
    return (r + c) % 2 == 0


def half_positions(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(anchors, others): flat positions r·w + c (int64) in raster order."""
    flat = anchor_mask(h, w).reshape(-1)
    return np.flatnonzero(flat).astype(np.int64), np.flatnonzero(~flat).astype(np.int64)
