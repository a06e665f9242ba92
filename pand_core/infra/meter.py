"""One epoch's bookkeeping for both stages' training loops: running loss sums, training accuracy and the check that
every step's loss was finite, kept on the device so that a step never waits for it."""

from __future__ import annotations

import torch

from .distributed import Dist, sum_across
from .errors import NonFiniteLossError


class EpochMeter:
    """One epoch's running sums, kept on the device: each loss term × batch size, correct predictions, and the
    first step whose loss was not finite with its terms. `check` and `read` are the only host synchronisations.

    Args:
        device: Where the sums are kept (the training device).
        stage: The stage named in a non-finite-loss error, e.g. "Stage 2".
        advice: What to do about a non-finite loss, appended to the error.
    """

    def __init__(self, device: torch.device, stage: str, advice: str) -> None:
        self.device, self.samples, self.steps, self.checked = device, 0, 0, 0
        self.stage, self.advice = stage, advice  # named in the error, with what to do about it
        self.names: list[str] = []
        self.sums = self.bad_terms = None
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)

    def add(self, total: torch.Tensor, terms: dict[str, torch.Tensor], logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Account one step: its total loss, its terms (Stage 1 has none) and its predictions (asynchronously).

        Args:
            total: The step's total loss (a scalar tensor).
            terms: Each loss term by name; the same names every step.
            logits: The step's logits `[B, C]`.
            labels: The step's class indices `[B]`; B weights the step's losses.
        """
        values = torch.stack([total.detach().float(), *(v.detach().float() for v in terms.values())])
        if self.sums is None:
            self.names = ["loss", *terms]
            self.sums = torch.zeros_like(values)
            self.bad_terms = torch.zeros(len(values), dtype=torch.bool, device=values.device)
        finite = torch.isfinite(values)
        first = ~finite.all() & (self.first_bad < 0)
        self.first_bad = torch.where(first, torch.full_like(self.first_bad, self.steps), self.first_bad)
        self.bad_terms = torch.where(first, ~finite, self.bad_terms)
        self.sums += values * labels.shape[0]
        self.correct += (logits.detach().argmax(-1) == labels).sum()
        self.samples += labels.shape[0]
        self.steps += 1

    def check(self, epoch: int) -> None:
        """Raise `NonFiniteLossError` (epoch, step, terms) if a step since the start of the epoch had a non-finite
        loss; called before any checkpoint of the epoch is written.

        Args:
            epoch: The epoch named in the error.
        """
        first = int(self.first_bad)
        if first >= 0:
            bad = [n for n, b in zip(self.names[1:], self.bad_terms[1:].tolist()) if b] or ["total"]
            raise NonFiniteLossError(
                f"{self.stage} loss became non-finite at epoch {epoch}, step {first} (term(s): {', '.join(bad)}), found "
                f"when steps {self.checked}–{self.steps - 1} were checked; {self.advice}"
            )
        self.checked = self.steps

    def read(self, d: Dist = Dist()) -> dict[str, float]:
        """The epoch's mean of every loss term and its training accuracy (%), summed over ranks.

        Args:
            d: The process group; the default is a single process.
        """
        sums = self.sums.tolist() if self.sums is not None else []
        n, correct, *sums = sum_across(d, self.samples, int(self.correct), *sums, device=self.device)
        n = max(n, 1.0)
        return {**{k: s / n for k, s in zip(self.names, sums)}, "train_acc": 100.0 * correct / n}
