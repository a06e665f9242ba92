"""Stage 2's teacher targets: the teacher's image features `f` of a training batch (the method page, Stage 2), from the
teacher run online on the batch or from the bank of stored views. `teacher_mode` is decided once, in
`make_targets`; the training step only asks for features."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from ..data.views import AugmentedViews
from ..infra.errors import OutputError
from ..models.features import build_bank, teacher_autocast
from ..models import Teacher


class TeacherTargets(Protocol):
    """What the training step needs from the teacher: `features(x, index, view)` → `[B, D]` float32 on x's device."""

    #: "online" or "bank".
    mode: str

    def features(self, x: torch.Tensor, index: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        """The teacher's image features f `[B, D]` of a training batch.

        Args:
            x: The batch as the student sees it `[B, 3, H, W]`, on the training device.
            index: Each image's index in the base data set `[B]`.
            view: Each image's stored view `[B]`; -1: a fresh view (online).
        """
        ...


class OnlineTeacher:
    """The teacher run on every training batch, without gradients, at `precision` (`features.teacher_autocast`).

    Args:
        teacher: The frozen teacher.
        precision: "fp32", "bf16" or "fp16".
    """

    mode = "online"

    def __init__(self, teacher: Teacher, precision: str = "fp32") -> None:
        self.teacher, self.precision = teacher, precision

    def features(self, x: torch.Tensor, index: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), teacher_autocast(self.precision, x.device):
            f = self.teacher.encode_image(x)
        return f.clone().float()  # out of inference mode, so that autograd may use it as a constant


class BankTargets:
    """Teacher features of V stored views of every training image `[N, V, D]`, kept on the training device and
    looked up by (base-data-set index, view) with no copy through the host.

    Args:
        bank: The stored features `[N, V, D]`, one row per training image.
        indices: The base data set's index of each row.
        device: Where the bank is kept (the training device).
        precision: The precision the bank was computed at, for the record.
    """

    mode = "bank"

    def __init__(self, bank: torch.Tensor, indices: list[int], device: torch.device, precision: str = "fp32") -> None:
        if bank.dim() != 3 or bank.shape[0] != len(indices):
            raise ValueError(f"bank must be [{len(indices)}, V, D] (one row per training image), got {tuple(bank.shape)}")
        self.bank, self.precision = bank.float().to(device), precision
        self.row_of = torch.full((max(indices, default=-1) + 1,), -1, dtype=torch.long)
        self.row_of[torch.tensor(indices, dtype=torch.long)] = torch.arange(len(indices))
        self.row_of = self.row_of.to(device)

    @classmethod
    def build(cls, teacher: Teacher, views: AugmentedViews, device: torch.device, precision: str = "fp32",
              cache_dir: str | Path | None = None, batch_size: int = 128, num_workers: int = 0,
              progress: bool | None = None) -> "BankTargets":
        """The bank of `views` (`features.build_bank`, cached under `cache_dir/banks/`; the views made in
        `num_workers` loader processes), ready for lookups. A cache write that fails raises `OutputError`.

        Args:
            teacher: The frozen teacher.
            views: The seeded training views, with V stored views per image.
            device: Where the bank is kept.
            precision: The teacher's forward: "fp32", "bf16" or "fp16".
            cache_dir: The cache folder; None: the bank is not cached.
            batch_size: Images per teacher forward.
            num_workers: DataLoader worker processes that make the views.
            progress: Draw a progress bar; None: only on a terminal.
        """
        try:
            bank = build_bank(teacher, views, cache_dir=cache_dir, batch_size=batch_size, num_workers=num_workers,
                              progress=progress, precision=precision)
        except OutputError as e:  # the bank (or its augmented views) could not be cached
            raise OutputError(f"{e} The teacher bank was not cached: it is computed again when the run starts again."
                              ) from (e.__cause__ or e)
        return cls(bank, views.indices, device, precision)

    def features(self, x: torch.Tensor, index: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        rows = self.row_of[index.to(self.row_of.device, non_blocking=True)]
        return self.bank[rows, view.to(self.bank.device, non_blocking=True)]


def make_targets(teacher_mode: str, teacher: Teacher | None, views: AugmentedViews, device: torch.device,
                 precision: str = "fp32", cache_dir: str | Path | None = None, batch_size: int = 128,
                 num_workers: int = 0, progress: bool | None = None) -> TeacherTargets | None:
    """The teacher targets of a run: None without a teacher, the online teacher, or the bank of `views`' stored
    views (`teacher_mode="bank"`).

    Args:
        teacher_mode: "online" or "bank".
        teacher: The frozen teacher; None for a method without one.
        views: The seeded training views (the bank's source).
        device: The training device.
        precision: The teacher's forward: "fp32", "bf16" or "fp16".
        cache_dir: The bank's cache folder; None: not cached.
        batch_size: Images per teacher forward while building the bank.
        num_workers: DataLoader worker processes that make the bank's views.
        progress: Draw a progress bar; None: only on a terminal.
    """
    if teacher is None:
        return None
    if teacher_mode == "online":
        return OnlineTeacher(teacher, precision)
    if teacher_mode == "bank":
        return BankTargets.build(teacher, views, device, precision, cache_dir, batch_size, num_workers, progress)
    raise ValueError(f"teacher_mode must be 'online' or 'bank', got {teacher_mode!r}")
