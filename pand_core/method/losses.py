"""PAND's loss terms as pure functions (the method page, Stage 2). Teacher-side inputs are targets: never differentiated."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..config import CLIP_SCALE, KD_TEMPERATURE, NLRD_GROUP_SIZE, NLRD_K


def feature_alignment_loss(student_feat: torch.Tensor, aligned_teacher_feat: torch.Tensor) -> torch.Tensor:
    """L_img = mean over batch and dims of `abs(ĥ_i − a_i)` (the method page, Stage 2: feature alignment); both inputs `[B, D_s]`, gradients to both.

    Args:
        student_feat: The student's L2-normalised features ĥ `[B, D_s]`.
        aligned_teacher_feat: The teacher's features through the align head, a = n(φ_v(f)) `[B, D_s]`.
    """
    if student_feat.shape != aligned_teacher_feat.shape:
        raise ValueError(f"shape mismatch: student {tuple(student_feat.shape)} vs teacher {tuple(aligned_teacher_feat.shape)}")
    return (student_feat - aligned_teacher_feat).abs().mean()


def _kl_rows(target_logits: torch.Tensor, input_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(target) ‖ softmax(input)) per row, summed over the last dim."""
    log_p = F.log_softmax(target_logits, dim=-1)
    return (log_p.exp() * (log_p - F.log_softmax(input_logits, dim=-1))).sum(-1)


def text_kd_loss(
    student_feat: torch.Tensor,
    aligned_anchors: torch.Tensor,
    teacher_feat: torch.Tensor,
    anchors: torch.Tensor,
    scale: float = CLIP_SCALE,
    temperature: float = KD_TEMPERATURE,
) -> torch.Tensor:
    """L_kd = T² · (1/B) Σ_i KL(softmax(p_i) ‖ softmax(q_i)) (Stage 2: text-logit distillation), with
    q = s·ĥ uᵀ/T (student `[B, D_s]` × aligned anchors `[C, D_s]`) and p = s·f Θᵀ/T (teacher `[B, D]` × anchors `[C, D]`).

    Args:
        student_feat: The student's normalised features ĥ `[B, D_s]`.
        aligned_anchors: The anchors through the align head, u = n(φ_t(Θ)) `[C, D_s]`.
        teacher_feat: The teacher's normalised image features f `[B, D]` (detached through p).
        anchors: The class anchors Θ `[C, D]` (hand-written prompts or Stage 1's learned ones).
        scale: The logit scale s (`CLIP_SCALE`, 1/0.07).
        temperature: The distillation temperature T.
    """
    q = scale * student_feat @ aligned_anchors.t() / temperature
    p = (scale * teacher_feat @ anchors.t() / temperature).detach()
    return temperature**2 * _kl_rows(p, q).mean()


def hinton_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = KD_TEMPERATURE) -> torch.Tensor:
    """Hinton KD: T² · (1/B) Σ_i KL(softmax(t_i/T) ‖ softmax(z_i/T)); teacher logits are detached.

    Args:
        student_logits: The student's classifier logits z `[B, C]`.
        teacher_logits: The teacher's zero-shot logits t `[B, C]`.
        temperature: The temperature T.
    """
    return temperature**2 * _kl_rows(teacher_logits.detach() / temperature, student_logits / temperature).mean()


def js_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """JS(P, Q) = ½[KL(P‖M) + KL(Q‖M)], M = (P+Q)/2, of P = softmax(logits_p), Q = softmax(logits_q), over the last dim.

    Args:
        logits_p: Logits of P, any shape `[..., C]`.
        logits_q: Logits of Q, the same shape; the result has the shape without the last dim.
    """
    log_p, log_q = F.log_softmax(logits_p, dim=-1), F.log_softmax(logits_q, dim=-1)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)
    return 0.5 * ((log_p.exp() * (log_p - log_m)).sum(-1) + (log_q.exp() * (log_q - log_m)).sum(-1))


def teacher_neighbours(teacher_logits: torch.Tensor, k: int) -> torch.Tensor:
    """Indices `[B, k]` of each row's k most cosine-similar *other* rows (self excluded explicitly, labels unused).

    Args:
        teacher_logits: The teacher's logits `[B, C]` (detached; compared by cosine similarity).
        k: Neighbours per row, at most B − 1.
    """
    z = F.normalize(teacher_logits.detach().float(), dim=-1)
    sim = z @ z.t()
    sim.fill_diagonal_(float("-inf"))
    return sim.topk(k, dim=-1).indices


def nlrd_groups(n: int, group_size: int | None) -> list[slice]:
    """The consecutive groups of `group_size` rows (None: one group) within which NLRD searches neighbours; a group
    of one row has no pair and is left out.

    Args:
        n: The number of rows B in the batch.
        group_size: Rows per group; the last group may be shorter.
    """
    size = n if group_size is None else group_size
    return [slice(s, min(s + size, n)) for s in range(0, n, size) if min(s + size, n) - s >= 2]


