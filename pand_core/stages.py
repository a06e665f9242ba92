""""Load if present, else compute" for each stage, and the small readers notebooks need (trained students,
predictions, a run's teacher and data)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .infra.batched import map_batches
from .config import CalibrateConfig, DistillConfig, config_changes, make_config, to_dict
from .infra.errors import ConfigError
from .models import Student, build_student
from .infra.rundir import load_checkpoint, read_config, started


def finished(cfg: CalibrateConfig | DistillConfig) -> dict | None:
    """The result of the finished run in `cfg.out`; None when it has not finished. A finished run with another
    configuration is refused with `ConfigError`.

    Args:
        cfg: The run's config; `cfg.out` is its folder.
    """
    out = Path(cfg.out)
    if not (out / "result.json").exists():
        return None
    diffs = config_changes(out, to_dict(cfg))
    if diffs:
        raise ConfigError(
            f"{out} holds a finished run with another configuration:\n  " + "\n  ".join(diffs)
            + "\nDelete that folder, or point PAND_RUNS at another place, to compute this one."
        )
    return json.loads((out / "result.json").read_text())


def calibrated(cfg: CalibrateConfig, progress: bool | None = None) -> dict:
    """Stage 1 result for `cfg`: read from `cfg.out` when that run finished, else computed (and saved) now (an
    interrupted run starts over in its folder); a finished run with another config raises `ConfigError`.

    Args:
        cfg: The Stage 1 config (`make_config("calibrate", ...)`); `cfg.out` is its run folder.
        progress: Draw progress bars when computing; None: only on a terminal.
    """
    from .stage1.calibrate import calibrate

    done = finished(cfg)
    return done if done is not None else calibrate(cfg, resume=started(cfg.out), progress=progress)


def distilled(cfg: DistillConfig, progress: bool | None = None) -> dict:
    """Stage 2 result for `cfg`: read when finished, resumed when interrupted, else trained now; a finished run
    with another config raises `ConfigError`.

    Args:
        cfg: The Stage 2 config (`make_config("distill", ...)`); `cfg.out` is its run folder.
        progress: Draw progress bars when training; None: only on a terminal.
    """
    from .stage2.distill import distill

    done = finished(cfg)
    return done if done is not None else distill(cfg, resume=started(cfg.out), progress=progress)


def load_student(run_dir: str | Path, which: str = "last") -> tuple[Student, DistillConfig]:
    """The student of a Stage 2 run with the weights of its `last` or `best` checkpoint, in eval mode on the CPU,
    and the run's config.

    Args:
        run_dir: The Stage 2 run folder (its `config.json` and `checkpoint_<which>.pt`).
        which: "last" (the last epoch's weights) or "best" (the best test epoch's).
    """
    run_dir = Path(run_dir)
    cfg = make_config("distill", **read_config(run_dir))
    ckpt = load_checkpoint(run_dir / f"checkpoint_{which}.pt")
    n_classes = ckpt["model"]["student.classifier.weight"].shape[0]
    student = build_student(cfg.student, n_classes, pretrained=False, keep_dropout=cfg.spec.keep_dropout)
    student.load_state_dict({k[len("student."):]: v for k, v in ckpt["model"].items() if k.startswith("student.")})
    return student.eval(), cfg


def predict(model: Student, dataset, batch_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits `[N, C]` (float32, CPU) and labels `[N]` of a model over a whole dataset, in order, without gradients.

    Args:
        model: The student, as it is (put it in eval mode first; `load_student` does); batches go to its device.
        dataset: Items `(image tensor, label)`.
        batch_size: Images per forward.
    """
    return map_batches(lambda x: model(x).logits, dataset, batch_size, next(model.parameters()).device)


def teacher_for(cfg: CalibrateConfig | DistillConfig):
    """The teacher a run config names, with the weights its profile resolves to, on its device.

    Args:
        cfg: A Stage 1 or Stage 2 config: its `teacher`, `device`, and the weights `assets.run_assets` resolves.
    """
    from .assets import run_assets
    from .infra.devices import resolve_device
    from .models import load_teacher

    return load_teacher(cfg.teacher, run_assets(cfg).teacher_weights, resolve_device(cfg.device))


def split_for(cfg: CalibrateConfig | DistillConfig, split: str = "test", transform=None):
    """A split ("train" means the data set's training split) of the data set a run config names.

    Args:
        cfg: A Stage 1 or Stage 2 config: its `dataset`, `class_names`, and the data root `assets.run_assets`
            resolves.
        split: "train" (the data set's training split, `data.splits.TRAIN_SPLIT`: `trainval` on Pets) or a split
            name `load_dataset` knows, e.g. "test".
        transform: Applied to each PIL image; None: items hold the PIL image itself.
    """
    from .assets import run_assets
    from .data import load_dataset
    from .data.splits import TRAIN_SPLIT

    name = TRAIN_SPLIT[cfg.dataset] if split == "train" else split
    return load_dataset(cfg.dataset, run_assets(cfg).data_root, name, transform, class_names=cfg.class_names,
                        template=cfg.template)
