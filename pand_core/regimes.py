"""The regime map: the study's six claims measured again with longer training and more labelled images per class.

Run it from the command line:

.. code-block:: shell

    python -m pand_core.regimes --pilot        # the pilot: a few seeds per regime, each claim's paired spread
    python -m pand_core.regimes                # make regimes: the pre-registered seeds, then the map's report

Same world, shipped teacher and student, methods, losses, α and transform as the study (`pand_core.study`); only
the Stage 2 epochs (the cosine's restart period scaled with them, `Regime.cosine_t_max`) and the labelled images per
class change (32: the world's 8 plus 24 appended ones, `SyntheticSpec.extra_train_per_class`). The study's corner
(8 images, 20 epochs) is read from `studies/results/study.json`, not run again. Finished runs are read and
interrupted ones resumed, so the command can be stopped and rerun. The test split is scored after the last epoch
only (`test_every`): the map reports the last epoch's accuracy, which that does not change.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .batch.executors import BatchOptions, run_jobs
from .batch.jobs import TrainingJob
from .batch.options import add_batch_arguments, batch_options, print_estimates
from .config import default_student, make_config
from .infra.errors import PandError, exit_status
from .report.results import CLAIMS, claims, study_summary

PROFILE, DATASET = "smoke", "cub"
MAP_METHODS = ("ce", "vl2lite", "vl2lite-original", "pand-no-psc", "pand-no-nlrd", "pand")  # the six claims' runs
STUDY_EPOCHS, STUDY_T_MAX, STUDY_IMAGES = 20, 7, 8  # the smoke recipe (config.PROFILE_OVERRIDES) and world
N_CLASSES, BATCH = 24, 32


@dataclass(frozen=True)
class Regime:
    """One point of the map: labelled training images per class and Stage 2 epochs.

    Args:
        images: Training images per class (8: the book's world; more: the same world with images appended).
        epochs: Stage 2 epochs; the cosine's restart period scales with them (`cosine_t_max`).
    """

    images: int
    epochs: int

    @property
    def name(self) -> str:
        return f"{self.images}img-{self.epochs}ep"

    @property
    def cosine_t_max(self) -> int:
        """The smoke recipe's 7 of 20 epochs scaled with the run (the paper's T_max is 100 of 300 epochs)."""
        return round(self.epochs * STUDY_T_MAX / STUDY_EPOCHS)

    @property
    def steps(self) -> int:
        """Optimiser steps of one run: batches per epoch (the last one kept) times epochs."""
        return math.ceil(N_CLASSES * self.images / BATCH) * self.epochs

    @property
    def is_study(self) -> bool:
        return (self.images, self.epochs) == (STUDY_IMAGES, STUDY_EPOCHS)


STUDY = Regime(8, 20)
REGIMES = (STUDY, Regime(8, 80), Regime(32, 20), Regime(32, 80))
PILOT_SEEDS = (90, 91, 92, 93)  # not among the study's (10-51) or the map's seeds
# The map's seeds per regime, fixed by studies/regimes-preregistration.md before any of its runs (None: not yet).
PREREGISTERED: dict[str, tuple[int, ...]] | None = {
    "8img-80ep": tuple(range(10, 27)),   # 17 seeds
    "32img-20ep": tuple(range(10, 30)),  # 20 seeds
    "32img-80ep": tuple(range(10, 22)),  # 12 seeds
}


def world_data_root(images: int, cache: str | Path | None = None) -> str | None:
    """The data root of a world with `images` training images per class: None (the profile's, the book's world)
    for 8, else the book's world with the rest appended, drawn once into the cache."""
    if images == STUDY_IMAGES:
        return None
    if images < STUDY_IMAGES:
        raise PandError(f"a regime needs at least the world's {STUDY_IMAGES} training images per class, got {images}")
    from .miniature.defaults import BOOK_WORLD, world_root
    from dataclasses import replace

    spec = replace(BOOK_WORLD, extra_train_per_class=images - STUDY_IMAGES)
    return str(world_root(Path(cache) if cache else None, spec))


def stage1_runs(runs: str | Path, images: int) -> Path:
    """Where the Stage 1 runs of a data size live: the study's own (`<runs>`) at 8 images, else `<runs>/regimes/`."""
    return Path(runs) if images == STUDY_IMAGES else Path(runs) / "regimes" / f"{images}img"


def regime_jobs(regime: Regime, seeds: list[int], runs: str | Path = "runs", cache: str | Path | None = None,
                methods: tuple[str, ...] = MAP_METHODS) -> list[TrainingJob]:
    """The jobs of one regime: per seed its data size's Stage 1 run (shared by the regimes of that size; at 8 images
    the study's own), then every method with the regime's epochs, restart period and last-epoch-only scoring.

    Args:
        regime: The map's point.
        seeds: The paired seeds.
        runs: The runs folder; Stage 2 runs go to `<runs>/regimes/<regime.name>/`.
        cache: The cache folder (the appended world); None: `$PAND_CACHE`.
        methods: The Stage 2 methods.
    """
    data_root = world_data_root(regime.images, cache)
    student = default_student(PROFILE)
    extra = {"cache": str(cache)} if cache else {}
    jobs = []
    for seed in seeds:
        stage1 = make_config("calibrate", PROFILE, runs=stage1_runs(runs, regime.images), dataset=DATASET,
                             data_root=data_root, seed=seed, **extra)
        first = TrainingJob(f"{regime.images}img/{Path(stage1.out).name}", "calibrate", stage1)
        if not any(j.name == first.name for j in jobs):
            jobs.append(first)
        anchors = str(Path(stage1.out) / "anchors.pt")
        for method in methods:
            fields = dict(method=method, dataset=DATASET, data_root=data_root, student=student, seed=seed,
                          epochs=regime.epochs, cosine_t_max=regime.cosine_t_max, test_every=regime.epochs, **extra)
            cfg = make_config("distill", PROFILE, runs=Path(runs) / "regimes" / regime.name, **fields)
            if cfg.anchors is not None:
                cfg = make_config("distill", PROFILE, runs=Path(runs) / "regimes" / regime.name, anchors=anchors,
                                  **fields)
            after = (first.name,) if cfg.anchors == anchors else ()
            jobs.append(TrainingJob(f"{regime.name}/{Path(cfg.out).name}", "distill", cfg, after))
    return jobs


def regime_summary(regime: Regime, results: dict[str, dict]) -> dict:
    """The study's summary (`report.study_summary`: per method, paired differences, Stage 1) and claims of one
    regime, from its jobs' results (`run_jobs`' return), with the regime's size and cost.

    Args:
        regime: The map's point.
        results: Job name -> `result.json` contents, for this regime's jobs.
    """
    stage2 = [r for r in results.values() if "method" in r]
    stage1 = [r for r in results.values() if r.get("stage") == "calibrate"]
    summary = study_summary(stage2, stage1, default_student(PROFILE))
    train_s = [r["train_time_s"] for r in stage2 if r.get("train_time_s") is not None]
    stage1_s = {str(r["seed"]): r["timings"]["total_s"] for r in stage1 if (r.get("timings") or {}).get("total_s")}
    return {**describe(regime), **summary, "claims": claims(summary),
            "train_time_s": {"total": sum(train_s), "mean_per_run": statistics.fmean(train_s) if train_s else None},
            "stage1_time_s": stage1_s}


def machine_minutes(regimes: dict[str, dict]) -> dict[str, float]:
    """The map's machine time from its runs' own recorded times (Stage 2 `train_time_s`, Stage 1 `total_s`), in
    minutes; a data size's Stage 1 run shared by two regimes counts once; the study's corner (not run) counts 0.

    Args:
        regimes: Regime name -> `regime_summary`.
    """
    stage2 = sum(r["train_time_s"]["total"] for r in regimes.values() if "train_time_s" in r)
    stage1 = {(r["images_per_class"], seed): s for r in regimes.values() for seed, s in r.get("stage1_time_s", {}).items()}
    return {"stage2": stage2 / 60, "stage1": sum(stage1.values()) / 60, "total": (stage2 + sum(stage1.values())) / 60}


def describe(regime: Regime) -> dict:
    """A regime's coordinates as the report records them."""
    return {"regime": regime.name, "images_per_class": regime.images, "epochs": regime.epochs,
            "cosine_t_max": regime.cosine_t_max, "steps": regime.steps,
            "steps_per_image": regime.epochs / BATCH}


def study_corner(path: str | Path = "studies/results/study.json") -> dict:
    """The (8 images, 20 epochs) corner: the committed 42-seed study's summary with its claims."""
    summary = json.loads(Path(path).read_text())
    return {**describe(STUDY), **summary, "claims": claims(summary), "source": str(path)}


