"""The batch reproduction (pand_core.batch): every run a job on submitit's local executor or on Slurm, the same
numbers as the in-process study, a killed job resumed, failures named, shared inputs built once, and the plan.

The grid is small (2 seeds x ce / vl2lite / pand on a 4-class world, the random-weights tiny teacher) so that the
local executor's worker processes, not the training, take the time."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pand_core.batch.executors import BatchFailed, BatchOptions, run_jobs
from pand_core.batch.jobs import TrainingJob, dependents, grid, study_jobs
from pand_core.batch.estimates import Cost, estimate, job_cost, estimates_markdown, wall_time
from pand_core.config import make_config

METHODS = ["ce", "vl2lite", "pand"]
SEEDS = [0, 1]
TINY = {"teacher": "pand-tiny-clip", "teacher_weights": None}
OVERRIDES = {"calibrate": dict(TINY, epochs=2, n_ctx=4, batch_size=8),
             "distill": dict(TINY, epochs=3, batch_size=8, nlrd_group_size=4, image_size=32, resize=36,
                             student_pretrained=False)}
# What differs between two runs of the same configuration: where and when they ran, and how long they took.
MACHINE_FIELDS = {"environment", "train_time_s", "timings", "anchors"}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from pand_core.miniature.world import SyntheticSpec, make_synthetic_cub

    root = tmp_path_factory.mktemp("batch-world")
    make_synthetic_cub(root, SyntheticSpec(n_classes=4, train_per_class=4, test_per_class=2, image_size=32), progress=False)
    return root


def study(world: Path, runs: Path, batch: BatchOptions | None = None, task=None, seeds=SEEDS, log=None,
          methods=METHODS):
    from pand_core.study import run_study

    return run_study("smoke", "cub", methods, seeds, "resnet18", runs, "bank", str(world), progress=False,
                     log=log or (lambda *_: None), overrides=OVERRIDES, batch=batch, task=task)


def results(runs: Path) -> dict[str, dict]:
    """Every run's result.json without the machine's fields, by run folder name; the test's own folder (which holds
    the runs and the cache, so it is in the teacher's weights path) written as <base>."""
    found = {}
    for path in sorted((runs / "smoke" / "cub").glob("*/result.json")):
        text = path.read_text().replace(str(runs.parent), "<base>")
        found[path.parent.name] = {k: v for k, v in json.loads(text).items() if k not in MACHINE_FIELDS}
    return found


def metrics(runs: Path, run: str) -> list[dict]:
    lines = (runs / "smoke" / "cub" / run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "epoch_time_s"} for line in lines if line.strip()]


@pytest.fixture(scope="module")
def inline_reference(small_world, tmp_path_factory):
    """The in-process study with 1 thread per run: the numbers every executor must give."""
    pytest.importorskip("submitit")
    base = tmp_path_factory.mktemp("inline")
    os.environ["PAND_CACHE"] = str(base / "cache")
    try:
        summary = study(small_world, base / "runs", BatchOptions("inline", threads=1))
    finally:
        os.environ.pop("PAND_CACHE")
    return base / "runs", json.loads(summary.read_text())


# ----------------------------------------------------------------------------------- the grid (pure, fast)

def test_study_jobs_follow_the_inline_order_and_wait_only_for_the_anchors_they_read(tmp_path):
    jobs = study_jobs("smoke", "cub", METHODS, [0, 1], "resnet18", tmp_path, "bank", "/data", OVERRIDES)
    assert [j.name for j in jobs] == ["cub/calibrate-s0", "cub/ce-resnet18-s0", "cub/vl2lite-resnet18-s0",
                                      "cub/pand-resnet18-s0", "cub/calibrate-s1", "cub/ce-resnet18-s1",
                                      "cub/vl2lite-resnet18-s1", "cub/pand-resnet18-s1"]
    after = {j.name: j.after for j in jobs}
    assert after["cub/pand-resnet18-s1"] == ("cub/calibrate-s1",)  # learned anchors: its own seed's Stage 1
    assert after["cub/ce-resnet18-s0"] == () and after["cub/vl2lite-resnet18-s0"] == ()  # no Stage 1 read
    pand = next(j for j in jobs if j.name == "cub/pand-resnet18-s1")
    assert pand.config.anchors == str(tmp_path / "smoke" / "cub" / "calibrate-s1" / "anchors.pt")
    assert [j.name for j in dependents(jobs, "cub/calibrate-s0")] == ["cub/pand-resnet18-s0"]


