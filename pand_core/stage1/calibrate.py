"""Stage 1 run — Prompt-aware Semantic Calibration (the method page, Stage 1), from data to an anchors file.

Run it from the command line (the smoke profile, seed 0):

.. code-block:: shell

    python -m pand_core calibrate --profile smoke

It writes its run folder `runs/smoke/cub/calibrate-s0/` (in general
`$PAND_RUNS/<profile>/<dataset>/calibrate-s<seed>/`, `$PAND_RUNS` defaulting to `runs`; `--out` names another),
where Stage 2 reads its `anchors.pt`.

Teacher features are computed once per split (and cached); the prompt learner trains on them; the anchors of
the selected epoch are saved with everything Stage 2 needs to check that they fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..assets import run_assets
from ..config import CalibrateConfig, config_changes, to_dict
from ..data import class_names_record, describe_class_names, describe_template, load_dataset
from ..data.base import FGVCDataset, skip_unreadable
from ..data.splits import TEST_SPLIT, TRAIN_SPLIT, official_val_split, stratified_holdout
from ..infra.devices import resolve_device
from ..infra.environment import environment
from ..models.features import accuracy, cached_features, zero_shot_logits
from ..models import Teacher, load_teacher
from .prompts import PromptLearner, prompt_autocast_dtype, save_anchors, train_prompts
from ..infra.rundir import RunDir

SELECTION_NOTES = {
    "last": "anchors of the last epoch (no selection)",
    "val": "anchors of the epoch with the best accuracy on a stratified hold-out of train",
    "official-val": "anchors of the epoch with the best accuracy on the data set's official validation split",
    "test": "ORIGINAL PROTOCOL: anchors of the epoch with the best TEST accuracy (optimistic)",
}

Features = tuple[torch.Tensor, torch.Tensor]  # a split's teacher features [N, D] and class indices [N]


@dataclass
class Stage1Splits:
    """The data sets of one Stage 1 run: `train` fits the prompts, `test` scores them, and `val` (the data set's
    official validation split, or None) selects them."""

    train: FGVCDataset
    test: FGVCDataset
    val: FGVCDataset | None = None


@dataclass
class Stage1Features:
    """The teacher's features of each split: `fit` trains the prompts; `held` (named `held_name`, "test" or "val")
    selects and early-stops them; `seconds` times the train and test extraction."""

    train: Features
    test: Features
    fit: Features
    held: Features
    held_name: str
    seconds: float


@dataclass
class Stage1Fit:
    """The prompt learner's training: the anchors of the selected epoch and how the run went."""

    anchors: torch.Tensor
    epoch: int
    epochs_run: int
    stopped_at: int | None
    seconds: float
    autocast: str


# ------------------------------------------------------------------------------ setup
def _uses_official_val(cfg: CalibrateConfig) -> bool:
    """Whether `cfg` selects on the data set's official validation split (select_on "val" where one exists)."""
    return cfg.select_on == "val" and official_val_split(cfg.dataset, cfg.data_root) is not None


def _selection_note(cfg: CalibrateConfig) -> str:
    """The `SELECTION_NOTES` line that says how `cfg`'s anchors are selected."""
    return SELECTION_NOTES["official-val" if _uses_official_val(cfg) else cfg.select_on]


def load_splits(cfg: CalibrateConfig, data_root: str | Path) -> Stage1Splits:
    """The train and test splits of `cfg.dataset` under `data_root`, and its official validation split when `cfg`
    selects on it."""
    def load(split: str) -> FGVCDataset:
        return load_dataset(cfg.dataset, data_root, split, class_names=cfg.class_names, template=cfg.template)

    train, test = load(TRAIN_SPLIT[cfg.dataset]), load(TEST_SPLIT)
    return Stage1Splits(train, test, load(official_val_split(cfg.dataset, data_root)) if _uses_official_val(cfg) else None)


def _readable(cfg: CalibrateConfig, splits: Stage1Splits, run: RunDir,
              progress: bool | None) -> tuple[Stage1Splits, list[str]]:
    """`splits` without their unreadable images when `cfg.skip_bad_images` (`skip_unreadable`), and those skipped."""
    present = [s for s in (splits.train, splits.test, splits.val) if s is not None]
    cleaned, skipped = skip_unreadable(cfg.skip_bad_images, *present, log=run.log, progress=progress)
    return Stage1Splits(cleaned[0], cleaned[1], cleaned[2] if splits.val is not None else None), skipped