def paired_spreads(summary: dict) -> dict[str, float | None]:
    """Each claim's paired standard deviation over seeds: the interval's half-width back through t and √n."""
    from scipy.stats import t

    out = {}
    for text, section, key in CLAIMS:
        diff = summary.get(section, {}).get(key) or {}
        n, ci = diff.get("n", 0), diff.get("ci95")
        out[key] = None if n < 2 or ci is None else (ci[1] - ci[0]) / 2 / float(t.ppf(0.975, n - 1)) * n**0.5
    return out


def seeds_for(sd: float, half_width: float = 1.5, cap: int = 60) -> int:
    """The fewest seeds n whose 95 % Student-t interval of a paired mean with spread `sd` is at most ±`half_width`
    (t_{0.975, n−1} · sd / √n ≤ half_width), at least 3 and at most `cap`."""
    from scipy.stats import t

    for n in range(3, cap + 1):
        if float(t.ppf(0.975, n - 1)) * sd / n**0.5 <= half_width:
            return n
    return cap


def plan_seeds(pilot: dict, half_width: float = 1.5, budget_min: float = 240.0, first_seed: int = 10) -> dict:
    """The pre-registration's rule: per regime the seeds that resolve its noisiest Stage 2 claim to ±`half_width`
    at 95 % (`seeds_for` of the largest paired sd in the pilot), every count scaled down by one factor when their
    cost (the pilot's minutes per seed) exceeds `budget_min`; seeds `first_seed`, `first_seed` + 1, ... (shared by
    the regimes, so they pair across the map too).

    Args:
        pilot: The pilot's report (`regimes-pilot.json`).
        half_width: The target half-width of a claim's interval, points.
        budget_min: The machine minutes the map's runs may take.
        first_seed: The first seed.
    """
    stage2 = [key for _text, section, key in CLAIMS if section == "paired"]
    plan = {}
    for name, r in pilot["regimes"].items():
        if name == STUDY.name:
            continue
        sd = max(r["paired_sd"][k] for k in stage2)
        plan[name] = {"sd": sd, "wanted": seeds_for(sd, half_width), "min_per_seed": r["wall_s"] / 60 / len(pilot["seeds"])}
    wanted_min = sum(p["wanted"] * p["min_per_seed"] for p in plan.values())
    scale = min(1.0, budget_min / wanted_min)
    for p in plan.values():
        p["seeds"] = list(range(first_seed, first_seed + max(3, math.floor(p["wanted"] * scale))))
        p["expected_half_width"] = _t975(len(p["seeds"])) * p["sd"] / len(p["seeds"]) ** 0.5
    return {"regimes": plan, "scale": scale, "wanted_min": wanted_min,
            "planned_min": sum(len(p["seeds"]) * p["min_per_seed"] for p in plan.values())}