def test_a_grid_of_two_students_shares_each_stage1_job(tmp_path):
    kw = dict(profile="smoke", dataset="cub", methods=["pand"], seeds=[0], runs=tmp_path, overrides=OVERRIDES)
    jobs = grid([dict(kw, student="resnet18"), dict(kw, student="mobilenet_v2")])
    assert [j.name for j in jobs] == ["cub/calibrate-s0", "cub/pand-resnet18-s0", "cub/pand-mobilenet_v2-s0"]
    other = dict(kw, student="mobilenet_v2", overrides={"calibrate": dict(OVERRIDES["calibrate"], epochs=5)})
    with pytest.raises(Exception, match="different configurations"):
        grid([dict(kw, student="resnet18"), other])


def _job(name, after=(), stage="distill"):
    cfg = make_config("calibrate" if stage == "calibrate" else "distill", "smoke", out=f"/nowhere/{name}")
    return TrainingJob(name, stage, cfg, tuple(after))


def test_wall_time_is_list_scheduling_with_dependencies():
    """Hand-computed: S (10 s), then A, B, C (5 s each) after S, and D (7 s) waiting for nothing."""
    jobs = [_job("S", stage="calibrate"), _job("A", ["S"]), _job("B", ["S"]), _job("C", ["S"]), _job("D")]
    seconds = {"S": 10, "A": 5, "B": 5, "C": 5, "D": 7}
    assert wall_time(jobs, seconds, 1) == 32  # everything one after another
    assert wall_time(jobs, seconds, 2) == 20  # S | D; A, B at 10; C at 15
    assert wall_time(jobs, seconds, 4) == 15  # S | D; A, B, C together at 10
    assert wall_time(jobs, seconds, 100) == 15  # the dependency bounds it
    with pytest.raises(ValueError, match="not in the grid"):
        wall_time([_job("A", ["missing"])], {"A": 1}, 1)


def test_paper_estimates_count_the_flops_they_say(tmp_path):
    """ResNet-18 at 224 px: 3.63 GFLOP per forward pass (2 x 1.81 GMAC); CE has no teacher term, PAND online adds
    the teacher's forward pass per image per epoch; the estimate says it is one."""
    ce, pand = (make_config("distill", "paper", method=m, runs=tmp_path) for m in ("ce", "pand"))
    e_ce, e_pand = estimate(TrainingJob("ce", "distill", ce), 40.0), estimate(TrainingJob("pand", "distill", pand), 40.0)
    assert "3 x 3.63) + 5794 x 3.63) GFLOP at 40 TFLOP/s" in e_ce.source and e_ce.source.startswith("estimate")
    flops_ce = 300 * (5994 * 3 + 5794) * 3.628e9
    assert e_ce.seconds == pytest.approx(flops_ce / 40e12, rel=1e-3)
    assert e_pand.seconds > 20 * e_ce.seconds and not e_pand.measured
    assert estimate(TrainingJob("ce", "distill", ce), 80.0).seconds == pytest.approx(e_ce.seconds / 2)


