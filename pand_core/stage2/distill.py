"""Stage 2 — Neighborhood-aware Structural Distillation (the method page, Stage 2): one plain PyTorch training loop.

Run it from the command line, after Stage 1 (`python -m pand_core calibrate`) of the same profile, data set and
seed:

.. code-block:: shell

    python -m pand_core distill --profile smoke --method pand

A method with learned anchors reads the anchors that Stage 1 wrote for its seed, here
`runs/smoke/cub/calibrate-s0/anchors.pt` (`$PAND_RUNS/<profile>/<dataset>/calibrate-s<seed>/anchors.pt`);
`--anchors PATH` reads another file.

Every method of `config.METHODS` runs through the same step (`train_step`); what differs is which teacher targets
exist (`targets.make_targets`) and which loss terms are added (`stage2_losses`). The step never waits for the
device: its losses, counts and finite-check add up on the device and are read once per epoch. The test split is
evaluated in full every epoch (every `test_every` epochs and after the last, when that is set). A write that fails
(full disk, no rights) stops the run with one `OutputError` naming the last good epoch and how to resume.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset

from ..infra.batched import map_batches
from ..config import DistillConfig, config_changes, to_dict
from ..infra.devices import resolve_device
from ..infra.distributed import Dist, barrier, init_distributed, main_process_first, shutdown, sum_across
from ..infra.environment import environment
from ..infra.errors import ConfigError, OutputError
from ..data import class_names_record
from .feeding import Stage2Data, load_sources, prepare
from ..infra.meter import EpochMeter
from ..method.losses import ce_weight, feature_alignment_loss, hinton_kd_loss, loss_weights, nlrd_loss, pand_total_loss, text_kd_loss
from ..models import AlignHead, build_student
from ..infra.progress import Progress, progress_enabled
from ..infra.rundir import RunDir, load_checkpoint, save_checkpoint, started
from .targets import TeacherTargets

CHECK_EVERY = 50  # steps between reads of the device-side finite-check (one host synchronisation each)
STAGE2_ADVICE = ("the last good checkpoint is intact; run again into a new --out with a lower learning rate or "
                 "without --amp (a resume keeps the run's config).")


class Stage2Model(nn.Module):
    """Everything Stage 2 trains: the student and (for VL2Lite/PAND terms) the align head, behind one forward
    so that DDP synchronises both.

    Args:
        student: The `Student`.
        head: The `AlignHead`; None for a method without feature terms.
    """

    def __init__(self, student: nn.Module, head: AlignHead | None = None) -> None:
        super().__init__()
        self.student, self.head = student, head

    def forward(self, x: torch.Tensor, teacher_feat: torch.Tensor | None = None, anchors: torch.Tensor | None = None):
        """`(StudentOutput, aligned)`: the student's output for `x`, and the align head's `(a, u)` or None.

        Args:
            x: A training batch of images `[B, 3, H, W]`.
            teacher_feat: The teacher's features f `[B, D]` of the batch; None: no head output.
            anchors: The class anchors Θ `[C, D]`, given with `teacher_feat`.
        """
        out = self.student(x)
        aligned = self.head(teacher_feat, anchors) if self.head is not None and teacher_feat is not None else None
        return out, aligned


def _stops_early(cfg: DistillConfig, epoch: int, best_epoch: int) -> bool:
    """The original's early stop (off when `early_stop_patience` is 0): `patience` epochs since the best test epoch."""
    return cfg.early_stop_patience > 0 and epoch - best_epoch >= cfg.early_stop_patience and epoch + 1 < cfg.epochs


def make_optimizer(cfg: DistillConfig, params) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """PAND: AdamW(lr, wd) + CosineAnnealingLR(T_max=100, eta_min=1e-5) stepped per epoch (rises and falls again
    after each T_max); the original code's recipe (`vl2lite-original`, `ce-original`): AdamW(lr, wd=0) + StepLR(30, 0.5).

    Args:
        cfg: The Stage 2 config: its method's `optimiser`, lr, weight_decay and schedule fields.
        params: The parameters to train.
    """
    if cfg.spec.optimiser == "original":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.step_gamma)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.cosine_t_max, eta_min=cfg.cosine_eta_min)