def _t975(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def run_map(regimes: list[Regime], seeds: dict[str, list[int]], runs: str | Path = "runs",
            cache: str | Path | None = None, batch: BatchOptions | None = None, log=print,
            progress: bool | None = None) -> dict[str, dict]:
    """Run (or read) every regime's jobs; return each regime's `regime_summary` by name (the study's corner read
    from its committed summary).

    Args:
        regimes: The map's points.
        seeds: Regime name -> its seeds.
        runs: The runs folder.
        cache: The cache folder; None: `$PAND_CACHE`.
        batch: Where the runs go (`pand_core.batch`); None: this process.
        log: Receives one line per finished run.
        progress: The inline executor's progress bar; None: only on a terminal.
    """
    out = {}
    for regime in regimes:
        if regime.is_study:
            out[regime.name] = study_corner()
            continue
        t0 = time.perf_counter()
        jobs = regime_jobs(regime, seeds[regime.name], runs, cache)
        results = run_jobs(jobs, batch, None, log, progress, f"regime {regime.name} (runs)")
        out[regime.name] = dict(regime_summary(regime, results), wall_s=time.perf_counter() - t0,
                                seeds=list(seeds[regime.name]))
        log(f"regime {regime.name}: {len(jobs)} runs in {time.perf_counter() - t0:.0f} s")
    return out


def write_map(report: dict, folder: Path) -> list[Path]:
    """The map's files: `regimes.json` (everything), `regimes.md` (its tables and how it was made),
    `regimes-words.md` (the book's words, `regime_words`), `regimes.png` (the claims) and `regimes-accuracy.png`
    (the students and the teacher).

    Args:
        report: The map's report.
        folder: Where they go (the book reads `studies/results/`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .infra.files import write_json
    from .report.regime_map import accuracy_figure, map_claims, regime_words, regimes_figure, regimes_markdown
    from .report.style import apply_style

    report = dict(report, claims=[{k: v for k, v in c.items() if k != "per_regime"}
                                  for c in map_claims(report, report["study"])])
    env = report["environment"]
    seeds = "; ".join(f"{n}: {', '.join(map(str, s))}" for n, s in (PREREGISTERED or {}).items())
    cost = machine_minutes(report["regimes"])
    note = (f"\nGenerated by `make regimes` (`python -m pand_core.regimes`) on {env.get('cpu_count')} CPU cores "
            f"({env.get('device')}, torch {env.get('torch')}). Machine time, the runs' own recorded times summed: "
            f"{cost['total']:.0f} min (Stage 2 {cost['stage2']:.0f}, Stage 1 {cost['stage1']:.0f}); the command's last "
            f"invocation took {report['wall_min']:.0f} min and read the runs finished before it. The study's corner "
            f"is read from `studies/results/study.json`. Seeds: {seeds}. Test accuracy at the last epoch, every test "
            f"image; intervals are Student-t 95 % over paired seeds; the pre-registration is "
            f"`studies/regimes-preregistration.md`.\n")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_json(folder / "regimes.json", report)]
    (folder / "regimes.md").write_text(regimes_markdown(report) + note)
    paths.append(folder / "regimes.md")
    (folder / "regimes-words.md").write_text(regime_words(report))  # the book's words on the map
    paths.append(folder / "regimes-words.md")
    with plt.rc_context():
        apply_style()
        for name, draw in (("regimes.png", regimes_figure), ("regimes-accuracy.png", accuracy_figure)):
            fig = draw(report)
            fig.savefig(folder / name)
            plt.close(fig)
            paths.append(folder / name)
    return paths


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.regimes") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--pilot", action="store_true", help=f"the pilot: seeds {PILOT_SEEDS} at every regime but the "
                   "study's; writes studies/results/regimes-pilot.{json,md}")
    p.add_argument("--runs", default="runs", help="runs folder (default: runs)")
    p.add_argument("--cache", default=None, help="cache folder (default: $PAND_CACHE, else ~/.cache/pand)")
    p.add_argument("--results", default="studies/results", help="where the report goes (default: studies/results)")
    add_batch_arguments(p)
    args = p.parse_args(argv)

    def regimes() -> None:
        from .infra.environment import environment
        from .infra.files import write_json
        from .report.regime_map import pilot_markdown

        batch = batch_options(args)
        if not args.pilot and PREREGISTERED is None:
            raise PandError("the map's seeds are fixed by its pre-registration (studies/regimes-preregistration.md), "
                            "which is not written yet; run the pilot: python -m pand_core.regimes --pilot")
        todo = [r for r in REGIMES if not r.is_study and (args.pilot or r.name in PREREGISTERED)]
        seeds = {r.name: list(PILOT_SEEDS if args.pilot else PREREGISTERED[r.name]) for r in todo}
        if args.dry_run:
            print_estimates([j for r in todo for j in regime_jobs(r, seeds[r.name], args.runs, args.cache)], args)
            return
        t0 = time.perf_counter()
        found = run_map(todo, seeds, args.runs, args.cache, batch)
        found[STUDY.name] = study_corner()
        if not args.pilot:
            report = {"kind": "map", "study": STUDY.name, "environment": environment(),
                      "wall_min": (time.perf_counter() - t0) / 60, "regimes": found}
            for written in write_map(report, Path(args.results)):
                print(f"wrote {written}")
            return
        report = {"kind": "pilot", "seeds": list(PILOT_SEEDS), "environment": environment(),
                  "wall_min": (time.perf_counter() - t0) / 60,
                  "regimes": {name: dict(s, paired_sd=paired_spreads(s)) for name, s in found.items()}}
        out = Path(args.results)
        write_json(out / "regimes-pilot.json", report)
        (out / "regimes-pilot.md").write_text(pilot_markdown(report))
        print(f"wrote {out / 'regimes-pilot.json'} and {out / 'regimes-pilot.md'}")

    return exit_status(regimes)


if __name__ == "__main__":
    sys.exit(main())
