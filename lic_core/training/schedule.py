"""The learning rate as a function of progress."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Schedule:
    """Cosine decay from ``lr`` to ``lr * final_fraction`` over the run, multiplied during
    the first ``warmup`` steps by a linear ramp from 0.1 to 1.

    Progress is max(step / steps, elapsed / max_seconds): a run with a wall-clock budget
    still completes its decay when the machine is slower than planned.
    """
    lr: float
    steps: int
    warmup: int = 500
    final_fraction: float = 0.05
    max_seconds: float | None = None

    def progress(self, step: int, elapsed: float) -> float:
        """In [0, 1]; the run ends at 1."""
        p = step / max(1, self.steps)
        if self.max_seconds:
            p = max(p, elapsed / self.max_seconds)
        return min(1.0, p)

    def __call__(self, step: int, elapsed: float) -> float:
        p = self.progress(step, elapsed)
        cos = 0.5 * (1 + math.cos(math.pi * p))
        lr = self.lr * (self.final_fraction + (1 - self.final_fraction) * cos)
        if step < self.warmup:
            lr *= 0.1 + 0.9 * step / self.warmup
        return lr