def _nlrd_group(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int) -> torch.Tensor:
    b = student_logits.shape[0]
    k = min(k, b - 1)
    idx = teacher_neighbours(teacher_logits, k)  # [b, k]
    d_s = student_logits.unsqueeze(1) - student_logits[idx]  # Δ^s_ij = Z^s_i − Z^s_j, [b, k, C]
    d_t = (teacher_logits.unsqueeze(1) - teacher_logits[idx]).detach()  # Δ^t_ij
    return js_divergence(d_s, d_t).mean()  # (1/(b·k)) Σ_i Σ_j JS_ij


def nlrd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    k: int = NLRD_K,
    group_size: int | None = NLRD_GROUP_SIZE,
    weight: float = 1.0,
) -> torch.Tensor:
    """L_nlrd = λ·(1/(B·k)) Σ_i Σ_{j∈N_k(i)} JS(softmax(Z^s_i − Z^s_j), softmax(Z^t_i − Z^t_j)) (Stage 2: NLRD).

    Neighbours N_k(i) come from cosine similarity of teacher-logit rows. The batch is split into consecutive
    groups of `group_size` (None: one group) and the group losses are averaged; a group with fewer than
    k+1 samples uses k' = size−1, and a group of one sample has no pair and is left out of the mean.

    Args:
        student_logits: The student's logits Z^s `[B, C]`.
        teacher_logits: The teacher's logits Z^t `[B, C]` (detached; they also choose the neighbours).
        k: Neighbours per sample, at least 1.
        group_size: Rows per neighbour search, at least 2, or None for the whole batch.
        weight: λ, the factor on the mean.
    """
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(
            f"expected student and teacher logits of one shape [B, C], got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)}"
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if group_size is not None and group_size < 2:
        raise ValueError(f"group_size must be >= 2 or None, got {group_size}")
    groups = nlrd_groups(student_logits.shape[0], group_size)
    losses = [_nlrd_group(student_logits[g], teacher_logits[g], k) for g in groups]
    if not losses:
        return student_logits.sum() * 0.0  # no pair in the batch: zero, still attached to the graph
    return weight * torch.stack(losses).mean()


def loss_weights(epoch: int, max_epochs: int) -> tuple[float, float]:
    """(ce_weight, distill_weight) = (α, 1−α) with α = clip(e / (8E), 0, 1), e the 0-based epoch (Stage 2: the total loss).

    Args:
        epoch: The 0-based epoch e.
        max_epochs: The run's epoch count E, positive.
    """
    if max_epochs <= 0:
        raise ValueError(f"max_epochs must be positive, got {max_epochs}")
    alpha = min(max(epoch / (8 * max_epochs), 0.0), 1.0)
    return alpha, 1.0 - alpha


def ce_weight(distils: bool, epoch: int, max_epochs: int) -> float:
    """The weight of cross-entropy in a method's loss at `epoch`: α of `loss_weights` for a method that distils
    (`MethodSpec.teacher`), 1 for one without a teacher (`ce`, `ce-original`: CE alone).

    Args:
        distils: Whether the method has a teacher (`MethodSpec.teacher`).
        epoch: The 0-based epoch e.
        max_epochs: The run's epoch count E.
    """
    return loss_weights(epoch, max_epochs)[0] if distils else 1.0


def ce_step_mass(epochs: int, steps_per_epoch: int) -> float:
    """Σ over optimiser steps of α(e) (`loss_weights`): how much cross-entropy signal a classifier head receives
    in a run. With α = e/(8E) it equals steps_per_epoch·(E−1)/16.

    Args:
        epochs: The run's epoch count E.
        steps_per_epoch: Optimiser steps in one epoch.
    """
    return steps_per_epoch * sum(loss_weights(e, epochs)[0] for e in range(epochs))


def pand_total_loss(
    ce: torch.Tensor,
    l_img: torch.Tensor,
    l_kd: torch.Tensor,
    l_nlrd: torch.Tensor,
    epoch: int,
    max_epochs: int,
    beta: float = 1.0,
) -> torch.Tensor:
    """L = α·CE + (1−α)·(L_img + L_kd)/2 + β·L_nlrd with (α, 1−α) = `loss_weights(epoch, max_epochs)`.

    Args:
        ce: The cross-entropy of the student's logits with the labels.
        l_img: The feature-alignment loss (`feature_alignment_loss`).
        l_kd: The text-logit distillation loss (`text_kd_loss`).
        l_nlrd: The NLRD loss (`nlrd_loss`, unweighted).
        epoch: The 0-based epoch e.
        max_epochs: The run's epoch count E.
        beta: β, the weight of the NLRD term.
    """
    ce_w, distill_w = loss_weights(epoch, max_epochs)
    return ce_w * ce + distill_w * (l_img + l_kd) / 2 + beta * l_nlrd
