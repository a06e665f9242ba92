"""What a set of class anchors Θ makes of the teacher's Stage 2 targets, as pure functions: the teacher's accuracy,
confidence and target entropy on the students' training views, and how far two anchor sets give NLRD the same
neighbourhoods (the method page, Stage 2: Z^t = s·f·Θᵀ feeds both L_kd and L_nlrd)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import CLIP_SCALE, KD_TEMPERATURE, NLRD_K
from .losses import nlrd_groups, teacher_neighbours


def teacher_logits(feats: torch.Tensor, anchors: torch.Tensor, scale: float = CLIP_SCALE) -> torch.Tensor:
    """Z^t = s·f·Θᵀ `[N, C]` of normalised image features `[N, D]` and anchors `[C, D]` (as Stage 2 computes them).

    Args:
        feats: The teacher's normalised image features f `[N, D]`.
        anchors: The class anchors Θ `[C, D]`.
        scale: The logit scale s (`CLIP_SCALE`).
    """
    return scale * feats.float() @ anchors.float().t()


def target_statistics(logits: torch.Tensor, labels: torch.Tensor, temperature: float = KD_TEMPERATURE) -> dict:
    """Of teacher logits `[N, C]`: top-1 accuracy (%), mean top probability and mean probability of the true class
    of softmax(Z^t), and mean entropy (nats) of the text-KD target softmax(Z^t / T).

    Args:
        logits: Teacher logits Z^t `[N, C]`.
        labels: The rows' class indices `[N]`.
        temperature: T of the text-KD target.
    """
    p = logits.float().softmax(-1)
    log_q = F.log_softmax(logits.float() / temperature, dim=-1)
    return {
        "accuracy": 100.0 * float((logits.argmax(-1) == labels).float().mean()),
        "top_probability": float(p.max(-1).values.mean()),
        "true_class_probability": float(p.gather(1, labels.view(-1, 1)).mean()),
        "kd_target_entropy": float(-(log_q.exp() * log_q).sum(-1).mean()),
    }


def target_mass_on(logits: torch.Tensor, labels: torch.Tensor, related: torch.Tensor,
                   temperature: float = KD_TEMPERATURE) -> float:
    """Mean probability that the text-KD target softmax(Z^t / T) puts on the classes `related[y]` (a boolean
    `[C, C]` mask, e.g. the species one attribute away from y) of each row's true class y: the "dark knowledge"
    about which classes resemble which.

    Args:
        logits: Teacher logits Z^t `[N, C]`.
        labels: The rows' class indices `[N]`.
        related: A boolean `[C, C]` mask; row y marks the classes related to class y.
        temperature: T of the text-KD target.
    """
    q = (logits.float() / temperature).softmax(-1)
    return float((q * related[labels].float()).sum(-1).mean())


def anchor_similarity(anchors: torch.Tensor) -> float:
    """Mean cosine similarity between the anchors of two different classes (how far apart Θ places the classes).

    Args:
        anchors: The class anchors Θ `[C, D]`, C ≥ 2 (normalised here).
    """
    a = F.normalize(anchors.float(), dim=-1)
    sim = a @ a.t()
    c = sim.shape[0]
    return float((sim.sum() - sim.diagonal().sum()) / (c * (c - 1)))


def neighbour_agreement(logits_a: torch.Tensor, logits_b: torch.Tensor, group_size: int, k: int = NLRD_K,
                        rounds: int = 20, seed: int = 0) -> float:
    """Mean share of the k NLRD neighbours (`teacher_neighbours`) of a row that two sets of teacher logits of the same
    rows have in common (the size of N_a(i) ∩ N_b(i) over k), over `rounds` random shuffles cut into NLRD's groups of
    `group_size`.

    Args:
        logits_a: Teacher logits `[N, C]` under one anchor set.
        logits_b: Teacher logits of the same rows under the other.
        group_size: Rows per neighbour search (NLRD's groups).
        k: Neighbours per row.
        rounds: Random shuffles averaged over.
        seed: Seeds the shuffles.
    """
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"logits of one shape expected, got {tuple(logits_a.shape)} and {tuple(logits_b.shape)}")
    g = torch.Generator().manual_seed(seed)
    shared, rows = 0.0, 0
    for _ in range(rounds):
        order = torch.randperm(logits_a.shape[0], generator=g)
        for group in nlrd_groups(len(order), group_size):
            idx = order[group]
            kk = min(k, len(idx) - 1)
            na, nb = teacher_neighbours(logits_a[idx], kk), teacher_neighbours(logits_b[idx], kk)
            shared += float((na.unsqueeze(-1) == nb.unsqueeze(-2)).any(-1).float().sum()) / kk
            rows += len(idx)
    return shared / rows


__all__ = ["anchor_similarity", "neighbour_agreement", "target_mass_on", "target_statistics", "teacher_logits"]
