"""Your own data set as an image folder (`--dataset folder --data-root DIR`):

.. code-block:: text

    DIR/train/<class folder>/*.jpg     the training split (one folder per class)
    DIR/test/<class folder>/*.jpg      the test split (only classes that are in train)
    DIR/val/<class folder>/*.jpg       optional: the held-out split a recipe selects on (`--select-on val`)
    DIR/classnames.txt                 optional: `<class folder> <class name>` per line (or classnames.json,
                                       {"<class folder>": "<class name>"}); default: the folder's name with
                                       underscores and hyphens read as spaces
    DIR/template.txt                   optional: the hand-written prompt, `{}` for the class name

Labels are the class folders of `train` in sorted order. The prompt template is `--template`, else
`DIR/template.txt`, else the paper's "a photo of a {}."; `template_source` says which.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Callable

from ..infra.errors import ConfigError, DatasetNotFoundError
from .base import FGVCDataset, check_split

SPLITS = ("train", "test", "val")
DEFAULT_TEMPLATE = "a photo of a {}."  # the paper's prompt for a data set without its own
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MIN_TRAIN_IMAGES = 5  # fewer training images in a class: a warning with the count (a few-shot class, or a mistake)
TREE = """\
  DIR/train/<class folder>/*.jpg   (one folder per class; its sorted order is the label order)
  DIR/test/<class folder>/*.jpg    (the same class folders, or fewer)
  DIR/val/<class folder>/*.jpg     (optional)
  DIR/classnames.txt               (optional: '<class folder> <class name>' per line)
  DIR/template.txt                 (optional: the prompt, '{}' for the class name)"""


class FolderDataWarning(UserWarning):
    """Something in an image folder that a run survives but a user should know: skipped files, small classes."""


def readable_name(folder: str) -> str:
    """A class folder's default name: `Black_footed-albatross` -> `Black footed albatross`."""
    return " ".join(folder.replace("_", " ").replace("-", " ").split())


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))


def _name_map(root: Path) -> tuple[dict[str, str], Path | None]:
    """Folder -> class name from `classnames.json` or `classnames.txt` (empty when neither exists), and that file."""
    if (path := root / "classnames.json").exists():
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path} is not valid JSON ({e}); expected {{\"<class folder>\": \"<class name>\"}}.")
        if not isinstance(mapping, dict):
            raise ConfigError(f"{path} must map each class folder to its name: {{\"<class folder>\": \"<name>\"}}.")
        return {str(k): str(v).strip() for k, v in mapping.items()}, path
    if (path := root / "classnames.txt").exists():
        mapping = {}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                parts = line.strip().split(maxsplit=1)
                if len(parts) != 2:
                    raise ConfigError(f"{path}, line {n}: {line!r}; expected '<class folder> <class name>'.")
                mapping[parts[0]] = parts[1].strip()
        return mapping, path
    return {}, None


def folder_classnames(root: str | Path) -> tuple[list[str], list[str]]:
    """The class folders of `root/train` in label (sorted) order and their class names; a name file that names a
    missing folder, or two folders that end up with one name, is refused with one `ConfigError`.

    Args:
        root: The data set's folder (holding `train/`).
    """
    root = Path(root).expanduser()
    _require_split(root, "train")
    folders = _class_folders(root / "train")
    if not folders:
        raise DatasetNotFoundError(f"{root / 'train'} holds no class folders.\nExpected layout:\n{TREE}")
    mapping, source = _name_map(root)
    unknown = sorted(set(mapping) - set(folders))
    if unknown:
        raise ConfigError(f"{source} names class folders that {root / 'train'} does not hold: {unknown}; fix the "
                          f"file or the folder names (the folders are {folders[:8]}{' ...' if len(folders) > 8 else ''}).")
    names = [mapping.get(f) or readable_name(f) for f in folders]
    seen: dict[str, str] = {}
    for folder, name in zip(folders, names):
        if name in seen:
            raise ConfigError(f"class folders {seen[name]!r} and {folder!r} both get the class name {name!r}"
                              + (f" (from {source})" if source else " (underscores and hyphens read as spaces)")
                              + "; give them different names in classnames.txt.")
        seen[name] = folder
    return folders, names


def folder_template(root: str | Path, template: str | None = None) -> tuple[str, str]:
    """The prompt template and where it came from: `template`, else `root/template.txt`, else the paper's default.

    Args:
        root: The data set's folder.
        template: A template given on the command line or in the config; None: look in the folder.
    """
    path = Path(root).expanduser() / "template.txt"
    if template is not None:
        chosen, source = template, "given (--template)"
    elif path.exists():
        chosen, source = path.read_text(encoding="utf-8").strip(), f"from {path}"
    else:
        chosen, source = DEFAULT_TEMPLATE, "the default (the paper's; put your own in template.txt or --template)"
    if chosen.count("{}") != 1:
        raise ConfigError(f"the prompt template {chosen!r} ({source}) must hold '{{}}' once, where the class name goes.")
    return chosen, source


def _require_split(root: Path, split: str) -> None:
    if not (root / split).is_dir():
        raise DatasetNotFoundError(f"image folder data set: {root / split} is missing.\n"
                                   f"Expected layout under the data root ({root}):\n{TREE}")


def load_folder(root: str | Path, split: str, transform: Callable | None = None,
                template: str | None = None) -> FGVCDataset:
    """Split `split` ("train", "test" or "val") of an image folder data set; labels follow `train`'s sorted class
    folders. Files that are not images are skipped with one `FolderDataWarning` listing them.

    Args:
        root: The data set's folder (`train/`, `test/`, optional `val/`, `classnames.txt`, `template.txt`).
        split: "train", "test" or "val".
        transform: Applied to each decoded image; None: items hold the PIL image.
        template: The prompt template; None: `root/template.txt`, else the paper's default.
    """
    check_split("folder", split, SPLITS)
    root = Path(root).expanduser()
    folders, names = folder_classnames(root)
    chosen, source = folder_template(root, template)
    _require_split(root, split)
    extra = sorted(set(_class_folders(root / split)) - set(folders))
    if extra:
        raise ConfigError(f"{root / split} holds class folders that {root / 'train'} does not: {extra}; every class "
                          "needs training images (move them into train/, or remove them from "
                          f"{split}/).")
    samples, skipped, small = [], [], []
    for label, folder in enumerate(folders):
        class_dir = root / split / folder
        files = sorted(p for p in class_dir.iterdir() if p.is_file()) if class_dir.is_dir() else []
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += [str(p) for p in files if p.suffix.lower() not in IMAGE_SUFFIXES and not p.name.startswith(".")]
        if split == "train" and not images:
            raise DatasetNotFoundError(f"class folder {class_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                                       "add its training images or remove the folder.")
        if split == "train" and len(images) < MIN_TRAIN_IMAGES:
            small.append(f"{folder} ({len(images)})")
        samples += [(str(p), label) for p in images]
    if skipped:
        warnings.warn(FolderDataWarning(f"{split}: skipped {len(skipped)} file(s) that are not images: "
                                        f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}"), stacklevel=2)
    if small:
        more = f" and {len(small) - 8} more" if len(small) > 8 else ""
        warnings.warn(FolderDataWarning(f"{len(small)} class(es) with fewer than {MIN_TRAIN_IMAGES} training images: "
                                        + ", ".join(small[:8]) + more), stacklevel=2)
    if not samples:
        raise DatasetNotFoundError(f"{root / split} holds no images in its class folders.\nExpected layout:\n{TREE}")
    dataset = FGVCDataset("folder", split, root, samples, names, chosen, transform)
    dataset.template_source = source
    return dataset


def folder_sizes(root: str | Path) -> "SplitSizes":
    """The image files in `root/train` and `root/test` and the class folders of `train`, counted from the file names
    (nothing is opened or decoded: what an estimate of a run's cost needs).

    Args:
        root: The data set's folder.
    """
    from ..config import SplitSizes

    root = Path(root).expanduser()
    folders = folder_classnames(root)[0]

    def count(split: str) -> int:
        return sum(1 for f in folders if (root / split / f).is_dir()
                   for p in (root / split / f).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

    _require_split(root, "test")
    return SplitSizes(train=count("train"), test=count("test"), classes=len(folders))


def write_image_folder(splits: dict[str, FGVCDataset], dest: str | Path) -> Path:
    """Write data set splits as an image folder under `dest` that `load_folder` reads back with the same classes,
    class names, label order, sample order and prompt template: `<split>/<NNN>_<class>/<NNNNNN><suffix>` copies,
    `classnames.txt` and `template.txt`. Returns `dest`.

    Args:
        splits: Split name ("train", "test", "val") -> that split (`FGVCDataset`, e.g. `load_dataset("cub", ...)`);
            all share one class list and template.
        dest: The folder to write (made if missing; existing files are overwritten).
    """
    dest = Path(dest).expanduser()
    first = next(iter(splits.values()))
    width = len(str(len(first.classnames)))
    folders = [f"{i:0{width}d}_" + "_".join(name.split()) for i, name in enumerate(first.classnames)]
    for split, dataset in splits.items():
        if dataset.classnames != first.classnames or dataset.template != first.template:
            raise ConfigError(f"split {split!r} has other classes or another template than the first split; "
                              "an image folder holds one class list and one prompt.")
        for i, (path, label) in enumerate(dataset.samples):
            target = dest / split / folders[label] / f"{i:06d}{Path(path).suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    (dest / "classnames.txt").write_text("".join(f"{f} {n}\n" for f, n in zip(folders, first.classnames)),
                                         encoding="utf-8")
    (dest / "template.txt").write_text(first.template + "\n", encoding="utf-8")
    return dest
