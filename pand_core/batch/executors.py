"""The three executors of a grid of runs (`TrainingJob`) and the driver of the two that run jobs elsewhere.

- `inline` (default): each job in this process, one after another, in the in-process study's order; the first
  failure stops it (nothing of submitit is imported).
- `local`: each job a process on this machine (submitit's `LocalExecutor`), at most `workers` at once; with GPUs,
  each job sees only its own GPU (`CUDA_VISIBLE_DEVICES`), so `workers` is at most the number of GPUs; on CPU the
  cores are divided between the workers (`threads` per job, said in each job's log).
- `slurm`: each job a Slurm job (submitit's `SlurmExecutor`), submitted at once with `afterok` dependencies on the
  Stage 1 job it reads; the cluster decides how many run.

The driver reads every finished run instead of submitting it, submits a job once what it waits for has finished
(local) or been submitted (slurm), and collects failures: a failed job is named with its run folder and log, the
jobs that wait for it are not run (cancelled on Slurm), every other job finishes, and then `BatchFailed` lists the
failures. A killed job leaves its last checkpoint; rerunning the same command resumes it there.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

from ..infra.errors import PandError
from .jobs import TrainingJob, dependents
from .task import run_training_job

EXECUTORS = ("inline", "local", "slurm")
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # submitit's local default is 2 min; a local job is never cut short by the driver
SLURM_TIME_MIN = 24 * 60  # the default time limit of a Slurm job (--slurm-time); a paper Stage 2 run fits on an H100

Task = Callable[[TrainingJob, "int | None"], dict]


class BatchFailed(PandError):
    """Some jobs of a batch failed; every other job finished. The message lists each failure."""


@dataclass
class BatchOptions:
    """How a grid runs (the study's and the pipeline's ``--executor`` flags, `options.batch_options`).

    Args:
        executor: "inline" (this process), "local" (a process per job on this machine) or "slurm".
        workers: local: jobs at once; None: one per GPU, without a GPU half the cores.
        threads: CPU threads per job; None: local, the cores divided by the workers; slurm, `SLURM_CPUS_PER_TASK`;
            inline, PyTorch's default.
        folder: submitit's job folder (its pickles and each job's log), one subfolder per invocation; None:
            `<runs>/jobs`.
        partition: slurm: the partition; None: the cluster's default.
        gpus_per_job: slurm: GPUs per job.
        time_min: local and slurm: a job's time limit in minutes; None: slurm 24 h, local 7 days.
        account: slurm: the account to charge; None: the user's default.
        sbatch: slurm: other sbatch options without their dashes, e.g. `{"qos": "high", "mem": "64G"}`.
        poll_s: Seconds between the driver's looks at running jobs.
    """

    executor: str = "inline"
    workers: int | None = None  # local: jobs at once (default: one per GPU; without a GPU, half the cores)
    threads: int | None = None  # CPU threads per job (local default: the cores divided by the workers)
    folder: str | None = None
    partition: str | None = None  # slurm
    gpus_per_job: int = 1
    time_min: int | None = None  # local and slurm: a job's time limit in minutes
    account: str | None = None
    sbatch: dict[str, str] = field(default_factory=dict)  # other sbatch options, e.g. {"qos": "high", "mem": "64G"}
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise PandError(f"unknown executor {self.executor!r}; expected one of {list(EXECUTORS)}")
        for name in ("workers", "threads", "time_min"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PandError(f"--{name.replace('_min', '').replace('_', '-')} must be at least 1, got {value}")


@dataclass
class Failure:
    job: TrainingJob
    reason: str
    log: Path | None = None

    def line(self) -> str:
        where = f"; log {self.log}" if self.log else ""
        return f"{self.job.name}: {self.reason} (run folder {self.job.out}{where})"


def describe(job: TrainingJob, result: dict) -> str:
    """One line about a finished run: Stage 2's last-epoch test accuracy, Stage 1's calibrated accuracy."""
    seed = job.config.seed
    if job.stage == "calibrate":
        return (f"seed {seed} {'stage 1':18s} calibrated {result['calibrated_acc']['test']:6.2f} "
                f"(hand prompts {result['hand_prompt_acc']['test']:.2f})")
    return f"seed {seed} {job.config.method:18s} test acc (last epoch) {result['test_acc_last']:6.2f}"


def run_jobs(jobs: list[TrainingJob], options: BatchOptions | None = None, task: Task | None = None,
             log: Callable[[str], None] = print, progress: bool | None = None, desc: str = "runs") -> dict[str, dict]:
    """Run (or read) every job with the executor of `options`; return each job's result by name. Raises
    `BatchFailed` when a job failed.

    Args:
        jobs: The grid (`study_jobs`, `grid`).
        options: The executor and its settings; None: inline.
        task: Runs one job, `task(job, threads)` (default `task.run_training_job`; tests pass wrappers).
        log: Receives one line per finished run and the executors' messages.
        progress: The inline executor's progress bar; None: only on a terminal.
        desc: That bar's label.
    """
    options = options or BatchOptions()
    if options.executor == "inline":
        from ..infra.progress import Progress

        return _inline(Progress(jobs, desc, progress=progress), options.threads,
                       task or partial(run_training_job, quiet=True), log)
    backend = (_LocalBackend if options.executor == "local" else _SlurmBackend)(options, task or run_training_job, jobs)
    return _drive(jobs, backend, log, options.poll_s)


def _inline(jobs, threads: int | None, task: Task, log) -> dict[str, dict]:
    import torch

    before = torch.get_num_threads()
    results = {}
    try:
        for job in jobs:
            results[job.name] = task(job, threads)
            log(describe(job, results[job.name]))
    finally:
        torch.set_num_threads(before)  # `threads` was for the study's runs, not for what this process does next
    return results


def _finished(job: TrainingJob) -> dict | None:
    from ..stages import finished as finished_result

    return finished_result(job.config)  # refuses a finished run of another configuration (ConfigError)


def _jobs_folder(options: BatchOptions, jobs: list[TrainingJob]) -> Path:
    """submitit's folder for this invocation: `<jobs folder>/<date-time>-<pid>/` (local job ids are process ids,
    which repeat: a folder per invocation never mistakes an old job's result for a new one's)."""
    base = Path(options.folder) if options.folder else (
        Path(jobs[0].config.out).parents[2] / "jobs" if jobs else Path("runs") / "jobs")  # <runs>/<profile>/<ds>/<run>
    return base / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def _submitit():
    try:
        import submitit
    except ImportError:
        raise PandError("the local and slurm executors need submitit: pip install 'pand_core[cluster]' "
                        "(or pip install submitit), or run with --executor inline") from None
    return submitit


class _LocalBackend:
    """Jobs as processes of this machine: `workers` slots, slot k = GPU k when there are GPUs."""

    native_dependencies = False
    local_files = True

    def __init__(self, options: BatchOptions, task: Task, jobs: list[TrainingJob]) -> None:
        import torch

        submitit = _submitit()
        self.gpus = torch.cuda.device_count()
        cores = os.cpu_count() or 1
        self.limit = options.workers or self.gpus or max(1, cores // 2)
        if self.gpus and self.limit > self.gpus:
            raise PandError(f"--workers {self.limit} but this machine has {self.gpus} GPU(s): the local executor gives "
                            f"each job one GPU, so at most {self.gpus} run at once")
        self.threads = options.threads or max(1, cores // self.limit)
        self.task = task
        self.executor = submitit.LocalExecutor(folder=str(_jobs_folder(options, jobs) / "%j"))
        self.executor.update_parameters(timeout_min=options.time_min or LOCAL_TIMEOUT_MIN, tasks_per_node=1)
        self.what = (f"local: {self.limit} worker(s), one GPU each" if self.gpus else
                     f"local: {self.limit} worker(s) on {cores} CPU cores, {self.threads} thread(s) per job")

    def where(self, slot: int | None) -> str:
        return f"GPU {slot}" if self.gpus else f"worker {slot}, {self.threads} thread(s)"

    def submit(self, job: TrainingJob, slot: int | None, after: list[str]):
        if self.gpus:
            self.executor.update_parameters(gpus_per_node=1, visible_gpus=[slot])
        else:
            self.executor.update_parameters(gpus_per_node=0)  # CUDA_VISIBLE_DEVICES="" for the job
        return self.executor.submit(self.task, job, self.threads)


class _SlurmBackend:
    """Jobs as Slurm jobs, all submitted at once; a Stage 2 job depends (`afterok`) on the Stage 1 job it reads."""

    native_dependencies = True
    local_files = False  # results may reach the driver's file system later: submitit waits for them
    limit = None

    def __init__(self, options: BatchOptions, task: Task, jobs: list[TrainingJob]) -> None:
        submitit = _submitit()
        try:
            self.executor = submitit.SlurmExecutor(folder=str(_jobs_folder(options, jobs) / "%j"))
        except RuntimeError as e:  # no `srun` on PATH
            raise PandError(f"the slurm executor runs where Slurm is ({e}); on one machine use --executor local") from None
        self.params: dict[str, Any] = dict(gpus_per_node=options.gpus_per_job, time=options.time_min or SLURM_TIME_MIN,
                                           ntasks_per_node=1, nodes=1)
        for name in ("partition", "account"):
            if getattr(options, name):
                self.params[name] = getattr(options, name)
        if options.sbatch:
            self.params["additional_parameters"] = dict(options.sbatch)
        self.task, self.threads = task, options.threads
        self.what = f"slurm: {options.gpus_per_job} GPU(s) per job, time limit {self.params['time']} min"

    def where(self, slot: int | None) -> str:
        return "slurm"

    def submit(self, job: TrainingJob, slot: int | None, after: list[str]):
        dependency = f"afterok:{':'.join(after)}" if after else None
        self.executor.update_parameters(job_name=f"pand-{job.name.replace('/', '-')}", dependency=dependency,
                                        **self.params)
        return self.executor.submit(self.task, job, self.threads)


class _Stopped(Exception):
    """A local job's process ended without writing its result (killed, out of memory, over its time limit)."""


