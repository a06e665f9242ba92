"""CUB-200-2011 (bird species; train / test, their sizes and class count in `config.SPLIT_SIZES`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..infra.errors import DatasetNotFoundError
from .base import FGVCDataset, check_split, read_lines, require_files

TEMPLATE = "a photo of {}, a type of bird"
SPLITS = ("train", "test")
FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt")
TREE = """\
  CUB_200_2011/
    images.txt               <image_id> <relative path>
    image_class_labels.txt   <image_id> <class_id, 1-based>
    train_test_split.txt     <image_id> <1 = train, 0 = test>
    classes.txt              <class_id> <NNN.Class_Name>
    images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg ..."""
DOWNLOAD = "https://data.caltech.edu/records/65de6-vp158 (CUB_200_2011.tgz; extract it into the data root)"


def cub_classname(raw: str) -> str:
    """`001.Black_footed_Albatross` -> `Black footed Albatross` (drop the `NNN.` prefix, `_` -> space)."""
    name = raw.split(".", 1)[1] if "." in raw else raw
    return name.replace("_", " ").strip()


def resolve_cub_root(root: str | Path) -> Path:
    """Accept either the folder that contains `CUB_200_2011/` or that folder itself."""
    root = Path(root).expanduser()
    for base in (root / "CUB_200_2011", root):
        if (base / "images.txt").exists():
            return base
    base = root / "CUB_200_2011" if root.name != "CUB_200_2011" else root
    require_files([root, base] + [base / f for f in FILES], "CUB-200-2011", root, TREE, DOWNLOAD)
    return base  # pragma: no cover - require_files raised


def _id_table(path: Path, n_fields: int = 2) -> dict[int, str]:
    table: dict[int, str] = {}
    for ln in read_lines(path):
        parts = ln.split(maxsplit=n_fields - 1)
        if len(parts) != n_fields:
            raise DatasetNotFoundError(f"malformed line in {path}: {ln!r}; expected '<id> <value>'.")
        table[int(parts[0])] = parts[1]
    return table


def load_cub(root: str | Path, split: str, transform: Callable | None = None) -> FGVCDataset:
    """CUB-200-2011 split; files are joined on image id, never by line position."""
    check_split("cub", split, SPLITS)
    base = resolve_cub_root(root)
    require_files([base / f for f in FILES] + [base / "images"], "CUB-200-2011", Path(root), TREE, DOWNLOAD)
    images = _id_table(base / "images.txt")
    labels = _id_table(base / "image_class_labels.txt")
    is_train = _id_table(base / "train_test_split.txt")
    classes = _id_table(base / "classes.txt")
    class_ids = sorted(classes)
    if class_ids != list(range(1, len(class_ids) + 1)):
        raise DatasetNotFoundError(f"{base / 'classes.txt'}: class ids must be 1..C, got {class_ids[:5]}...")
    classnames = [cub_classname(classes[c]) for c in class_ids]
    want = "1" if split == "train" else "0"
    samples = []
    for image_id in sorted(images):
        for table, fname in ((labels, "image_class_labels.txt"), (is_train, "train_test_split.txt")):
            if image_id not in table:
                raise DatasetNotFoundError(f"image id {image_id} of images.txt is missing from {base / fname}.")
        if is_train[image_id].strip() == want:
            samples.append((str(base / "images" / images[image_id]), int(labels[image_id]) - 1))
    return FGVCDataset("cub", split, base, samples, classnames, TEMPLATE, transform)
