"""Teacher image features of a data set split, batched, without gradients (the method page's Stage 1: features precomputed once, the teacher's own preprocessing)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Dataset

from ..infra.batched import map_batches
from ..data.base import FGVCDataset
from ..data.views import AugmentedViews
from ..infra.files import atomic_torch_save, build_once, safe_load
from .teacher import Teacher
from ..infra.seeds import SEEDING_VERSION


PRECISIONS = ("fp32", "bf16", "fp16")


def teacher_autocast(precision: str, device: torch.device):
    """The context the teacher's forward pass runs in, the same in every mode (Stage 1 features, the bank, the online
    teacher): `fp32` none, `bf16` / `fp16` autocast to that type on `device`.

    Args:
        precision: "fp32", "bf16" or "fp16"; anything else: ValueError.
        device: The device the teacher runs on (its type is autocast's).
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in PRECISIONS:
        raise ValueError(f"teacher precision must be one of {PRECISIONS}, got {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def extract_features(
    teacher: Teacher,
    dataset: Dataset,
    batch_size: int = 128,
    num_workers: int = 0,
    progress: bool | None = None,
    precision: str = "fp32",
    desc: str = "teacher features (batches)",
) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised teacher features `[N, D]` (float32, CPU) and labels `[N]` of `dataset`, in dataset order,
    computed at `precision` (see `teacher_autocast`).

    The dataset's own transform is used: give it `teacher.preprocess` for the teacher's eval view.

    Args:
        teacher: The frozen teacher; the batches go to its device.
        dataset: Items `(image tensor, label)`.
        batch_size: Images per forward.
        num_workers: DataLoader worker processes.
        progress: Draw a progress bar; None: only on a terminal.
        precision: "fp32", "bf16" or "fp16".
        desc: The progress bar's label.
    """
    device = teacher.device
    return map_batches(teacher.encode_image, dataset, batch_size, device, num_workers,
                       context=lambda: teacher_autocast(precision, device), progress=progress, desc=desc)


def zero_shot_logits(image_feats: torch.Tensor, text_feats: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """CLIP logits `s·f·tᵀ` of normalised image features `[N, D]` against class text features `[C, D]`.

    Args:
        image_feats: Normalised image features f `[N, D]`.
        text_feats: Normalised class text features t `[C, D]` (hand prompts or anchors).
        logit_scale: s, e.g. the teacher's `logit_scale`.
    """
    return logit_scale * image_feats @ text_feats.t().to(image_feats)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent.

    Args:
        logits: Scores `[N, C]`.
        labels: Class indices `[N]`.
    """
    return 100.0 * (logits.argmax(dim=-1) == labels.to(logits.device)).float().mean().item()


# ------------------------------------------------------------------------------------- on-disk caches


def _key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cache_identity(teacher: Teacher, dataset: FGVCDataset, transform: Callable, precision: str) -> dict:
    return {
        "precision": precision,
        "teacher": teacher.name,
        "weights": teacher.source,
        "dataset": dataset.name,
        "split": dataset.split,
        "root": str(Path(dataset.root).resolve()),
        "n": len(dataset),
        "transform": repr(transform),
    }


def _load_cached(path: Path, identity: dict) -> dict | None:
    if not path.exists():
        return None
    blob = safe_load(path, "feature cache")
    return blob if blob.get("meta", {}).get("identity") == identity else None


def cached_features(
    teacher: Teacher,
    dataset: FGVCDataset,
    cache_dir: str | Path,
    batch_size: int = 128,
    num_workers: int = 0,
    progress: bool | None = None,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`extract_features` with the teacher's eval preprocessing, cached on disk under `cache_dir/features/`.

    The key covers the teacher (name + weights source), data set, split, root, size, transform and precision; a
    cached file whose metadata differ is recomputed, never reused.

    Args:
        teacher: The frozen teacher.
        dataset: The split; its images are read through `teacher.preprocess` instead of its own transform.
        cache_dir: The cache folder.
        batch_size: Images per forward.
        num_workers: DataLoader worker processes.
        progress: Draw a progress bar; None: only on a terminal.
        precision: "fp32", "bf16" or "fp16".
    """
    identity = _cache_identity(teacher, dataset, teacher.preprocess, precision)
    path = Path(cache_dir) / "features" / f"{dataset.name}-{dataset.split}-{_key(identity)}.pt"

    def build() -> dict:
        view = FGVCDataset(dataset.name, dataset.split, dataset.root, dataset.samples, dataset.classnames,
                           dataset.template, transform=teacher.preprocess)
        feats, labels = extract_features(teacher, view, batch_size, num_workers, progress, precision)
        blob = {"features": feats, "labels": labels, "meta": {"identity": identity, "kind": "eval features"}}
        atomic_torch_save(blob, path)
        return blob

    blob = _build_cached(path, identity, build)  # jobs running at once (pand_core.batch): one builds, others read
    return blob["features"], blob["labels"]


def _per_view_path(cache_dir: str | Path | None, kind: str, views: AugmentedViews, identity: dict) -> Path | None:
    """The file of a per-view cache under `cache_dir/kind/`; None without a cache folder."""
    if cache_dir is None:
        return None
    return Path(cache_dir) / kind / f"{views.base.name}-{views.base.split}-V{views.views}-{_key(identity)}.pt"


def _build_cached(path: Path | None, identity: dict, build: Callable[[], dict]) -> dict:
    """The cache at `path` when it was made for `identity`, else `build()` (which writes it); with a file, one
    process builds it while the others that want it wait and read it (`build_once`)."""
    if path is None:
        return build()
    return build_once(path, lambda: _load_cached(path, identity), build)


def _views_identity(views: AugmentedViews) -> dict:
    base = views.base
    return {"dataset": base.name, "split": base.split, "root": str(Path(base.root).resolve()), "n": len(base),
            "transform": repr(views.transform), "seed": views.seed, "views": views.views,
            "indices": _key({"i": views.indices}), "seeding": SEEDING_VERSION}


def view_tensors(views: AugmentedViews, cache_dir: str | Path | None = None, limit_bytes: int = 512 * 2**20,
                 batch_size: int = 128, progress: bool | None = None) -> torch.Tensor | None:
    """Every view of every training image `[N, V, 3, H, W]`, exactly as the seeded transform makes it, cached under
    `cache_dir/views/`: the methods of one seed share them, so the augmentation is paid once per seed instead of
    once per image per epoch per method. None when they would take more than `limit_bytes` (CUB at 224 px with 8
    views: 29 GB); the views are then made on the fly.

    Args:
        views: The seeded training views, with V stored views per image (`views=V`).
        cache_dir: The cache folder; None: computed, not cached.
        limit_bytes: The most memory the views may take.
        batch_size: Views made per batch.
        progress: Draw a progress bar; None: only on a terminal.
    """
    if views.views is None:
        raise ValueError("view_tensors needs AugmentedViews with views=V")
    first = views.view_image(0, 0)
    if first.numel() * first.element_size() * len(views) * views.views > limit_bytes:
        return None
    identity = _views_identity(views)
    path = _per_view_path(cache_dir, "views", views, identity)

    def build() -> dict:
        flat, _ = map_batches(lambda x: x, views.stored(), batch_size, progress=progress,
                              desc=f"augmented training views, {views.views} per image (batches)")
        blob = {"views": flat.view(len(views), views.views, *first.shape),
                "meta": {"identity": identity, "kind": "augmented views"}}
        if path is not None:
            atomic_torch_save(blob, path)
        return blob

    return _build_cached(path, identity, build)["views"]


def build_bank(
    teacher: Teacher,
    views: AugmentedViews,
    cache_dir: str | Path | None = None,
    batch_size: int = 128,
    num_workers: int = 0,
    progress: bool | None = None,
    precision: str = "fp32",
) -> torch.Tensor:
    """Teacher features `[N, V, D]` of V reproducible augmented views of every image (the Stage 2 bank), computed at
    `precision` — the same context as the online teacher's, so the two modes differ only in caching.

    Row n holds the base-dataset image `views.indices[n]`; look it up with `bank[position_of[index], view]`.
    Cached under `cache_dir/banks/` when a folder is given.

    Args:
        teacher: The frozen teacher.
        views: The seeded training views, with V stored views per image (`views=V`).
        cache_dir: The cache folder; None: computed, not cached.
        batch_size: Images per forward.
        num_workers: DataLoader worker processes that make the views.
        progress: Draw a progress bar; None: only on a terminal.
        precision: "fp32", "bf16" or "fp16".
    """
    if views.views is None:
        raise ValueError("build_bank needs AugmentedViews with views=V")
    identity = dict(_cache_identity(teacher, views.base, views.transform, precision), seed=views.seed, views=views.views,
                    indices=_key({"i": views.indices}), seeding=SEEDING_VERSION)
    path = _per_view_path(cache_dir, "banks", views, identity)

    def build() -> dict:
        flat, _ = extract_features(teacher, views.stored(), batch_size, num_workers, progress, precision,
                                   desc=f"teacher bank, {views.views} views (batches)")
        blob = {"bank": flat.view(len(views.indices), views.views, -1),
                "meta": {"identity": identity, "kind": "augmented-view bank"}}
        if path is not None:
            atomic_torch_save(blob, path)
        return blob

    return _build_cached(path, identity, build)["bank"]


def per_class_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Top-1 accuracy (%) of each class `[C]` (NaN for a class without samples).

    Args:
        logits: Scores `[N, C]`.
        labels: Class indices `[N]`.
        num_classes: The number of classes C.
    """
    pred = logits.argmax(-1)
    out = torch.full((num_classes,), float("nan"))
    for c in range(num_classes):
        mask = labels == c
        if mask.any():
            out[c] = 100.0 * (pred[mask] == c).float().mean()
    return out
