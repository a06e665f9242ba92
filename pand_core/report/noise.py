"""How noisy one run's accuracy is, split into its two sources, and how many paired seeds a study needs.

A run's test accuracy moves for two reasons: the training draw (the seed: data order, views, initialisation) and
the finite test split (which images happen to be in it). Scoring every run of a seed on K disjoint test splits
drawn from the same world separates them as a one-way random-effects analysis of variance: the spread across splits
within a seed is the test split's part, and the spread of the seeds' means beyond what that part explains is the
training draw's. The same split applies to a paired difference of two methods (the two runs of one seed scored on
the same split).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def split_accuracies(correct: np.ndarray, splits: Sequence[np.ndarray]) -> np.ndarray:
    """Accuracy (%) `[S, K]` of S runs (rows of the boolean per-image matrix `correct` `[S, M]`) on each of the K
    image index sets in `splits`.

    Args:
        correct: Whether each run got each image right, `[S, M]` (booleans or 0/1); not two-dimensional: ValueError.
        splits: K arrays of image indices into the M columns, one per test split.
    """
    correct = np.asarray(correct, dtype=float)
    if correct.ndim != 2:
        raise ValueError(f"expected a [runs, images] matrix, got shape {correct.shape}")
    return np.stack([100.0 * correct[:, np.asarray(ix)].mean(axis=1) for ix in splits], axis=1)


def variance_split(values: np.ndarray) -> dict:
    """Variance components of `values` `[S seeds, K test splits]` (accuracies or paired differences, in points):

    - `test_split` = mean over seeds of the across-split variance (unbiased): the variance one split adds;
    - `training_draw` = variance of the seed means − test_split / K, floored at 0: the seed's own variance;
    - `one_run` = their sum, the variance of one run scored on one split; `test_share` = test_split / one_run.

    Args:
        values: `[S, K]`, S >= 2 seeds by K >= 2 test splits (e.g. `split_accuracies`); fewer: ValueError.
    """
    values = np.asarray(values, dtype=float)
    s, k = values.shape
    if s < 2 or k < 2:
        raise ValueError(f"need at least 2 seeds and 2 test splits, got {s} x {k}")
    within = float(values.var(axis=1, ddof=1).mean())
    between = float(values.mean(axis=1).var(ddof=1))
    draw = max(between - within / k, 0.0)
    total = draw + within
    return {"seeds": s, "splits": k, "test_split": within, "training_draw": draw, "one_run": total,
            "test_share": within / total if total > 0 else 0.0}


def scaled_sd(components: dict, split_size: int, new_size: int) -> float:
    """Standard deviation of one run (or paired difference) scored on a test split of `new_size` images, from
    components measured with splits of `split_size`: the test part scales as 1/size (independent images).

    Args:
        components: A `variance_split` (its `training_draw` and `test_split`).
        split_size: The images per test split the components were measured with.
        new_size: The images of the test split to predict for.
    """
    return math.sqrt(components["training_draw"] + components["test_split"] * split_size / new_size)


def t_half_width(sd: float, n: int, level: float = 0.95) -> float:
    """Half-width t_{(1+level)/2, n−1} · sd / √n of the Student-t interval of a mean of n paired differences.

    Args:
        sd: The standard deviation of one paired difference.
        n: The number of paired seeds, at least 2 (else ValueError).
        level: The confidence level.
    """
    from scipy.stats import t

    if n < 2:
        raise ValueError(f"need n >= 2, got {n}")
    return float(t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)


def seeds_needed(sd: float, half_width: float, level: float = 0.95, cap: int | None = None) -> int:
    """The smallest number of paired seeds n >= 2 whose Student-t interval at `level` has half-width <= `half_width`
    for paired differences of standard deviation `sd`; at most `cap` (then the interval is wider than asked).

    Args:
        sd: The standard deviation of one paired difference, >= 0.
        half_width: The half-width asked for, > 0 (in the units of `sd`).
        level: The confidence level.
        cap: The most seeds returned; None: no limit.
    """
    if sd < 0 or half_width <= 0:
        raise ValueError(f"need sd >= 0 and half_width > 0, got {sd}, {half_width}")
    n = 2
    while t_half_width(sd, n, level) > half_width:
        if cap is not None and n >= cap:
            return cap
        n += 1
    return n if cap is None else min(n, cap)


__all__ = ["scaled_sd", "seeds_needed", "split_accuracies", "t_half_width", "variance_split"]
