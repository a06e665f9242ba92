"""Step bookkeeping shared by the two pretraining loops (teacher and student)."""

from __future__ import annotations

LOG_FIRST_STEPS = 20  # a pretraining log keeps the loss of this many first steps: the tests rerun them (recipe checks)


class FirstSteps:
    """Counts optimiser steps, keeps the first `LOG_FIRST_STEPS` losses, and says when `max_steps` (None: never)
    have run, so that a recipe check can stop early."""

    def __init__(self, max_steps: int | None = None) -> None:
        self.max_steps, self.count, self.losses = max_steps, 0, []

    def record(self, loss: float) -> bool:
        """Count one step of loss `loss`; True when the run should stop here."""
        if self.count < LOG_FIRST_STEPS:
            self.losses.append(loss)
        self.count += 1
        return self.done

    @property
    def done(self) -> bool:
        return self.max_steps is not None and self.count >= self.max_steps
