"""A multi-seed study: Stage 1 per seed and every Stage 2 method per seed, then `summary.json`.

Run it from the command line. The book's study (`make study`): the pre-registered 42 seeds, 10 to 51, on the
smoke profile:

.. code-block:: shell

    python -m pand_core.study --profile smoke --seeds $(seq 10 51)

The paper profile with three seeds, every run a job on one of this machine's GPUs:

.. code-block:: shell

    python -m pand_core.study --profile paper --data-root /data --seeds 0 1 2 --executor local

What the same study would be as Slurm jobs (the jobs, their costs and the wall time), without running anything:

.. code-block:: shell

    python -m pand_core.study --profile paper --seeds 0 1 2 --executor slurm --slurm-partition gpu --dry-run

By default the runs go one after another in this process; ``--executor local|slurm`` makes every run a job
(`pand_core.batch`: this machine's GPUs or cores, or a Slurm cluster, through submitit) with the same numbers.
Seeds are paired across methods: one seed gives every method the same data order, augmented views and student
initialisation. Finished runs are read, interrupted ones resumed (as the notebooks do), so a study can be extended
with more seeds or stopped and restarted. The summary (`report.write_study_summary`) is computed from the runs'
`result.json` files only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .batch.executors import BatchOptions, run_jobs
from .batch.options import add_batch_arguments, batch_options, print_estimates
from .config import PROFILES, STUDY_METHODS
from .infra.errors import exit_status

# Every Stage 2 method but `ce-original` (the original code's no-teacher recipe), in the registry's order.


def run_study(profile: str, dataset: str, methods: list[str], seeds: list[int], student: str | None = None,
              runs: str | Path = "runs", teacher_mode: str | None = None, data_root: str | None = None,
              progress: bool | None = None, log=print, overrides: dict[str, dict] | None = None,
              batch: BatchOptions | None = None, task=None) -> Path:
    """Run (or read) Stage 1 for each seed and each method for each seed under `runs/<profile>/<dataset>/`; write
    and return the path of `summary.json`.

    Args:
        profile: "smoke" or "paper".
        dataset: The data set.
        methods: The Stage 2 methods (names in `config.METHODS`).
        seeds: The paired seeds.
        student: The Stage 2 student; None: the profile's.
        runs: The runs folder.
        teacher_mode: "online" or "bank" for every Stage 2 run; None: the profile's.
        data_root: The data set's folder; None: the profile's default.
        progress: The inline executor's progress bar; None: only on a terminal.
        log: Receives one line per finished run, and the summary's path.
        overrides: Config fields of every run, as `{"calibrate": {...}, "distill": {...}}` (as command-line flags
            would set them).
        batch: Where the runs go (`pand_core.batch`); None: this process, one after another.
        task: What runs one job (tests); None: `batch.task.run_training_job`.
    """
    from .batch.jobs import study_jobs
    from .report import write_study_summary

    jobs = study_jobs(profile, dataset, methods, seeds, student, runs, teacher_mode, data_root, overrides)
    t0 = time.perf_counter()
    run_jobs(jobs, batch, task, log, progress, f"study {profile}/{dataset} (runs)")
    path = write_study_summary(runs, profile, dataset, student)
    log(f"study: {len(jobs)} runs in {time.perf_counter() - t0:.0f} s; summary in {path}")
    return path


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.study") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=PROFILES, default="smoke")
    p.add_argument("--dataset", default="cub")
    p.add_argument("--methods", nargs="+", default=STUDY_METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(10)),
                   help="paired seeds (default 0..9; the book's study: 10..51, studies/preregistration.md)")
    p.add_argument("--student", default=None, help="default: the profile's (smoke: pand-mini-resnet, paper: resnet18)")
    p.add_argument("--teacher-mode", choices=["online", "bank"], default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--runs", default="runs", help="runs folder (default: runs)")
    p.add_argument("--report", default=None, help="also write the tables, claims and plot as this Markdown file (+ .png)")
    add_batch_arguments(p)
    args = p.parse_args(argv)

    def study() -> None:
        t0 = time.perf_counter()
        batch = batch_options(args)
        if args.dry_run:
            from .batch.jobs import study_jobs

            print_estimates(study_jobs(args.profile, args.dataset, args.methods, args.seeds, args.student, args.runs,
                                  args.teacher_mode, args.data_root), args)
            return
        path = run_study(args.profile, args.dataset, args.methods, args.seeds, args.student, args.runs,
                         args.teacher_mode, args.data_root, batch=batch)
        if args.report:
            from .report import write_study_report
            from .infra.environment import environment

            env = environment()
            summary = json.loads(path.read_text())
            note = (f"Generated by `python -m pand_core.study --profile {args.profile} --seeds "
                    f"{' '.join(map(str, args.seeds))}` in {(time.perf_counter() - t0) / 60:.1f} min "
                    f"({env.get('cpu_count')} CPU cores, {env.get('device')}, torch {env.get('torch')}); test accuracy "
                    f"at the last epoch, every test image; intervals are Student-t over seeds.")
            for written in write_study_report(summary, args.report, note):
                print(f"wrote {written}")

    return exit_status(study)


if __name__ == "__main__":
    sys.exit(main())
