"""The batch reproduction: every run of a study a job, on this process (`inline`, the default), on this machine's
GPUs or cores (`local`) or on a Slurm cluster (`slurm`), the last two through submitit (`pip install
pand_core[cluster]`).

- `jobs.py`: the grid, one `TrainingJob` per Stage 1 run (data set, seed) and Stage 2 run (data set, student, method,
  seed), and which Stage 1 run each Stage 2 run reads (pure; no engine).
- `task.py`: what one job does wherever it runs: its threads, then `stages.calibrated` / `distilled`.
- `executors.py`: the three executors and the driver that submits ready jobs and collects results and failures.
- `estimates.py`: the dry run: jobs, dependencies, costs (measured where a run finished, else labelled estimates) and
  the wall time on N GPUs.
- `options.py`: the ``--executor`` flags of the study and the pipeline.

Nothing here changes what a run computes: a job calls the same stage functions as the in-process study, with the
same config, and a finished run is read, never run again.
"""