def teacher_features(cfg: CalibrateConfig, teacher: Teacher, splits: Stage1Splits,
                     progress: bool | None) -> Stage1Features:
    """The teacher's (cached) features of train and test, and the fit / held-out pair that `cfg.select_on` asks for:
    the official validation split, a stratified hold-out of train, or (the original's) test."""
    def extract(dataset: FGVCDataset) -> Features:
        return cached_features(teacher, dataset, cfg.cache, cfg.batch_size, progress=progress,
                               precision=cfg.teacher_precision)

    t0 = time.perf_counter()
    train, test = extract(splits.train), extract(splits.test)
    seconds = time.perf_counter() - t0
    if splits.val is not None:
        return Stage1Features(train, test, fit=train, held=extract(splits.val), held_name="val", seconds=seconds)
    if cfg.select_on == "val":
        keep, held = stratified_holdout(train[1].tolist(), cfg.val_fraction, cfg.seed)
        return Stage1Features(train, test, fit=(train[0][keep], train[1][keep]), held=(train[0][held], train[1][held]),
                              held_name="val", seconds=seconds)
    return Stage1Features(train, test, fit=train, held=test, held_name="test", seconds=seconds)


def _accuracies(feats: Stage1Features, weights: torch.Tensor, scale: float) -> dict[str, float]:
    """Zero-shot top-1 accuracy (%) of the class `weights` on train, test and (when it is one) the validation split."""
    scored = {"train": feats.train, "test": feats.test, **({"val": feats.held} if feats.held_name == "val" else {})}
    return {name: accuracy(zero_shot_logits(f, weights, scale), y) for name, (f, y) in scored.items()}


# ------------------------------------------------------------------------------ the training loop
def _epoch_recorder(run: RunDir, cfg: CalibrateConfig, learner: PromptLearner, held_name: str,
                    chosen: dict) -> Callable[[dict], None]:
    """`train_prompts`' `on_epoch`: the record goes to metrics.jsonl with `eval_acc` named `<held_name>_acc`, and
    (unless `select_on` is "last") a new best held-out epoch's context goes to `chosen`."""
    def on_epoch(rec: dict) -> None:
        rec[f"{held_name}_acc"] = rec.pop("eval_acc")
        run.append_metrics(rec)
        if cfg.select_on != "last" and rec[f"{held_name}_acc"] > chosen["held_acc"]:
            chosen.update(epoch=rec["epoch"], held_acc=rec[f"{held_name}_acc"], ctx=learner.ctx.detach().clone())

    return on_epoch


def _log_precision(run: RunDir, cfg: CalibrateConfig, dtype: torch.dtype | None) -> None:
    """Log the precision of the Stage 1 steps: the text encoder's autocast dtype and the logits'."""
    run.log(f"Stage 1 steps: text encoder in {str(dtype or torch.float32).removeprefix('torch.')} "
            f"(prompt_precision={cfg.prompt_precision}), logits "
            + ("fp16 with loss scaling, as the original's 16-mixed" if dtype is torch.float16 else "fp32"))


def _selected_anchors(learner: PromptLearner, ctx: torch.Tensor | None) -> torch.Tensor:
    """The learner's anchors with the context `ctx` put back (None: the context it ends with)."""
    with torch.no_grad():
        if ctx is not None:
            learner.ctx.copy_(ctx)
        return learner()


def fit_prompts(run: RunDir, cfg: CalibrateConfig, teacher: Teacher, train: FGVCDataset, feats: Stage1Features,
                device: torch.device, progress: bool | None) -> Stage1Fit:
    """Train a prompt learner (seeded by `cfg.seed`) on `feats.fit`, watching `feats.held`, with each epoch in
    metrics.jsonl; return the anchors of the selected epoch (the last one run for `select_on` "last")."""
    torch.manual_seed(cfg.seed)
    learner = PromptLearner(teacher, teacher.tokenizer, train.classnames, train.template, n_ctx=cfg.n_ctx)
    chosen = {"epoch": cfg.epochs - 1, "held_acc": -1.0, "ctx": None}  # "last": the final epoch run
    dtype = prompt_autocast_dtype(cfg.prompt_precision, device)
    _log_precision(run, cfg, dtype)
    t0 = time.perf_counter()
    history = train_prompts(learner, *feats.fit, teacher.logit_scale, cfg, *feats.held, progress=progress,
                            on_epoch=_epoch_recorder(run, cfg, learner, feats.held_name, chosen))
    seconds = time.perf_counter() - t0
    stopped_at = history[-1]["epoch"] if len(history) < cfg.epochs else None
    if cfg.select_on == "last":
        chosen["epoch"] = history[-1]["epoch"]
    if stopped_at is not None:
        run.log(f"early stop after epoch {stopped_at}: no better {feats.held_name} accuracy for "
                f"{cfg.early_stop_patience} epochs"
                + (" (the original's rule, on test)" if feats.held_name == "test" else ""))
    return Stage1Fit(_selected_anchors(learner, chosen["ctx"]), chosen["epoch"], len(history), stopped_at, seconds,
                     str(dtype or torch.float32).removeprefix("torch."))


# ------------------------------------------------------------------------------ the result
def _save(run: RunDir, cfg: CalibrateConfig, teacher: Teacher, train: FGVCDataset, fit: Stage1Fit,
          hand_acc: dict[str, float], cal_acc: dict[str, float]) -> Path:
    """Write anchors.pt: the selected anchors with everything Stage 2 needs to check that they fit."""
    return save_anchors(run.path / "anchors.pt", fit.anchors, {
        "classnames": train.classnames, "template": train.template, "n_ctx": cfg.n_ctx,
        "teacher": {"name": teacher.name, "pretrained": teacher.pretrained, "source": teacher.source},
        "dataset": cfg.dataset, "epoch": fit.epoch, "selected_on": cfg.select_on,
        "selection": _selection_note(cfg), "accuracy": cal_acc, "hand_accuracy": hand_acc,
    })


def _result(cfg: CalibrateConfig, teacher: Teacher, num_classes: int, feats: Stage1Features, fit: Stage1Fit,
            hand_acc: dict[str, float], cal_acc: dict[str, float], names: dict, skipped: list[str],
            anchors_path: Path, total_s: float) -> dict:
    """The run's `result.json`: what ran, on what, how the anchors were selected, and both prompts' accuracies."""
    return {
        "stage": "calibrate",
        "dataset": cfg.dataset,
        "teacher": teacher.describe(),
        "selected_on": cfg.select_on,
        "selection": _selection_note(cfg),
        "teacher_precision": cfg.teacher_precision,
        "prompt_precision": cfg.prompt_precision,
        "prompt_autocast": fit.autocast,
        "selected_epoch": fit.epoch,
        "early_stop_patience": cfg.early_stop_patience,
        "early_stop_watches": feats.held_name if cfg.early_stop_patience else None,
        "stopped_early_at_epoch": fit.stopped_at,
        "hand_prompt_acc": hand_acc,
        "calibrated_acc": cal_acc,
        "chance_acc": 100.0 / num_classes,
        "class_names": names,
        "skipped_images": skipped,
        "anchors": str(anchors_path),
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "profile": cfg.profile,
        "timings": {"features_s": feats.seconds, "stage1_s": fit.seconds, "total_s": total_s,
                    "epoch_s": fit.seconds / max(fit.epochs_run, 1)},
        "environment": environment(),
    }


def calibrate(cfg: CalibrateConfig, resume: bool = False, progress: bool | None = None) -> dict:
    """Run Stage 1 for `cfg` into `cfg.out` (config.json, metrics.jsonl, anchors.pt, result.json); return the result:
    setup (assets, data, teacher features), the prompt learner's training, the result.

    Args:
        cfg: The Stage 1 config (`make_config("calibrate", ...)`); validated here.
        resume: Continue a run already in `cfg.out` (same config; Stage 1 starts over); False refuses a used folder.
        progress: Draw progress bars; None: only on a terminal (`progress_enabled`).
    """
    cfg.validate()
    assets = run_assets(cfg)  # data root and teacher weights, resolved once from the config
    splits = load_splits(cfg, assets.data_root)
    device = resolve_device(cfg.device)
    run = RunDir(cfg.out, to_dict(cfg), resume=resume, changes=config_changes)
    try:
        splits, skipped = _readable(cfg, splits, run, progress)
        run.keep_metrics_through(-1)  # Stage 1 is minutes long: a resumed run simply starts over
        t_start = time.perf_counter()
        teacher = load_teacher(cfg.teacher, assets.teacher_weights, device)
        run.log(f"calibrate {cfg.dataset}: teacher {teacher.name} from {teacher.source}, device {device}")
        names = class_names_record(splits.train, cfg.class_names)
        run.log(describe_class_names(names))
        run.log(describe_template(splits.train))
        feats = teacher_features(cfg, teacher, splits, progress)
        hand_acc = _accuracies(feats, teacher.encode_text(splits.train.prompts()), teacher.logit_scale)
        fit = fit_prompts(run, cfg, teacher, splits.train, feats, device, progress)
        cal_acc = _accuracies(feats, fit.anchors, teacher.logit_scale)
        anchors_path = _save(run, cfg, teacher, splits.train, fit, hand_acc, cal_acc)
        result = _result(cfg, teacher, len(splits.train.classnames), feats, fit, hand_acc, cal_acc, names, skipped,
                         anchors_path, time.perf_counter() - t_start)
        run.write_result(result)
        run.log(f"done: hand {hand_acc['test']:.2f} % -> calibrated {cal_acc['test']:.2f} % (test), "
                f"{_selection_note(cfg)}")
        return result
    finally:
        run.close()
