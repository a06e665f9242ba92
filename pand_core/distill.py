"""Stage 2 — Neighborhood-aware Structural Distillation (method doc §4): one plain PyTorch training loop.

    python -m pand_core distill --profile smoke --method pand --anchors runs/calibrate/anchors.pt

Every method of `config.METHODS` runs through the same loop; what differs is which teacher outputs exist
and which loss terms are added. The test split is evaluated in full every epoch.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from .assets import resolve_data_root, resolve_device, resolve_student_pretrained, resolve_teacher_weights
from .config import DistillConfig, to_dict
from .data import load_dataset, paper_test_transform, paper_train_transform
from .data.base import FGVCDataset, drop_unreadable
from .data.gpu_augment import PaperAugment, batch_generator, decode_split
from .data.splits import TEST_SPLIT, TRAIN_SPLIT, stratified_holdout
from .data.views import AugmentedViews, derive_seed
from .distributed import Dist, barrier, init_distributed, shutdown, sum_across
from .errors import ConfigError, PandError
from .features import build_bank, teacher_autocast, view_tensors
from .losses import feature_alignment_loss, hinton_kd_loss, loss_weights, nlrd_loss, pand_total_loss, text_kd_loss
from .models import AlignHead, Teacher, build_student, load_teacher
from .prompts import load_anchors
from .rundir import RunDir, load_checkpoint, save_checkpoint
from .progress import Progress, progress_enabled
from .runinfo import default_cache, environment


class NonFiniteLossError(PandError, FloatingPointError):
    """A loss term became NaN or infinite; the last good checkpoint is left as it was."""


class Stage2Model(nn.Module):
    """Everything Stage 2 trains: the student and (for VL2Lite/PAND terms) the align head, behind one forward
    so that DDP synchronises both."""

    def __init__(self, student: nn.Module, head: AlignHead | None = None) -> None:
        super().__init__()
        self.student, self.head = student, head

    def forward(self, x: torch.Tensor, teacher_feat: torch.Tensor | None = None, anchors: torch.Tensor | None = None):
        out = self.student(x)
        aligned = self.head(teacher_feat, anchors) if self.head is not None and teacher_feat is not None else None
        return out, aligned


def _stops_early(cfg: DistillConfig, epoch: int, best_epoch: int) -> bool:
    """The original's early stop (off when `early_stop_patience` is 0): `patience` epochs since the best test epoch."""
    return cfg.early_stop_patience > 0 and epoch - best_epoch >= cfg.early_stop_patience and epoch + 1 < cfg.epochs


def make_optimizer(cfg: DistillConfig, params) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """PAND: AdamW(lr, wd) + CosineAnnealingLR(T_max=100, eta_min=1e-5) stepped per epoch (rises and falls again
    after each T_max); the original code's recipe (`vl2lite-original`, `ce-original`): AdamW(lr, wd=0) + StepLR(30, 0.5)."""
    if cfg.spec.optimiser == "original":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.step_gamma)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.cosine_t_max, eta_min=cfg.cosine_eta_min)


def stage2_losses(
    cfg: DistillConfig,
    out,
    labels: torch.Tensor,
    teacher_feat: torch.Tensor | None,
    anchors: torch.Tensor | None,
    aligned: tuple[torch.Tensor, torch.Tensor] | None,
    epoch: int,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The total loss of one batch for `cfg.method`, and each term (for logging)."""
    spec = cfg.spec
    ce = F.cross_entropy(out.logits, labels)
    terms = {"ce": ce}
    if not spec.teacher:
        return ce, terms
    zero = ce.new_zeros(())
    teacher_logits = cfg.scale * teacher_feat @ anchors.t()  # Z^t = s·f·Θᵀ
    if spec.hinton:
        terms["hinton_kd"] = hinton_kd_loss(out.logits, teacher_logits, cfg.temperature)
        ce_w, distill_w = loss_weights(epoch, cfg.epochs)
        return ce_w * ce + distill_w * terms["hinton_kd"], terms
    a, u = aligned  # a_i = n(φ_v(f_i)), u_c = n(φ_t(Θ_c))
    terms["img"] = feature_alignment_loss(out.features, a)
    terms["kd"] = spec.kd_scale * text_kd_loss(out.features, u, teacher_feat, anchors, cfg.scale, cfg.temperature)
    terms["nlrd"] = nlrd_loss(out.logits, teacher_logits, cfg.nlrd_k, cfg.nlrd_group_size) if spec.nlrd else zero
    total = pand_total_loss(ce, terms["img"], terms["kd"], terms["nlrd"], epoch, cfg.epochs, cfg.beta)
    return total, terms


@torch.no_grad()
def in_memory(dataset, limit_bytes: int = 256 * 2**20):
    """`dataset` (fixed transform: a test or validation split) decoded and transformed once into a `TensorDataset`,
    when its tensors take at most `limit_bytes`; otherwise `dataset` itself. Evaluating every epoch then costs the
    model only — on the miniature, the decoding would cost more than the model; CUB's test split at 224 px (3.5 GB)
    stays on disk."""
    if len(dataset) == 0:
        return dataset
    x0, _ = dataset[0]
    if x0.numel() * x0.element_size() * len(dataset) > limit_bytes:
        return dataset
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return TensorDataset(torch.stack(xs), torch.tensor(ys))


def evaluate(model: nn.Module, dataset, cfg: DistillConfig, device: torch.device, d: Dist = Dist()) -> float:
    """Top-1 accuracy (%) on the *whole* dataset: no dropped batches; ranks score disjoint shards and sum."""
    was_training = model.training
    model.eval()
    shard = Subset(dataset, list(range(d.rank, len(dataset), d.world)))
    loader = DataLoader(shard, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.num_workers, drop_last=False)
    correct = seen = 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        if cfg.channels_last:
            x = x.to(memory_format=torch.channels_last)
        with _autocast(cfg, device):
            logits = model(x).logits
        correct += (logits.argmax(-1).cpu() == y).sum().item()
        seen += len(y)
    model.train(was_training)
    correct, seen = sum_across(d, correct, seen, device=device)
    if int(seen) != len(dataset):
        raise RuntimeError(f"evaluation scored {int(seen)} of {len(dataset)} images")
    return 100.0 * correct / seen


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This rank's batches of positions `0..n-1` for one epoch, as the original's DistributedSampler and DataLoader
    gave them: one seeded permutation, padded by its own head to a multiple of `world`, dealt round-robin, cut into
    batches of `batch_size` with the last partial batch *kept*; only a trailing batch of a single sample is dropped
    (BatchNorm cannot train on it at small resolutions and NLRD has no pair in it)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, epoch, 3))).tolist()
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
    batch k of an epoch is seeded by (seed, epoch, rank, k), so reruns and resumes see the same pixels."""
    for k, batch in enumerate(batches):
        sel = torch.tensor(batch, dtype=torch.long)
        images = decoded[sel].to(device, non_blocking=True)
        x = augment(images, augment.sample(len(sel), batch_generator(*keys, k)))
        yield x, targets[sel], sel, torch.full((len(sel),), -1)


def _autocast(cfg: DistillConfig, device: torch.device):
    if cfg.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_finite(total: torch.Tensor, terms: dict[str, torch.Tensor], epoch: int, step: int) -> None:
    if torch.isfinite(total):
        return
    bad = [k for k, v in terms.items() if not torch.isfinite(v)] or ["total"]
    raise NonFiniteLossError(
        f"loss became non-finite at epoch {epoch}, step {step} (term(s): {', '.join(bad)}); "
        "the last good checkpoint is intact — lower the learning rate or disable AMP and resume."
    )


def distill(
    cfg: DistillConfig,
    resume: bool = False,
    progress: bool | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> dict:
    """Run Stage 2 for `cfg` into `cfg.out` and return the result dict (also `result.json`)."""
    cfg.validate()
    spec = cfg.spec
    # --- cheap checks before anything heavy is loaded; under DDP rank 0 prepares shared files first -------
    device = resolve_device(cfg.device)
    d = init_distributed(device)
    if cfg.batch_size % d.world:
        raise ConfigError(f"batch_size {cfg.batch_size} must divide evenly over {d.world} processes.")
    if not d.main:
        barrier(d)
    data_root = resolve_data_root(cfg.profile, cfg.dataset, cfg.data_root)
    train_base = load_dataset(cfg.dataset, data_root, TRAIN_SPLIT[cfg.dataset])
    test_set = load_dataset(cfg.dataset, data_root, TEST_SPLIT, transform=paper_test_transform(cfg.image_size))
    classnames = train_base.classnames
    if spec.anchors == "learned":
        if cfg.anchors is None:
            raise ConfigError(f"method {cfg.method!r} needs Stage 1 anchors: run `calibrate` first (its anchors.pt is "
                              "found automatically for the same profile and data set), or pass --anchors PATH.")
        _, meta = load_anchors(cfg.anchors, num_classes=len(classnames))
        if meta.get("classnames") not in (None, classnames):
            raise ConfigError(f"anchors {cfg.anchors} were calibrated for other classes (data set {meta.get('dataset')!r}).")
    teacher_weights = resolve_teacher_weights(cfg.profile, cfg.teacher, cfg.teacher_weights) if spec.teacher else None
    student_start = resolve_student_pretrained(cfg.profile, cfg.student, cfg.student_pretrained, cfg.image_size)
    if d.main:
        barrier(d)
    run = RunDir(cfg.out, to_dict(cfg), resume=resume, main=d.main)
    try:
        skipped: list[str] = []
        if cfg.skip_bad_images:  # the explicit opt-in: unreadable images are left out and listed
            (train_base, test_set), skipped = drop_unreadable(train_base, test_set, progress=progress)
            for entry in skipped:
                run.log(f"skipped unreadable image {entry}")
        run.log(f"distill {cfg.method} on {cfg.dataset} ({len(train_base)} train / {len(test_set)} test), device {device}, world {d.world}")

        # --- teacher and anchors (only for methods that use them) -------------------------------------------
        torch.manual_seed(cfg.seed)
        teacher: Teacher | None = None
        anchors = None
        if spec.teacher:
            teacher = load_teacher(cfg.teacher, teacher_weights, device)
            run.log(f"teacher {teacher.name} from {teacher.source}")
            if spec.anchors == "hand":
                anchors = teacher.encode_text(train_base.prompts())
            else:
                anchors, _ = load_anchors(cfg.anchors, len(classnames), teacher.embed_dim,
                                          {"name": teacher.name, "pretrained": teacher.pretrained})
            anchors = anchors.to(device)

        # --- data: augmented training views, optional stratified validation hold-out ----------------------
        keep, held = (stratified_holdout(train_base.targets, cfg.val_fraction, cfg.seed) if cfg.val_fraction > 0
                      else (list(range(len(train_base))), []))
        # teacher_mode="bank": every method draws its images from the same V stored views per image (the methods of
        # one seed stay paired), and the teacher's features of those views come from the bank
        use_views = cfg.teacher_mode == "bank"
        use_bank = spec.teacher and use_views
        views = AugmentedViews(train_base, paper_train_transform(cfg.image_size, cfg.resize), cfg.seed,
                               views=cfg.bank_views if use_views else None, indices=keep)
        val_set = None
        if held:
            val_base = FGVCDataset(train_base.name, train_base.split, train_base.root, train_base.samples,
                                   classnames, train_base.template, transform=paper_test_transform(cfg.image_size))
            val_set = Subset(val_base, held)
        decoded = augment = targets = None
        if cfg.augment == "device":  # decode once to uint8 at the paper's resize; augment whole batches on the device
            if not d.main:
                barrier(d)
            decoded = decode_split(train_base, cfg.resize, cache_dir=default_cache(), progress=progress)
            if d.main:
                barrier(d)
            if device.type == "cuda":
                decoded = decoded.pin_memory()
            augment, targets = PaperAugment(cfg.image_size, cfg.resize), torch.tensor(train_base.targets)
        bank = row_of = None
        if use_views:
            t0 = time.perf_counter()
            if not d.main:
                barrier(d)  # rank 0 builds and caches the views and the bank; the others then read them
            held = view_tensors(views, cache_dir=default_cache(), batch_size=cfg.batch_size, progress=progress)
            if held is not None:  # small enough to hold: looked up, not transformed again, by every epoch and method
                views.hold(held)
            if use_bank:
                bank = build_bank(teacher, views, cache_dir=default_cache(), batch_size=cfg.batch_size,
                                  progress=progress, precision=cfg.teacher_precision)
            if d.main:
                barrier(d)
            if use_bank:
                row_of = torch.full((len(train_base),), -1, dtype=torch.long)
                row_of[torch.tensor(keep)] = torch.arange(len(keep))
            run.log(f"{cfg.bank_views} views per image{' held in memory' if held is not None else ''}"
                    f"{f', teacher bank {tuple(bank.shape)}' if use_bank else ''} ready in {time.perf_counter() - t0:.1f} s")

        # --- student, align head, optimiser ---------------------------------------------------------------
        torch.manual_seed(cfg.seed)
        student = build_student(cfg.student, len(classnames), pretrained=student_start,
                                weights=cfg.student_weights, keep_dropout=cfg.spec.keep_dropout)
        head = AlignHead(teacher.embed_dim, student.feat_dim) if spec.feature_terms else None
        if d.active and device.type == "cuda":
            student = nn.SyncBatchNorm.convert_sync_batchnorm(student)  # the original's SyncBN over the global batch
        student.to(device)
        if cfg.channels_last:
            student.to(memory_format=torch.channels_last)
        trainable = Stage2Model(student, head).to(device)
        opt, sched = make_optimizer(cfg, trainable.parameters())
        model: nn.Module = trainable
        if d.active:
            model = nn.parallel.DistributedDataParallel(trainable, device_ids=[d.local_rank] if device.type == "cuda" else None)

        # --- resume ------------------------------------------------------------------------------------------
        start, best = 0, {"test_acc_best": -1.0, "best_epoch": -1, "val_acc_best": -1.0, "val_selected_test_acc": None}
        train_time = 0.0
        if resume and run.last.exists():
            ckpt = load_checkpoint(run.last)
            stopped = _stops_early(cfg, ckpt["epoch"], ckpt["best"]["best_epoch"])
            if (ckpt["epoch"] + 1 >= cfg.epochs or stopped) and (run.path / "result.json").exists():
                run.log("resume: the run had already finished; nothing to do")
                shutdown(d)
                return json.loads((run.path / "result.json").read_text())
            trainable.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            start, best, train_time = ckpt["epoch"] + 1, ckpt["best"], ckpt["train_time_s"]
            run.keep_metrics_through(ckpt["epoch"])
            run.log(f"resumed after epoch {ckpt['epoch']}")
        elif d.main:
            run.keep_metrics_through(-1)

        # --- the loop ----------------------------------------------------------------------------------------
        test_eval, val_eval = in_memory(test_set), (in_memory(val_set) if val_set is not None else None)
        local_batch = cfg.batch_size // d.world
        record: dict = {}
        stopped_at = None
        bar = Progress(range(start, cfg.epochs), f"Stage 2: {cfg.method} (epochs)", progress=d.main and progress_enabled(progress),
                       report=d.main)
        for epoch in bar:
            t_epoch = time.perf_counter()
            views.set_epoch(epoch)
            batches = epoch_batches(len(views), local_batch, cfg.seed, epoch, d.rank, d.world)
            if decoded is None:
                loader = DataLoader(views, batch_sampler=batches, num_workers=cfg.num_workers,
                                    pin_memory=device.type == "cuda")
            else:
                loader = device_batches(decoded, targets, [[views.indices[i] for i in b] for b in batches], augment,
                                        (cfg.seed, epoch, d.rank), device)
            trainable.train()
            sums: dict[str, float] = {}
            n_seen = correct = 0
            for step, (x, y, index, view) in enumerate(loader):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if cfg.channels_last:
                    x = x.to(memory_format=torch.channels_last)
                f = None
                if spec.teacher:
                    if use_bank:
                        f = bank[row_of[index], view].to(device)
                    else:
                        with torch.inference_mode(), teacher_autocast(cfg.teacher_precision, device):
                            f = teacher.encode_image(x)
                        f = f.clone().float()
                with _autocast(cfg, device):
                    out, aligned = model(x, f, anchors)
                    total, terms = stage2_losses(cfg, out, y, f, anchors, aligned, epoch)
                _check_finite(total, terms, epoch, step)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                bs = len(y)
                n_seen += bs
                correct += (out.logits.argmax(-1) == y).sum().item()
                for k, v in {"loss": total, **terms}.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * bs
            lr = opt.param_groups[0]["lr"]
            sched.step()
            train_time += time.perf_counter() - t_epoch
            totals = sum_across(d, n_seen, correct, *sums.values(), device=device)
            n_all = max(totals[0], 1.0)
            test_acc = evaluate(trainable.student, test_eval, cfg, device, d)
            val_acc = evaluate(trainable.student, val_eval, cfg, device, d) if val_eval is not None else None
            ce_w, distill_w = loss_weights(epoch, cfg.epochs)
            record = {"epoch": epoch, "lr": lr, "alpha": ce_w if cfg.method != "ce" else 1.0,
                      **{k: s / n_all for k, s in zip(sums, totals[2:])},
                      "train_acc": 100.0 * totals[1] / n_all, "test_acc": test_acc, "val_acc": val_acc,
                      "epoch_time_s": time.perf_counter() - t_epoch}
            is_best = test_acc > best["test_acc_best"]
            if is_best:
                best.update(test_acc_best=test_acc, best_epoch=epoch)
            if val_acc is not None and val_acc > best["val_acc_best"]:
                best.update(val_acc_best=val_acc, val_selected_test_acc=test_acc, val_selected_epoch=epoch)
            if d.main:
                run.append_metrics(record)
                state = {"epoch": epoch, "model": trainable.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "best": best, "train_time_s": train_time, "config": to_dict(cfg)}
                save_checkpoint(run.last, state)
                if is_best:
                    save_checkpoint(run.best, {"epoch": epoch, "model": trainable.state_dict(), "config": to_dict(cfg)})
            barrier(d)
            bar.set_postfix(loss=f"{record['loss']:.3f}", test=f"{test_acc:.1f}")
            if on_epoch_end is not None:
                on_epoch_end(record)
            if _stops_early(cfg, epoch, best["best_epoch"]):  # every rank sees the same test accuracy
                stopped_at = epoch
                run.log(f"early stop after epoch {epoch}: no better test accuracy for {cfg.early_stop_patience} epochs "
                        f"(best {best['test_acc_best']:.2f} % at epoch {best['best_epoch']}; the original's rule, on test)")
                break

        result = {
            "method": cfg.method,
            "dataset": cfg.dataset,
            "student": cfg.student,
            "student_start": {True: f"ImageNet ({cfg.student_weights})", False: "random weights"}.get(student_start, student_start),
            "teacher": None if teacher is None else teacher.describe(),
            "teacher_mode": (cfg.teacher_mode if spec.teacher else "none"),
            "train_views": f"{cfg.bank_views} stored views per image" if use_views else "a new view every epoch",
            "anchors": spec.anchors if spec.anchors != "learned" else cfg.anchors,
            "epochs": cfg.epochs,
            "seed": cfg.seed,
            "profile": cfg.profile,
            "world_size": d.world,
            "test_acc_last": record.get("test_acc"),
            "test_acc_best": best["test_acc_best"],
            "best_epoch": best["best_epoch"],
            "teacher_precision": cfg.teacher_precision if teacher is not None else None,
            "early_stop_patience": cfg.early_stop_patience,
            "stopped_early_at_epoch": stopped_at,
            "test_acc_best_note": ("best epoch chosen on the test split, as the paper chose it, scored on every test image "
                                   "(the original dropped each GPU's last incomplete batch): optimistic"),
            "val_selected_test_acc": best["val_selected_test_acc"],
            "test_images_scored": len(test_set),
            "skipped_images": skipped,
            "train_time_s": train_time,
            "environment": environment(),
        }
        if d.main:
            run.write_result(result)
            run.log(f"done: test_acc_last {result['test_acc_last']:.2f}, best {result['test_acc_best']:.2f} @ {result['best_epoch']}")
        shutdown(d)
        return result
    finally:
        run.close()


def lr_schedule(cfg: DistillConfig, epochs: int | None = None) -> list[float]:
    """The learning rate of every epoch that `make_optimizer` gives `cfg` (PAND's cosine restarts, or StepLR)."""
    opt, sched = make_optimizer(cfg, [nn.Parameter(torch.zeros(1))])
    lrs = []
    for _ in range(epochs or cfg.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs
