"""The declared deviations from the original code (book/_deviations.md), each measured on the miniature as a paired
difference over seeds, with its 95 % interval.

Run it from the command line (`make deviations`: 15 paired seeds, 10 to 24, reading `make study`'s
runs from `runs/`):

.. code-block:: shell

    python -m pand_core.deviations --seeds $(seq 10 24) --runs runs --report studies/results/deviations.md

Every arm is PAND on the smoke profile changed in one place; the reference arm is the study's own `pand` run and
Stage 1 run of the same seed (read from the same runs folder when `make study` made them, trained otherwise), so
seeds are paired across arms: one seed gives every arm the same data order, views and student start. Arm runs live
under `<runs>/smoke/cub/deviations/`. The differences are computed from the runs' `result.json` files only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import make_config
from .infra.errors import exit_status
from .infra.progress import Progress

# The original's early-stop patience, 100 of its 300 Stage 2 epochs, scaled to the smoke schedule's 20 epochs.
SCALED_PATIENCE = round(100 / 300 * 20)
NLRD_BATCH = 64  # a batch at which NLRD's groups of 32 and the whole batch differ (smoke's own batch is 32)


@dataclass(frozen=True)
class Arm:
    """One changed run per seed: its Stage 1 changes (a separate Stage 1 run when not empty) and Stage 2 changes."""

    name: str
    distill: dict = field(default_factory=dict)
    calibrate: dict = field(default_factory=dict)


#: The arms (`Arm`), each PAND on the smoke profile changed in one place.
#:
#: :meta hide-value:
ARMS = (
    Arm("online", {"teacher_mode": "online"}),
    Arm("anchors-best-on-test", calibrate={"select_on": "test"}),
    Arm("early-stop", {"early_stop_patience": SCALED_PATIENCE}),
    Arm("teacher-bf16", {"teacher_precision": "bf16"}),
    # row 7: Stage 1 under bf16 autocast (text encoder only, logits fp32: the CUDA default when the arm was fixed) and
    # under the original's 16-mixed (text encoder and logits fp16, loss scaling), both emulated by CPU autocast
    Arm("stage1-bf16", calibrate={"prompt_precision": "bf16"}),
    Arm("stage1-fp16", calibrate={"prompt_precision": "fp16"}),
    Arm("nlrd-groups-32", {"batch_size": NLRD_BATCH, "nlrd_group_size": 32}),
    Arm("nlrd-whole-batch", {"batch_size": NLRD_BATCH, "nlrd_group_size": None}),
)


@dataclass(frozen=True)
class Contrast:
    """One deviations-table row's measurement: `a − b` of `metric` over seeds ("pand" is the study's run)."""

    row: int
    label: str  # what is compared, in words
    a: str
    b: str
    metric: str = "test_acc_last"  # a result.json key of Stage 2, or "stage1:<key>" of Stage 1's calibrated accuracy


#: The deviations table's measured rows (`Contrast`), each a paired difference of two arms.
#:
#: :meta hide-value:
CONTRASTS = (
    Contrast(1, "best-on-test − last epoch (the gain of choosing the epoch on test)", "pand", "pand", "best-minus-last"),
    Contrast(3, "Stage 1 anchors of the last epoch − best on test: teacher zero-shot", "pand", "anchors-best-on-test",
             "stage1:test"),
    Contrast(3, "Stage 1 anchors of the last epoch − best on test: the PAND student", "pand", "anchors-best-on-test"),
    Contrast(4, f"early stop (patience {SCALED_PATIENCE} of 20 epochs) − none, on test_acc_best", "early-stop", "pand",
             "test_acc_best"),
    Contrast(4, f"early stop (patience {SCALED_PATIENCE} of 20 epochs) − none, on test_acc_last", "early-stop", "pand"),
    Contrast(5, "teacher under bf16 − fp32 (CPU autocast)", "teacher-bf16", "pand"),
    Contrast(7, "Stage 1 in bf16 with fp32 logits − the original's fp16 (CPU autocast): teacher zero-shot",
             "stage1-bf16", "stage1-fp16", "stage1:test"),
    Contrast(7, "Stage 1 in bf16 with fp32 logits − the original's fp16 (CPU autocast): the PAND student",
             "stage1-bf16", "stage1-fp16"),
    Contrast(8, f"NLRD in groups of 32 − over the whole batch of {NLRD_BATCH}", "nlrd-groups-32", "nlrd-whole-batch"),
    Contrast(12, "teacher bank − online teacher", "pand", "online"),
)


def arm_configs(arm: Arm, seed: int, runs: str | Path, overrides: dict | None = None) -> tuple:
    """(Stage 1 config, Stage 2 config) of `arm` for `seed`: the arm's own Stage 1 when it changes Stage 1, else the
    study's; its Stage 2 folder under `deviations/`. `overrides` = {"calibrate": {...}, "distill": {...}} changes
    every run (tests shorten the schedule)."""
    overrides = overrides or {}
    base = Path(runs) / "smoke" / "cub" / "deviations"
    cal, _ = reference_configs(seed, runs, overrides)
    extra = dict(overrides.get("distill", {}), **arm.distill)
    if arm.calibrate:
        cal = make_config("calibrate", "smoke", runs=runs, seed=seed, out=str(base / f"calibrate-{arm.name}-s{seed}"),
                          **dict(overrides.get("calibrate", {}), **arm.calibrate))
        extra["anchors"] = str(Path(cal.out) / "anchors.pt")
    cfg = make_config("distill", "smoke", runs=runs, method="pand", seed=seed, out=str(base / f"{arm.name}-s{seed}"),
                      **extra)
    return cal, cfg


def reference_configs(seed: int, runs: str | Path, overrides: dict | None = None) -> tuple:
    """The study's Stage 1 and `pand` run of `seed` (the reference arm "pand")."""
    overrides = overrides or {}
    return (make_config("calibrate", "smoke", runs=runs, seed=seed, **overrides.get("calibrate", {})),
            make_config("distill", "smoke", runs=runs, method="pand", seed=seed, **overrides.get("distill", {})))


def run_deviations(seeds: list[int], runs: str | Path = "runs", progress: bool | None = None, log=print,
                   overrides: dict | None = None) -> dict:
    """Run (or read) the reference and every arm for each seed; return {arm: {seed: (stage1 result, stage2 result)}}.

    Args:
        seeds: The paired seeds.
        runs: The runs folder; the reference runs are the study's own there, the arms go to `deviations/`.
        progress: Draw a progress bar; None: only on a terminal.
        log: Receives one line per run.
        overrides: Config fields of every run, as `{"calibrate": {...}, "distill": {...}}` (tests shorten the
            schedule).
    """
    from .stages import calibrated, distilled

    out: dict[str, dict[int, tuple]] = {}
    jobs = [(seed, arm) for seed in seeds for arm in (None, *ARMS)]
    for seed, arm in Progress(jobs, "deviations (runs)", progress=progress):
        cal, cfg = (reference_configs(seed, runs, overrides) if arm is None
                    else arm_configs(arm, seed, runs, overrides))
        s1 = calibrated(cal, progress=False)
        res = distilled(cfg, progress=False)
        name = "pand" if arm is None else arm.name
        out.setdefault(name, {})[seed] = (s1, res)
        log(f"seed {seed} {name:22s} test acc (last epoch) {res['test_acc_last']:6.2f}")
    return out


def contrast_values(c: Contrast, runs: dict) -> dict[int, float]:
    """Per-seed value of contrast `c` from `run_deviations`' results."""
    def value(arm: str, seed: int) -> float:
        s1, s2 = runs[arm][seed]
        if c.metric == "best-minus-last":
            return s2["test_acc_best"] - s2["test_acc_last"]
        if c.metric.startswith("stage1:"):
            return s1["calibrated_acc"][c.metric.split(":", 1)[1]]
        return s2[c.metric]

    seeds = sorted(set(runs[c.a]) & set(runs[c.b]))
    if c.metric == "best-minus-last":
        return {s: value(c.a, s) for s in seeds}
    return {s: value(c.a, s) - value(c.b, s) for s in seeds}


def summarise(runs: dict) -> list[dict]:
    """One record per contrast: row, label, seeds, every seed's value, mean and 95 % interval (`t_interval`).

    Args:
        runs: What `run_deviations` returned.
    """
    from .report.results import t_interval

    rows = []
    for c in CONTRASTS:
        values = contrast_values(c, runs)
        rows.append({"row": c.row, "label": c.label, "a": c.a, "b": c.b, "metric": c.metric,
                     "values": values, **t_interval(list(values.values()))})
    return rows


def measured_phrase(record: dict) -> str:
    """The words a deviations-table row carries for one measured contrast: "Δ [95 % CI], N seeds".

    Args:
        record: One of `summarise`'s records.
    """
    lo, hi = record["ci95"]
    return f"{record['label']}: {record['mean']:+.2f} [{lo:+.2f}, {hi:+.2f}] points, {record['n']} seeds"


def stochastic_layers(module) -> list[str]:
    """Names of the modules of `module` that are random in training mode with a non-zero rate (dropout of any kind,
    DropPath / stochastic depth, patch dropout): what a teacher left in train mode would switch on.

    Args:
        module: A torch module, searched recursively.
    """
    import torch.nn as nn

    found = []
    for name, m in module.named_modules():
        rate = getattr(m, "drop_prob", None) if not isinstance(m, nn.modules.dropout._DropoutNd) else m.p
        if rate is None and type(m).__name__ == "PatchDropout":
            rate = getattr(m, "prob", None)
        if rate:
            found.append(f"{name or '(root)'} ({type(m).__name__}, {rate})")
    return found


