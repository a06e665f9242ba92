"""Stage 2's data feeding: what `distill()` trains on, built once from the config — the splits, the teacher and its
class anchors, the seeded training views and their batches (CPU loader or device augmentation), the teacher targets
(online or bank: `cfg.teacher_mode` is read here and in `targets.make_targets` only) and the evaluation sets."""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from ..assets import resolve_student_pretrained, run_assets
from ..config import DistillConfig
from ..data import class_names_record, describe_class_names, describe_template, load_dataset, paper_test_transform, paper_train_transform
from ..data.base import FGVCDataset, skip_unreadable
from ..data.gpu_augment import PaperAugment, batch_generator, decode_split
from ..data.splits import TEST_SPLIT, TRAIN_SPLIT, stratified_holdout
from ..data.views import AugmentedViews
from ..infra.distributed import Dist, main_process_first
from ..infra.errors import ConfigError
from ..models.features import view_tensors
from ..models import Teacher, load_teacher
from ..stage1.prompts import load_anchors
from ..infra.seeds import stream_seed
from .targets import TeacherTargets, make_targets


@torch.no_grad()
def in_memory(dataset, limit_bytes: int = 256 * 2**20):
    """`dataset` (fixed transform: a test or validation split) decoded and transformed once into a `TensorDataset`,
    when its tensors take at most `limit_bytes`; otherwise `dataset` itself. Evaluating every epoch then costs the
    model only — on the miniature, the decoding would cost more than the model; CUB's test split at 224 px (3.5 GB)
    stays on disk.

    Args:
        dataset: A data set of `(image tensor, label)` with a fixed transform.
        limit_bytes: The largest size of the stacked images kept in memory.
    """
    if len(dataset) == 0:
        return dataset
    x0, _ = dataset[0]
    if x0.numel() * x0.element_size() * len(dataset) > limit_bytes:
        return dataset
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return TensorDataset(torch.stack(xs), torch.tensor(ys))


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This rank's batches of positions `0..n-1` for one epoch, as the original's DistributedSampler and DataLoader
    gave them: one seeded permutation, padded by its own head to a multiple of `world`, dealt round-robin, cut into
    batches of `batch_size` with the last partial batch *kept*; only a trailing batch of a single sample is dropped
    (BatchNorm cannot train on it at small resolutions and NLRD has no pair in it).

    Args:
        n: The number of training samples.
        batch_size: This rank's batch size (the global batch divided by `world`).
        seed: The run's seed; the permutation is stream "batch-order" (epoch) of it.
        epoch: The 0-based epoch.
        rank: This process's rank.
        world: The number of processes.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(stream_seed("batch-order", seed, epoch))).tolist()
    pad = -n % world  # every rank the same number of samples, hence of steps (DDP needs that)
    order += (order * (pad // max(n, 1) + 1))[:pad]
    shard = order[rank::world]
    batches = [shard[s : s + batch_size] for s in range(0, len(shard), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


def device_batches(decoded: torch.Tensor, targets: torch.Tensor, batches: list[list[int]], augment: PaperAugment,
                   keys: tuple[int, ...], device: torch.device):
    """Yield `(x, y, index, view=-1)` for each batch of dataset indices, augmented on `device` from the uint8 cache;
    batch k of an epoch is seeded by stream "device-augment" (epoch, rank, k) of the run's seed (`keys` =
    (seed, epoch, rank)), so reruns and resumes see the same pixels."""
    for k, batch in enumerate(batches):
        sel = torch.tensor(batch, dtype=torch.long)
        images = decoded[sel].to(device, non_blocking=True)
        x = augment(images, augment.sample(len(sel), batch_generator("device-augment", *keys, k)))
        yield x, targets[sel], sel, torch.full((len(sel),), -1)


@dataclass
class Sources:
    """What a run reads before its folder exists: the splits, and where the teacher and student start from."""

    train: FGVCDataset
    test: FGVCDataset
    teacher_weights: str | None
    student_start: bool | str


def load_sources(cfg: DistillConfig) -> Sources:
    """The data set's training and test splits, the anchors' fit to its classes, the resolved weights (cheap checks,
    before anything heavy).

    Args:
        cfg: The Stage 2 config; its data set, class names, anchors, weights and student start are read.
    """
    resolved = run_assets(cfg)
    data_root = resolved.data_root
    train = load_dataset(cfg.dataset, data_root, TRAIN_SPLIT[cfg.dataset], class_names=cfg.class_names,
                         template=cfg.template)
    test = load_dataset(cfg.dataset, data_root, TEST_SPLIT, transform=paper_test_transform(cfg.image_size),
                        class_names=cfg.class_names, template=cfg.template)
    if cfg.spec.anchors == "learned":
        if cfg.anchors is None or not Path(cfg.anchors).exists():
            raise ConfigError(f"method {cfg.method!r} needs Stage 1 anchors, and {cfg.anchors} does not exist: run "
                              "`calibrate` first with the same profile, data set and seed (its anchors.pt is read "
                              "from there), or pass --anchors PATH.")
        _, meta = load_anchors(cfg.anchors, num_classes=len(train.classnames))
        if meta.get("classnames") not in (None, train.classnames):
            raise ConfigError(f"anchors {cfg.anchors} were calibrated for other classes (data set {meta.get('dataset')!r}).")
    weights = resolved.teacher_weights if cfg.spec.teacher else None
    start = resolve_student_pretrained(cfg.profile, cfg.student, cfg.student_pretrained, cfg.image_size, Path(cfg.cache))
    return Sources(train, test, weights, start)


def _teacher_and_anchors(cfg: DistillConfig, weights: str | None, train: FGVCDataset, device: torch.device,
                         log: Callable[[str], None]) -> tuple[Teacher | None, torch.Tensor | None]:
    """The teacher and the class anchors Θ (hand prompts or Stage 1's), for methods that use a teacher."""
    if not cfg.spec.teacher:
        return None, None
    teacher = load_teacher(cfg.teacher, weights, device)
    log(f"teacher {teacher.name} from {teacher.source}")
    if cfg.spec.anchors == "hand":
        return teacher, teacher.encode_text(train.prompts()).to(device)
    anchors, _ = load_anchors(cfg.anchors, len(train.classnames), teacher.embed_dim,
                              {"name": teacher.name, "pretrained": teacher.pretrained})
    return teacher, anchors.to(device)


def _training_views(cfg: DistillConfig, train: FGVCDataset, keep: list[int], progress: bool | None) -> AugmentedViews:
    """The seeded training views. With `teacher_mode="bank"` every method (also `ce`) draws from the same V stored
    views per image, so the methods of one seed stay paired; they are held in memory when small enough."""
    stored = cfg.bank_views if cfg.teacher_mode == "bank" else None
    views = AugmentedViews(train, paper_train_transform(cfg.image_size, cfg.resize), cfg.seed, views=stored,
                           indices=keep)
    if stored is not None:
        held = view_tensors(views, cache_dir=cfg.cache, batch_size=cfg.batch_size, progress=progress)
        if held is not None:
            views.hold(held)
    return views


def _validation_split(cfg: DistillConfig, train: FGVCDataset, held: list[int]):
    """The held-out training images at the test transform, or None without `val_fraction`."""
    if not held:
        return None
    base = FGVCDataset(train.name, train.split, train.root, train.samples, train.classnames, train.template,
                       transform=paper_test_transform(cfg.image_size))
    return Subset(base, held)


def _batch_source(cfg: DistillConfig, views: AugmentedViews, device: torch.device, d: Dist, progress: bool | None):
    """`epoch → iterable of (x, y, index, view)` for this rank: the CPU loader over `views`, or (augment="device")
    batches augmented on the device from the uint8 cache of the training split."""
    local_batch = cfg.batch_size // d.world
    if cfg.augment == "device":
        with main_process_first(d):
            decoded = decode_split(views.base, cfg.resize, cache_dir=cfg.cache, progress=progress)
        if device.type == "cuda":
            decoded = decoded.pin_memory()
        augment, labels = PaperAugment(cfg.image_size, cfg.resize), torch.tensor(views.base.targets)

    def batches(epoch: int):
        views.set_epoch(epoch)
        positions = epoch_batches(len(views), local_batch, cfg.seed, epoch, d.rank, d.world)
        if cfg.augment == "device":
            return device_batches(decoded, labels, [[views.indices[i] for i in b] for b in positions], augment,
                                  (cfg.seed, epoch, d.rank), device)
        return DataLoader(views, batch_sampler=positions, num_workers=cfg.num_workers, pin_memory=device.type == "cuda")

    return batches


@dataclass
class Stage2Data:
    """Everything a Stage 2 run reads, ready to train: `batches(epoch)` yields `(x, y, index, view)` for this rank.

    Args:
        train: The training split (unreadable images left out).
        teacher: The teacher; None for a method without one.
        anchors: The class anchors Θ `[C, D]` (hand prompts or Stage 1's); None without a teacher.
        targets: The teacher's features per batch (online or bank); None without a teacher.
        batches: Maps an epoch to its batches for this rank (CPU loader or device augmentation).
        test_eval: The test split at the test transform (in memory when small).
        val_eval: The held-out part of train (`val_fraction`) at the test transform, or None.
        skipped: The unreadable images left out (`skip_bad_images`).
        train_views: What the student sees of each training image, in words.
    """

    train: FGVCDataset
    teacher: Teacher | None
    anchors: torch.Tensor | None  # Θ `[C, D]` (hand prompts or Stage 1's), None without a teacher
    targets: TeacherTargets | None  # the teacher's features per batch (online or bank), None without a teacher
    batches: Callable[[int], object]
    test_eval: object  # the test split at the test transform (in memory when small)
    val_eval: object | None  # the held-out part of train (`val_fraction`), or None
    skipped: list[str]  # unreadable images left out (`skip_bad_images`)
    train_views: str  # what the student sees of each training image: "a new view every epoch" or "V stored views per image"

    @property
    def num_classes(self) -> int:
        return len(self.train.classnames)


def prepare(cfg: DistillConfig, sources: Sources, device: torch.device, d: Dist, log: Callable[[str], None],
            progress: bool | None = None) -> Stage2Data:
    """The run's data, teacher, targets and evaluation sets from `cfg` and its `load_sources` (rank 0 builds and
    caches the views and the bank; the other ranks read them).

    Args:
        cfg: The Stage 2 config.
        sources: What `load_sources(cfg)` returned.
        device: The training device.
        d: The process group (`init_distributed`).
        log: Where progress lines go (the run's `run.log`).
        progress: Draw progress bars; None: only on a terminal (`progress_enabled`).
    """
    (train, test), skipped = skip_unreadable(cfg.skip_bad_images, sources.train, sources.test, log=log, progress=progress)
    log(f"distill {cfg.method} on {cfg.dataset} ({len(train)} train / {len(test)} test), device {device}, world {d.world}")
    if cfg.spec.teacher:  # the names reach a run only through the teacher's prompts
        log(describe_class_names(class_names_record(train, cfg.class_names)))
        log(describe_template(train))
    torch.manual_seed(cfg.seed)
    teacher, anchors = _teacher_and_anchors(cfg, sources.teacher_weights, train, device, log)
    keep, held = (stratified_holdout(train.targets, cfg.val_fraction, cfg.seed) if cfg.val_fraction > 0
                  else (list(range(len(train))), []))
    t0 = time.perf_counter()
    with main_process_first(d):
        views = _training_views(cfg, train, keep, progress)
        targets = make_targets(cfg.teacher_mode, teacher, views, device, cfg.teacher_precision, cfg.cache,
                               cfg.batch_size, cfg.num_workers, progress)
    log(f"training views: {views.views or 'a new one every epoch'}{', held' if views.held is not None else ''}; "
        f"teacher targets: {targets.mode if targets else 'none'}; ready in {time.perf_counter() - t0:.1f} s")
    batches = _batch_source(cfg, views, device, d, progress)
    val = _validation_split(cfg, train, held)
    seen = f"{views.views} stored views per image" if views.views else "a new view every epoch"
    return Stage2Data(train, teacher, anchors, targets, batches, in_memory(test),
                      in_memory(val) if val is not None else None, skipped, seen)
