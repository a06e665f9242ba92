"""Stanford Dogs (breeds; train / test, sized in `config.SPLIT_SIZES`), read from the official .mat lists."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..infra.errors import DatasetNotFoundError
from .authors_names import authors_dogs_names, check_source
from .base import FGVCDataset, check_split, require_files

TEMPLATE = "a photo of {}, a type of dog"
SPLITS = ("train", "test")
TREE = """\
  Images/n02085620-Chihuahua/n02085620_10074.jpg ...   (from images.tar)
  train_list.mat   file_list, labels (1-based)          (from lists.tar)
  test_list.mat"""
DOWNLOAD = "http://vision.stanford.edu/aditya86/ImageNetDogs/ (images.tar and lists.tar, both into the data root)"


def dogs_classname(folder: str) -> str:
    """`n02085936-Maltese_dog` -> `Maltese dog` (text after the first `-`, `_` -> space)."""
    return folder.split("-", 1)[1].replace("_", " ").strip() if "-" in folder else folder.replace("_", " ")


def read_dogs_list(path: Path) -> list[tuple[str, int]]:
    """(relative file, 0-based label) pairs from a Stanford Dogs `*_list.mat` file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
        files = [str(np.asarray(f).ravel()[0]) for f in np.asarray(mat["file_list"]).ravel()]
        labels = np.asarray(mat["labels"]).ravel().astype(int) - 1
    except (KeyError, ValueError, OSError, IndexError) as e:
        raise DatasetNotFoundError(
            f"cannot read {path}: {e}; expected a MATLAB file with 'file_list' and 'labels'. Re-extract lists.tar."
        ) from e
    if len(files) != len(labels):
        raise DatasetNotFoundError(f"{path}: {len(files)} files but {len(labels)} labels.")
    return list(zip(files, labels.tolist()))


def load_dogs(root: str | Path, split: str, transform: Callable | None = None, class_names: str = "dataset") -> FGVCDataset:
    """Stanford Dogs split; class names from the synset folders that the lists assign to each label ("dataset") or,
    for those breeds, the original prompts' list ("authors", `authors_names`: label 64 "Brittany")."""
    check_split("dogs", split, SPLITS)
    check_source(class_names)
    base = Path(root).expanduser()
    lists = {s: base / f"{s}_list.mat" for s in SPLITS}
    require_files([base, lists["train"], lists["test"], base / "Images"], "Stanford Dogs", base, TREE, DOWNLOAD)
    rows = {s: read_dogs_list(lists[s]) for s in SPLITS}
    folder_of: dict[int, str] = {}
    for s in SPLITS:
        for rel, label in rows[s]:
            folder = rel.replace("\\", "/").split("/")[0]
            if folder_of.setdefault(label, folder) != folder:
                raise DatasetNotFoundError(f"{lists[s]}: label {label + 1} maps to both {folder_of[label]} and {folder}.")
    n = len(folder_of)
    if sorted(folder_of) != list(range(n)):
        raise DatasetNotFoundError(f"{base}: labels in the .mat lists must be 1..C without gaps.")
    classnames = [dogs_classname(folder_of[i]) for i in range(n)]
    if class_names == "authors":
        classnames = authors_dogs_names(classnames)
    samples = [(str(base / "Images" / rel), label) for rel, label in rows[split]]
    return FGVCDataset("dogs", split, base, samples, classnames, TEMPLATE, transform)
