"""Teacher image features of a data set split, batched, without gradients (method doc §3 "Inputs")."""

from __future__ import annotations

import contextlib

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .runinfo import progress_enabled
from .models import Teacher


@torch.no_grad()
def extract_features(
    teacher: Teacher,
    dataset: Dataset,
    batch_size: int = 128,
    num_workers: int = 0,
    progress: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised teacher features `[N, D]` (float32, CPU) and labels `[N]` of `dataset`, in dataset order.

    The dataset's own transform is used: give it `teacher.preprocess` for the teacher's eval view.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    device = teacher.device
    autocast = torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else contextlib.nullcontext()
    feats, labels = [], []
    for images, y in tqdm(loader, desc="teacher features", disable=not progress_enabled(progress), leave=False):
        with autocast:
            feats.append(teacher.encode_image(images.to(device, non_blocking=True)).float().cpu())
        labels.append(torch.as_tensor(y))
    return torch.cat(feats), torch.cat(labels)


def zero_shot_logits(image_feats: torch.Tensor, text_feats: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """CLIP logits `s·f·tᵀ` of normalised image features `[N, D]` against class text features `[C, D]`."""
    return logit_scale * image_feats @ text_feats.t().to(image_feats)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    return 100.0 * (logits.argmax(dim=-1) == labels.to(logits.device)).float().mean().item()