def build_stage2(cfg: DistillConfig, num_classes: int, embed_dim: int | None, device: torch.device,
                 student_start: bool | str = False, sync_bn: bool = False):
    """The trained modules of `cfg` on `device` (student, and the align head when `cfg.method` has feature terms;
    seeded by `cfg.seed`), with their optimiser and schedule: `(Stage2Model, optimiser, scheduler)`.

    Args:
        cfg: The Stage 2 config.
        num_classes: C, the student classifier's outputs.
        embed_dim: The teacher's embedding size D, the align head's input; None without a teacher.
        device: Where the modules are put.
        student_start: The student's start, `build_student`'s `pretrained`: True, a state-dict path or False.
        sync_bn: Convert the student's BatchNorm layers to SyncBatchNorm (DDP on CUDA).
    """
    torch.manual_seed(cfg.seed)
    student = build_student(cfg.student, num_classes, pretrained=student_start, weights=cfg.student_weights,
                            keep_dropout=cfg.spec.keep_dropout)
    head = AlignHead(embed_dim, student.feat_dim) if cfg.spec.feature_terms else None
    if sync_bn:
        student = nn.SyncBatchNorm.convert_sync_batchnorm(student)  # the original's SyncBN over the global batch
    model = Stage2Model(student, head).to(device)
    if cfg.channels_last:
        model.student.to(memory_format=torch.channels_last)
    opt, sched = make_optimizer(cfg, model.parameters())
    return model, opt, sched


