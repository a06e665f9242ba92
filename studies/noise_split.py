"""Pilot: how much of a miniature run's spread is the test split and how much the training draw (issue 28).

    python studies/noise_split.py --runs RUNS [--out studies/results/noise-split]

RUNS holds a finished smoke study on the book's world (`python -m pand_core.study --seeds 0..9 --runs RUNS`). Every
run's last-epoch student is scored again on a pool of 200 test images per class drawn from the same world stream
(`SyntheticSpec(test_per_class=200)`: images k = 8..207 of each class; k < 28 are the book's 20 test images, pixel
for pixel). The pool is cut into K = 10 disjoint test splits of 20 images per class; split 0 is the book's split,
and its accuracy must equal each run's `result.json` (checked: the rescoring is the run's own evaluation).
`pand_core.report.noise.variance_split` then separates, for every method and every claim's paired difference,
the variance one test split adds from the variance of the training draw.

Rules, written before this pilot was run, and one revision (`studies/preregistration.md` tells the order):

1. Enlarge the test split when, for any Stage 2 claim's paired difference, the test split's share of one run's
   variance (480 test images) exceeds 25 %.
2. As first written: the new size is the smallest of 40, 60, 80, 100, 150 and 200 test images per class at which
   the test split's standard deviation of every claim's paired difference is at most 1 point.
   Revised after the first pilot run, before any study result: rule 2 ignored what a test image costs. Every run
   scores the test split after each of its 20 epochs, so the split's size multiplies the cost of every run.
   `--time` measures one seed of the study at 20 and at 100 test images per class on this machine (accuracies
   never shown); from that line, the revised rule 2 takes the size, among 20 (the book's), 40, 60, 100 and 200 per
   class, that gives the *narrowest* 95 % interval for the worst claim's paired difference within 60 min of
   2 CPU cores (the seeds a size affords × its standard deviation); the test split is enlarged only when rule 1
   holds and that size is above 20.
3. The study's number of paired seeds N is the smallest n whose 95 % Student-t interval has half-width at most
   2 points for the largest standard deviation, at the chosen size, among the five Stage 2 claims' paired
   differences (`seeds_needed(sd, 2.0)`), capped by what 60 min of 2 CPU cores allow at that size.
4. The deviation study's number of paired seeds is the same rule applied to the largest standard deviation among
   PAND's within-family contrasts (pand − vl2lite, pand − pand-no-psc, pand − pand-no-nlrd), since each deviation
   arm is PAND changed in one place; capped by its own measured cost (`python -m pand_core.deviations --time`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pand_core.stages import load_student, predict  # noqa: E402
from pand_core.data import load_dataset, paper_test_transform  # noqa: E402
from pand_core.infra.environment import environment  # noqa: E402
from pand_core.infra.paths import default_cache  # noqa: E402
from pand_core.miniature.defaults import BOOK_WORLD, world_root  # noqa: E402
from pand_core.report.noise import scaled_sd, seeds_needed, split_accuracies, t_half_width, variance_split  # noqa: E402
from pand_core.report.results import collect_results  # noqa: E402
from pand_core.stage2.feeding import in_memory  # noqa: E402

POOL_PER_CLASS = 200
SPLIT_PER_CLASS = 20  # the book's test split
FIRST_CANDIDATES = (40, 60, 80, 100, 150, 200)  # rule 2 as first written
SIZES = (20, 40, 60, 100, 200)  # rule 2 as revised: the book's size and larger ones
TIMED = (20, 100)  # test images per class at which one study seed is timed (`--time`); cost is linear in between
CLAIMS = ("pand-vl2lite", "vl2lite-ce", "pand-ce", "pand-pand-no-psc", "pand-pand-no-nlrd")
FAMILY = ("pand-vl2lite", "pand-pand-no-psc", "pand-pand-no-nlrd")
SHARE_RULE, TEST_SD_RULE, HALF_WIDTH, BUDGET_S = 0.25, 1.0, 2.0, 3600.0
N_CLASSES = 24


def pool_splits(dataset, train_per_class: int) -> list[np.ndarray]:
    """The K disjoint test splits of the pool: split j holds, of every class, images k with
    train_per_class + 20 j <= k < train_per_class + 20 (j + 1) (k read from the file name)."""
    ks = np.array([int(re.search(r"_(\d{4})\.jpg$", p).group(1)) for p, _ in dataset.samples])
    j = (ks - train_per_class) // SPLIT_PER_CLASS
    return [np.flatnonzero(j == s) for s in range(POOL_PER_CLASS // SPLIT_PER_CLASS)]


def time_seed(cache: Path, per_class: int, seed: int = 0) -> float:
    """Wall seconds of one study seed (Stage 1 and the 7 methods) on the book's world with `per_class` test images
    per class, in a temporary runs folder (the world drawn beforehand, not timed); no accuracy is shown."""
    import tempfile

    from pand_core.config import STUDY_METHODS
    from pand_core.study import run_study

    root = world_root(cache, dataclasses.replace(BOOK_WORLD, test_per_class=per_class))
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        run_study("smoke", "cub", STUDY_METHODS, [seed], runs=runs, data_root=str(root), progress=False,
                  log=lambda *_: None)
        return time.perf_counter() - t0


def allocation(rows: dict, seconds: dict[int, float]) -> list[dict]:
    """For each size of `SIZES`: seconds per seed (linear through the timed sizes), the seeds 60 min afford, the
    worst claim's standard deviation and the half-width of its 95 % interval with those seeds."""
    (n0, s0), (n1, s1) = sorted(seconds.items())
    out = []
    for size in SIZES:
        cost = s0 + (s1 - s0) * (size - n0) / (n1 - n0)
        seeds = int(BUDGET_S // cost)
        sds = {c: scaled_sd(rows[c], SPLIT_PER_CLASS * N_CLASSES, size * N_CLASSES) for c in CLAIMS}
        worst = max(sds, key=sds.get)
        out.append({"test_per_class": size, "seconds_per_seed": cost, "affordable_seeds": seeds,
                    "worst_claim": worst, "worst_sd": sds[worst], "half_width": t_half_width(sds[worst], seeds)})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", required=True, help="runs folder of a finished smoke study")
    p.add_argument("--cache", default=None, help="default: $PAND_CACHE")
    p.add_argument("--time", action="store_true", help="also time one study seed at 20 and 100 test images per class")
    p.add_argument("--out", default="studies/results/noise-split")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else default_cache()
    spec = dataclasses.replace(BOOK_WORLD, test_per_class=POOL_PER_CLASS)
    pool = load_dataset("cub", world_root(cache, spec), "test", transform=paper_test_transform(32))
    splits = pool_splits(pool, spec.train_per_class)
    held = in_memory(pool)
    results = [r for r in collect_results(Path(args.runs) / "smoke" / "cub") if r["method"] != "ce-original"]
    seeds = sorted({r["seed"] for r in results})
    correct: dict[str, dict[int, np.ndarray]] = {}
    for r in results:
        model, _ = load_student(r["run_dir"])
        logits, labels = predict(model, held)
        hits = (logits.argmax(-1) == labels).numpy()
        own = 100.0 * hits[splits[0]].mean()
        if abs(own - r["test_acc_last"]) > 1e-6:
            raise SystemExit(f"{r['run_dir']}: split 0 gives {own:.4f}, result.json {r['test_acc_last']:.4f}")
        correct.setdefault(r["method"], {})[r["seed"]] = hits
    acc = {m: split_accuracies(np.stack([c[s] for s in seeds]), splits) for m, c in correct.items()}
    rows = {m: variance_split(a) for m, a in acc.items()}
    for claim in CLAIMS:
        a, b = claim.split("-", 1) if claim.startswith("vl2lite") else ("pand", claim[len("pand-"):])
        rows[claim] = variance_split(acc[a] - acc[b])
    n_split = SPLIT_PER_CLASS * N_CLASSES
    share = max(rows[c]["test_share"] for c in CLAIMS)
    first_size = next((c for c in FIRST_CANDIDATES if all(rows[k]["test_split"] * n_split / (c * N_CLASSES)
                                                          <= TEST_SD_RULE**2 for k in CLAIMS)), FIRST_CANDIDATES[-1])
    decision = {"test_share_max": share, "rule1_enlarge": share > SHARE_RULE,
                "first_rule2_test_per_class": first_size if share > SHARE_RULE else SPLIT_PER_CLASS}
    plan = None
    if args.time:
        seconds = {n: time_seed(cache, n) for n in TIMED}
        plan = allocation(rows, seconds)
        best = min(plan, key=lambda r: r["half_width"])
        size = best["test_per_class"] if share > SHARE_RULE else SPLIT_PER_CLASS
        chosen = next(r for r in plan if r["test_per_class"] == size)
        sd_at = {k: scaled_sd(v, n_split, size * N_CLASSES) for k, v in rows.items()}
        family = max(FAMILY, key=lambda c: sd_at[c])
        needed = seeds_needed(chosen["worst_sd"], HALF_WIDTH)
        n = min(needed, chosen["affordable_seeds"])
        decision.update({
            "timed_seconds_per_seed": seconds, "test_per_class": size, "enlarge": size > SPLIT_PER_CLASS,
            "study_sd": chosen["worst_sd"], "study_sd_claim": chosen["worst_claim"], "study_seeds_needed": needed,
            "study_seeds_affordable": chosen["affordable_seeds"], "study_seeds": n,
            "study_half_width": t_half_width(chosen["worst_sd"], n),
            "deviation_sd": sd_at[family], "deviation_sd_contrast": family,
            "deviation_seeds_needed": seeds_needed(sd_at[family], HALF_WIDTH)})
    env = environment()
    record = {"seeds": seeds, "pool_per_class": POOL_PER_CLASS, "split_per_class": SPLIT_PER_CLASS,
              "components": rows, "allocation": plan, "decision": decision,
              "rules": {"share": SHARE_RULE, "test_sd": TEST_SD_RULE, "half_width": HALF_WIDTH,
                        "first_candidates": FIRST_CANDIDATES, "sizes": SIZES, "budget_s": BUDGET_S},
              "seconds": time.perf_counter() - t0, "environment": env}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(record))
    print(markdown(record))
    return 0


