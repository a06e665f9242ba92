"""Anchor diagnostics (`pand_core.method.diagnostics`) and the stochastic-layer census on hand-computed cases."""

import math

import pytest
import torch
import torch.nn as nn

from pand_core.deviations import stochastic_layers
from pand_core.method.diagnostics import (anchor_similarity, neighbour_agreement, target_mass_on, target_statistics,
                                          teacher_logits)


def test_teacher_logits_is_scaled_cosine():
    f = torch.tensor([[1.0, 0.0]])
    theta = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert teacher_logits(f, theta, scale=10.0).tolist() == [[10.0, 0.0]]


def test_target_statistics_by_hand():
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])  # softmax: (3/4, 1/4) and (1/2, 1/2)
    s = target_statistics(logits, torch.tensor([0, 1]), temperature=1.0)
    assert s["accuracy"] == 50.0  # row 2 ties; argmax takes class 0
    assert s["top_probability"] == pytest.approx((0.75 + 0.5) / 2)
    assert s["true_class_probability"] == pytest.approx((0.75 + 0.5) / 2)
    h1 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert s["kd_target_entropy"] == pytest.approx((h1 + math.log(2)) / 2)


def test_uniform_targets_have_entropy_log_c_at_any_temperature():
    s = target_statistics(torch.zeros(4, 5), torch.zeros(4, dtype=torch.long), temperature=2.0)
    assert s["kd_target_entropy"] == pytest.approx(math.log(5))


def test_anchor_similarity_of_orthogonal_and_equal_anchors():
    assert anchor_similarity(torch.eye(3)) == pytest.approx(0.0)
    assert anchor_similarity(torch.ones(3, 2)) == pytest.approx(1.0)


def test_neighbour_agreement_is_one_for_the_same_logits_and_drops_when_they_differ():
    z = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    assert neighbour_agreement(z, z, group_size=16) == pytest.approx(1.0)
    other = torch.randn(64, 10, generator=torch.Generator().manual_seed(1))
    assert neighbour_agreement(z, other, group_size=16) < 0.5  # chance is k/15 = 0.2
    assert neighbour_agreement(z, 3.0 * z, group_size=16) == pytest.approx(1.0)  # cosine: scale-free


def test_stochastic_layers_finds_active_dropout_only():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1), nn.Dropout(0.0))
    assert stochastic_layers(net) == ["1 (Dropout, 0.1)"]

    class DropPath(nn.Module):
        drop_prob = 0.2

    assert stochastic_layers(nn.Sequential(DropPath())) == ["0 (DropPath, 0.2)"]


def test_target_mass_on_related_classes_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))  # temperature 1: the target is (0.5, 0.3, 0.2)
    related = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
    assert target_mass_on(logits, torch.tensor([0]), related, temperature=1.0) == pytest.approx(0.3)