def stage2_losses(
    cfg: DistillConfig,
    out,
    labels: torch.Tensor,
    teacher_feat: torch.Tensor | None,
    anchors: torch.Tensor | None,
    aligned: tuple[torch.Tensor, torch.Tensor] | None,
    epoch: int,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The total loss of one batch for `cfg.method` (`pand_total_loss`, Hinton KD or CE alone), and each term (for
    logging).

    Args:
        cfg: The Stage 2 config: its method's loss switches and the loss constants.
        out: The student's `StudentOutput` for the batch.
        labels: The batch's class indices `[B]`.
        teacher_feat: The teacher's features f `[B, D]`; None for a method without a teacher.
        anchors: The class anchors Θ `[C, D]`; None without a teacher.
        aligned: The align head's `(a, u)`; None without feature terms.
        epoch: The 0-based epoch, which sets α.
    """
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


def _autocast(cfg: DistillConfig, device: torch.device):
    if cfg.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model: nn.Module, opt: torch.optim.Optimizer, cfg: DistillConfig, targets: TeacherTargets | None,
               anchors: torch.Tensor | None, batch, epoch: int, meter: EpochMeter) -> None:
    """One Stage 2 step on `batch = (x, y, index, view)` (the method page, Stage 2): the teacher's features for the batch, the
    loss of `cfg.method` under autocast, backward and the optimiser step; the losses go to `meter`, on the device.

    Args:
        model: The `Stage2Model`, or its DDP wrapper.
        opt: Its optimiser.
        cfg: The Stage 2 config.
        targets: The teacher targets (`make_targets`); None for a method without a teacher.
        anchors: The class anchors Θ `[C, D]` on the device; None without a teacher.
        batch: `(x, y, index, view)`: images, labels, and the data set indices and view numbers that select the
            teacher's targets.
        epoch: The 0-based epoch.
        meter: The epoch's `EpochMeter`; the step runs on its device.
    """
    x, y, index, view = batch
    device = meter.device
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if cfg.channels_last:
        x = x.to(memory_format=torch.channels_last)
    f = targets.features(x, index, view) if targets is not None else None
    with _autocast(cfg, device):
        out, aligned = model(x, f, anchors)
        total, terms = stage2_losses(cfg, out, y, f, anchors, aligned, epoch)
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    meter.add(total, terms, out.logits, y)


def train_one_epoch(model: nn.Module, opt: torch.optim.Optimizer, cfg: DistillConfig, targets: TeacherTargets | None,
                    anchors: torch.Tensor | None, batches: Iterable, epoch: int, device: torch.device,
                    d: Dist = Dist()) -> dict[str, float]:
    """`train_step` over every batch of one epoch: the mean of each loss term and the training accuracy; raises
    `NonFiniteLossError` (checked every `CHECK_EVERY` steps and at the end) before the caller can save anything.

    Args:
        model: The `Stage2Model`, or its DDP wrapper; put in training mode.
        opt: Its optimiser.
        cfg: The Stage 2 config.
        targets: The teacher targets; None for a method without a teacher.
        anchors: The class anchors Θ `[C, D]`; None without a teacher.
        batches: The epoch's batches `(x, y, index, view)` (`Stage2Data.batches(epoch)`).
        epoch: The 0-based epoch.
        device: Where the steps run.
        d: The process group (`init_distributed`); the means are summed over its ranks.
    """
    meter = EpochMeter(device, "Stage 2", STAGE2_ADVICE)
    model.train()
    for step, batch in enumerate(batches):
        train_step(model, opt, cfg, targets, anchors, batch, epoch, meter)
        if (step + 1) % CHECK_EVERY == 0:
            meter.check(epoch)
    meter.check(epoch)
    return meter.read(d)


def evaluate(model: nn.Module, dataset, cfg: DistillConfig, device: torch.device, d: Dist = Dist()) -> tuple[float, int]:
    """Top-1 accuracy (%) on the *whole* dataset and the number of images scored: no dropped batches; ranks score
    disjoint shards and sum.

    Args:
        model: The student; its output's `logits` are scored.
        dataset: The split to score, at the test transform.
        cfg: The Stage 2 config: batch_size, num_workers, amp and channels_last are read.
        device: Where the model runs.
        d: The process group; each rank scores every `world`-th image.
    """
    was_training = model.training
    model.eval()
    shard = Subset(dataset, list(range(d.rank, len(dataset), d.world)))
    logits, labels = map_batches(lambda x: model(x).logits, shard, cfg.batch_size, device, cfg.num_workers,
                                 context=lambda: _autocast(cfg, device), channels_last=cfg.channels_last)
    model.train(was_training)
    correct, seen = sum_across(d, int((logits.argmax(-1) == labels).sum()), len(labels), device=device)
    if int(seen) != len(dataset):
        raise RuntimeError(f"evaluation scored {int(seen)} of {len(dataset)} images")
    return 100.0 * correct / seen, int(seen)


# ------------------------------------------------------------------------------ what distill() is made of
def _scores_test(cfg: DistillConfig, epoch: int) -> bool:
    """Whether epoch `epoch` (0-based) scores the test split: every `test_every`-th epoch and the last."""
    return (epoch + 1) % cfg.test_every == 0 or epoch + 1 == cfg.epochs


def _result(cfg: DistillConfig, data: Stage2Data, student_start, world: int, test_acc_last: float | None,
            scored: int | None, best: dict, stopped_at: int | None, train_time: float) -> dict:
    """The run's `result.json`: what ran, on what, and its accuracies (last, best on test, validation-selected)."""
    teacher = data.teacher
    return {
        "method": cfg.method,
        "dataset": cfg.dataset,
        "student": cfg.student,
        "student_start": {True: f"ImageNet ({cfg.student_weights})", False: "random weights"}.get(student_start, student_start),
        "teacher": None if teacher is None else teacher.describe(),
        "teacher_mode": data.targets.mode if data.targets is not None else "none",
        "train_views": data.train_views,
        "anchors": cfg.spec.anchors if cfg.spec.anchors != "learned" else cfg.anchors,
        "class_names": class_names_record(data.train, cfg.class_names) if teacher is not None else None,
        "labels": list(data.train.classnames),  # the class of each output index, in label order
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "profile": cfg.profile,
        "world_size": world,
        "test_acc_last": test_acc_last,
        "test_acc_best": best["test_acc_best"],
        "best_epoch": best["best_epoch"],
        "teacher_precision": cfg.teacher_precision if teacher is not None else None,
        "early_stop_patience": cfg.early_stop_patience,
        "stopped_early_at_epoch": stopped_at,
        "test_acc_best_note": ("best epoch chosen on the test split, as the paper chose it, scored on every test image "
                               "(the original dropped each GPU's last incomplete batch): optimistic"),
        "val_selected_test_acc": best["val_selected_test_acc"],
        "test_images_scored": scored,
        "skipped_images": data.skipped,
        "train_time_s": train_time,
        "environment": environment(),
    }


def _track_best(best: dict, epoch: int, test_acc: float, val_acc: float | None) -> bool:
    """Update the best test epoch (the paper's choice) and the validation-selected one; True for a new best test."""
    if val_acc is not None and val_acc > best["val_acc_best"]:
        best.update(val_acc_best=val_acc, val_selected_test_acc=test_acc, val_selected_epoch=epoch)
    if test_acc > best["test_acc_best"]:
        best.update(test_acc_best=test_acc, best_epoch=epoch)
        return True
    return False


def _starting_point(cfg: DistillConfig, run: RunDir, resume: bool, parts: tuple):
    """`(first epoch, best-so-far, train time, None)` of a new or resumed run, with `parts` (model, optimiser,
    scheduler) restored from the last checkpoint; `(..., result)` when the resumed run had already finished."""
    best = {"test_acc_best": -1.0, "best_epoch": -1, "val_acc_best": -1.0, "val_selected_test_acc": None}
    if not (resume and run.last.exists()):
        run.keep_metrics_through(-1)
        return 0, best, 0.0, None
    ckpt = load_checkpoint(run.last)
    done = ckpt["epoch"] + 1 >= cfg.epochs or _stops_early(cfg, ckpt["epoch"], ckpt["best"]["best_epoch"])
    if done and (run.path / "result.json").exists():
        run.log("resume: the run had already finished; nothing to do")
        return 0, best, 0.0, json.loads((run.path / "result.json").read_text())
    for part, key in zip(parts, ("model", "optimizer", "scheduler")):
        part.load_state_dict(ckpt[key])
    run.keep_metrics_through(ckpt["epoch"])
    run.log(f"resumed after epoch {ckpt['epoch']}")
    return ckpt["epoch"] + 1, ckpt["best"], ckpt["train_time_s"], None


def _save_epoch(run: RunDir, cfg: DistillConfig, parts: tuple, epoch: int, best: dict, train_time: float,
                is_best: bool) -> None:
    """The checkpoints after `epoch` (rank 0): `best` at a new best test epoch, then `last` with everything a resume
    needs (written last: a complete `last` means the epoch is saved); written by rename, never half a file."""
    model, opt, sched = parts
    if is_best:
        save_checkpoint(run.best, {"epoch": epoch, "model": model.state_dict(), "config": to_dict(cfg)})
    save_checkpoint(run.last, {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                               "scheduler": sched.state_dict(), "best": best, "train_time_s": train_time,
                               "config": to_dict(cfg)})


def _saved_epoch(cfg: DistillConfig) -> int | None:
    """The epoch that `checkpoint_last.pt` in `cfg.out` holds; None when there is none (or it cannot be read)."""
    try:
        return int(load_checkpoint(Path(cfg.out) / "checkpoint_last.pt")["epoch"])
    except Exception:
        return None


def _cannot_write(e: OutputError, cfg: DistillConfig, saved: int | None, done: bool) -> OutputError:
    """`e` plus what Stage 2 kept (`saved`: the last epoch whose `checkpoint_last.pt` is complete, epochs from 0 as
    in run.log; `done`: no epoch is left to train) and the command that goes on from there."""
    again = (f"run the same command again with --resume (the same flags and --out {cfg.out}; in Python "
             "`distill(cfg, resume=True)`); a study or the pipeline resumes it by itself when run again")
    if not started(cfg.out):
        kept, how = "Nothing of Stage 2 was trained", "run the same command again"
    elif saved is None:
        kept, how = "No epoch of Stage 2 was saved yet", f"{again}; it starts at epoch 0"
    elif done:
        kept, how = (f"Every epoch of Stage 2 was trained and saved (the last, epoch {saved}, in checkpoint_last.pt; "
                     "epochs count from 0, as in run.log)"), f"{again}; it only writes result.json"
    else:
        kept, how = (f"Stage 2 stopped after epoch {saved}, the last good one ({saved + 1} of {cfg.epochs} epochs "
                     "done; epochs count from 0, as in run.log and metrics.jsonl), whose checkpoint_last.pt is "
                     "complete"), f"{again}; it goes on at epoch {saved + 1}"
    return OutputError(f"{e} {kept}: once there is room, {how}.")


def _resumed_state(cfg: DistillConfig, run: RunDir, data: Stage2Data, start: int, best: dict) -> tuple[dict, int | None, int | None]:
    """After a resume at epoch `start` (0: a fresh run): the last saved epoch's metrics record, the epoch an early
    stop ended the run at (None: none) and the test images scored — what the result needs when no epoch is left."""
    if start == 0:
        return {}, None, None
    record = next((r for r in run.read_metrics() if r.get("epoch") == start - 1), {})
    scored = len(data.test_eval) if record.get("test_acc") is not None else None
    return record, (start - 1 if _stops_early(cfg, start - 1, best["best_epoch"]) else None), scored


def _one_epoch(cfg: DistillConfig, run: RunDir, d: Dist, data: Stage2Data, parts: tuple, model: nn.Module, epoch: int,
               best: dict, train_time: float, scored: int | None, device: torch.device) -> tuple[dict, int | None, float]:
    """Train and score epoch `epoch`, append its metrics record and save its checkpoints (rank 0); returns the
    record, the test images scored and the training time so far."""
    trainable, opt, sched = parts
    t_epoch = time.perf_counter()
    lr = opt.param_groups[0]["lr"]
    train_stats = train_one_epoch(model, opt, cfg, data.targets, data.anchors, data.batches(epoch), epoch, device, d)
    sched.step()
    train_time += time.perf_counter() - t_epoch
    test_acc = val_acc = None
    if _scores_test(cfg, epoch):
        test_acc, scored = evaluate(trainable.student, data.test_eval, cfg, device, d)
        if data.val_eval is not None:
            val_acc = evaluate(trainable.student, data.val_eval, cfg, device, d)[0]
    record = {"epoch": epoch, "lr": lr, "alpha": ce_weight(cfg.spec.teacher, epoch, cfg.epochs),
              **train_stats, "test_acc": test_acc, "val_acc": val_acc, "epoch_time_s": time.perf_counter() - t_epoch}
    is_best = test_acc is not None and _track_best(best, epoch, test_acc, val_acc)
    if d.main:
        run.append_metrics(record)
        _save_epoch(run, cfg, parts, epoch, best, train_time, is_best)
    barrier(d)
    return record, scored, train_time


def distill(cfg: DistillConfig, resume: bool = False, progress: bool | None = None,
            on_epoch_end: Callable[[dict], None] | None = None) -> dict:
    """Run Stage 2 for `cfg` into `cfg.out` and return the result dict (also `result.json`): setup (sources, data,
    model, the resumed starting point), the epoch loop, the result.

    Args:
        cfg: The Stage 2 config (`make_config("distill", ...)`); validated here.
        resume: Continue the run in `cfg.out` from its last checkpoint (same config); a finished run is returned as
            it is. False refuses a folder that already holds a run.
        progress: Draw progress bars; None: only on a terminal (`progress_enabled`).
        on_epoch_end: Called with each epoch's metrics record (also appended to `metrics.jsonl`).
    """
    cfg.validate()
    device = resolve_device(cfg.device)
    d = init_distributed(device)
    if cfg.batch_size % d.world:
        raise ConfigError(f"batch_size {cfg.batch_size} must divide evenly over {d.world} processes.")
    with main_process_first(d):
        sources = load_sources(cfg)
    # The last epoch whose checkpoint_last.pt is complete (read from the folder until the loop knows it), and
    # whether no epoch is left to train: what a failed write reports.
    saved = {"known": False, "epoch": None, "done": False}
    try:
        run = RunDir(cfg.out, to_dict(cfg), resume=resume, main=d.main, changes=config_changes)
    except OutputError as e:
        raise _cannot_write(e, cfg, _saved_epoch(cfg) if resume else None, False) from (e.__cause__ or e)
    try:
        data = prepare(cfg, sources, device, d, run.log, progress)
        trainable, opt, sched = build_stage2(cfg, data.num_classes, data.teacher and data.teacher.embed_dim, device,
                                             sources.student_start, sync_bn=d.active and device.type == "cuda")
        model = (nn.parallel.DistributedDataParallel(trainable, device_ids=[d.local_rank] if device.type == "cuda" else None)
                 if d.active else trainable)
        start, best, train_time, finished = _starting_point(cfg, run, resume, (trainable, opt, sched))
        if finished is not None:
            shutdown(d)
            return finished
        record, stopped_at, scored = _resumed_state(cfg, run, data, start, best)
        saved.update(known=True, epoch=start - 1 if start > 0 else None, done=start >= cfg.epochs or stopped_at is not None)
        if saved["done"]:
            run.log("resume: every epoch was trained; writing result.json")
        bar = Progress(range(start, cfg.epochs if stopped_at is None else start), f"Stage 2: {cfg.method} (epochs)",
                       progress=d.main and progress_enabled(progress), report=d.main)
        for epoch in bar:
            record, scored, train_time = _one_epoch(cfg, run, d, data, (trainable, opt, sched), model, epoch, best,
                                                    train_time, scored, device)
            saved.update(epoch=epoch, done=epoch + 1 == cfg.epochs or _stops_early(cfg, epoch, best["best_epoch"]))
            bar.set_postfix(loss=f"{record['loss']:.3f}", test="-" if record["test_acc"] is None else f"{record['test_acc']:.1f}")
            if on_epoch_end is not None:
                on_epoch_end(record)
            if _stops_early(cfg, epoch, best["best_epoch"]):  # every rank sees the same test accuracy
                stopped_at = epoch
                run.log(f"early stop after epoch {epoch}: no better test accuracy for {cfg.early_stop_patience} epochs "
                        f"(best {best['test_acc_best']:.2f} % at epoch {best['best_epoch']}; the original's rule, on test)")
                break
        result = _result(cfg, data, sources.student_start, d.world, record.get("test_acc"), scored, best, stopped_at,
                         train_time)
        if d.main:
            run.write_result(result)
            run.log(f"done: test_acc_last {result['test_acc_last']:.2f}, best {result['test_acc_best']:.2f} @ {result['best_epoch']}")
        shutdown(d)
        return result
    except OutputError as e:  # a write of the run folder, a cache or the bank failed (no space, no rights)
        epoch = saved["epoch"] if saved["known"] else _saved_epoch(cfg) if resume else None
        raise _cannot_write(e, cfg, epoch, saved["done"]) from (e.__cause__ or e)
    finally:
        run.close()


def lr_schedule(cfg: DistillConfig, epochs: int | None = None) -> list[float]:
    """The learning rate of every epoch that `make_optimizer` gives `cfg` (PAND's cosine restarts, or StepLR).

    Args:
        cfg: The Stage 2 config whose optimiser recipe is replayed.
        epochs: How many epochs to list; None: `cfg.epochs`.
    """
    opt, sched = make_optimizer(cfg, [nn.Parameter(torch.zeros(1))])
    lrs = []
    for _ in range(epochs or cfg.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs
