"""What NLRD looks at: k-nearest-neighbour graphs of logits, their label purity, teacher/student agreement,
the per-pair divergences the JS term compares, and a 2-D t-SNE map."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from ..config import NLRD_GROUP_SIZE, NLRD_K
from .losses import js_divergence, nlrd_groups, teacher_neighbours


def knn_graph(logits: torch.Tensor, k: int, group_size: int | None = None) -> torch.Tensor:
    """Global indices `[N, k']` of each row's nearest other rows by cosine of logit rows, searched within
    consecutive groups as NLRD does (k' = min(k, group − 1); rows of a trailing singleton group get -1).

    Args:
        logits: Logit rows `[N, C]`, in batch order.
        k: Neighbours per row.
        group_size: Rows per neighbour search (NLRD's groups); None: all N rows at once.
    """
    n = logits.shape[0]
    out = torch.full((n, k), -1, dtype=torch.long)
    for g in nlrd_groups(n, group_size):
        kk = min(k, g.stop - g.start - 1)
        out[g, :kk] = teacher_neighbours(logits[g], kk) + g.start
    return out


def neighbour_label_purity(logits: torch.Tensor, labels: torch.Tensor, ks: Iterable[int],
                           group_size: int | None = None) -> dict[int, float]:
    """For each k, the fraction of each sample's k logit-space neighbours that share its label.

    Args:
        logits: Logit rows `[N, C]`.
        labels: Their class indices `[N]`.
        ks: The neighbour counts to measure.
        group_size: Rows per neighbour search; None: all N rows at once.
    """
    result = {}
    for k in ks:
        nn_idx = knn_graph(logits, k, group_size)
        valid = nn_idx >= 0
        same = (labels[nn_idx.clamp(min=0)] == labels[:, None]) & valid
        result[int(k)] = same.sum().item() / max(valid.sum().item(), 1)
    return result


def purity_upper_bound(labels: torch.Tensor, ks: Iterable[int], group_size: int | None = None) -> dict[int, float]:
    """For each k, the highest `neighbour_label_purity` any logits could reach on `labels` in this grouping: a sample
    whose group holds m other samples of its class has at most min(k', m) same-label neighbours among its k'.

    Args:
        labels: Class indices `[N]`, in batch order.
        ks: The neighbour counts to measure.
        group_size: Rows per neighbour search; None: all N rows at once.
    """
    result = {}
    for k in ks:
        same = total = 0
        for g in nlrd_groups(labels.shape[0], group_size):
            y = labels[g]
            kk = min(int(k), len(y) - 1)
            if kk < 1:
                continue
            others = (y[:, None] == y[None, :]).sum(1) - 1  # same-class samples besides itself, per sample
            same += others.clamp(max=kk).sum().item()
            total += kk * len(y)
        result[int(k)] = same / max(total, 1)
    return result


def knn_overlap(logits_a: torch.Tensor, logits_b: torch.Tensor, k: int, group_size: int | None = None) -> float:
    """Mean fraction `len(N_a(i) ∩ N_b(i)) / k` of shared neighbours between two models' kNN graphs (1 = same graph).

    Args:
        logits_a: One model's logits `[N, C]`.
        logits_b: The other's, for the same rows in the same order.
        k: Neighbours per row.
        group_size: Rows per neighbour search; None: all N rows at once.
    """
    a, b = knn_graph(logits_a, k, group_size), knn_graph(logits_b, k, group_size)
    shared = [len(set(x.tolist()) & set(y.tolist()) - {-1}) / k for x, y in zip(a, b) if (x >= 0).any()]
    return float(np.mean(shared))


def pair_divergences(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int = NLRD_K,
                     group_size: int | None = NLRD_GROUP_SIZE) -> torch.Tensor:
    """JS(softmax(Z^s_i − Z^s_j), softmax(Z^t_i − Z^t_j)) for every pair (i, j ∈ teacher's N_k(i)): the terms NLRD averages.

    Args:
        student_logits: Z^s `[N, C]`.
        teacher_logits: Z^t `[N, C]`, which also choose the neighbours.
        k: Neighbours per row.
        group_size: Rows per neighbour search; None: all N rows at once.
    """
    idx = knn_graph(teacher_logits, k, group_size)
    rows = torch.arange(len(idx))[:, None].expand_as(idx)
    keep = idx >= 0
    i, j = rows[keep], idx[keep]
    return js_divergence(student_logits[i] - student_logits[j], teacher_logits[i] - teacher_logits[j])


def logit_differences(logits: torch.Tensor, k: int = NLRD_K, group_size: int | None = NLRD_GROUP_SIZE,
                      neighbours: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(Z_i − Z_j) over classes for every kNN pair `[P, C]` (neighbours default to `logits`' own graph).

    Args:
        logits: Z `[N, C]`.
        k: Neighbours per row, when the graph is built here.
        group_size: Rows per neighbour search, when the graph is built here; None: all N rows at once.
        neighbours: A graph `[N, k]` to use instead (e.g. the teacher's, from `knn_graph`); -1 entries are skipped.
    """
    idx = knn_graph(logits, k, group_size) if neighbours is None else neighbours
    rows = torch.arange(len(idx))[:, None].expand_as(idx)
    keep = idx >= 0
    return torch.softmax(logits[rows[keep]] - logits[idx[keep]], dim=-1)


def tsne_2d(features: torch.Tensor, seed: int = 0, perplexity: float = 15.0) -> np.ndarray:
    """A 2-D t-SNE map (cosine distances, PCA start) of feature rows `[N, D]`; the same map for the same seed.

    Args:
        features: Feature rows `[N, D]` (CPU).
        seed: t-SNE's random state.
        perplexity: The neighbourhood size t-SNE keeps (at most (N − 1) / 3, as t-SNE needs).
    """
    from sklearn.manifold import TSNE

    x = features.detach().float().numpy()
    perplexity = min(perplexity, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                random_state=seed).fit_transform(x)
