"""The one loop that runs a function over a whole data set in order, without gradients: student logits for
evaluation and prediction, teacher features for Stage 1 and the bank, and the stored training views."""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from .progress import Progress


@torch.no_grad()
def map_batches(
    fn: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    batch_size: int,
    device: torch.device = torch.device("cpu"),
    num_workers: int = 0,
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    channels_last: bool = False,
    progress: bool | None = False,
    desc: str = "batches",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`fn(x)` of every batch `(x, y)` of `dataset` in dataset order (no batch dropped), with `x` on `device` and
    inside `context()`: the outputs stacked `[N, ...]` (float32, CPU) and the labels `[N]`.

    Args:
        fn: Maps a batch `x` to its outputs `[b, ...]`.
        dataset: Items `(x, y)`.
        batch_size: Items per batch.
        device: Where each batch is moved before `fn`.
        num_workers: DataLoader worker processes.
        context: Called once per batch; `fn` runs inside the context manager it returns (e.g. an autocast).
        channels_last: Give 4-D batches the channels-last memory format.
        progress: Draw a progress bar; None: only on a terminal.
        desc: The progress bar's label.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, drop_last=False,
                        pin_memory=device.type == "cuda")
    outputs, labels = [], []
    for x, y in Progress(loader, desc, progress=progress, leave=False):
        x = x.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.to(memory_format=torch.channels_last)
        with context():
            outputs.append(fn(x).float().cpu())
        labels.append(torch.as_tensor(y))
    if not outputs:
        return torch.empty(0), torch.empty(0, dtype=torch.long)
    return torch.cat(outputs), torch.cat(labels)
