"""What every data set shares: the `FGVCDataset` contract, image decoding, file checks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..infra.errors import ConfigError, CorruptImageError, DatasetNotFoundError

Sample = tuple[str, int]


def load_image(path: str | Path) -> Image.Image:
    """Decode one image fully and return it as PIL RGB; raise `CorruptImageError` naming the file."""
    try:
        with Image.open(path) as im:
            im.load()  # decode now, so truncation surfaces here and not inside a transform
            return im.convert("RGB")
    except FileNotFoundError as e:
        raise CorruptImageError(
            f"image file listed by the data set is missing: {path}. "
            "Re-extract the data set archive so every listed image exists."
        ) from e
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise CorruptImageError(
            f"cannot decode image {path}: {e}. The file is corrupt or truncated; "
            "re-extract it from the data set archive (or delete and re-download the archive)."
        ) from e


class FGVCDataset(Dataset):
    """A fine-grained classification split: `samples` of (path, 0-based label), class names, prompt template.

    Items are `(PIL RGB image, label)` when `transform is None`, else `(transform(image), label)`.

    Args:
        name: The data set's name, e.g. "cub".
        split: The split's name, e.g. "train".
        root: The folder the data set was read from.
        samples: `(image path, label)` pairs; labels must lie in `0..len(classnames)-1`.
        classnames: The class names in label order.
        template: The hand-written prompt with `{}` for the class name.
        transform: Applied to each decoded image; None: items hold the PIL image.
    """

    def __init__(
        self,
        name: str,
        split: str,
        root: Path,
        samples: Sequence[Sample],
        classnames: Sequence[str],
        template: str,
        transform: Callable | None = None,
    ) -> None:
        self.name = name
        self.split = split
        self.root = Path(root)
        self.samples: list[Sample] = [(str(p), int(y)) for p, y in samples]
        self.classnames: list[str] = list(classnames)
        self.template = template
        self.transform = transform
        bad = [y for _, y in self.samples if not 0 <= y < len(self.classnames)]
        if bad:
            raise DatasetNotFoundError(
                f"{name} ({split}) under {root}: labels {sorted(set(bad))[:5]} fall outside "
                f"0..{len(self.classnames) - 1}; the annotation files are inconsistent — re-extract them."
            )

    @property
    def targets(self) -> list[int]:
        return [y for _, y in self.samples]

    @property
    def num_classes(self) -> int:
        return len(self.classnames)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = load_image(path)
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def prompts(self) -> list[str]:
        """The hand-written prompt of every class: `template.format(classname)`, in label order."""
        return [self.template.format(c) for c in self.classnames]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, root={str(self.root)!r}, "
            f"samples={len(self)}, classes={self.num_classes})"
        )


def check_split(name: str, split: str, valid: Iterable[str]) -> None:
    """Refuse an unknown split name, listing the valid ones."""
    valid = list(valid)
    if split not in valid:
        raise ConfigError(f"unknown split {split!r} for data set {name!r}; expected one of {valid}.")


def require_files(paths: Iterable[Path], title: str, root: Path, tree: str, download: str, hint: str = "") -> None:
    """Raise `DatasetNotFoundError` naming the first missing path, with the expected tree and where to get the data."""
    for p in paths:
        if not Path(p).exists():
            raise DatasetNotFoundError(
                f"{title} not found: missing {p}\n"
                f"Expected layout under the data root ({root}):\n{tree}\n"
                f"Download: {download}\n{hint}".rstrip()
            )


def read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a text annotation file, stripped."""
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def verify_images(dataset: FGVCDataset, progress: bool | None = None) -> tuple[FGVCDataset, list[str]]:
    """Decode every image once; return the dataset without the unreadable ones and their `path: reason` list.
    This is the explicit opt-in (`skip_bad_images`) — without it, the first bad image stops the run."""

    from ..infra.progress import Progress

    good, bad = [], []
    for path, label in Progress(dataset.samples, "checking images", progress=progress, leave=False):
        try:
            load_image(path)
            good.append((path, label))
        except CorruptImageError as e:
            bad.append(f"{path}: {str(e).split(': ', 1)[-1]}")
    kept = FGVCDataset(dataset.name, dataset.split, dataset.root, good, dataset.classnames, dataset.template,
                       dataset.transform)
    if hasattr(dataset, "template_source"):  # an image folder's: where its prompt template came from
        kept.template_source = dataset.template_source
    return kept, bad


def drop_unreadable(*datasets: FGVCDataset, progress: bool | None = None) -> tuple[list[FGVCDataset], list[str]]:
    """`verify_images` over several splits: the cleaned splits, and every skipped `path: reason`."""
    cleaned, skipped = [], []
    for ds in datasets:
        kept, bad = verify_images(ds, progress)
        cleaned.append(kept)
        skipped += bad
    return cleaned, skipped


def skip_unreadable(skip: bool, *datasets: FGVCDataset, log: Callable[[str], None],
                    progress: bool | None = None) -> tuple[list[FGVCDataset], list[str]]:
    """Both stages' `skip_bad_images` opt-in: with `skip`, `drop_unreadable` with every skipped image passed to `log`;
    without it, `datasets` as they are (the first unreadable image then stops the run with its path)."""
    if not skip:
        return list(datasets), []
    cleaned, skipped = drop_unreadable(*datasets, progress=progress)
    for entry in skipped:
        log(f"skipped unreadable image {entry}")
    return cleaned, skipped