def test_a_finished_run_replaces_the_estimate_and_lends_it_to_other_seeds(tmp_path):
    cfgs = [make_config("distill", "smoke", method="ce", runs=tmp_path, seed=s) for s in (0, 1)]
    run = Path(cfgs[0].out)
    run.mkdir(parents=True)
    from pand_core.config import to_dict

    (run / "config.json").write_text(json.dumps(to_dict(cfgs[0])))
    (run / "result.json").write_text(json.dumps({"method": "ce"}))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "epoch_time_s": 1.5}) + "\n" for e in range(4)))
    own, other = job_cost(TrainingJob("a", "distill", cfgs[0])), job_cost(TrainingJob("b", "distill", cfgs[1]))
    assert own == Cost(6.0, f"measured ({run})")
    assert other.seconds == 6.0 and other.source == f"measured on seed 0 ({run})"
    text = estimates_markdown([TrainingJob("a", "distill", cfgs[0]), TrainingJob("b", "distill", cfgs[1])], [1, 2])
    assert "2 jobs: 0 Stage 1, 2 Stage 2; 2 costs measured, 0 estimated." in text
    assert "| 1 | 0.0 | 0.0 |" in text and "assume" not in text


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    from pand_core.study import main

    assert main(["--profile", "paper", "--seeds", "0", "1", "2", "--methods", "ce", "pand", "--runs", str(tmp_path),
                 "--dry-run", "--dry-run-gpus", "1", "8"]) == 0
    out = capsys.readouterr().out
    assert "9 jobs: 3 Stage 1, 6 Stage 2; 0 costs measured, 9 estimated." in out
    assert "| cub/pand-resnet18-s2 | cub/calibrate-s2 |" in out and "| 8 |" in out and "assume 40 TFLOP/s" in out
    assert not any(tmp_path.iterdir())


