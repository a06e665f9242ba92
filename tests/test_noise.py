"""The noise split and the seed-count rule (`pand_core.report.noise`) on hand-computed cases."""

import numpy as np
import pytest

from pand_core.report.noise import scaled_sd, seeds_needed, split_accuracies, t_half_width, variance_split


def test_split_accuracies_scores_each_index_set():
    correct = np.array([[1, 1, 0, 0], [1, 0, 1, 1]], dtype=bool)
    acc = split_accuracies(correct, [np.array([0, 1]), np.array([2, 3])])
    assert acc.tolist() == [[100.0, 0.0], [50.0, 100.0]]


def test_variance_split_by_hand():
    # seed 0 scores 1 and 3 on two splits, seed 1 scores 5 and 7: within-seed variance 2 on each seed; the seed
    # means 2 and 6 have variance 8, of which 2/2 is the splits' share of a two-split mean: 7 is the training draw.
    c = variance_split(np.array([[1.0, 3.0], [5.0, 7.0]]))
    assert c["test_split"] == pytest.approx(2.0)
    assert c["training_draw"] == pytest.approx(7.0)
    assert c["one_run"] == pytest.approx(9.0)
    assert c["test_share"] == pytest.approx(2 / 9)


def test_variance_split_recovers_known_components():
    # seed effects of sd 3, split noise of sd 1: the estimates come back near 9 and 1
    rng = np.random.default_rng(0)
    values = rng.normal(0, 3, size=(4000, 1)) + rng.normal(0, 1, size=(4000, 10))
    c = variance_split(values)
    assert c["training_draw"] == pytest.approx(9.0, rel=0.08)
    assert c["test_split"] == pytest.approx(1.0, rel=0.03)


def test_variance_split_floors_the_training_draw_at_zero():
    c = variance_split(np.array([[0.0, 4.0], [4.0, 0.0]]))  # seed means equal: nothing left for the seed
    assert c["training_draw"] == 0.0 and c["test_share"] == 1.0


def test_variance_split_needs_two_seeds_and_two_splits():
    with pytest.raises(ValueError, match="at least 2 seeds and 2 test splits"):
        variance_split(np.ones((1, 5)))


def test_scaled_sd_divides_the_test_part_by_the_size_ratio():
    c = {"training_draw": 4.0, "test_split": 3.0}
    assert scaled_sd(c, 480, 1440) == pytest.approx((4.0 + 1.0) ** 0.5)


def test_seeds_needed_by_hand():
    # sd 2, half-width 2: t_{n-1} <= sqrt(n) first holds at n = 7 (2.447 <= 2.646; n = 6: 2.571 > 2.449)
    assert seeds_needed(2.0, 2.0) == 7
    assert t_half_width(2.0, 7) <= 2.0 < t_half_width(2.0, 6)
    assert seeds_needed(0.0, 2.0) == 2
    assert seeds_needed(10.0, 2.0, cap=20) == 20
    with pytest.raises(ValueError):
        seeds_needed(1.0, 0.0)


def test_the_committed_studies_ran_the_preregistered_seed_counts():
    """The pilot's decision (studies/results/noise-split.json), the Makefile's seeds and the committed study and
    deviation study agree: 42 paired seeds 10-51 for every method, 15 (10-24) for every deviation contrast."""
    import json
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    decision = json.loads((repo / "studies" / "results" / "noise-split.json").read_text())["decision"]
    make = (repo / "Makefile").read_text()
    seq = {name: range(int(a), int(b) + 1) for name, a, b in re.findall(r"(\w+_SEEDS)\s*:= \$\(shell seq (\d+) (\d+)\)", make)}
    assert len(seq["STUDY_SEEDS"]) == decision["study_seeds"] == 42
    assert len(seq["DEVIATION_SEEDS"]) == decision["deviation_seeds_needed"] == 15
    study = json.loads((repo / "studies" / "results" / "study.json").read_text())
    assert all(m["seeds"] == list(seq["STUDY_SEEDS"]) for m in study["methods"].values())
    deviations = json.loads((repo / "studies" / "results" / "deviations.json").read_text())
    assert all(sorted(map(int, c["values"])) == list(seq["DEVIATION_SEEDS"]) for c in deviations["contrasts"])
    assert decision["test_per_class"] == 20 and not decision["enlarge"]