def teacher_stochastic_layers() -> list[str]:
    """`stochastic_layers` of the miniature teacher's image tower (the only part Stage 2 runs), shipped weights."""
    from .assets import run_assets
    from .models import load_teacher

    cfg = make_config("distill", "smoke", method="pand")
    teacher = load_teacher(cfg.teacher, run_assets(cfg).teacher_weights, "cpu")
    return stochastic_layers(teacher.model.visual)


def write_report(records: list[dict], path: str | Path, note: str, extra: dict) -> list[Path]:
    """`path` (.md: the measured table) and its .json (every seed's value, the note, `extra`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| row | what is measured (a − b) | seeds | mean [95 % interval], points | every seed |", "|---|---|---|---|---|"]
    for r in records:
        lo, hi = r["ci95"]
        seeds = ", ".join(f"{v:+.1f}" for v in r["values"].values())
        lines.append(f"| {r['row']} | {r['label']} | {r['n']} | {r['mean']:+.2f} [{lo:+.2f}, {hi:+.2f}] | {seeds} |")
    layers = extra.get("teacher_stochastic_layers", [])
    lines += ["", ("Row 6: the miniature teacher's image tower has no stochastic layer "
                   "(no dropout, DropPath or patch dropout with a non-zero rate), so a teacher left in train mode "
                   "would give the same targets here; nothing to measure." if not layers else
                   "Row 6: the miniature teacher's image tower has stochastic layers: " + "; ".join(layers)), "", note]
    path.write_text("\n".join(lines) + "\n")
    js = path.with_suffix(".json")
    js.write_text(json.dumps({"contrasts": [dict(r, values={str(k): v for k, v in r["values"].items()}) for r in records],
                              "note": note, **extra}, indent=2) + "\n")
    return [path, js]


def time_seed(seed: int = 0) -> float:
    """Wall seconds of one seed's arms (the reference and its Stage 1 included) in a temporary runs folder; no
    accuracy is shown. What 60 min of this machine afford caps the study's seed count."""
    import tempfile

    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        run_deviations([seed], runs, progress=False, log=lambda *_: None)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None, prog: str = "python -m pand_core.deviations") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="paired seeds (required unless --time)")
    p.add_argument("--time", action="store_true", help="only time one seed's arms, from scratch, and print the seeds "
                   "60 min afford")
    p.add_argument("--runs", default="runs", help="runs folder (default: runs); the study's own runs are read from it")
    p.add_argument("--report", default=None, help="write the measured table as this Markdown file (+ .json)")
    args = p.parse_args(argv)

    if not args.time and not args.seeds:
        p.error("give --seeds (or --time)")

    def study() -> None:
        from .infra.environment import environment

        if args.time:
            seconds = time_seed()
            print(f"one seed of every arm, from scratch: {seconds:.0f} s; 60 min afford {int(3600 // seconds)} seeds")
            return
        read = sum((Path(reference_configs(s, args.runs)[1].out) / "result.json").exists() for s in args.seeds)
        t0 = time.perf_counter()
        records = summarise(run_deviations(args.seeds, args.runs))
        for r in records:
            print(measured_phrase(r))
        if args.report:
            env = environment()
            reference = ("the `pand` runs and their Stage 1 are the study's" if read == len(args.seeds) else
                         f"the `pand` runs and their Stage 1 (the study's configs) were trained by this command for "
                         f"{len(args.seeds) - read} of {len(args.seeds)} seeds")
            cpu = f"{env.get('cpu_count')} CPU cores" + (f" of an {env['cpu_model']}" if env.get("cpu_model") else "")
            note = (f"Generated by `python -m pand_core.deviations --seeds {' '.join(map(str, args.seeds))}` in "
                    f"{(time.perf_counter() - t0) / 60:.1f} min ({cpu}, {env.get('torch_threads')} threads, "
                    f"{env.get('device')}, torch {env.get('torch')}); {reference}; intervals are Student-t over "
                    f"paired seeds.")
            extra = {"seeds_used": len(args.seeds), "teacher_stochastic_layers": teacher_stochastic_layers(),
                     "environment": env,
                     "scaled_patience": SCALED_PATIENCE, "nlrd_batch": NLRD_BATCH}
            for written in write_report(records, args.report, note, extra):
                print(f"wrote {written}")

    return exit_status(study)


if __name__ == "__main__":
    sys.exit(main())
