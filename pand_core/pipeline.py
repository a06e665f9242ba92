"""The reproduction pipeline: execute the book's notebooks with papermill, one copy per stage and parameter set.

    python -m pand_core.pipeline --profile smoke                 # offline miniature, then the book
    python -m pand_core.pipeline --profile paper --data-root /data --datasets cub --seeds 0 1 2

Stages whose outputs exist are skipped (unless --force); a failing notebook stops the pipeline with its name and
cell, and everything already computed stays, so a rerun continues from the failed stage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import METHODS, PROFILES
from .errors import PandError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
BOOK_NOTEBOOKS = ("00_quickstart", "01_prompt_calibration", "02_neighborhood_graph", "03_distillation", "04_results",
                  "05_costs")
DEFAULT_METHODS = {"smoke": ["ce", "kd", "vl2lite", "pand-no-psc", "pand-no-nlrd", "pand"],
                   "paper": ["ce", "vl2lite", "pand-no-psc", "pand-no-nlrd", "pand"]}


class PipelineError(PandError, RuntimeError):
    """A notebook failed; the message names it and the cell."""


@dataclass
class Job:
    notebook: str  # stem in notebooks/
    tag: str  # distinguishes parameter sets in the executed copy's name
    params: dict
    marker: Path | None = None  # a file the stage writes when it finished (its result.json)
    always: bool = False  # cheap summary stages rerun every time

    def output(self, out: Path) -> Path:
        return out / "notebooks" / f"{self.notebook}{'-' + self.tag if self.tag else ''}.ipynb"

    def done(self, out: Path) -> bool:
        if self.always or not self.output(out).exists():
            return False
        return self.marker is None or self.marker.exists()


@dataclass
class Plan:
    profile: str
    out: Path
    jobs: list[Job] = field(default_factory=list)
    book_copies: dict[str, Job] = field(default_factory=dict)  # notebook stem -> the executed copy the book shows


def make_plan(profile: str, out: Path, datasets: list[str], methods: list[str], students: list[str],
              seeds: list[int], data_root: str | None = None, teacher_mode: str | None = None) -> Plan:
    """The ordered jobs: quickstart, Stage 1 per (data set, seed), Stage 2 per (data set, student, method, seed),
    the neighbourhood analysis per data set, and the results notebook last."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise PandError(f"unknown method(s) {unknown}; expected some of {list(METHODS)}")
    out = out.resolve()
    base = {"PROFILE": profile, "RUNS": str(out)}
    if data_root:
        base["DATA_ROOT"] = str(Path(data_root).resolve())
    plan = Plan(profile, out)

    def add(job: Job, book: bool = False) -> None:
        plan.jobs.append(job)
        if book and job.notebook not in plan.book_copies:
            plan.book_copies[job.notebook] = job

    add(Job("00_quickstart", profile, dict(base)), book=True)
    for ds in datasets:
        for seed in seeds:
            add(Job("01_prompt_calibration", f"{ds}-s{seed}", dict(base, DATASET=ds, SEED=seed),
                    out / profile / ds / f"calibrate-s{seed}" / "result.json"), book=True)
        for student in students:
            for method in methods:
                for seed in seeds:
                    params = dict(base, DATASET=ds, STUDENT=student, METHOD=method, SEED=seed)
                    if teacher_mode:
                        params["TEACHER_MODE"] = teacher_mode
                    job = Job("03_distillation", f"{ds}-{student}-{method}-s{seed}", params,
                              out / profile / ds / f"{method}-{student}-s{seed}" / "result.json")
                    add(job, book=(method == "pand"))
        add(Job("02_neighborhood_graph", f"{ds}-{students[0]}",
                dict(base, DATASET=ds, STUDENT=students[0], SEED=seeds[0])), book=True)
    add(Job("04_results", profile, dict(base), always=True), book=True)
    add(Job("05_costs", "", {"BENCH_DIR": str(NOTEBOOK_DIR.parent / "benchmarks" / "results")}, always=True), book=True)
    return plan