def markdown(record: dict) -> str:
    """The pilot's tables (standard deviations in points) and its decisions."""
    d, rows = record["decision"], record["components"]
    n_split = record["split_per_class"] * N_CLASSES
    lines = [f"| method or paired difference | one run, {n_split} test images: sd | of it, test split: sd | "
             "training draw: sd | test split's share |", "|---|---|---|---|---|"]
    for name, c in rows.items():
        lines.append(f"| {name} | {c['one_run'] ** 0.5:.2f} | {c['test_split'] ** 0.5:.2f} | "
                     f"{c['training_draw'] ** 0.5:.2f} | {100 * c['test_share']:.0f} % |")
    lines += ["", (f"Pilot over seeds {record['seeds'][0]}–{record['seeds'][-1]} ({len(record['seeds'])} seeds): every "
                   f"run's last-epoch student scored on {record['pool_per_class'] // record['split_per_class']} disjoint "
                   f"test splits of {record['split_per_class']} images per class drawn from the same world (split 0 is "
                   f"the book's, and reproduces every run's `result.json`). The test split's largest share of a "
                   f"claim's paired variance is {100 * d['test_share_max']:.0f} %, so rule 1 "
                   f"{'holds' if d['rule1_enlarge'] else 'does not hold'}; rule 2 as first written would enlarge the "
                   f"split to {d['first_rule2_test_per_class']} images per class.")]
    if record["allocation"]:
        sec = d["timed_seconds_per_seed"]
        lines += ["", "| test images per class | seconds per seed | seeds in 60 min | worst claim | its sd | "
                  "95 % half-width with those seeds |", "|---|---|---|---|---|---|"]
        for r in record["allocation"]:
            lines.append(f"| {r['test_per_class']} ({r['test_per_class'] * N_CLASSES}) | {r['seconds_per_seed']:.0f} | "
                         f"{r['affordable_seeds']} | {r['worst_claim']} | {r['worst_sd']:.2f} | {r['half_width']:.2f} |")
        lines += ["", (f"One study seed took {sec[20]:.0f} s at 20 and {sec[100]:.0f} s at 100 test images per class "
                       f"(timed here; other sizes on the line through them): each run scores the test split after "
                       f"every epoch. Revised rule 2 "
                       + (f"enlarges the test split to {d['test_per_class']} images per class."
                          if d["enlarge"] else "keeps the book's 20 test images per class: a seed buys more "
                          "precision than test images do, because most of a claim's variance is the training draw.")),
                  "",
                  (f"The study: the worst claim's standard deviation is {d['study_sd']:.2f} points "
                   f"({d['study_sd_claim']}); a 2-point half-width needs {d['study_seeds_needed']} paired seeds and "
                   f"60 min afford {d['study_seeds_affordable']}, so **N = {d['study_seeds']}**, whose 95 % interval "
                   f"has an expected half-width of {d['study_half_width']:.2f} points for that claim. The deviation "
                   f"study: PAND's within-family contrasts reach {d['deviation_sd']:.2f} points "
                   f"({d['deviation_sd_contrast']}), so {d['deviation_seeds_needed']} paired seeds (before its cost cap).")]
    env = record["environment"]
    lines += ["", (f"Generated by `python studies/noise_split.py --runs RUNS{' --time' if record['allocation'] else ''}` "
                   f"in {record['seconds']:.0f} s ({env.get('cpu_count')} CPU cores, {env.get('device')}, torch "
                   f"{env.get('torch')}).")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
