"""Stanford Cars (196 models; 8,144 train / 8,041 test), torchvision's `stanford_cars/` layout with the devkit .mat files."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..infra.errors import DatasetNotFoundError
from .base import FGVCDataset, check_split, require_files

TEMPLATE = "a photo of {}, which is the model name of car"
SPLITS = ("train", "test")
TREE = """\
  stanford_cars/
    devkit/cars_meta.mat            class_names (label order)
    devkit/cars_train_annos.mat     annotations: ..., class (1-based), fname
    cars_test_annos_withlabels.mat  the same for the test split
    cars_train/00001.jpg ...
    cars_test/00001.jpg ..."""
DOWNLOAD = "see torchvision.datasets.StanfordCars for the current mirrors of the archives and the labelled test annotations"


def _mat_strings(arr) -> list[str]:
    return [str(np.asarray(x).ravel()[0]) for x in np.asarray(arr).ravel()]


def load_cars(root: str | Path, split: str, transform: Callable | None = None) -> FGVCDataset:
    """Stanford Cars split; class names from `cars_meta.mat`, labels = `class` − 1."""
    from scipy.io import loadmat

    check_split("cars", split, SPLITS)
    root = Path(root).expanduser()
    base = root / "stanford_cars" if (root / "stanford_cars").is_dir() else root
    annos = base / ("devkit/cars_train_annos.mat" if split == "train" else "cars_test_annos_withlabels.mat")
    images = base / f"cars_{split}"
    require_files([base, base / "devkit" / "cars_meta.mat", annos, images], "Stanford Cars", root, TREE, DOWNLOAD)
    try:
        classnames = _mat_strings(loadmat(str(base / "devkit" / "cars_meta.mat"))["class_names"])
        rows = loadmat(str(annos))["annotations"].ravel()
        samples = [(str(images / str(np.asarray(r["fname"]).ravel()[0])), int(np.asarray(r["class"]).ravel()[0]) - 1) for r in rows]
    except (KeyError, ValueError, IndexError) as e:
        raise DatasetNotFoundError(f"cannot read the Stanford Cars annotations in {base}: {e}; re-extract the devkit.") from e
    return FGVCDataset("cars", split, base, samples, classnames, TEMPLATE, transform)
