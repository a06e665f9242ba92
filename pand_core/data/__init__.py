"""Data sets of the four FGVC benchmarks (plus Stanford Cars and your own image folder), one module each, behind one
registry."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from ..infra.errors import ConfigError, DatasetNotFoundError
from .aircraft import load_aircraft
from .authors_names import CLASS_NAME_SOURCES, check_source
from .base import FGVCDataset, load_image
from .cars import load_cars
from .cub import load_cub
from .dogs import load_dogs
from .folder import load_folder
from .pets import load_pets
from .transforms import CLIP_MEAN, CLIP_STD, paper_test_transform, paper_train_transform

DATASETS: dict[str, Callable[..., FGVCDataset]] = {
    "cub": load_cub,
    "aircraft": load_aircraft,
    "pets": load_pets,
    "dogs": load_dogs,
    "cars": load_cars,
    "folder": load_folder,
}
RENAMED = ("aircraft", "dogs")  # data sets whose loader takes `class_names` (the authors' names differ there)


def load_dataset(name: str, root: str | Path, split: str, transform: Callable | None = None,
                 download: bool = False, class_names: str = "dataset", template: str | None = None) -> FGVCDataset:
    """Load split `split` of data set `name` (one of `DATASETS`) from `root`; items are `(image, label)`.

    Args:
        name: "cub", "aircraft", "pets", "dogs", "cars" or "folder" (your own image folder, `data.folder`).
        root: The data root, laid out as the data set's loader expects (as `download` leaves it; for "folder", the
            folder holding `train/` and `test/`).
        split: The split's name: "train" or "test"; also "val" and "trainval" on Aircraft, "trainval" on Pets.
        transform: Applied to each PIL image; None: items hold the PIL image itself.
        download: When `root` holds no finished download of `name` and the loader cannot read it, fetch the official
            archives into `root` first (`pand_core.data.download.download`).
        class_names: "dataset" (the names the data set's files give) or "authors" (the original prompts' lists, which
            differ on Aircraft and Dogs: `authors_names`; on CUB and Pets they agree, Cars has none).
        template: An image folder's prompt template (`data.folder`); None: its template.txt, else the paper's.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}.")
    check_source(class_names)
    load = functools.partial(DATASETS[name], class_names=class_names) if name in RENAMED else DATASETS[name]
    if name == "folder":
        load = functools.partial(load_folder, template=template)
    if download:
        from .download import download as fetch, is_downloaded

        if not is_downloaded(name, root):
            try:
                return load(root, split, transform)
            except DatasetNotFoundError:
                fetch(name, root)
    return load(root, split, transform)


def renamed_classes(name: str, root: str | Path, split: str, class_names: str) -> dict[int, tuple[str, str]]:
    """Labels whose name under `class_names` differs from the data set's own: label -> (dataset's, used)."""
    if class_names == "dataset" or name not in RENAMED:
        return {}
    own, used = (load_dataset(name, root, split, class_names=s).classnames for s in ("dataset", class_names))
    return {i: (a, b) for i, (a, b) in enumerate(zip(own, used)) if a != b}


def class_names_record(dataset: FGVCDataset, source: str) -> dict:
    """What a run records of its class names: where they come from and each label renamed from the data set's own."""
    renamed = renamed_classes(dataset.name, dataset.root, dataset.split, source)
    return {"source": source, "renamed": {str(i): {"dataset": a, "used": b} for i, (a, b) in renamed.items()},
            "labels": list(dataset.classnames), "template": dataset.template}


def describe_template(dataset: FGVCDataset) -> str:
    """One run.log line: the prompt template a run's hand prompts use, and where it came from."""
    source = getattr(dataset, "template_source", "the data set's own")
    return f"prompt template: {dataset.template!r} ({source})"


def describe_class_names(record: dict) -> str:
    """One run.log line for `class_names_record`'s output."""
    renamed = record["renamed"]
    head = f"class names: {record['source']}"
    if not renamed:
        return head + " (the same as the data set's own)"
    pairs = "; ".join(f"{i}: {r['dataset']!r} -> {r['used']!r}" for i, r in renamed.items())
    return f"{head}, {len(renamed)} renamed from the data set's own ({pairs})"


__all__ = [
    "CLASS_NAME_SOURCES",
    "CLIP_MEAN",
    "CLIP_STD",
    "DATASETS",
    "FGVCDataset",
    "class_names_record",
    "describe_class_names",
    "describe_template",
    "load_dataset",
    "load_image",
    "renamed_classes",
    "paper_test_transform",
    "paper_train_transform",
]
