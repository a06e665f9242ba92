"""Data sets of the four FGVC benchmarks (plus the synthetic stand-in), one module each, behind one registry."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..infra.errors import ConfigError, DatasetNotFoundError
from .aircraft import load_aircraft
from .base import FGVCDataset, load_image
from .cars import load_cars
from .cub import load_cub
from .dogs import load_dogs
from .pets import load_pets
from .transforms import CLIP_MEAN, CLIP_STD, paper_test_transform, paper_train_transform

DATASETS: dict[str, Callable[..., FGVCDataset]] = {
    "cub": load_cub,
    "aircraft": load_aircraft,
    "pets": load_pets,
    "dogs": load_dogs,
    "cars": load_cars,
}


def load_dataset(name: str, root: str | Path, split: str, transform: Callable | None = None,
                 download: bool = False) -> FGVCDataset:
    """Load split `split` of data set `name` (one of `DATASETS`) from `root`; items are `(image, label)`.

    `download=True`: when `root` holds no finished download of `name` and the loader cannot read it, fetch the
    official archives into `root` first (`pand_core.data.download.download`)."""
    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}.")
    if download:
        from .download import download as fetch, is_downloaded

        if not is_downloaded(name, root):
            try:
                return DATASETS[name](root, split, transform)
            except DatasetNotFoundError:
                fetch(name, root)
    return DATASETS[name](root, split, transform)


__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "DATASETS",
    "FGVCDataset",
    "load_dataset",
    "load_image",
    "paper_test_transform",
    "paper_train_transform",
]
