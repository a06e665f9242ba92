"""The 2-D map the neighbourhood page draws its kNN graph on (`method.neighborhood.tsne_2d`)."""

from __future__ import annotations

import numpy as np
import torch

from pand_core.method.neighborhood import tsne_2d


def _three_directions(n_each: int = 20) -> tuple[torch.Tensor, np.ndarray]:
    """Rows near three orthogonal directions (far apart in cosine distance), with their direction's index."""
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(3, 16) * 5
    rows = torch.cat([c + 0.3 * torch.randn(n_each, 16, generator=g) for c in centres])
    return rows, np.repeat(np.arange(3), n_each)


def test_the_map_keeps_neighbours_together_and_is_the_same_for_a_seed():
    rows, labels = _three_directions()
    xy = tsne_2d(rows, seed=0)
    assert xy.shape == (len(rows), 2)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
    assert (labels[d.argmin(1)] == labels).all()  # every point's nearest point on the map shares its direction
    np.testing.assert_array_equal(tsne_2d(rows, seed=0), xy)


def test_a_small_set_gets_a_perplexity_it_can_hold():
    rows, _ = _three_directions(n_each=3)  # 9 rows: perplexity at most (9 - 1) / 3
    assert tsne_2d(rows, seed=1).shape == (9, 2)