def test_batch_flags_are_checked_with_one_line(tmp_path, capsys):
    from pand_core.study import main

    assert main(["--seeds", "0", "--runs", str(tmp_path), "--executor", "slurm", "--slurm-option", "qos"]) == 2
    assert capsys.readouterr().err.startswith("error: --slurm-option expects KEY=VALUE")
    assert main(["--seeds", "0", "--runs", str(tmp_path), "--executor", "local", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


@pytest.mark.slow  # seconds (subprocesses, or the whole grid counted): not in the fast tier
def test_the_inline_study_imports_nothing_of_submitit(tmp_path):
    code = ("import sys, pand_core.study, pand_core.pipeline, pand_core.batch.estimates; "
            "from pand_core.batch.executors import run_jobs; run_jobs([]); "
            "print('submitit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------------------- shared inputs built once

@pytest.mark.slow  # seconds (subprocesses, or the whole grid counted): not in the fast tier
def test_two_processes_racing_for_one_input_build_it_once(tmp_path):
    """Two workers want the same file at once: one builds it (slowly), the other waits and reads it."""
    script = textwrap.dedent(f"""
        import sys, time, pathlib
        from pand_core.infra.files import atomic_write, build_once
        path = pathlib.Path({str(tmp_path / 'bank.txt')!r})
        def build():
            with open({str(tmp_path / 'builds.log')!r}, "a") as f:
                f.write(sys.argv[1] + "\\n")
            time.sleep(1.0)
            atomic_write(path, lambda tmp: tmp.write_text("built by " + sys.argv[1]))
            return path.read_text()
        print(build_once(path, lambda: path.read_text() if path.exists() else None, build))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE, text=True)
             for name in ("first", "second")]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    builds = (tmp_path / "builds.log").read_text().split()
    assert len(builds) == 1 and outs == [f"built by {builds[0]}"] * 2


@pytest.mark.slow  # seconds (subprocesses, or the whole grid counted): not in the fast tier
def test_two_workers_racing_for_one_synthetic_world_write_it_once(tmp_path):
    script = ("import sys; from pand_core.miniature import world as w; calls = []; real = w._write_world\n"
              "def counted(*a):\n    calls.append(1); return real(*a)\n"
              "w._write_world = counted\n"
              f"w.make_synthetic_cub({str(tmp_path)!r}, w.SyntheticSpec(n_classes=6, train_per_class=8, "
              "test_per_class=8, image_size=48), progress=False)\nprint(len(calls))")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    writes = sorted(int(p.communicate(timeout=120)[0]) for p in procs)
    assert writes == [0, 1]
    assert len(list((tmp_path / "CUB_200_2011" / "images").rglob("*.jpg"))) == 6 * 16


# --------------------------------------------------------------------------- the local executor (slow)

@pytest.mark.slow
def test_local_workers_give_the_inline_numbers(inline_reference, small_world, tmp_path, monkeypatch):
    """2 workers, 1 thread per run, own cache: result.json numbers, metrics and summary.json identical."""
    ref_runs, ref_summary = inline_reference
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    log = []
    summary = study(small_world, tmp_path / "runs", BatchOptions("local", workers=2, threads=1, poll_s=0.2),
                    log=log.append)
    assert results(tmp_path / "runs") == results(ref_runs) and len(results(ref_runs)) == 8
    for run in ("pand-resnet18-s1", "ce-resnet18-s0"):
        assert metrics(tmp_path / "runs", run) == metrics(ref_runs, run)
    assert json.loads(summary.read_text()) == ref_summary
    assert "local: 2 worker(s) on" in "\n".join(log) and any("submitted as job" in line for line in log)
    job_logs = "\n".join(p.read_text() for p in (tmp_path / "runs" / "jobs").rglob("*_log.out"))
    assert job_logs.count("1 CPU thread(s)") == 8  # each job says its threads
    for path in (tmp_path / "runs" / "smoke" / "cub").glob("*/result.json"):
        assert json.loads(path.read_text())["environment"]["torch_threads"] == 1
    log.clear()
    study(small_world, tmp_path / "runs", BatchOptions("local", workers=2, threads=1, poll_s=0.2), log=log.append)
    assert log[0] == "8 of 8 runs finished before: read, not run again" and not any("submitted" in x for x in log)


def _device_task():
    """A task that runs nothing and reports the devices and threads its worker was given."""
    def task(job, threads):
        import os
        import time

        start = time.time()
        time.sleep(1.0)  # long enough for the two workers' jobs to overlap
        return {"test_acc_last": 0.0, "calibrated_acc": {"test": 0.0}, "hand_prompt_acc": {"test": 0.0},
                "visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "threads": threads, "span": (start, time.time())}

    return task


@pytest.mark.slow
def test_each_local_job_sees_one_gpu_of_its_own(tmp_path, monkeypatch):
    """With GPUs (counted by the driver; none is needed to test the assignment) every job gets exactly one, and
    two jobs running at once never share it; more workers than GPUs is refused in one sentence."""
    pytest.importorskip("submitit")
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    jobs = study_jobs("smoke", "cub", ["ce", "vl2lite", "kd"], [0], runs=tmp_path)
    got = run_jobs(jobs, BatchOptions("local", workers=2, threads=1, poll_s=0.1), task=_device_task(),
                   log=lambda *_: None)
    assert {r["visible"] for r in got.values()} == {"0", "1"} and {r["threads"] for r in got.values()} == {1}
    spans = [(r["visible"], *r["span"]) for r in got.values()]
    for i, (gpu, start, end) in enumerate(spans):  # a GPU's jobs never overlap in time
        assert not any(g == gpu and s < end and start < e for g, s, e in spans[i + 1:])
    with pytest.raises(Exception, match="--workers 3 but this machine has 2 GPU"):
        run_jobs(jobs, BatchOptions("local", workers=3), task=_device_task())


def _killing_task(victim: str, at_epoch: int):
    """A task that SIGKILLs its own worker process when the run `victim` reaches `at_epoch` (its earlier epochs
    checkpointed), else runs the job as usual. A closure, so that submitit pickles it by value."""
    def task(job, threads):
        import os
        import signal

        from pand_core.batch.task import run_training_job
        from pand_core.stage2 import distill as d

        if job.name == victim:
            real = d.train_one_epoch

            def epoch(*args, **kwargs):
                if args[6] == at_epoch:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(*args, **kwargs)

            d.train_one_epoch = epoch
        return run_training_job(job, threads)

    return task


def _failing_task(victim: str):
    def task(job, threads):
        from pand_core.batch.task import run_training_job

        if job.name == victim:
            raise RuntimeError(f"injected failure in {job.name}")
        return run_training_job(job, threads)

    return task


def reference_summary(ref_runs: Path, runs: list[str], folder: Path) -> dict:
    """The summary an uninterrupted study of just these runs writes: theirs copied from the reference, summarised."""
    import shutil

    from pand_core.report import write_study_summary

    for run in runs:
        shutil.copytree(ref_runs / "smoke" / "cub" / run, folder / "smoke" / "cub" / run)
    return json.loads(write_study_summary(folder, "smoke", "cub", "resnet18").read_text())


@pytest.mark.slow
def test_a_killed_job_resumes_and_the_study_matches_the_uninterrupted_one(inline_reference, small_world, tmp_path,
                                                                         monkeypatch):
    """Seed 1's Stage 1 and `pand`: the `pand` worker is SIGKILLed at epoch 2; the same command again resumes it
    from its epoch-1 checkpoint, runs nothing finished again, and ends with the uninterrupted study's numbers."""
    ref_runs, _ = inline_reference
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    options = BatchOptions("local", workers=2, threads=1, poll_s=0.2)
    victim = "cub/pand-resnet18-s1"
    with pytest.raises(BatchFailed) as err:
        study(small_world, tmp_path / "runs", options, task=_killing_task(victim, at_epoch=2), seeds=[1],
              methods=["pand"])
    text = str(err.value)
    assert text.startswith("1 of 2 jobs failed; every other job finished:")
    assert f"{victim}: stopped without a result (killed" in text and "_log.err" in text
    run = tmp_path / "runs" / "smoke" / "cub" / "pand-resnet18-s1"
    assert f"run folder {run}" in text
    assert not (run / "result.json").exists() and (run / "checkpoint_last.pt").exists()
    stage1 = tmp_path / "runs" / "smoke" / "cub" / "calibrate-s1" / "result.json"
    before = stage1.stat().st_mtime_ns
    summary = study(small_world, tmp_path / "runs", options, seeds=[1], methods=["pand"])  # the same command again
    assert "resumed after epoch 1" in (run / "run.log").read_text()
    assert stage1.stat().st_mtime_ns == before  # nothing finished ran again
    ours = results(tmp_path / "runs")
    assert ours == {k: v for k, v in results(ref_runs).items() if k in ("calibrate-s1", "pand-resnet18-s1")}
    assert metrics(tmp_path / "runs", "pand-resnet18-s1") == metrics(ref_runs, "pand-resnet18-s1")
    assert json.loads(summary.read_text()) == reference_summary(ref_runs, ["calibrate-s1", "pand-resnet18-s1"],
                                                                tmp_path / "uninterrupted")


@pytest.mark.slow
def test_a_failing_job_is_named_and_the_others_finish(small_world, tmp_path, monkeypatch, capsys):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    options = BatchOptions("local", workers=2, threads=1, poll_s=0.2)
    with pytest.raises(BatchFailed) as err:
        study(small_world, tmp_path / "runs", options, task=_failing_task("cub/calibrate-s0"), seeds=[0])
    text = str(err.value)
    assert text.startswith("2 of 4 jobs failed")
    assert "cub/calibrate-s0: RuntimeError: injected failure in cub/calibrate-s0 (run folder" in text
    assert "cub/pand-resnet18-s0: not run: it waits for cub/calibrate-s0, which failed" in text
    log = Path(text.split("; log ")[1].split(")")[0])
    assert log.exists() and "injected failure" in log.read_text()
    done = sorted(p.parent.name for p in (tmp_path / "runs" / "smoke" / "cub").glob("*/result.json"))
    assert done == ["ce-resnet18-s0", "vl2lite-resnet18-s0"]
    from pand_core.infra.errors import exit_status

    def fail():
        raise err.value

    assert exit_status(fail) == 2 and capsys.readouterr().err.startswith("error: 2 of 4 jobs failed")


# ------------------------------------------------------------------------------- Slurm, without a cluster

STUB = {
    # sbatch: record the script, answer "Submitted batch job N" at once, and run the job in the background as a node
    # would (SLURM_* exported) once every afterok dependency COMPLETED; a job whose dependency failed stays pending
    # until scancel, as on Slurm. Final states go to $STUB_SLURM/states, which sacct prints.
    "sbatch": """#!/bin/bash
        dir="$STUB_SLURM"; n=$(( $(ls "$dir"/*.sbatch 2>/dev/null | wc -l) + 1 ))
        cp "$1" "$dir/$n.sbatch"
        deps=$(sed -n 's/^#SBATCH --dependency=afterok:\\(.*\\)$/\\1/p' "$1" | tr ':' ' ')
        (
          for d in $deps; do
            until grep -q "^$d|" "$dir/states"; do sleep 0.2; done
            grep -q "^$d|COMPLETED" "$dir/states" || exit 0  # pending forever (DependencyNeverSatisfied)
          done
          grep -q "^$n|CANCELLED" "$dir/states" && exit 0
          state=COMPLETED
          SLURM_JOB_ID=$n SLURM_NTASKS=1 SLURM_JOB_NUM_NODES=1 SLURM_NODEID=0 SLURM_PROCID=0 SLURM_LOCALID=0 \\
            SLURM_JOB_NODELIST=localhost bash "$dir/$n.sbatch" >/dev/null 2>&1 || state=FAILED
          echo "$n|$state|localhost" >> "$dir/states"
        ) >/dev/null 2>&1 &
        echo "Submitted batch job $n"
        """,
    # srun --unbuffered --output OUT --error ERR CMD...: run CMD with its output in those files
    "srun": """#!/bin/bash
        out=/dev/null; err=/dev/null
        while [ "${1#--}" != "$1" ]; do
          case "$1" in --output) out="${2//%j/$SLURM_JOB_ID}"; out="${out//%t/0}"; shift 2;;
                       --error) err="${2//%j/$SLURM_JOB_ID}"; err="${err//%t/0}"; shift 2;; *) shift;; esac
        done
        mkdir -p "$(dirname "$out")"; exec "$@" >>"$out" 2>>"$err"
        """,
    "sacct": """#!/bin/bash
        echo "JobID|State|NodeList"; cat "$STUB_SLURM/states"
        """,
    "scancel": """#!/bin/bash
        for id in "$@"; do case "$id" in -*) ;; *) echo "$id|CANCELLED|" >> "$STUB_SLURM/states";; esac; done
        """,
}


def _stub_slurm(tmp_path: Path, monkeypatch) -> Path:
    """The stub commands on PATH, their state folder, and a private cache; returns the state folder."""
    pytest.importorskip("submitit")
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm"
    bin_dir.mkdir(), state.mkdir()
    (state / "states").write_text("")
    for name, body in STUB.items():
        (bin_dir / name).write_text(textwrap.dedent(body))
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STUB_SLURM", str(state))
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    return state


@pytest.mark.slow
def test_slurm_submission_scripts_and_dependencies(inline_reference, small_world, tmp_path, monkeypatch):
    """With stub sbatch/srun/sacct/scancel on PATH (the stub runs each job at submission, after checking that its
    afterok dependencies completed): the #SBATCH lines carry the user's fields, each Stage 2 run that reads anchors
    depends on its seed's Stage 1 job, and the numbers are the inline study's (seed 0)."""
    ref_runs, _ = inline_reference
    state = _stub_slurm(tmp_path, monkeypatch)
    options = BatchOptions("slurm", threads=1, partition="gpu-h100", gpus_per_job=1, time_min=720, account="lab42",
                           sbatch={"qos": "high", "cpus-per-task": "8"}, poll_s=0.2)
    study(small_world, tmp_path / "runs", options, seeds=[0])
    scripts = {int(p.stem): p.read_text() for p in state.glob("*.sbatch")}
    assert len(scripts) == 4
    names = {n: next(line.split("=", 1)[1] for line in s.splitlines() if line.startswith("#SBATCH --job-name="))
             for n, s in scripts.items()}
    ids = {name: n for n, name in names.items()}
    for text in scripts.values():
        for line in ("#SBATCH --partition=gpu-h100", "#SBATCH --gpus-per-node=1", "#SBATCH --time=720",
                     "#SBATCH --account=lab42", "#SBATCH --qos=high", "#SBATCH --cpus-per-task=8"):
            assert line in text.splitlines()
        assert "srun --unbuffered --output" in text and "submitit.core._submit" in text
    deps = {name: next((line.split(":", 1)[1] for line in scripts[n].splitlines()
                        if line.startswith("#SBATCH --dependency=")), None) for name, n in ids.items()}
    assert deps["pand-cub-pand-resnet18-s0"] == str(ids["pand-cub-calibrate-s0"])
    assert deps["pand-cub-ce-resnet18-s0"] is None and deps["pand-cub-calibrate-s0"] is None
    for _ in range(50):  # a job's result exists a moment before the stub records its end
        if (state / "states").read_text().count("|COMPLETED|") == 4:
            break
        time.sleep(0.2)
    assert (state / "states").read_text().count("|COMPLETED|") == 4
    seed0 = {run: r for run, r in results(ref_runs).items() if run.endswith("-s0")}
    assert results(tmp_path / "runs") == seed0 and len(seed0) == 4


@pytest.mark.slow
def test_slurm_cancels_the_jobs_that_wait_for_a_failed_one(small_world, tmp_path, monkeypatch):
    """Stage 1 fails on the cluster: its dependent job would pend forever (DependencyNeverSatisfied), so the driver
    cancels it, names both, and the jobs that do not wait for it finish."""
    _stub_slurm(tmp_path, monkeypatch)
    with pytest.raises(BatchFailed) as err:
        study(small_world, tmp_path / "runs", BatchOptions("slurm", threads=1, poll_s=0.2),
              task=_failing_task("cub/calibrate-s0"), seeds=[0], methods=["ce", "pand"])
    text = str(err.value)
    assert text.startswith("2 of 3 jobs failed") and "injected failure in cub/calibrate-s0" in text
    assert "cub/pand-resnet18-s0: not run: it waits for cub/calibrate-s0, which failed (cancelled)" in text
    assert "3|CANCELLED|" in (tmp_path / "slurm" / "states").read_text()  # pand-s0 was the 3rd submission
    done = sorted(p.parent.name for p in (tmp_path / "runs" / "smoke" / "cub").glob("*/result.json"))
    assert done == ["ce-resnet18-s0"]


def test_slurm_without_srun_says_where_it_runs(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    jobs = study_jobs("smoke", "cub", ["ce"], [0], runs=tmp_path)
    with pytest.raises(Exception, match="the slurm executor runs where Slurm is .*use --executor local"):
        run_jobs(jobs, BatchOptions("slurm"))


@pytest.mark.slow  # seconds (subprocesses, or the whole grid counted): not in the fast tier
def test_the_guides_plan_of_the_paper_grid_is_what_the_code_computes():
    """studies/results/paper-plan.md (included by the reproduction guide) is regenerated by studies/paper_plan.py:
    180 jobs (12 Stage 1: one per data set and seed, both students read it; 168 Stage 2), all estimates."""
    from pand_core.batch.estimates import paper_plan_markdown

    committed = (Path(__file__).resolve().parents[1] / "studies" / "results" / "paper-plan.md").read_text()
    assert committed == paper_plan_markdown(), "run python studies/paper_plan.py and commit the file"
    assert committed.count("180 jobs: 12 Stage 1, 168 Stage 2") == 2 and "0 costs measured, 180 estimated" in committed


@pytest.mark.slow  # the teacher's FLOPs counted on the meta device: seconds
def test_the_gpu_recipes_table_is_what_the_code_computes():
    """studies/results/gpu-recipe.md (the one-GPU recipe's hours per card) is regenerated by studies/gpu_recipe.py;
    a card below the online estimate's memory is told to use the bank, and its online column says it does not fit."""
    from pand_core.book.accelerator import GPU_CARDS, card_plan_markdown, card_tflops

    committed = (Path(__file__).resolve().parents[1] / "studies" / "results" / "gpu-recipe.md").read_text()
    assert committed == card_plan_markdown(), "run python studies/gpu_recipe.py and commit the file"
    assert "| T4 | 16 GB | bank |" in committed and "does not fit" in committed and "Estimates, not measurements" in committed
    assert card_tflops(67.0) == 40.0 and len(committed.splitlines()) >= len(GPU_CARDS) + 2
