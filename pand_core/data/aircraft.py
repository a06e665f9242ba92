"""FGVC-Aircraft 2013b, variant level (train / val / test; val holds 3,333 images, the train and test sizes
and the class count are in `config.SPLIT_SIZES`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..infra.errors import DatasetNotFoundError
from .authors_names import authors_aircraft_names, check_source
from .base import FGVCDataset, check_split, read_lines, require_files

TEMPLATE = "a photo of {}, one of the airplane models"
SPLITS = ("train", "val", "trainval", "test")
TREE = """\
  fgvc-aircraft-2013b/
    data/
      variants.txt                        one variant per line, in label order
      images_variant_{train,val,trainval,test}.txt        <image_id> <variant>
      images_manufacturer_{train,val,trainval,test}.txt   <image_id> <manufacturer>
      images/<image_id>.jpg"""
DOWNLOAD = "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz; extract into the data root)"


def resolve_aircraft_root(root: str | Path) -> Path:
    """Accept the folder containing `fgvc-aircraft-2013b/`, that folder, or its `data/` folder."""
    root = Path(root).expanduser()
    for base in (root / "fgvc-aircraft-2013b" / "data", root / "data", root):
        if (base / "variants.txt").exists():
            return base
    base = root / "fgvc-aircraft-2013b" / "data"
    require_files([root, base, base / "variants.txt"], "FGVC-Aircraft 2013b", root, TREE, DOWNLOAD)
    return base  # pragma: no cover


def _pairs(path: Path) -> list[tuple[str, str]]:
    """`<image_id> <name with spaces>` lines -> [(image_id, name)]."""
    out = []
    for ln in read_lines(path):
        parts = ln.split(maxsplit=1)
        if len(parts) != 2:
            raise DatasetNotFoundError(f"malformed line in {path}: {ln!r}; expected '<image_id> <name>'.")
        out.append((parts[0], parts[1]))
    return out


def aircraft_classnames(base: Path) -> list[str]:
    """"<manufacturer> <variant>" in `variants.txt` order; manufacturers read from the per-image lists."""
    variants = read_lines(base / "variants.txt")
    maker: dict[str, str] = {}
    for split in ("trainval", "test"):
        vfile, mfile = base / f"images_variant_{split}.txt", base / f"images_manufacturer_{split}.txt"
        require_files([vfile, mfile], "FGVC-Aircraft 2013b", base, TREE, DOWNLOAD)
        manufacturer_of = dict(_pairs(mfile))
        for image_id, variant in _pairs(vfile):
            if image_id in manufacturer_of:
                maker.setdefault(variant, manufacturer_of[image_id])
    missing = [v for v in variants if v not in maker]
    if missing:
        raise DatasetNotFoundError(
            f"no manufacturer found for variants {missing[:5]} in {base}/images_manufacturer_*.txt; re-extract the archive."
        )
    return [f"{maker[v]} {v}" for v in variants]


def load_aircraft(root: str | Path, split: str, transform: Callable | None = None,
                  class_names: str = "dataset") -> FGVCDataset:
    """FGVC-Aircraft split at the variant level; labels follow `variants.txt` order. Class names: "dataset" (manufacturer
    + variant from the files, `aircraft_classnames`) or "authors" (the original prompts' list, `authors_names`)."""
    check_split("aircraft", split, SPLITS)
    check_source(class_names)
    base = resolve_aircraft_root(root)
    vfile = base / f"images_variant_{split}.txt"
    require_files([base / "variants.txt", vfile, base / "images"], "FGVC-Aircraft 2013b", Path(root), TREE, DOWNLOAD)
    variants = read_lines(base / "variants.txt")
    index = {v: i for i, v in enumerate(variants)}
    samples = []
    for image_id, variant in _pairs(vfile):
        if variant not in index:
            raise DatasetNotFoundError(f"{vfile}: variant {variant!r} of image {image_id} is not in variants.txt.")
        samples.append((str(base / "images" / f"{image_id}.jpg"), index[variant]))
    names = authors_aircraft_names(variants) if class_names == "authors" else aircraft_classnames(base)
    return FGVCDataset("aircraft", split, base, samples, names, TEMPLATE, transform)
