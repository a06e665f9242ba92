"""The reproduction pipeline: every run of a multi-seed study, then the book's notebooks executed with papermill.

Run it from the command line. Offline on the miniature (the smoke profile), then the book into `_build/html`
(`make smoke`):

.. code-block:: shell

    python -m pand_core.pipeline --profile smoke --book

The paper profile on CUB-200 with three paired seeds, the data sets under `/data` (without ``--book``: the runs and
the executed notebooks only):

.. code-block:: shell

    python -m pand_core.pipeline --profile paper --data-root /data --datasets cub --seeds 0 1 2

First the runs: Stage 1 per (data set, seed) and Stage 2 per (data set, student, method, seed), in this process by
the study runner (`pand_core.study`; seeds paired across methods) or, with ``--executor local|slurm``, every run a
job on this machine's GPUs or a Slurm cluster (`pand_core.batch`), then `summary.json` per data set. Then each
notebook once, for the book, two at a time on the smoke profile (``--notebook-workers``; `pand_core.book.execute`): it
reads those runs (a finished run is read, never trained again). Finished runs and
accepted notebook copies are skipped (``--force`` executes the notebooks again); a failing stage stops the pipeline
with its name (and cell), and everything already computed stays, so a rerun continues from the failed stage. An
executed copy is accepted when no cell wrote to stderr (after removing dependencies' known first-run messages, see
`pand_core.book.firstrun`): the book is built with warnings as errors, and a copy it would reject is set aside as
`<name>.rejected.ipynb` and executed again by the next run, never silently reused. The book shows the executed
copies without papermill's injected-parameters cell, which holds this machine's paths. On a terminal, one live line shows
each running notebook's stage, cell, the loop it is in (epochs, batches) and the time so far.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import DEFAULT_METHODS, DEFAULT_SEEDS, PROFILES, check_methods, default_student
from .infra.errors import PandError, exit_status
from .book.firstrun import warm_caches
from .book.executed import review, set_aside, stderr_summary
from .book.execute import NOTEBOOK_DIR, NOTEBOOK_WORKERS, NotebookJob, run_notebooks
from .book.build import build_book
from .params import RunParams
from .study import run_study
from .batch.executors import BatchOptions
from .batch.options import add_batch_arguments, batch_options, print_estimates

@dataclass
class Plan:
    profile: str
    out: Path
    jobs: list[NotebookJob] = field(default_factory=list)
    book_copies: dict[str, NotebookJob] = field(default_factory=dict)  # notebook stem -> the executed copy the book shows
    studies: list[dict] = field(default_factory=list)  # keyword arguments of `run_study`, run before the notebooks

    def executed_copies(self) -> dict[str, Path]:
        """Notebook stem -> the path of the executed copy the book shows (`book.build.build_book`'s input)."""
        return {stem: job.output(self.out) for stem, job in self.book_copies.items()}


def make_plan(profile: str, out: Path, datasets: list[str], methods: list[str], students: list[str] | None,
              seeds: list[int], data_root: str | None = None, teacher_mode: str | None = None,
              run: RunParams | None = None) -> Plan:
    """The study of each (data set, student) — every method over every seed — and the notebooks, once each:
    quickstart, your own data set (on the miniature), Stage 1 and Stage 2 (`pand`, first seed) per data set, the
    neighbourhood analysis, results, costs.
    The teacher, its weights and the schedule lengths (`run`) go alike to the studies and to every notebook that
    runs a stage.

    Args:
        profile: "smoke" or "paper".
        out: The runs folder: run folders go to `<out>/<profile>/<dataset>/`, executed notebooks to `<out>/notebooks`.
        datasets: The data sets to study.
        methods: The Stage 2 methods (names in `config.METHODS`).
        students: The Stage 2 students; None: the profile's.
        seeds: The paired seeds; the notebooks that run a stage use the first.
        data_root: The folder holding the data sets; None: the profile's default.
        teacher_mode: "online" or "bank" for every Stage 2 run; None: the profile's.
        run: The page parameters (`RunParams` of the same profile); None: the profile's defaults.
    """
    check_methods(methods)
    students = students or [default_student(profile)]
    out = out.resolve()
    run = run or RunParams(profile)
    if run.profile != profile:
        raise PandError(f"the run parameters are for profile {run.profile!r}, the plan for {profile!r}")
    overrides = run.study_overrides()  # also refuses a teacher without weights before anything runs
    base = {"PROFILE": profile, "RUNS": str(out)}
    stages = run.notebook_parameters()  # for the notebooks that run Stage 1 or 2
    if data_root:
        base["DATA_ROOT"] = str(Path(data_root).resolve())
    plan = Plan(profile, out)

    def add(job: NotebookJob) -> None:
        plan.jobs.append(job)
        plan.book_copies.setdefault(job.notebook, job)

    add(NotebookJob("00_quickstart", profile, dict(base, **stages)))
    # Your own data set: its demonstration folder is the miniature's, so it runs on the smoke profile whatever the
    # plan's; second, so that its Stage 1 and 2 overlap the shorter pages.
    own = {"PROFILE": "smoke", "RUNS": str(out)}
    if profile == "smoke" and data_root:
        own["WORLD_ROOT"] = base["DATA_ROOT"]  # a plan on another miniature world writes that one as the folder
    add(NotebookJob("06_your_own_data", "", own,
                    out / "smoke" / "folder" / f"pand-{default_student('smoke')}-s0" / "result.json"))
    shown = "pand" if "pand" in methods else methods[-1]
    for ds in datasets:
        for student in students:
            plan.studies.append(dict(profile=profile, dataset=ds, methods=list(methods), seeds=list(seeds),
                                     student=student, runs=out, teacher_mode=teacher_mode, overrides=overrides,
                                     data_root=str(Path(data_root).resolve()) if data_root else None))
        seed = seeds[0]
        add(NotebookJob("01_prompt_calibration", f"{ds}-s{seed}", dict(base, **stages, DATASET=ds, SEED=seed),
                out / profile / ds / f"calibrate-s{seed}" / "result.json"))
        params = dict(base, **stages, DATASET=ds, STUDENT=students[0], METHOD=shown, SEED=seed)
        if teacher_mode:
            params["TEACHER_MODE"] = teacher_mode
        add(NotebookJob("03_distillation", f"{ds}-{students[0]}-{shown}-s{seed}", params,
                out / profile / ds / f"{shown}-{students[0]}-s{seed}" / "result.json"))
        add(NotebookJob("02_neighborhood_graph", f"{ds}-{students[0]}", dict(base, **stages, DATASET=ds, STUDENT=students[0], SEED=seed)))
    add(NotebookJob("04_results", profile, dict(base), always=True))
    add(NotebookJob("05_costs", "", {}, always=True))
    return plan


def run_studies(plan: Plan, log=print, batch: BatchOptions | None = None) -> list[dict]:
    """Every study of the plan (finished runs are read, not trained again); one summary record per study. With a
    batch executor (`local`, `slurm`) the runs of every study go out as one grid, so the workers stay busy across
    studies; then each study's summary is written."""
    if batch is None or batch.executor == "inline":
        records = []
        for n, kwargs in enumerate(plan.studies, 1):
            name = f"[study {n}/{len(plan.studies)}] {kwargs['dataset']} {kwargs['student']}"
            log(f"{name}: {len(kwargs['methods'])} methods x seeds {kwargs['seeds']} ...")
            t0 = time.perf_counter()
            path = run_study(**kwargs, batch=batch, log=lambda line: log(f"{name}: {line}"))
            records.append({"study": f"{kwargs['dataset']}-{kwargs['student']}", "summary": str(path),
                            "seconds": time.perf_counter() - t0})
        return records
    from .batch.executors import run_jobs
    from .report import write_study_summary

    t0 = time.perf_counter()
    run_jobs(study_grid(plan), batch, log=lambda line: log(f"[{batch.executor}] {line}"))
    seconds = time.perf_counter() - t0
    return [{"study": f"{kw['dataset']}-{kw['student']}", "seconds": seconds, "executor": batch.executor,
             "summary": str(write_study_summary(kw["runs"], kw["profile"], kw["dataset"], kw["student"]))}
            for kw in plan.studies]


def study_grid(plan: Plan):
    """The jobs of every study of the plan as one grid (`batch.jobs.grid`)."""
    from .batch.jobs import grid

    return grid([{k: v for k, v in kw.items() if k not in ("progress", "log")} for kw in plan.studies])


def run_plan(plan: Plan, force: bool = False, log=print, strict: bool = True, live: bool | None = None,
             workers: int = NOTEBOOK_WORKERS) -> list[dict]:
    """Run every job not yet done, `workers` notebooks at a time (`book.execute.run_notebooks`); return one summary
    record per job, in the plan's order. With `strict` (the book will be built), a finished copy that still holds
    stderr output is executed again instead of being reused.

    Args:
        plan: What `make_plan` returned.
        force: Execute every notebook again, also those with an accepted copy.
        log: Receives one line per notebook when it starts and when it ends.
        strict: The book will be built: copies with stderr output are executed again, and a new one stops the run.
        live: Force the terminal status line on or off; None: only on a terminal.
        workers: Notebooks executed at once, each in its own process (1: one after another, in this process).
    """
    records: dict[int, dict] = {}
    todo: list[tuple[str, NotebookJob]] = []
    number: dict[str, int] = {}  # a to-do's label -> its place in the plan
    for n, job in enumerate(plan.jobs, 1):
        name = f"[{n}/{len(plan.jobs)}] {job.notebook} {job.tag}".rstrip()
        records[n] = {"notebook": job.notebook, "tag": job.tag, "status": "ran", "seconds": 0.0}
        if not force and job.done(plan.out):
            problems = review(job.output(plan.out))
            if not (problems and strict):
                log(f"{name}: done before, skipped")
                records[n]["status"] = "skipped"
                continue
            aside = set_aside(job.output(plan.out), "rejected")
            log(f"{name}: the executed copy is not fit for the book ({stderr_summary(problems)}); "
                f"set aside as {aside.name}, it runs again")
        elif not force and job.output(plan.out).exists() and not job.is_current(plan.out) and not job.always:
            log(f"{name}: its notebook changed since this copy was made, it runs again")
        todo.append((name, job))
        number[name] = n
    for name, seconds in run_notebooks(todo, plan.out, workers, strict=strict, live=live, log=log).items():
        records[number[name]]["seconds"] = seconds
    return [records[n] for n in sorted(records)]


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.pipeline") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=PROFILES, default="smoke")
    p.add_argument("--datasets", nargs="+", default=["cub"])
    p.add_argument("--methods", nargs="+", default=None, help="Stage 2 methods (default: the paper's table, every method but the project's own kd)")
    p.add_argument("--students", nargs="+", default=None, help="default: the profile's (smoke: pand-mini-resnet, paper: resnet18)")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="paired seeds (default: smoke 0 1 2, paper 0)")
    p.add_argument("--data-root", default=None, help="folder holding the data sets (paper profile)")
    p.add_argument("--teacher-mode", choices=["online", "bank"], default=None)
    p.add_argument("--teacher", default=None, help="open_clip model name (default: the profile's)")
    p.add_argument("--teacher-weights", default=None, help="its open_clip tag, a local weights file or folder, or 'none'")
    p.add_argument("--stage1-epochs", type=int, default=None, help="shorten Stage 1 (default: the profile's)")
    p.add_argument("--stage2-epochs", type=int, default=None, help="shorten Stage 2 (default: the profile's)")
    p.add_argument("--runs", default="runs", help="runs folder: run folders go to <runs>/<profile>/<dataset>/, executed "
                   "notebooks to <runs>/notebooks/ (default: runs)")
    p.add_argument("--out", dest="runs", help=argparse.SUPPRESS)  # the flag's earlier name
    p.add_argument("--force", action="store_true", help="rerun stages whose outputs exist")
    p.add_argument("--book", action="store_true", help="then build the book from the executed notebooks")
    p.add_argument("--notebook-workers", type=int, default=None, metavar="N",
                   help=f"notebooks executed at once after the runs, each in its own process (default: smoke "
                        f"{NOTEBOOK_WORKERS}, paper 1: two pages that each hold the paper's teacher may not fit "
                        "one GPU together)")
    p.add_argument("--html", default=None, help="where the built book goes (default: _build/html in the repository)")
    add_batch_arguments(p)
    args = p.parse_args(argv)
    out = Path(args.runs)
    repo = NOTEBOOK_DIR.parent
    t0 = time.perf_counter()

    def pipeline() -> None:
        if not NOTEBOOK_DIR.is_dir():
            raise PandError(f"notebooks not found at {NOTEBOOK_DIR}: the pipeline runs from a clone of the repository "
                            "(pip install -e . inside it).")
        run = RunParams(args.profile, teacher=args.teacher, teacher_weights=args.teacher_weights,
                        stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs)
        plan = make_plan(args.profile, out, args.datasets, args.methods or DEFAULT_METHODS[args.profile],
                         args.students, args.seeds or DEFAULT_SEEDS[args.profile], args.data_root, args.teacher_mode, run)
        batch = batch_options(args)
        if args.dry_run:
            print_estimates(study_grid(plan), args)
            return
        warm_caches(log=print)  # before any kernel starts: first-run work must not print inside a notebook
        studies = run_studies(plan, batch=batch)
        workers = args.notebook_workers or (NOTEBOOK_WORKERS if args.profile == "smoke" else 1)
        summary = run_plan(plan, force=args.force, strict=args.book, workers=workers)
        resolved = dict(vars(args), seeds=plan.studies[0]["seeds"] if plan.studies else args.seeds,
                        students=sorted({s["student"] for s in plan.studies}))
        (plan.out / "pipeline.json").write_text(json.dumps({"args": resolved, "studies": studies, "jobs": summary},
                                                           indent=2))
        print(f"pipeline: {sum(s['status'] == 'ran' for s in summary)} notebooks ran, "
              f"{sum(s['status'] == 'skipped' for s in summary)} skipped, {time.perf_counter() - t0:.0f} s; "
              f"executed notebooks in {plan.out / 'notebooks'}")
        if args.book:
            t1 = time.perf_counter()
            html = build_book(plan.executed_copies(), plan.out / "book-src", repo,
                              Path(args.html) if args.html else repo / "_build" / "html")
            print(f"book built in {time.perf_counter() - t1:.0f} s: open {html / 'index.html'}")

    return exit_status(pipeline)


if __name__ == "__main__":
    sys.exit(main())
