"""The space-channel model's schedule: its channel groups and the steps in which each
group's positions are coded (docs/models.md, "Space-channel context"). Plain NumPy,
shared by the float model (space_channel) and its integer path (space_channel_integer).

A group is coded in 2 or 4 *steps*, each a set of positions fixed by (r mod 2, c mod 2):

* 2 steps (a checkerboard): the anchors (r + c even), then the others;
* 4 steps (a 2×2 pattern): (even, even), (odd, odd), (even, odd), (odd, even). Step 1
  sees its four diagonal neighbours decoded, step 2 its four direct ones, step 3 all
  eight; only a quarter of the positions go without a spatial context, against half.
"""
from __future__ import annotations

import numpy as np

from lic_core.errors import InvalidArgumentError

__all__ = ["channel_groups", "group_steps", "step_masks", "step_positions", "FOUR_STEP_GROUPS"]

#: how many of the first groups are coded in four steps. The first two groups carry
#: most of the low-rate bits and lost most against the joint model's serial context with
#: two steps (docs/training.md, "Where the bits go"); later groups have a channel
#: context rich enough that two steps cost little.
FOUR_STEP_GROUPS = 2


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


def group_steps(n_groups: int) -> tuple[int, ...]:
    """The number of steps of each group: 4 for the first FOUR_STEP_GROUPS, 2 after."""
    return tuple(4 if g < FOUR_STEP_GROUPS else 2 for g in range(n_groups))


def step_masks(h: int, w: int, steps: int) -> list[np.ndarray]:
    """h×w bool masks of the ``steps`` (2 or 4) steps, in coding order (module docstring)."""
    r, c = np.ogrid[:h, :w]
    if steps == 2:
        return [(r + c) % 2 == 0, (r + c) % 2 == 1]
    if steps == 4:
        er, ec = r % 2 == 0, c % 2 == 0
        return [er & ec, ~er & ~ec, er & ~ec, ~er & ec]
    raise InvalidArgumentError(f"a channel group is coded in 2 or 4 steps, not {steps!r}")


def step_positions(h: int, w: int, steps: int) -> tuple[np.ndarray, ...]:
    """The flat positions r·w + c (int64, raster order) of each step."""
    return tuple(np.flatnonzero(m.reshape(-1)).astype(np.int64) for m in step_masks(h, w, steps))
