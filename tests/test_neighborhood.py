"""Neighbourhood analysis (`pand_core.method.neighborhood`): kNN graphs within groups, label purity and its upper
bound, kNN overlap, pair divergences. (The 2-D map, `tsne_2d`, is tested in test_neighborhood_map.py.)"""

from __future__ import annotations

import pytest
import torch

from pand_core.method.neighborhood import knn_graph, knn_overlap, neighbour_label_purity, pair_divergences, purity_upper_bound


def test_knn_graph_groups_use_global_indices():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 1.0]])
    g = knn_graph(z, k=1, group_size=2)
    assert g[:, 0].tolist() == [1, 0, 3, 2, -1]  # the trailing singleton group has no neighbour
    assert knn_graph(z, k=1)[:4, 0].tolist() == [1, 0, 3, 2]


def test_purity_overlap_and_pair_divergences():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    assert neighbour_label_purity(z, labels, [1, 2]) == {1: 1.0, 2: pytest.approx(4 / 8)}
    assert knn_overlap(z, z, k=1) == 1.0
    flipped = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])  # rows 0 and 1 now pair with 3 and 2
    assert knn_overlap(flipped, z, k=1) == 0.0
    assert torch.allclose(pair_divergences(z, z, k=1, group_size=None), torch.zeros(4), atol=1e-7)
    assert (pair_divergences(flipped, z, k=1, group_size=None) > 0).all()


def test_purity_upper_bound_counts_the_same_class_samples_a_group_holds():
    """Labels [0,0,0,1 | 1,2,2,2]: in group 1 the three 0s each have 2 others, the 1 none; for k = 2 the best purity
    is (2+2+2+0 + 0+2+2+2)/(2·8) = 12/16, for k = 1 it is 6/8; without groups the 1s pair up: k = 1 gives 8/8."""
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    assert purity_upper_bound(labels, [1, 2], group_size=4) == {1: pytest.approx(6 / 8), 2: pytest.approx(12 / 16)}
    assert purity_upper_bound(labels, [1], group_size=None) == {1: 1.0}
    z = torch.nn.functional.one_hot(labels, 3).float() + 0.01 * torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    for k in (1, 2, 3):  # logits that separate the classes perfectly reach the bound, none exceeds it
        assert neighbour_label_purity(z, labels, [k], group_size=4)[k] == pytest.approx(purity_upper_bound(labels, [k], 4)[k])
