"""Which split a data set trains on (how many images its splits hold: `config.SPLIT_SIZES`), and a stratified
hold-out for honest model selection."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

TRAIN_SPLIT = {"cub": "train", "aircraft": "train", "pets": "trainval", "dogs": "train", "cars": "train",
               "folder": "train"}
TEST_SPLIT = "test"
# Data sets with an official validation split, used for selection instead of a hold-out of train (the original selects
# Aircraft's Stage 1 anchors on its official `val`).
OFFICIAL_VAL = {"aircraft": "val"}


def official_val_split(dataset: str, data_root: str | Path | None) -> str | None:
    """The split a recipe selecting on "val" uses where the data set has one: Aircraft's `val`, an image folder's
    `val/` when it exists; None: a hold-out of train instead."""
    if dataset == "folder":
        return "val" if data_root is not None and (Path(data_root).expanduser() / "val").is_dir() else None
    return OFFICIAL_VAL.get(dataset)


def stratified_holdout(labels: Sequence[int], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split positions 0..N-1 into (keep, held_out): per class, round(fraction·n) samples (at least 1 when n ≥ 2)
    go to held_out, chosen by a seeded permutation. Both lists are sorted."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    g = torch.Generator().manual_seed(seed)
    by_class: dict[int, list[int]] = {}
    for pos, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(pos)
    keep, held = [], []
    for y in sorted(by_class):
        members = by_class[y]
        n_held = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) >= 2 else 0
        order = torch.randperm(len(members), generator=g).tolist()
        held += [members[i] for i in order[:n_held]]
        keep += [members[i] for i in order[n_held:]]
    return sorted(keep), sorted(held)
