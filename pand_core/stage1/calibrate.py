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

import torch

from ..assets import run_inputs
from ..config import CalibrateConfig, config_changes, to_dict
from ..data import class_names_record, describe_class_names, load_dataset
from ..data.base import skip_unreadable
from ..data.splits import OFFICIAL_VAL, TEST_SPLIT, TRAIN_SPLIT, stratified_holdout
from ..infra.devices import resolve_device
from ..infra.environment import environment
from ..models.features import accuracy, cached_features, zero_shot_logits
from ..models import load_teacher
from .prompts import PromptLearner, prompt_autocast_dtype, save_anchors, train_prompts
from ..infra.rundir import RunDir

SELECTION_NOTES = {
    "last": "anchors of the last epoch (no selection)",
    "val": "anchors of the epoch with the best accuracy on a stratified hold-out of train",
    "official-val": "anchors of the epoch with the best accuracy on the data set's official validation split",
    "test": "ORIGINAL PROTOCOL: anchors of the epoch with the best TEST accuracy (optimistic)",
}


def calibrate(cfg: CalibrateConfig, resume: bool = False, progress: bool | None = None) -> dict:
    """Run Stage 1 for `cfg` into `cfg.out` (config.json, metrics.jsonl, anchors.pt, result.json); return the result.

    Args:
        cfg: The Stage 1 config (`make_config("calibrate", ...)`); validated here.
        resume: Continue a run already in `cfg.out` (same config; Stage 1 starts over); False refuses a used folder.
        progress: Draw progress bars; None: only on a terminal (`progress_enabled`).
    """
    cfg.validate()
    inputs = run_inputs(cfg)  # data root and teacher weights, resolved once from the config
    data_root, cache = inputs.data_root, cfg.cache
    train = load_dataset(cfg.dataset, data_root, TRAIN_SPLIT[cfg.dataset], class_names=cfg.class_names)
    test = load_dataset(cfg.dataset, data_root, TEST_SPLIT, class_names=cfg.class_names)
    official_val = cfg.select_on == "val" and cfg.dataset in OFFICIAL_VAL
    note = SELECTION_NOTES["official-val" if official_val else cfg.select_on]
    val = load_dataset(cfg.dataset, data_root, OFFICIAL_VAL[cfg.dataset], class_names=cfg.class_names) if official_val else None
    device = resolve_device(cfg.device)
    run = RunDir(cfg.out, to_dict(cfg), resume=resume, changes=config_changes)
    try:
        cleaned, skipped = skip_unreadable(cfg.skip_bad_images, *[s for s in (train, test, val) if s is not None],
                                           log=run.log, progress=progress)
        train, test, val = cleaned[0], cleaned[1], (cleaned[2] if val is not None else None)
        run.keep_metrics_through(-1)  # Stage 1 is minutes long: a resumed run simply starts over
        t_start = time.perf_counter()
        teacher = load_teacher(cfg.teacher, inputs.teacher_weights, device)
        run.log(f"calibrate {cfg.dataset}: teacher {teacher.name} from {teacher.source}, device {device}")
        names = class_names_record(train, cfg.class_names)
        run.log(describe_class_names(names))

        t0 = time.perf_counter()
        f_train, y_train = cached_features(teacher, train, cache, cfg.batch_size, progress=progress,
                                           precision=cfg.teacher_precision)
        f_test, y_test = cached_features(teacher, test, cache, cfg.batch_size, progress=progress,
                                         precision=cfg.teacher_precision)
        features_s = time.perf_counter() - t0

        f_fit, y_fit, f_held, y_held = f_train, y_train, f_test, y_test
        held_name = "test"
        if official_val:
            f_held, y_held = cached_features(teacher, val, cache, cfg.batch_size, progress=progress,
                                             precision=cfg.teacher_precision)
            held_name = "val"
        elif cfg.select_on == "val":
            keep, held = stratified_holdout(y_train.tolist(), cfg.val_fraction, cfg.seed)
            f_fit, y_fit, f_held, y_held = f_train[keep], y_train[keep], f_train[held], y_train[held]
            held_name = "val"

        hand = teacher.encode_text(train.prompts())
        scale = teacher.logit_scale
        hand_acc = {
            "train": accuracy(zero_shot_logits(f_train, hand, scale), y_train),
            "test": accuracy(zero_shot_logits(f_test, hand, scale), y_test),
        }
        if held_name == "val":
            hand_acc["val"] = accuracy(zero_shot_logits(f_held, hand, scale), y_held)

        torch.manual_seed(cfg.seed)
        learner = PromptLearner(teacher, teacher.tokenizer, train.classnames, train.template, n_ctx=cfg.n_ctx)
        chosen = {"epoch": cfg.epochs - 1, "held_acc": -1.0, "ctx": None}  # "last": the final epoch run

        def on_epoch(rec: dict) -> None:
            rec[f"{held_name}_acc"] = rec.pop("eval_acc")
            run.append_metrics(rec)
            if cfg.select_on != "last" and rec[f"{held_name}_acc"] > chosen["held_acc"]:
                chosen.update(epoch=rec["epoch"], held_acc=rec[f"{held_name}_acc"], ctx=learner.ctx.detach().clone())

        dtype = prompt_autocast_dtype(cfg.prompt_precision, device)
        run.log(f"Stage 1 steps: text encoder in {str(dtype or torch.float32).removeprefix('torch.')} "
                f"(prompt_precision={cfg.prompt_precision}), logits "
                + ("fp16 with loss scaling, as the original's 16-mixed" if dtype is torch.float16 else "fp32"))
        t0 = time.perf_counter()
        history = train_prompts(learner, f_fit, y_fit, scale, cfg, f_held, y_held, progress=progress, on_epoch=on_epoch)
        stage1_s = time.perf_counter() - t0
        stopped_at = history[-1]["epoch"] if len(history) < cfg.epochs else None
        if cfg.select_on == "last":
            chosen["epoch"] = history[-1]["epoch"]
        if stopped_at is not None:
            run.log(f"early stop after epoch {stopped_at}: no better {held_name} accuracy for {cfg.early_stop_patience} "
                    f"epochs" + (" (the original's rule, on test)" if held_name == "test" else ""))
        if chosen["ctx"] is not None:
            with torch.no_grad():
                learner.ctx.copy_(chosen["ctx"])
        with torch.no_grad():
            anchors = learner()
        cal_acc = {"train": accuracy(zero_shot_logits(f_train, anchors, scale), y_train),
                   "test": accuracy(zero_shot_logits(f_test, anchors, scale), y_test)}
        if held_name == "val":
            cal_acc["val"] = accuracy(zero_shot_logits(f_held, anchors, scale), y_held)

        anchors_path = save_anchors(run.path / "anchors.pt", anchors, {
            "classnames": train.classnames, "template": train.template, "n_ctx": cfg.n_ctx,
            "teacher": {"name": teacher.name, "pretrained": teacher.pretrained, "source": teacher.source},
            "dataset": cfg.dataset, "epoch": chosen["epoch"], "selected_on": cfg.select_on,
            "selection": note, "accuracy": cal_acc, "hand_accuracy": hand_acc,
        })
        result = {
            "stage": "calibrate",
            "dataset": cfg.dataset,
            "teacher": teacher.describe(),
            "selected_on": cfg.select_on,
            "selection": note,
            "teacher_precision": cfg.teacher_precision,
            "prompt_precision": cfg.prompt_precision,
            "prompt_autocast": str(dtype or torch.float32).removeprefix("torch."),
            "selected_epoch": chosen["epoch"],
            "early_stop_patience": cfg.early_stop_patience,
            "early_stop_watches": held_name if cfg.early_stop_patience else None,
            "stopped_early_at_epoch": stopped_at,
            "hand_prompt_acc": hand_acc,
            "calibrated_acc": cal_acc,
            "chance_acc": 100.0 / len(train.classnames),
            "class_names": names,
            "skipped_images": skipped,
            "anchors": str(anchors_path),
            "epochs": cfg.epochs,
            "seed": cfg.seed,
            "profile": cfg.profile,
            "timings": {"features_s": features_s, "stage1_s": stage1_s, "total_s": time.perf_counter() - t_start,
                        "epoch_s": stage1_s / max(len(history), 1)},
            "environment": environment(),
        }
        run.write_result(result)
        run.log(f"done: hand {hand_acc['test']:.2f} % -> calibrated {cal_acc['test']:.2f} % (test), {note}")
        return result
    finally:
        run.close()