def _reason(error: BaseException) -> str:
    """The job's own error in one line: the last line of the traceback that submitit's message carries between
    two rules of dashes; for a job that left no result, that it stopped."""
    if isinstance(error, _Stopped) or type(error).__name__ == "UncompletedJobError":
        return "stopped without a result (killed, out of memory or over its time limit)"
    parts = str(error).split("-" * 22)
    trace = parts[1] if len(parts) >= 3 else str(error)
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _drive(jobs: list[TrainingJob], backend, log, poll_s: float) -> dict[str, dict]:
    """Submit every job that is ready, wait, collect; see the module docstring."""
    results: dict[str, dict] = {}
    for job in jobs:
        found = _finished(job)
        if found is not None:
            results[job.name] = found
    if results:
        log(f"{len(results)} of {len(jobs)} runs finished before: read, not run again")
    log(backend.what)
    todo = [job for job in jobs if job.name not in results]
    running: dict[str, tuple[TrainingJob, Any, int | None]] = {}
    failures: dict[str, Failure] = {}
    free = list(range(backend.limit)) if backend.limit else None
    t0 = time.perf_counter()
    try:
        while todo or running:
            for job in list(todo):  # jobs waiting for a failed one are not run
                failed = [a for a in job.after if a in failures]
                if failed:
                    failures[job.name] = Failure(job, f"not run: it waits for {failed[0]}, which failed")
                    todo.remove(job)
            for job in list(todo):
                if free is not None and not free:
                    break
                if not all(a in results or (backend.native_dependencies and a in running) for a in job.after):
                    continue
                slot = free.pop(0) if free is not None else None
                handle = backend.submit(job, slot, [str(running[a][1].job_id) for a in job.after if a in running])
                log(f"{job.name}: submitted as job {handle.job_id} ({backend.where(slot)})")
                running[job.name] = (job, handle, slot)
                todo.remove(job)
            for name, (job, handle, slot) in list(running.items()):
                if not handle.done():
                    continue
                del running[name]
                if free is not None:
                    free.append(slot)
                try:
                    if backend.local_files and not handle.paths.result_pickle.exists():
                        raise _Stopped()  # a local file is there or not: no wait for a network file system
                    results[name] = handle.result()
                    log(describe(job, results[name]))
                except Exception as e:  # noqa: BLE001  (any failure of a job is reported, the others go on)
                    if name not in failures:
                        failures[name] = Failure(job, _reason(e), Path(handle.paths.stderr))
                        log(f"{name}: FAILED: {failures[name].reason}")
                    for dep in dependents(jobs, name):  # Slurm: already submitted, waiting for this one
                        if dep.name in running:
                            failures[dep.name] = Failure(dep, f"not run: it waits for {name}, which failed (cancelled)")
                            running[dep.name][1].cancel(check=False)
            if running:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for job, handle, _ in running.values():
            handle.cancel(check=False)  # a stopped driver leaves no orphan jobs; their checkpoints stay
        raise
    log(f"{len(jobs)} runs: {len(jobs) - len(failures)} finished, {len(failures)} failed, "
        f"{time.perf_counter() - t0:.0f} s")
    if failures:
        raise BatchFailed(f"{len(failures)} of {len(jobs)} jobs failed; every other job finished:\n  "
                          + "\n  ".join(f.line() for f in failures.values())
                          + "\nFix the cause and rerun the same command: finished runs are read, a killed run resumes "
                            "from its last checkpoint.")
    return results
