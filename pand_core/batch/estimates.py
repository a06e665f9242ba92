"""The estimates before the run (the dry run): each job's cost (measured where a run of it, or of the same run on another seed,
finished; else an estimate labelled as one) and the wall time of the grid on N GPUs.

The estimate counts the forward FLOPs of the student and the teacher with `torch.utils.flop_counter` on the meta
device (no weights, no memory) and divides the run's total by an assumed sustained rate (``--assume-tflops``). It is
an order of magnitude, not a measurement: data loading, evaluation overhead and kernel efficiency are left out.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import SPLIT_SIZES, SplitSizes
from ..infra.errors import ConfigError
from .jobs import TrainingJob

ASSUMED_TFLOPS = 40.0  # sustained fp32/TF32 rate of one H100-class GPU on these models: an assumption, not a measurement
TRAIN_FLOPS_PER_FORWARD = 3  # a training step of a network: forward + backward ≈ 3 forward passes
TEXT_TOKENS = 77  # open_clip's context length: every class prompt is one sequence through the text tower


def split_sizes(profile: str, dataset: str, data_root: str | None = None) -> tuple[int, int, int]:
    """(train images, test images, classes) a run of `profile` on `dataset` trains and tests on: the data set's
    own counts, an image folder's (`data_root`, counted), or the book's synthetic world on the smoke profile."""
    if dataset == "folder":
        from ..data.folder import folder_sizes

        if data_root is None:
            raise ConfigError("an image folder data set needs its folder (--data-root DIR) to be estimated.")
        return folder_sizes(data_root)
    if profile == "smoke":
        from ..miniature.defaults import BOOK_WORLD as w

        return w.n_classes * w.train_per_class, w.n_classes * w.test_per_class, w.n_classes
    return SPLIT_SIZES[dataset]


@dataclass
class Cost:
    seconds: float
    source: str  # "measured (<folder>)", "measured on seed <k> (<folder>)" or "estimate (...)"

    @property
    def measured(self) -> bool:
        return self.source.startswith("measured")


def measured_seconds(run_dir: Path) -> float | None:
    """The time a finished run took: Stage 1's `timings.total_s`; Stage 2's epochs (`epoch_time_s` summed over
    `metrics.jsonl`: training and evaluation, setup left out). None when the run has not finished."""
    result = run_dir / "result.json"
    if not result.exists():
        return None
    data = json.loads(result.read_text())
    if data.get("stage") == "calibrate":
        return float(data["timings"]["total_s"])
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return float(data.get("train_time_s") or 0.0)
    return sum(json.loads(line).get("epoch_time_s", 0.0) for line in metrics.read_text().splitlines() if line.strip())


def _same_run_other_seed(job: TrainingJob) -> tuple[int, Path] | None:
    """A finished run of the same configuration but its seed, beside the job's run folder."""
    from ..config import to_dict

    mine = {k: v for k, v in to_dict(job.config).items() if k not in ("seed", "out", "anchors")}
    stem = job.out.name.rsplit("-s", 1)[0]
    for other in sorted(job.out.parent.glob(f"{stem}-s*/config.json")):
        if other.parent == job.out or not (other.parent / "result.json").exists():
            continue
        theirs = json.loads(other.read_text())
        if {k: v for k, v in theirs.items() if k not in ("seed", "out", "anchors")} == mine:
            return int(theirs["seed"]), other.parent
    return None


