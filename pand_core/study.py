"""A multi-seed study: Stage 1 per seed and every Stage 2 method per seed, in one process, then `summary.json`.

    python -m pand_core.study --profile smoke --seeds 10 11 ... 51      # make study: the pre-registered 42 seeds

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

from .config import METHODS, PROFILES, default_student, make_config
from .infra.errors import PandError, exit_status
from .infra.progress import Progress

# Every Stage 2 method but `ce-original` (the original code's no-teacher recipe), in the registry's order.
STUDY_METHODS = [m for m in METHODS if m != "ce-original"]


def run_study(profile: str, dataset: str, methods: list[str], seeds: list[int], student: str | None = None,
              runs: str | Path = "runs", teacher_mode: str | None = None, data_root: str | None = None,
              progress: bool | None = None, log=print, overrides: dict[str, dict] | None = None) -> Path:
    """Run (or read) Stage 1 for each seed and each method for each seed under `runs/<profile>/<dataset>/`; write
    and return the path of `summary.json`. `overrides` = {"calibrate": {...}, "distill": {...}} changes config
    fields of every run (as command-line flags would). `student=None`: the profile's student."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise PandError(f"unknown method(s) {unknown}; expected some of {list(METHODS)}")
    return _run(profile, dataset, methods, seeds, student, runs, teacher_mode, data_root, progress, log, overrides)


def _run(profile, dataset, methods, seeds, student, runs, teacher_mode, data_root, progress, log, overrides) -> Path:
    """`run_study`'s loop: every run folder under `runs`, passed to each config (no environment variable)."""
    from .report import write_study_summary
    from .book.stages import calibrated, distilled
    overrides = overrides or {}
    student = student or default_student(profile)
    extra = dict(overrides.get("distill", {}), **({"teacher_mode": teacher_mode} if teacher_mode else {}))
    jobs = [(seed, method) for seed in seeds for method in methods]
    calibrated_seeds: set[int] = set()
    t0 = time.perf_counter()
    for seed, method in Progress(jobs, f"study {profile}/{dataset} (runs)", progress=progress):
        if seed not in calibrated_seeds:  # Stage 1 of the seed: its anchors are where make_config points the methods
            calibrated(make_config("calibrate", profile, runs=runs, dataset=dataset, data_root=data_root, seed=seed,
                                   **overrides.get("calibrate", {})), progress=False)
            calibrated_seeds.add(seed)
        cfg = make_config("distill", profile, runs=runs, method=method, dataset=dataset, data_root=data_root,
                          student=student, seed=seed, **extra)
        res = distilled(cfg, progress=False)
        log(f"seed {seed} {method:18s} test acc (last epoch) {res['test_acc_last']:6.2f}")
    path = write_study_summary(runs, profile, dataset, student)
    log(f"study: {len(jobs)} runs in {time.perf_counter() - t0:.0f} s; summary in {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pand_core.study", description=__doc__.split("\n\n")[0])
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
    args = p.parse_args(argv)

    def study() -> None:
        t0 = time.perf_counter()
        path = run_study(args.profile, args.dataset, args.methods, args.seeds, args.student, args.runs,
                         args.teacher_mode, args.data_root)
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
