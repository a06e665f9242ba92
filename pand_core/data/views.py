"""Reproducible augmentation: every random view is a pure function of (seed, image index, view or epoch).

That one property gives three things: the teacher feature bank (view v of image i is the same image whenever it
is drawn), exact resume (epoch e's batches do not depend on what ran before), and CPU reruns with equal numbers.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from ..infra.seeds import stream_seed
from .base import FGVCDataset, load_image


def seeded_view(transform: Callable, image, seed: int):
    """Apply a random torchvision `transform` with torch's global CPU RNG fixed to `seed`, leaving the caller's RNG
    untouched (what `fork_rng(devices=[])` + `manual_seed` do, without their per-call cost: ~0.7 ms, as much as the
    transform of a small image).

    Args:
        transform: A torchvision transform drawing from torch's global RNG.
        image: Its input (a PIL image).
        seed: The seed of this one view (e.g. from `AugmentedViews.view_seed`).
    """
    rng = torch.default_generator
    state = rng.get_state()
    rng.manual_seed(seed)
    try:
        return transform(image)
    finally:
        rng.set_state(state)


class AugmentedViews(Dataset):
    """Training items `(image, label, index, view)` whose augmentation is reproducible.

    - `views=None` (online teacher): the view of image i in epoch e is seeded by stream "online-view" (e, i);
      `view` is -1.
    - `views=V` (teacher bank): epoch e picks view v ∈ [0, V) of image i by stream "bank-pick" (e, i); the view
      itself is seeded by "bank-view" (i, v) only, so it equals the view whose teacher features the bank stored.

    Call `set_epoch(e)` before each epoch. With `views=V`, `hold(tensors)` gives every view precomputed
    (`features.view_tensors`): items are then looked up instead of decoded and transformed, with the same pixels.

    Args:
        base: The training split; its images and labels are read.
        transform: The random training transform (`paper_train_transform`).
        seed: The run's seed; every stream is seeded from it.
        views: V stored views per image (teacher bank), or None for a fresh view every epoch (online teacher).
        indices: The base data set's images that are items, in order; None: all of them.
    """

    def __init__(self, base: FGVCDataset, transform: Callable, seed: int, views: int | None = None,
                 indices: Sequence[int] | None = None) -> None:
        self.base, self.transform, self.seed, self.views = base, transform, seed, views
        self.indices = list(range(len(base))) if indices is None else list(indices)
        self.epoch = 0
        self.held: torch.Tensor | None = None

    def hold(self, tensors: torch.Tensor) -> None:
        """Serve view v of item i as `tensors[i, v]` (`[len(self), V, ...]`, made by `features.view_tensors`).

        Args:
            tensors: Every stored view of every item, `[len(self), V, ...]`.
        """
        if self.views is None or tuple(tensors.shape[:2]) != (len(self.indices), self.views):
            raise ValueError(f"held views must be [{len(self.indices)}, {self.views}, ...], got {tuple(tensors.shape)}")
        self.held = tensors

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def view_of(self, index: int) -> int:
        """Which bank view image `index` (a base-dataset index) shows in the current epoch; -1 when online.

        Args:
            index: An image's index in the base data set.
        """
        if self.views is None:
            return -1
        return stream_seed("bank-pick", self.seed, self.epoch, index) % self.views

    def view_seed(self, index: int, view: int) -> int:
        """The seed of image `index`'s view: its fresh view this epoch (`view=-1`), or stored view `view`.

        Args:
            index: An image's index in the base data set.
            view: A stored view in `[0, V)`, or -1 for this epoch's fresh view.
        """
        if view < 0:
            return stream_seed("online-view", self.seed, self.epoch, index)
        return stream_seed("bank-view", self.seed, index, view)

    def view_image(self, i: int, view: int):
        """View `view` of item `i` (a position in `indices`), as the seeded transform makes it.

        Args:
            i: A position in `indices`.
            view: A stored view in `[0, V)`, or -1 for this epoch's fresh view.
        """
        if self.held is not None and view >= 0:
            return self.held[i, view]
        index = self.indices[i]
        return seeded_view(self.transform, load_image(self.base.samples[index][0]), self.view_seed(index, view))

    def stored(self) -> Dataset:
        """Every stored view as a flat data set of `(image, label)`, item-major: position `i·V + v` is view v of
        item i (what the bank and `features.view_tensors` are built from)."""
        if self.views is None:
            raise ValueError("stored views need AugmentedViews with views=V")
        return _StoredViews(self)

    def __getitem__(self, i: int):
        index = self.indices[i]
        view = self.view_of(index)
        return self.view_image(i, view), self.base.samples[index][1], index, view


class _StoredViews(Dataset):
    """`AugmentedViews.stored()`: item k is `(view k mod V of item k div V, its label)`."""

    def __init__(self, views: AugmentedViews) -> None:
        self.views = views

    def __len__(self) -> int:
        return len(self.views) * self.views.views

    def __getitem__(self, k: int):
        i, v = divmod(k, self.views.views)
        return self.views.view_image(i, v), self.views.base.samples[self.views.indices[i]][1]
