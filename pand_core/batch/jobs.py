"""The grid of a study as jobs: one per Stage 1 run and one per Stage 2 run, with the Stage 1 run each Stage 2 run
reads (its learned anchors). Pure: builds configs, runs nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import CalibrateConfig, DistillConfig, check_methods, default_student, make_config, to_dict
from ..infra.errors import PandError


@dataclass
class TrainingJob:
    """One run of a study's grid, and the jobs it must wait for.

    Args:
        name: A short name, `<dataset>/<run folder name>`.
        stage: "calibrate" or "distill".
        config: The run's full config; the run folder is `config.out`.
        after: The names of the jobs it waits for (a Stage 2 run with learned anchors: its seed's Stage 1 run).
    """

    name: str
    stage: str
    config: CalibrateConfig | DistillConfig
    after: tuple[str, ...] = ()

    @property
    def out(self) -> Path:
        return Path(self.config.out)


def study_jobs(profile: str, dataset: str, methods: list[str], seeds: list[int], student: str | None = None,
               runs: str | Path = "runs", teacher_mode: str | None = None, data_root: str | None = None,
               overrides: dict[str, dict] | None = None) -> list[TrainingJob]:
    """The jobs of one study (`study.run_study`'s arguments), in the in-process study's order: per seed its Stage
    1 run, then each method. A Stage 2 run that reads learned anchors waits for its seed's Stage 1 run; the others
    (hand anchors, no teacher) wait for nothing.

    Args:
        profile: "smoke" or "paper".
        dataset: The data set.
        methods: The Stage 2 methods (names in `config.METHODS`).
        seeds: The paired seeds.
        student: The Stage 2 student; None: the profile's.
        runs: The runs folder.
        teacher_mode: "online" or "bank" for every Stage 2 run; None: the profile's.
        data_root: The data set's folder; None: the profile's default.
        overrides: Config fields for every run, as `{"calibrate": {...}, "distill": {...}}`.
    """
    check_methods(methods)
    overrides = overrides or {}
    student = student or default_student(profile)
    extra = dict(overrides.get("distill", {}), **({"teacher_mode": teacher_mode} if teacher_mode else {}))
    jobs = []
    for seed in seeds:
        stage1 = make_config("calibrate", profile, runs=runs, dataset=dataset, data_root=data_root, seed=seed,
                             **overrides.get("calibrate", {}))
        first = TrainingJob(f"{dataset}/{Path(stage1.out).name}", "calibrate", stage1)
        jobs.append(first)
        anchors = str(Path(stage1.out) / "anchors.pt")
        for method in methods:
            cfg = make_config("distill", profile, runs=runs, method=method, dataset=dataset, data_root=data_root,
                              student=student, seed=seed, **extra)
            after = (first.name,) if cfg.anchors == anchors else ()
            jobs.append(TrainingJob(f"{dataset}/{Path(cfg.out).name}", "distill", cfg, after))
    return jobs


def grid(studies: list[dict]) -> list[TrainingJob]:
    """The jobs of several studies (each a dict of `study_jobs` arguments) as one grid: a Stage 1 run that two
    studies share (two students of one data set and seed) is one job.

    Args:
        studies: One dict of `study_jobs` keyword arguments per study.
    """
    jobs: dict[str, TrainingJob] = {}
    for kwargs in studies:
        for job in study_jobs(**kwargs):
            if job.name in jobs and to_dict(jobs[job.name].config) != to_dict(job.config):
                raise PandError(f"two studies want the run {job.name} ({job.out}) with different configurations; "
                                "give them different runs folders")
            jobs.setdefault(job.name, job)
    return list(jobs.values())


def dependents(jobs: list[TrainingJob], name: str) -> list[TrainingJob]:
    """The jobs that wait, directly or through others, for the job `name`.

    Args:
        jobs: The grid, each job after the jobs it waits for (as `study_jobs` and `grid` order them).
        name: A job's name.
    """
    found, frontier = [], {name}
    for job in jobs:  # jobs come after the ones they wait for
        if frontier & set(job.after):
            found.append(job)
            frontier.add(job.name)
    return found
