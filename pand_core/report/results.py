"""Results as pure data: every Stage 2 `result.json` gathered, summarised over seeds, Student-t intervals,
paired differences between methods, the study summary (`summary.json`) and the paper's claims read from it."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from ..config import METHOD_ORDER
from .paper import PAPER

def collect_results(runs_root: str | Path) -> list[dict]:
    """Every Stage 2 `result.json` below `runs_root`, in path order, each with its run folder under `run_dir`.

    Args:
        runs_root: The folder searched at every depth; a `result.json` without a `method` (Stage 1's) is left out.
    """
    out = []
    for path in sorted(Path(runs_root).rglob("result.json")):
        res = json.loads(path.read_text())
        if "method" in res:
            out.append(dict(res, run_dir=str(path.parent)))
    return out


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(results: list[dict]) -> list[dict]:
    """One row per (profile, data set, student, method, teacher mode): seeds, mean ± std of the clean and the
    test-selected accuracies, the val-selected accuracy when present, and the paper's number (paper profile only).

    Args:
        results: Stage 2 results as `collect_results` gives them: each with `dataset`, `student`, `method`, `seed`,
            `test_acc_last` and `test_acc_best`; `profile`, `teacher_mode` and `val_selected_test_acc` when recorded.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        groups[(r.get("profile"), r["dataset"], r["student"], r["method"], r.get("teacher_mode"))].append(r)
    rows = []
    for (profile, dataset, student, method, mode), rs in groups.items():
        last = _mean_std([r["test_acc_last"] for r in rs])
        best = _mean_std([r["test_acc_best"] for r in rs])
        vals = [r["val_selected_test_acc"] for r in rs if r.get("val_selected_test_acc") is not None]
        rows.append({
            "profile": profile, "dataset": dataset, "student": student, "method": method, "teacher_mode": mode,
            "seeds": sorted(r["seed"] for r in rs), "last_mean": last[0], "last_std": last[1],
            "best_mean": best[0], "best_std": best[1],
            "val_selected_mean": _mean_std(vals)[0] if vals else None,
            "paper": PAPER.get((dataset, student, method)) if profile == "paper" else None,
        })
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(rows, key=lambda r: (r["profile"] or "", r["dataset"], r["student"], order.get(r["method"], 99)))


# The paired contrasts of the study: (method, baseline) -> "method-baseline" in summary.json.
PAIRED = (("pand", "ce"), ("pand", "vl2lite"), ("pand", "pand-no-nlrd"), ("pand", "pand-no-psc"), ("vl2lite", "ce"))


# The paper's claims, each read from one paired difference (a positive difference is the claim).
CLAIMS = (
    ("PSC improves the teacher's zero-shot accuracy", "stage1", "calibrated-hand"),
    ("PAND beats VL2Lite", "paired", "pand-vl2lite"),
    ("VL2Lite beats CE", "paired", "vl2lite-ce"),
    ("PAND beats CE", "paired", "pand-ce"),
    ("PSC adds accuracy on top of NLRD", "paired", "pand-pand-no-psc"),
    ("NLRD adds accuracy on top of PSC", "paired", "pand-pand-no-nlrd"),
)


def t_interval(values: list[float], level: float = 0.95) -> dict:
    """Mean and the Student-t confidence interval `mean ± t_{(1+level)/2, n−1} · s/√n` of `values`
    (`ci95` is None for fewer than two values: no spread can be estimated).

    Args:
        values: The sample, e.g. one method's accuracy per seed.
        level: The confidence level; the interval is stored under `ci95` whatever the level.
    """
    from scipy.stats import t

    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return {"n": n, "mean": mean, "ci95": None}
    half = float(t.ppf((1 + level) / 2, n - 1)) * statistics.stdev(values) / n**0.5
    return {"n": n, "mean": mean, "ci95": [mean - half, mean + half]}


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """`t_interval` of a[s] − b[s] over the seeds s that both have (seeds are paired: same data order, views and
    initialisation), with the seeds used; `n` 0 and no mean when they share no seed.

    Args:
        a: The first method's value per seed, `{seed: value}`.
        b: The baseline's value per seed, `{seed: value}`.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"n": 0, "mean": None, "ci95": None, "seeds": []}
    return {**t_interval([a[s] - b[s] for s in seeds]), "seeds": seeds}


def study_summary(results: list[dict], calibrations: list[dict] = (), student: str = "resnet18") -> dict:
    """The multi-seed summary of one (profile, data set) from its runs' `result.json` contents only: per method the
    seeds and `test_acc_last` with its 95 % t-interval; the paired differences of `PAIRED`; Stage 1's hand-prompt
    and calibrated test accuracy. Refuses two runs of one method and seed (e.g. two teacher modes).

    Args:
        results: Stage 2 `result.json` contents; runs of another student and runs without `test_acc_last` are
            left out.
        calibrations: Stage 1 `result.json` contents, one per seed (their `hand_prompt_acc` and `calibrated_acc`
            on `test`); empty: no Stage 1 section. When there are Stage 2 runs, only the seeds they ran are kept
            (another study's Stage 1 runs in the same folder are not this study's).
        student: The student whose runs are summarised.
    """
    per_method: dict[str, dict[int, float]] = defaultdict(dict)
    for r in results:
        if r["student"] != student or r.get("test_acc_last") is None:
            continue
        if r["seed"] in per_method[r["method"]]:
            raise ValueError(f"two {r['method']} runs with seed {r['seed']} for {student} (e.g. two teacher modes); "
                             "summarise one study folder at a time.")
        per_method[r["method"]][r["seed"]] = r["test_acc_last"]
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    methods = {}
    for method in sorted(per_method, key=lambda m: order.get(m, 99)):
        seeds = sorted(per_method[method])
        values = [per_method[method][s] for s in seeds]
        ci = t_interval(values)
        methods[method] = {"n": len(seeds), "seeds": seeds,
                           "test_acc_last": {"mean": ci["mean"], "ci95": ci["ci95"], "values": values}}
    paired = {f"{a}-{b}": paired_difference(per_method[a], per_method[b])
              for a, b in PAIRED if a in per_method and b in per_method}
    stage1 = {}
    stage2_seeds = {s for by_seed in per_method.values() for s in by_seed}
    cal = {c["seed"]: c for c in calibrations if not stage2_seeds or c["seed"] in stage2_seeds}
    for key, field in (("hand", "hand_prompt_acc"), ("calibrated", "calibrated_acc")):
        if cal:
            seeds = sorted(cal)
            values = [cal[s][field]["test"] for s in seeds]
            stage1[key] = {**t_interval(values), "seeds": seeds, "values": values}
    if cal:
        stage1["calibrated-hand"] = paired_difference({s: c["calibrated_acc"]["test"] for s, c in cal.items()},
                                                      {s: c["hand_prompt_acc"]["test"] for s, c in cal.items()})
    return {"student": student, "metric": "test_acc_last (last epoch, every test image)", "methods": methods,
            "paired": paired, "stage1": stage1}


def write_study_summary(runs_root: str | Path, profile: str, dataset: str, student: str | None = None) -> Path:
    """Compute `study_summary` from the `result.json` files under `runs_root/<profile>/<dataset>/` and write it
    there as `summary.json` (atomically); return its path.

    Args:
        runs_root: The runs folder.
        profile: "smoke" or "paper".
        dataset: The data set.
        student: The student whose runs are summarised; None: the profile's (`config.default_student`).
    """
    from ..config import default_student
    from ..infra.files import write_json

    student = student or default_student(profile)
    folder = Path(runs_root) / profile / dataset
    found = [json.loads(p.read_text()) for p in sorted(folder.rglob("result.json"))]
    summary = study_summary([r for r in found if "method" in r], [r for r in found if r.get("stage") == "calibrate"],
                            student)
    return write_json(folder / "summary.json", dict(summary, profile=profile, dataset=dataset))


def verdict(diff: dict | None) -> str:
    """What a paired difference says about a claim that it is positive: `reproduced` (95 % interval above 0),
    `contradicted` (below 0), `not resolved` (the interval contains 0), `not testable` (fewer than 2 seeds).

    Args:
        diff: A `paired_difference` (its `n` and `ci95`), or None for a difference the summary lacks.
    """
    if not diff or diff.get("n", 0) < 2 or diff.get("ci95") is None:
        return "not testable"
    lo, hi = diff["ci95"]
    return "reproduced" if lo > 0 else "contradicted" if hi < 0 else "not resolved"


def claims(summary: dict) -> list[dict]:
    """Each of the paper's `CLAIMS` with its paired difference and `verdict`, from a `study_summary`.

    Args:
        summary: A `study_summary` (its `paired` and `stage1` sections are read); a missing difference is
            `not testable`.
    """
    out = []
    for text, section, key in CLAIMS:
        diff = summary.get(section, {}).get(key)
        out.append({"claim": text, "difference": key, "n": (diff or {}).get("n", 0),
                    "mean": (diff or {}).get("mean"), "ci95": (diff or {}).get("ci95"), "verdict": verdict(diff)})
    return out


def collect_calibrations(runs_root: str | Path, seeds: Iterable[int] | None = None) -> list[dict]:
    """Every Stage 1 `result.json` below `runs_root` (in folders named `calibrate-s<seed>`), ordered by data set
    and seed (as numbers).

    Args:
        runs_root: The folder searched at every depth.
        seeds: Keep only these seeds (e.g. those of the Stage 2 runs a page shows); None: every seed.
    """
    found = [json.loads(p.read_text()) for p in Path(runs_root).rglob("calibrate-s*/result.json")]
    keep = None if seeds is None else set(seeds)
    return sorted((c for c in found if keep is None or c["seed"] in keep),
                  key=lambda c: (c.get("dataset", ""), c["seed"], c.get("profile", "")))
