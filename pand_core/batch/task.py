"""What one job does, wherever it runs (this process, a local worker, a Slurm node): set its CPU threads, say them,
then read, resume or compute its run with the stage functions the in-process study calls."""

from __future__ import annotations

import os
import time
from functools import partial

from .jobs import TrainingJob


def job_threads(threads: int | None) -> int:
    """The CPU threads a job's PyTorch uses: `threads` when given, else Slurm's CPUs for the task when there is
    one (`SLURM_CPUS_PER_TASK`), else PyTorch's default.

    Args:
        threads: The threads to set; None: as above.
    """
    import torch

    if threads is None and os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit():
        threads = int(os.environ["SLURM_CPUS_PER_TASK"])
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run_training_job(job: TrainingJob, threads: int | None = None, quiet: bool = False) -> dict:
    """Run `job` (a finished run is read, an interrupted one resumed from its last checkpoint) and return its
    `result.json` contents. The job's log (stdout) first says its threads and devices; `quiet`: nothing (the
    inline study, whose own log says each result).

    Args:
        job: The run.
        threads: Its CPU threads (`job_threads`).
        quiet: Print nothing.
    """
    from ..stages import calibrated, distilled

    used = job_threads(threads)
    say = (lambda _: None) if quiet else partial(print, flush=True)
    say(f"{job.name}: {used} CPU thread(s); CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}; "
        f"run folder {job.out}")
    t0 = time.perf_counter()
    stage = calibrated if job.stage == "calibrate" else distilled
    result = stage(job.config, progress=False)
    say(f"{job.name}: finished in {time.perf_counter() - t0:.1f} s")
    return result
