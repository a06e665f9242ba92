"""The batch flags of `pand_core.study` and `pand_core.pipeline` (one switch, `--executor`), and the dry run."""

from __future__ import annotations

import argparse

from ..infra.errors import PandError
from .executors import EXECUTORS, LOCAL_TIMEOUT_MIN, SLURM_TIME_MIN, BatchOptions
from .estimates import ASSUMED_TFLOPS


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """Add the executor flags to a command's parser."""
    g = p.add_argument_group("batch: where the runs go (pand_core.batch; local and slurm need pip install 'pand_core[cluster]')")
    g.add_argument("--executor", choices=EXECUTORS, default="inline",
                   help="inline: this process, one run after another (default); local: every run a job on this "
                        "machine, one GPU each (on CPU the cores divided); slurm: every run a Slurm job")
    g.add_argument("--workers", type=int, default=None,
                   help="local: jobs at once (default: one per GPU; without a GPU, half the CPU cores)")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads per run (local default: the cores divided by the workers; slurm default: "
                        "SLURM_CPUS_PER_TASK)")
    g.add_argument("--jobs-folder", default=None, help="local and slurm: submitit's folder of job logs (default: <runs>/jobs)")
    g.add_argument("--slurm-partition", default=None, help="slurm: the partition (sbatch --partition)")
    g.add_argument("--slurm-gpus-per-job", type=int, default=1, help="slurm: GPUs per job (default 1)")
    g.add_argument("--slurm-time", type=int, default=None,
                   help=f"slurm (and local): a job's time limit in minutes (default: slurm {SLURM_TIME_MIN}, local "
                        f"{LOCAL_TIMEOUT_MIN})")
    g.add_argument("--slurm-account", default=None, help="slurm: the account to charge (sbatch --account)")
    g.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                   help="slurm: another sbatch option, repeatable (e.g. --slurm-option qos=high --slurm-option mem=64G)")
    g.add_argument("--dry-run", action="store_true",
                   help="print the jobs, what each waits for, their costs (measured where a run finished, else "
                        "estimates) and the wall time on --dry-run-gpus GPUs; run nothing")
    g.add_argument("--dry-run-gpus", type=int, nargs="+", default=[1, 8, 32], help="dry run: GPU counts (default 1 8 32)")
    g.add_argument("--plan-gpus", type=int, nargs="+", dest="dry_run_gpus", help=argparse.SUPPRESS)  # earlier name
    g.add_argument("--assume-tflops", type=float, default=ASSUMED_TFLOPS,
                   help=f"dry run: the sustained TFLOP/s per GPU the estimates assume (default {ASSUMED_TFLOPS:g})")


def batch_options(args: argparse.Namespace) -> BatchOptions:
    """`BatchOptions` from parsed flags; a malformed `--slurm-option` is one clear error."""
    sbatch = {}
    for item in args.slurm_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PandError(f"--slurm-option expects KEY=VALUE (an sbatch option without its dashes), got {item!r}")
        sbatch[key.strip().lstrip("-")] = value
    return BatchOptions(args.executor, args.workers, args.threads, args.jobs_folder, args.slurm_partition,
                        args.slurm_gpus_per_job, args.slurm_time, args.slurm_account, sbatch)


def print_estimates(jobs, args: argparse.Namespace) -> None:
    """The dry run's report on stdout."""
    from .estimates import estimates_markdown

    print(estimates_markdown(jobs, args.dry_run_gpus, args.assume_tflops))