def run_job(job: Job, out: Path) -> float:
    """Execute one notebook with papermill (cwd = notebooks/, kernel python3); return its wall time."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    target = job.output(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(NOTEBOOK_DIR / f"{job.notebook}.ipynb"), str(target), parameters=job.params,
                            kernel_name="python3", cwd=str(NOTEBOOK_DIR), progress_bar=False, log_output=False)
    except PapermillExecutionError as e:
        failed = target.with_name(target.stem + ".failed.ipynb")
        if target.exists():
            target.replace(failed)  # a failed copy never counts as done
        raise PipelineError(
            f"notebook {job.notebook}.ipynb ({job.tag}) failed in cell {e.exec_count} (index {e.cell_index}): "
            f"{e.ename}: {e.evalue}\nThe executed copy with the traceback is {failed}; everything computed before "
            "is kept, and rerunning the pipeline continues from this stage."
        ) from None
    return time.perf_counter() - t0


def run_plan(plan: Plan, force: bool = False, log=print) -> list[dict]:
    """Run every job not yet done; return one summary record per job."""
    summary = []
    for n, job in enumerate(plan.jobs, 1):
        name = f"[{n}/{len(plan.jobs)}] {job.notebook} {job.tag}"
        if not force and job.done(plan.out):
            log(f"{name}: done before, skipped")
            summary.append({"notebook": job.notebook, "tag": job.tag, "status": "skipped", "seconds": 0.0})
            continue
        log(f"{name}: running ...")
        seconds = run_job(job, plan.out)
        log(f"{name}: {seconds:.1f} s")
        summary.append({"notebook": job.notebook, "tag": job.tag, "status": "ran", "seconds": seconds})
    return summary


def build_book(plan: Plan, repo: Path, html_out: Path, strict: bool = True) -> Path:
    """Build the Jupyter Book from the pipeline's executed notebooks (no re-execution) into `html_out`."""
    import yaml

    stage = plan.out / "book-src"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(repo / "book", stage / "book")
    shutil.copy(repo / "_toc.yml", stage / "_toc.yml")
    cfg = yaml.safe_load((repo / "_config.yml").read_text())
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"
    (stage / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (stage / "notebooks").mkdir()
    for stem in BOOK_NOTEBOOKS:
        job = plan.book_copies.get(stem)
        if job is None or not job.output(plan.out).exists():
            raise PipelineError(f"no executed copy of {stem}.ipynb to put in the book; run the pipeline first.")
        shutil.copy(job.output(plan.out), stage / "notebooks" / f"{stem}.ipynb")
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"), "build", str(stage)] + (["-W", "--keep-going"] if strict else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PipelineError(f"the book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if html_out.exists():
        shutil.rmtree(html_out)
    shutil.copytree(stage / "_build" / "html", html_out)
    return html_out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pand_core.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=PROFILES, default="smoke")
    p.add_argument("--datasets", nargs="+", default=["cub"])
    p.add_argument("--methods", nargs="+", default=None, help="Stage 2 methods (default: every baseline and ablation)")
    p.add_argument("--students", nargs="+", default=["resnet18"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--data-root", default=None, help="folder holding the data sets (paper profile)")
    p.add_argument("--teacher-mode", choices=["online", "bank"], default=None)
    p.add_argument("--out", default="runs", help="runs folder: run folders go to <out>/<profile>/<dataset>/ (default: runs)")
    p.add_argument("--force", action="store_true", help="rerun stages whose outputs exist")
    p.add_argument("--book", action="store_true", help="then build the book from the executed notebooks into _build/html")
    args = p.parse_args(argv)
    out = Path(args.out)
    repo = NOTEBOOK_DIR.parent
    t0 = time.perf_counter()
    try:
        if not NOTEBOOK_DIR.is_dir():
            raise PandError(f"notebooks not found at {NOTEBOOK_DIR}: the pipeline runs from a clone of the repository "
                            "(pip install -e . inside it).")
        plan = make_plan(args.profile, out, args.datasets, args.methods or DEFAULT_METHODS[args.profile],
                         args.students, args.seeds, args.data_root, args.teacher_mode)
        summary = run_plan(plan, force=args.force)
        (plan.out / "pipeline.json").write_text(json.dumps({"args": vars(args), "jobs": summary}, indent=2))
        print(f"pipeline: {sum(s['status'] == 'ran' for s in summary)} notebooks ran, "
              f"{sum(s['status'] == 'skipped' for s in summary)} skipped, {time.perf_counter() - t0:.0f} s; "
              f"executed notebooks in {plan.out / 'notebooks'}")
        if args.book:
            t1 = time.perf_counter()
            html = build_book(plan, repo, repo / "_build" / "html")
            print(f"book built in {time.perf_counter() - t1:.0f} s: open {html / 'index.html'}")
    except PandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
