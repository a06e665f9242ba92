"""Oxford-IIIT Pet (breeds; trainval / test, sized in `config.SPLIT_SIZES`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..infra.errors import DatasetNotFoundError
from .base import FGVCDataset, check_split, read_lines, require_files

TEMPLATE = "a photo of {}, a type of pet"
SPLITS = ("trainval", "train", "test")  # "train" is an alias of "trainval"
TREE = """\
  oxford-iiit-pet/
    images/<Breed_name>_<index>.jpg
    annotations/
      trainval.txt   <image name> <CLASS-ID 1..37> <SPECIES> <BREED ID>
      test.txt"""
DOWNLOAD = "https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz and annotations.tar.gz, into oxford-iiit-pet/)"


def pets_classname(image_name: str) -> str:
    """`american_bulldog_100` -> `American Bulldog` (drop the index, `_` -> space, words capitalised)."""
    stem = image_name.rsplit("_", 1)[0]
    return " ".join(w[:1].upper() + w[1:] for w in stem.split("_") if w)


def resolve_pets_root(root: str | Path) -> Path:
    root = Path(root).expanduser()
    for base in (root / "oxford-iiit-pet", root):
        if (base / "annotations").is_dir():
            return base
    base = root / "oxford-iiit-pet"
    require_files([root, base, base / "annotations"], "Oxford-IIIT Pet", root, TREE, DOWNLOAD)
    return base  # pragma: no cover


def _rows(path: Path) -> list[tuple[str, int]]:
    rows = []
    for ln in read_lines(path):
        parts = ln.split()
        if len(parts) < 2:
            raise DatasetNotFoundError(f"malformed line in {path}: {ln!r}; expected '<image> <CLASS-ID> ...'.")
        rows.append((parts[0], int(parts[1])))
    return rows


def load_pets(root: str | Path, split: str, transform: Callable | None = None) -> FGVCDataset:
    """Oxford-IIIT Pet split; label = CLASS-ID - 1, class names from the image-name stems."""
    check_split("pets", split, SPLITS)
    split = "trainval" if split == "train" else split
    base = resolve_pets_root(root)
    files = {s: base / "annotations" / f"{s}.txt" for s in ("trainval", "test")}
    require_files([files["trainval"], files["test"], base / "images"], "Oxford-IIIT Pet", Path(root), TREE, DOWNLOAD)
    names: dict[int, str] = {}
    for s in ("trainval", "test"):
        for image, class_id in _rows(files[s]):
            names.setdefault(class_id, pets_classname(image))
    ids = sorted(names)
    if ids != list(range(1, len(ids) + 1)):
        raise DatasetNotFoundError(f"{base / 'annotations'}: CLASS-IDs must be 1..C, got {ids[:5]}...")
    samples = [(str(base / "images" / f"{image}.jpg"), class_id - 1) for image, class_id in _rows(files[split])]
    return FGVCDataset("pets", split, base, samples, [names[i] for i in ids], TEMPLATE, transform)