@lru_cache(maxsize=None)
def student_flops(student: str, image_size: int, classes: int) -> float:
    """Forward FLOPs of one image through the student (counted on the meta device)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import build_student

    with torch.device("meta"):
        net = build_student(student, classes, pretrained=False)
    with FlopCounterMode(display=False) as counter:
        net(torch.empty(1, 3, image_size, image_size, device="meta"))
    return float(counter.get_total_flops())


@lru_cache(maxsize=None)
def teacher_flops(teacher: str) -> tuple[float, float, int]:
    """(image FLOPs at the teacher's own input size, FLOPs of one text sequence, that image size) of an open_clip
    model, counted on the meta device."""
    import logging

    import open_clip
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .. import models  # noqa: F401  (registers the project's teacher architectures with open_clip)

    root = logging.getLogger()
    was, root.disabled = root.disabled, True  # open_clip's "no pretrained weights loaded": none are wanted here
    try:
        with torch.device("meta"):
            model = open_clip.create_model(teacher, pretrained=None, device="meta")
    finally:
        root.disabled = was
    model.eval()  # inference FLOPs; a BatchNorm tower (the miniature's teacher) refuses a batch of 1 in training mode
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    with FlopCounterMode(display=False) as counter:
        model.encode_image(torch.empty(1, 3, size, size, device="meta"))
    image = float(counter.get_total_flops())
    with FlopCounterMode(display=False) as counter:
        tokens = getattr(model, "context_length", None) or TEXT_TOKENS  # the miniature's teacher: 48
        model.encode_text(torch.zeros(1, tokens, dtype=torch.long, device="meta"))
    return image, float(counter.get_total_flops()), int(size)


def estimate(job: TrainingJob, tflops: float = ASSUMED_TFLOPS, sizes: SplitSizes | None = None) -> Cost:
    """A labelled estimate of one paper-sized run: counted FLOPs over the whole schedule ÷ `tflops`.

    Stage 1: the teacher's image features of train and test once, then per step the text tower over every class
    prompt, trained (×3). Stage 2: per epoch every training image through the student, trained (×3), and through
    the teacher (online mode; the bank: every view once), and every test image through the student.

    Args:
        job: The run, sized as its config's data set (`split_sizes`).
        tflops: The assumed sustained TFLOP/s of one GPU.
        sizes: The data's (train, test, classes); None: the job's data set's (`split_sizes`).
    """
    cfg = job.config
    n_train, n_test, classes = sizes or split_sizes(cfg.profile, cfg.dataset, cfg.data_root)
    image, text, _ = teacher_flops(cfg.teacher)
    if job.stage == "calibrate":
        steps = cfg.epochs * math.ceil(n_train / cfg.batch_size)
        flops = (n_train + n_test) * image + steps * TRAIN_FLOPS_PER_FORWARD * classes * text
        formula = (f"{(n_train + n_test)} images x {image / 1e9:.0f} GFLOP + {steps} steps x 3 x {classes} prompts x "
                   f"{text / 1e9:.0f} GFLOP")
    else:
        student = student_flops(cfg.student, cfg.image_size, classes)
        teacher = 0.0 if not cfg.spec.teacher else image
        per_epoch = n_train * TRAIN_FLOPS_PER_FORWARD * student + n_test * student
        if cfg.teacher_mode == "online":
            per_epoch += n_train * teacher
            once = 0.0
        else:
            once = cfg.bank_views * n_train * teacher
        flops = cfg.epochs * per_epoch + once
        formula = (f"{cfg.epochs} epochs x ({n_train} x (3 x {student / 1e9:.2f}"
                   + (f" + {teacher / 1e9:.0f}" if teacher and cfg.teacher_mode == "online" else "")
                   + f") + {n_test} x {student / 1e9:.2f}) GFLOP"
                   + (f" + {cfg.bank_views} x {n_train} x {teacher / 1e9:.0f} GFLOP (bank)" if once else ""))
    return Cost(flops / (tflops * 1e12), f"estimate ({formula} at {tflops:g} TFLOP/s)")


def job_cost(job: TrainingJob, tflops: float = ASSUMED_TFLOPS) -> Cost:
    """The job's cost: measured from its own finished run, else from the same run on another seed, else `estimate`.

    Args:
        job: The run.
        tflops: The assumed sustained TFLOP/s of one GPU, for an estimate.
    """
    seconds = measured_seconds(job.out)
    if seconds is not None:
        return Cost(seconds, f"measured ({job.out})")
    other = _same_run_other_seed(job)
    if other is not None:
        return Cost(measured_seconds(other[1]) or 0.0, f"measured on seed {other[0]} ({other[1]})")
    return estimate(job, tflops)


def wall_time(jobs: list[TrainingJob], seconds: dict[str, float], workers: int) -> float:
    """The grid's wall time on `workers` GPUs (or local workers) when each starts the next ready job in list order
    as soon as it is free — the local executor's rule; jobs wait for the jobs in their `after`.

    Args:
        jobs: The grid, in submission order.
        seconds: Each job's duration by name (`job_cost`).
        workers: GPUs or local workers, at least 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    todo, running, done, now = list(jobs), [], set(), 0.0
    while todo or running:
        for job in list(todo):
            if len(running) >= workers:
                break
            if all(a in done for a in job.after):
                heapq.heappush(running, (now + seconds[job.name], job.name))
                todo.remove(job)
        if not running:
            raise ValueError(f"jobs wait for jobs that are not in the grid: {[j.name for j in todo][:3]}")
        now, name = heapq.heappop(running)
        done.add(name)
        while running and running[0][0] == now:
            done.add(heapq.heappop(running)[1])
    return now


def estimates_markdown(jobs: list[TrainingJob], gpus: list[int], tflops: float = ASSUMED_TFLOPS, list_jobs: bool = True) -> str:
    """The dry run's report: every job with what it waits for and its cost, then GPU-hours and wall time on each
    number of GPUs in `gpus`.

    Args:
        jobs: The grid.
        gpus: The GPU counts to give the wall time for.
        tflops: The assumed sustained TFLOP/s of one GPU, for estimates.
        list_jobs: Include the table of every job.
    """
    costs = {job.name: job_cost(job, tflops) for job in jobs}
    seconds = {name: c.seconds for name, c in costs.items()}
    n1 = sum(job.stage == "calibrate" for job in jobs)
    measured = sum(c.measured for c in costs.values())
    lines = [f"{len(jobs)} jobs: {n1} Stage 1, {len(jobs) - n1} Stage 2; {measured} costs measured, "
             f"{len(jobs) - measured} estimated.", ""]
    if list_jobs:
        lines += ["| job | waits for | hours | cost from |", "|---|---|---|---|"]
        lines += [f"| {job.name} | {', '.join(job.after) or '—'} | {seconds[job.name] / 3600:.2f} | "
                  f"{costs[job.name].source} |" for job in jobs]
        lines.append("")
    lines += ["| GPUs | GPU-hours | wall time (hours) |", "|---|---|---|"]
    total = sum(seconds.values()) / 3600
    lines += [f"| {n} | {total:.1f} | {wall_time(jobs, seconds, n) / 3600:.1f} |" for n in gpus]
    if measured < len(jobs):
        lines += ["", f"Estimates count FLOPs and assume {tflops:g} TFLOP/s sustained per GPU; no GPU measurement "
                      "enters them. A finished run replaces its estimate by its measured time."]
    return "\n".join(lines)


PAPER_GRID = {"datasets": ["cub", "aircraft", "dogs", "pets"], "students": ["resnet18", "mobilenet_v2"],
              "seeds": [0, 1, 2]}  # the paper's table: 4 data sets x 2 students x 7 methods x 3 seeds


def paper_grid(runs: str | Path, teacher_mode: str = "online") -> list[TrainingJob]:
    """The jobs of the paper's whole table on the paper profile: every method the pipeline runs there (all but the
    project's own `kd`) for each data set, student and seed; Stage 1 once per data set and seed."""
    from ..config import DEFAULT_METHODS
    from .jobs import grid

    return grid([dict(profile="paper", dataset=ds, methods=DEFAULT_METHODS["paper"], seeds=PAPER_GRID["seeds"],
                      student=student, runs=runs, teacher_mode=teacher_mode)
                 for ds in PAPER_GRID["datasets"] for student in PAPER_GRID["students"]])


def paper_plan_markdown(gpus: tuple[int, ...] = (1, 8, 32), tflops: float = ASSUMED_TFLOPS) -> str:
    """The reproduction guide's plan of the paper's grid, teacher online (the original) and from the bank; all
    estimates (no run of the grid has been measured on a GPU)."""
    import tempfile

    parts = []
    with tempfile.TemporaryDirectory() as empty:  # no finished runs: every cost is the labelled estimate
        for mode, title in (("online", "teacher online at every step (the original's Stage 2)"),
                            ("bank", "teacher from the bank (`--teacher-mode bank`, 8 views per image)")):
            jobs = paper_grid(empty, mode)
            stage1 = sum(job_cost(j, tflops).seconds for j in jobs if j.stage == "calibrate") / 3600
            parts += [f"**{title}**", "", estimates_markdown(jobs, list(gpus), tflops, list_jobs=False).replace(
                "; 0 costs measured, ", f" (Stage 1: {stage1:.1f} GPU-hours in all); 0 costs measured, "), ""]
    command = ("python -m pand_core.pipeline --profile paper --datasets " + " ".join(PAPER_GRID["datasets"])
               + " --students " + " ".join(PAPER_GRID["students"]) + " --seeds "
               + " ".join(map(str, PAPER_GRID["seeds"])) + " --dry-run")
    return (f"_Generated by `python studies/paper_plan.py` (the same numbers as `{command}`, without its list of "
            "jobs). Estimates, not measurements._\n\n" + "\n".join(parts).rstrip() + "\n")
