"""Results: gather every Stage 2 `result.json`, tables against the paper's numbers, the ablation, plots."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

from .config import METHODS

# What the paper states, shown beside our measured numbers. PAPER_SOURCE says for each entry
# whether it is quoted or derived from a quoted statement; PAPER_DERIVED marks the derived ones in tables.
# The paper's VL2Lite number comes from VL2Lite's own recipe (the original code's `kda` model), so it is attached to
# `vl2lite-original`, not to the controlled `vl2lite` row (PAND's optimiser).
PAPER = {
    ("cub", "resnet18", "pand"): 76.09,
    ("cub", "resnet18", "vl2lite-original"): 72.69,
}
PAPER_SOURCE = {
    ("cub", "resnet18", "pand"): "quoted",
    ("cub", "resnet18", "vl2lite-original"): "derived: 76.09 − 3.4, from the paper's \"+3.4 over VL2Lite\" (same student)",
}
# What each row is, where that is not obvious from its name; printed under the tables that show the row.
METHOD_NOTES = {
    "ce-original": "`ce-original`: the original code's run without a teacher (AdamW, weight decay 0, StepLR(30, 0.5); "
                   "MobileNet-V2 keeps its classifier Dropout(0.2)).",
    "ce": "`ce`: controlled — the student trained on labels with PAND's optimiser and schedule, no dropout.",
    "kd": "`kd`: the project's own baseline (Hinton KD from the teacher's zero-shot logits, s = 1/0.07, T = 2, PAND's "
          "α schedule and optimiser); the original code has no counterpart.",
    "vl2lite": "`vl2lite`: controlled — PAND without PSC and NLRD (hand-prompt anchors, PAND's optimiser), so that a "
               "gain over it is attributable to the two parts.",
    "vl2lite-original": "`vl2lite-original`: VL2Lite's own recipe as the original code ran it (AdamW, weight decay 0, "
                        "StepLR(30, 0.5), KD term × 1/2); the row that the paper's VL2Lite number describes.",
}
PAPER_DERIVED = "†"
PAPER_BEST_PAND = {"aircraft": 64.75, "cub": 76.52, "dogs": 74.98, "pets": 88.97}  # student per entry unconfirmed
ABLATION = {  # (PSC, NLRD) -> method
    (False, False): "vl2lite",
    (False, True): "pand-no-psc",
    (True, False): "pand-no-nlrd",
    (True, True): "pand",
}
# Table order: the registry's, with each method's `-original` recipe just before the controlled method it reproduces.
METHOD_ORDER = sorted(METHODS, key=lambda m: (list(METHODS).index(m.removesuffix("-original")), not m.endswith("-original")))


def collect_results(runs_root: str | Path) -> list[dict]:
    """Every Stage 2 `result.json` below `runs_root` (each with its run folder under `run_dir`)."""
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
    test-selected accuracies, the val-selected accuracy when present, and the paper's number."""
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


# ------------------------------------------------------------------------------------- multi-seed study summary
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
    (`ci95` is None for fewer than two values: no spread can be estimated)."""
    from scipy.stats import t

    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return {"n": n, "mean": mean, "ci95": None}
    half = float(t.ppf((1 + level) / 2, n - 1)) * statistics.stdev(values) / n**0.5
    return {"n": n, "mean": mean, "ci95": [mean - half, mean + half]}


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """`t_interval` of a[s] − b[s] over the seeds s that both have (seeds are paired: same data order, views and
    initialisation), with the seeds used."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"n": 0, "mean": None, "ci95": None, "seeds": []}
    return {**t_interval([a[s] - b[s] for s in seeds]), "seeds": seeds}


def study_summary(results: list[dict], calibrations: list[dict] = (), student: str = "resnet18") -> dict:
    """The multi-seed summary of one (profile, data set) from its runs' `result.json` contents only: per method the
    seeds and `test_acc_last` with its 95 % t-interval; the paired differences of `PAIRED`; Stage 1's hand-prompt
    and calibrated test accuracy. Refuses two runs of one method and seed (e.g. two teacher modes)."""
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
    cal = {c["seed"]: c for c in calibrations}
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
    there as `summary.json` (atomically); return its path. `student=None`: the profile's student."""
    from .config import default_student
    from .files import write_json

    student = student or default_student(profile)
    folder = Path(runs_root) / profile / dataset
    found = [json.loads(p.read_text()) for p in sorted(folder.rglob("result.json"))]
    summary = study_summary([r for r in found if "method" in r], [r for r in found if r.get("stage") == "calibrate"],
                            student)
    return write_json(folder / "summary.json", dict(summary, profile=profile, dataset=dataset))


def verdict(diff: dict | None) -> str:
    """What a paired difference says about a claim that it is positive: `reproduced` (95 % interval above 0),
    `contradicted` (below 0), `not resolved` (the interval contains 0), `not testable` (fewer than 2 seeds)."""
    if not diff or diff.get("n", 0) < 2 or diff.get("ci95") is None:
        return "not testable"
    lo, hi = diff["ci95"]
    return "reproduced" if lo > 0 else "contradicted" if hi < 0 else "not resolved"


def claims(summary: dict) -> list[dict]:
    """Each of the paper's `CLAIMS` with its paired difference and `verdict`, from a `study_summary`."""
    out = []
    for text, section, key in CLAIMS:
        diff = summary.get(section, {}).get(key)
        out.append({"claim": text, "difference": key, "n": (diff or {}).get("n", 0),
                    "mean": (diff or {}).get("mean"), "ci95": (diff or {}).get("ci95"), "verdict": verdict(diff)})
    return out


def _interval(mean: float | None, ci: list[float] | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:+.2f}" + ("" if ci is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")


def _acc_interval(mean: float, ci: list[float] | None) -> str:
    return f"{mean:.2f}" + ("" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]")


def claims_markdown(summary: dict) -> str:
    """The claims table and one sentence per verdict class, in words generated from the numbers."""
    rows = claims(summary)
    table = ("| the paper's claim | difference (points) | seeds | mean [95 % interval] | verdict |\n|---|---|---|---|---|\n"
             + "\n".join(f"| {c['claim']} | {c['difference']} | {c['n']} | {_interval(c['mean'], c['ci95'])} | "
                          f"{c['verdict']} |" for c in rows))
    words = []
    for kind, phrase in (("reproduced", "The miniature reproduces"), ("contradicted", "It contradicts"),
                         ("not resolved", "It cannot decide with these seeds"), ("not testable", "It cannot test")):
        sel = [c["claim"] for c in rows if c["verdict"] == kind]
        if sel:
            words.append(f"{phrase}: {'; '.join(sel)}.")
    return table + "\n\n" + " ".join(words) + (
        " A claim counts as reproduced only when the whole 95 % interval of its paired difference lies above zero.")


def summary_markdown(summary: dict) -> str:
    """Per-method mean test accuracy with its 95 % t-interval and every seed's value."""
    lines = [f"| {m} | {v['n']} | {_acc_interval(v['test_acc_last']['mean'], v['test_acc_last']['ci95'])} | "
             f"{', '.join(f'{x:.1f}' for x in v['test_acc_last']['values'])} |" for m, v in summary["methods"].items()]
    return ("| method | seeds | test acc, last epoch: mean [95 % interval] | every seed |\n|---|---|---|---|\n"
            + "\n".join(lines))


def stage1_markdown(summary: dict) -> str:
    """One sentence: the teacher's hand-prompt and calibrated zero-shot test accuracy, mean [95 % interval]."""
    st = summary.get("stage1", {})
    if "hand" not in st:
        return "No Stage 1 run was found."
    parts = [f"{label} {_acc_interval(st[k]['mean'], st[k]['ci95'])} %" for k, label in
             (("hand", "hand prompts"), ("calibrated", "calibrated prompts (Stage 1)"))]
    return (f"Teacher zero-shot accuracy on the test split over {len(st['hand']['values'])} seeds, mean [95 % "
            f"interval]: {parts[0]}; {parts[1]}.")


def write_study_report(summary: dict, out_md: str | Path, provenance: str = "") -> tuple[Path, Path, Path]:
    """Write a study's tables, claims in words and interval plot as `out_md`, a PNG and the summary's JSON beside
    it (for the book's pages to include, with the numbers they were made from); return the three paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_md = Path(out_md)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    png = out_md.with_suffix(".png")
    ax = interval_plot(summary, title=f"{summary.get('dataset', '')} {summary['student']} "
                                      f"({summary.get('profile', '')} profile): seeds and 95 % intervals")
    ax.figure.tight_layout()
    ax.figure.savefig(png, dpi=110)
    plt.close(ax.figure)
    text = "\n\n".join([summary_markdown(summary), stage1_markdown(summary), claims_markdown(summary)]
                        + ([provenance] if provenance else []))
    out_md.write_text(text + "\n")
    data = out_md.with_suffix(".json")
    data.write_text(json.dumps(summary, indent=1) + "\n")
    return out_md, png, data


def interval_plot(summary: dict, ax=None, title: str = ""):
    """Every seed's accuracy per method (dots) with the mean and its 95 % interval (bar)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    for i, (method, v) in enumerate(summary["methods"].items()):
        acc = v["test_acc_last"]
        ax.scatter([i] * len(acc["values"]), acc["values"], s=12, color="0.6", zorder=2)
        lo, hi = acc["ci95"] if acc["ci95"] else (acc["mean"], acc["mean"])
        ax.errorbar(i, acc["mean"], yerr=[[acc["mean"] - lo], [hi - acc["mean"]]], fmt="o", color="C0", capsize=4, zorder=3)
    ax.set_xticks(range(len(summary["methods"])), list(summary["methods"]), rotation=30, ha="right")
    ax.set(ylabel="test accuracy, last epoch (%)", title=title or "mean and 95 % interval over seeds (dots: seeds)")
    return ax


def _pm(mean: float, std: float, n: int) -> str:
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def results_markdown(rows: list[dict]) -> str:
    """The main table as Markdown, one table per (data set, student) under its own heading: clean (last epoch) and
    test-selected (best test epoch, optimistic) side by side."""
    if not rows:
        return "_No Stage 2 runs found._"
    head = ("| method | teacher | seeds | clean: last epoch | best epoch chosen on test (optimistic) | val-selected "
            "| paper |\n|---|---|---|---|---|---|---|\n")
    tables = []
    for dataset, student in sorted({(r["dataset"], r["student"]) for r in rows}):
        lines = []
        for r in (r for r in rows if (r["dataset"], r["student"]) == (dataset, student)):
            n = len(r["seeds"])
            val = "—" if r["val_selected_mean"] is None else f"{r['val_selected_mean']:.2f}"
            key = (r["dataset"], r["student"], r["method"])
            paper = "—" if r["paper"] is None else f"{r['paper']:.2f}" + (PAPER_DERIVED if PAPER_SOURCE[key] != "quoted" else "")
            lines.append(f"| {r['method']} | {r['teacher_mode']} | {n} | {_pm(r['last_mean'], r['last_std'], n)} | "
                         f"{_pm(r['best_mean'], r['best_std'], n)} | {val} | {paper} |")
        tables.append(f"**{dataset}, {student}**\n\n" + head + "\n".join(lines))
    notes = sorted({PAPER_SOURCE[(r["dataset"], r["student"], r["method"])] for r in rows if r["paper"] is not None}
                   - {"quoted"})
    rows_shown = {r["method"] for r in rows}
    methods = [METHOD_NOTES[m] for m in METHOD_ORDER if m in rows_shown and m in METHOD_NOTES]
    return ("\n\n".join(tables) + "".join(f"\n\n{PAPER_DERIVED} {n}" for n in notes)
            + "".join(f"\n\n{n}" for n in methods))


def ablation_markdown(rows: list[dict], dataset: str, student: str, profile: str | None = None) -> str:
    """PSC × NLRD ablation (clean accuracy); missing runs show as 'not run'."""
    by_method = {r["method"]: r for r in rows
                 if r["dataset"] == dataset and r["student"] == student and (profile is None or r["profile"] == profile)}
    out = f"| PSC | NLRD | method | test acc, last epoch |\n|---|---|---|---|\n"
    for (psc, nlrd), method in ABLATION.items():
        r = by_method.get(method)
        acc = "not run" if r is None else _pm(r["last_mean"], r["last_std"], len(r["seeds"]))
        out += f"| {'✓' if psc else '—'} | {'✓' if nlrd else '—'} | {method} | {acc} |\n"
    return out


def paper_markdown() -> str:
    """The paper's numbers as a table: data set, student, method, top-1 and where each number comes from."""
    lines = [f"| {d} | {s} | {m} | {v:.2f} | {PAPER_SOURCE[(d, s, m)]} |" for (d, s, m), v in PAPER.items()]
    lines += [f"| {d} | (unconfirmed) | pand, best listed | {v:.2f} | quoted from the public listing |"
              for d, v in PAPER_BEST_PAND.items()]
    best = PAPER_BEST_PAND.get("cub")
    note = (f"\n\nTwo numbers for PAND on CUB-200: {PAPER[('cub', 'resnet18', 'pand')]:.2f} is the paper's own statement "
            "for the ResNet-18 student, the number this book's `paper` runs are compared with; "
            f"{best:.2f} is the best PAND entry for CUB in the public listing of results, which does not say which "
            "student or run it belongs to, so it is shown for reference only and compared with nothing.")
    return ("| data set | student | method | paper's top-1 (%) | source |\n|---|---|---|---|---|\n" + "\n".join(lines)
            + note)


def collect_calibrations(runs_root: str | Path) -> list[dict]:
    """Every Stage 1 `result.json` below `runs_root` (in folders named `calibrate-s<seed>`), in path order."""
    return [json.loads(p.read_text()) for p in sorted(Path(runs_root).rglob("calibrate-s*/result.json"))]


def calibrations_markdown(calibrations: list[dict]) -> str:
    """One row per Stage 1 run: chance, hand-prompt and calibrated test accuracy, and what the anchors were
    selected on; a row of dashes when there is none."""
    lines = [f"| {c['dataset']} | {c['seed']} | {c['chance_acc']:.2f} | {c['hand_prompt_acc']['test']:.2f} | "
             f"{c['calibrated_acc']['test']:.2f} | {c['selected_on']} |" for c in calibrations]
    return ("| data set | seed | chance | hand prompts (test) | calibrated (test) | anchors selected on |\n"
            "|---|---|---|---|---|---|\n" + ("\n".join(lines) if lines else "| — | — | — | — | — | — |"))


def bar_chart(rows: list[dict], ax=None, title: str = ""):
    """Clean vs test-selected accuracy per method (error bars over seeds), paper numbers as markers."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 1.1 * len(rows) + 2), 3.4))
    labels = [f"{r['method']}\n{r['student']}" + ("" if r["teacher_mode"] in (None, "none", "online") else f"\n({r['teacher_mode']})")
              for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["last_mean"] for r in rows], 0.4, yerr=[r["last_std"] for r in rows],
           label="last epoch (clean)", color="#3b7dd8")
    ax.bar([x + 0.2 for x in xs], [r["best_mean"] for r in rows], 0.4, yerr=[r["best_std"] for r in rows],
           label="best test epoch (optimistic)", color="#b8cbe8")
    papers = [(x, r["paper"]) for x, r in zip(xs, rows) if r["paper"] is not None]
    if papers:
        ax.scatter([p[0] for p in papers], [p[1] for p in papers], marker="*", s=120, color="crimson", zorder=3, label="paper")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_stage2(metrics: list[dict], axes=None):
    """Loss terms with the α schedule, accuracies, and the learning rate over epochs (three panels)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    ep = [m["epoch"] for m in metrics]
    ax = axes[0]
    for key in ("loss", "ce", "img", "kd", "nlrd", "hinton_kd"):
        if key in metrics[0]:
            ax.plot(ep, [m[key] for m in metrics], label=key)
    ax.set_yscale("log")
    ax.set(title="loss terms", xlabel="epoch")
    twin = ax.twinx()
    twin.plot(ep, [m["alpha"] for m in metrics], "k--", lw=1, label="α (CE weight)")
    twin.set_ylim(0, max(0.2, max(m["alpha"] for m in metrics) * 1.2))
    twin.set_ylabel("α")
    ax.legend(fontsize=7, loc="upper right")
    axes[1].plot(ep, [m["train_acc"] for m in metrics], label="train (augmented)")
    axes[1].plot(ep, [m["test_acc"] for m in metrics], label="test (full split)")
    if metrics[0].get("val_acc") is not None:
        axes[1].plot(ep, [m["val_acc"] for m in metrics], label="val")
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    axes[1].legend(fontsize=8)
    axes[2].plot(ep, [m["lr"] for m in metrics])
    axes[2].set(title="learning rate", xlabel="epoch")
    return axes


def _hardware(env: dict) -> str:
    return f"{env.get('device', '?')}, {env.get('cpu_count', '?')} CPU cores, torch {env.get('torch', '?')}"


def cost_markdown(page_seconds: float, runs: dict[str, dict], environment: dict) -> str:
    """"What this page cost", from measurements only: this execution's wall time on this machine, each run's own
    time as its `result.json` recorded it when it was computed (a run loaded from disk cost nothing now), and the
    miniature teacher's one-time pretraining when the runs used it."""
    lines = [f"**What this page cost, measured.** This execution of the page: {page_seconds:.0f} s of wall time "
             f"({_hardware(environment)}). The runs it shows, each timed when it was computed:", "",
             "| run | what was timed | seconds | hardware |", "|---|---|---|---|"]
    teachers = set()
    for name, r in runs.items():
        if r.get("stage") == "calibrate":
            t = r["timings"]
            lines.append(f"| {name} | Stage 1 in all (loading the teacher, its features {t['features_s']:.1f} s, prompt "
                         f"learning {t['stage1_s']:.1f} s) | {t['total_s']:.1f} | {_hardware(r['environment'])} |")
        else:
            lines.append(f"| {name} | Stage 2: {r['epochs']} epochs of training and evaluation | "
                         f"{r['train_time_s']:.1f} | {_hardware(r['environment'])} |")
        source = (r.get("teacher") or {}).get("source", "") if isinstance(r.get("teacher"), dict) else ""
        if source.startswith("dir:"):
            teachers.add(Path(source[4:]))
    for folder in sorted(teachers):
        log = folder / "pretraining.json"
        if log.exists():
            p = json.loads(log.read_text())
            what = f"pretraining, {p['spec']['epochs']} epochs on {p['spec']['pairs']:,} image–caption pairs"
            hardware = _hardware(p["environment"]) if "environment" in p else "not recorded"
            if p.get("stored_as"):  # shipped: it did not run for this page
                lines += ["", f"Not part of this cost: the miniature teacher's {what} ({p['train_time_s']:.0f} s, "
                              f"{hardware}), done once for the project; its weights are shipped and only loaded here."]
            else:
                lines.append(f"| the miniature teacher (once per machine, then cached) | {what} | "
                             f"{p['train_time_s']:.1f} | {hardware} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- benchmarks (the costs page)
# The paper's Stage 2 on CUB-200: 5,994 training images, batch 128, 300 epochs; the bank holds 8 views per image.
CUB_TRAIN_IMAGES, PAPER_BATCH, PAPER_EPOCHS, BANK_VIEWS = 5994, 128, 300, 8


def collect_benchmarks(folder: str | Path) -> list[dict]:
    """Every benchmark JSON in `folder` (what `benchmarks/*.py` wrote), in name order, each with its `file` name."""
    return [dict(json.loads(p.read_text()), file=p.name) for p in sorted(Path(folder).glob("*.json"))]


def benchmarks_of(bench: list[dict], name: str) -> list[dict]:
    """The records of one benchmark (`stage2_step_time`, `data_path`, `stage1_step`, `inference`)."""
    return [r for r in bench if r["benchmark"] == name]


def ran_on_gpu(bench: list[dict]) -> bool:
    """Whether any benchmark record was measured on a device other than the CPU."""
    return any(r["environment"]["device"] != "cpu" for r in bench)


def bench_hardware(record: dict) -> str:
    """The machine a benchmark record was measured on: device, CPU cores, torch version."""
    env = record["environment"]
    return f"{env['device']} ({env['cpu_count']} CPU cores, torch {env['torch']})"


def step_time_markdown(bench: list[dict]) -> str:
    """Median Stage 2 step of CE, PAND with the bank and PAND with the online teacher (ms, and the ratio to CE)."""
    rows = []
    for r in benchmarks_of(bench, "stage2_step_time"):
        t, q, s = r["times"], r["ratios_to_ce"], r["sizes"]
        models = f", {s['teacher']} → {s['student']}" if "teacher" in s and "student" in s else ""
        rows.append(f"| {bench_hardware(r)} | {r['size']} ({s['image']} px, batch {s['batch']}, {s['classes']} classes{models}) | "
                    f"{'bf16' if r['amp'] else 'fp32'} | {1000 * t['ce']['median_s']:.1f} | "
                    f"{1000 * t['pand_bank']['median_s']:.1f} ({q['pand_bank']:.2f}×) | "
                    f"{1000 * t['pand_online']['median_s']:.1f} ({q['pand_online']:.2f}×) |")
    return ("| hardware | size | precision | CE step (ms) | PAND, bank (ms) | PAND, online teacher (ms) |\n"
            "|---|---|---|---|---|---|\n" + ("\n".join(rows) or "| no step-time benchmark yet | | | | | |"))


def data_path_markdown(bench: list[dict]) -> str:
    """Images per second of the CPU data path and of the device data path."""
    rows = [f"| {bench_hardware(r)} | {r['workers']} | {r['cpu_path_images_per_s']:.0f} | {r['device']} | "
            f"{r['device_path_images_per_s']:.0f} |" for r in benchmarks_of(bench, "data_path")]
    return ("| hardware | loader workers | CPU path (images/s) | device path on | device path (images/s) |\n"
            "|---|---|---|---|---|\n" + ("\n".join(rows) or "| no data-path benchmark yet | | | | |"))


def step_demand(record: dict) -> float:
    """Images per second a student-only (CE) training step consumes: batch size / median step time."""
    return record["sizes"]["batch"] / record["times"]["ce"]["median_s"]


def step_demand_lines(bench: list[dict]) -> list[str]:
    """One sentence per full-size step-time record: the images per second its CE step consumes."""
    return [f"{bench_hardware(r)}: a student-only training step consumes {step_demand(r):.0f} images/s at full size"
            for r in benchmarks_of(bench, "stage2_step_time") if r["size"] == "full"]


def stage1_step_markdown(bench: list[dict]) -> str:
    """Stage 1 step time with the full and the truncated text sequence, and the speed-up."""
    rows = [f"| {bench_hardware(r)} | {r['teacher']} | {r['classes']} | {r['full']['sequence_length']} → "
            f"{r['truncated']['sequence_length']} | {r['full']['step_s']:.3f} | {r['truncated']['step_s']:.3f} | "
            f"{r['speedup']:.2f}× |" for r in benchmarks_of(bench, "stage1_step")]
    return ("| hardware | text tower | classes | tokens | full step (s) | truncated step (s) | speed-up |\n"
            "|---|---|---|---|---|---|---|\n" + ("\n".join(rows) or "| no Stage 1 benchmark yet | | | | | | |"))


def inference_markdown(bench: list[dict]) -> list[str]:
    """One table per inference record (parameters, GMAC, weight size and latency per model, export check); a
    single note when there is none."""
    tables = []
    for r in benchmarks_of(bench, "inference"):
        rows = [f"| {name} | {m['params'] / 1e6:.1f} M | {m['macs_per_image'] / 1e9:.2f} | "
                f"{m['fp32_weights_bytes'] / 2**20:.0f} | {1000 * m['latency_batch1_s']:.1f} | "
                f"{1000 * m['latency_batch32_s']:.0f} |" for name, m in r["models"].items()]
        tables.append(f"**{bench_hardware(r)}, {r['image_size']} px**\n\n| model | parameters | GMAC / image | "
                      "fp32 weights (MiB) | batch 1 (ms) | batch 32 (ms) |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
                      + f"\n\nExported ResNet-18: TorchScript max |Δlogit| {r['export_check']['torchscript_max_abs_err']:.1e}, "
                      f"ONNX {r['export_check']['onnx_max_abs_err']:.1e}.")
    return tables or ["_No inference benchmark yet._"]


def cub_estimate(record: dict) -> dict[str, float]:
    """Estimated hours of the paper's Stage 2 on CUB-200 from one step-time record: `online` = epochs × steps ×
    online step; `bank` = epochs × steps × bank step + one teacher pass over every view of every training image
    (the online step's extra time over CE, per image)."""
    t, batch = record["times"], record["sizes"]["batch"]
    steps = math.ceil(CUB_TRAIN_IMAGES / PAPER_BATCH)
    teacher_per_image = (t["pand_online"]["median_s"] - t["ce"]["median_s"]) / batch
    online = PAPER_EPOCHS * steps * t["pand_online"]["median_s"]
    bank = PAPER_EPOCHS * steps * t["pand_bank"]["median_s"] + BANK_VIEWS * CUB_TRAIN_IMAGES * max(teacher_per_image, 0)
    return {"online": online / 3600, "bank": bank / 3600}


def cub_estimate_markdown(bench: list[dict]) -> str:
    """`cub_estimate` for every step-time record measured at the paper's size (full, batch 128)."""
    rows = []
    for r in benchmarks_of(bench, "stage2_step_time"):
        if r["size"] != "full" or r["sizes"]["batch"] != PAPER_BATCH:  # the paper's step: 224 px, batch 128
            continue
        hours = cub_estimate(r)
        rows.append(f"| {bench_hardware(r)} | {'bf16' if r['amp'] else 'fp32'} | {hours['online']:.1f} | {hours['bank']:.1f} |")
    if not rows:
        return ("_No estimate yet: it needs a step measured at the paper's size (224 px, batch 128), which only a GPU "
                "can run; the GPU suite below measures it._")
    return ("| hardware | precision | Stage 2 online, estimated hours | Stage 2 bank, estimated hours |\n|---|---|---|---|\n"
            + "\n".join(rows))


# ------------------------------------------------------------------------------------ the GPU suite (costs page)
GPU_SUITE_COMMAND = "python benchmarks/gpu_suite.py"
GPU_SUITE_PARTS = (("step", 1, "Stage 2 step at the paper's sizes"), ("memory", 2, "peak GPU memory per mode"),
                   ("data_path", 3, "data path"), ("bank_build", 4, "bank build"), ("stage1", 5, "Stage 1 epoch"),
                   ("end_to_end", 6, "end to end, and the whole reproduction projected"))
ORIGINAL_GPUS = 4  # the original: 4 GPUs, the teacher online in fp32 at every step


def gpu_suite_records(bench: list[dict]) -> list[dict]:
    """The GPU suite's records measured on a GPU (`pand_core/measured/gpu-*.json`); dry runs are never shown."""
    return [r for r in benchmarks_of(bench, "gpu_suite") if not r.get("dry_run")]


def gpu_suite_pending() -> str:
    """What the costs page says before the GPU suite has run: every part pending, and the command to run."""
    lines = ["**The GPU suite has not run yet.** On a machine with one GPU, run", "",
             f"    {GPU_SUITE_COMMAND}", "",
             "(under 10 minutes; it writes `pand_core/measured/gpu-<gpu name>.json`; commit it and this page renders "
             f"it). Check it first on the CPU with `{GPU_SUITE_COMMAND} --dry-run`.", ""]
    lines += [f"- part {n}, {title}: pending (no GPU run yet)" for _, n, title in GPU_SUITE_PARTS]
    return "\n".join(lines)


def _ms(t: dict) -> str:
    return f"{1000 * t['median_s']:.1f} ({1000 * t['p10_s']:.0f}–{1000 * t['p90_s']:.0f})"


def original_setup_estimate(record: dict) -> dict | None:
    """The original setup's Stage 2 on CUB-200, estimated from this record: ResNet-18's measured online-teacher fp32
    step × 300 epochs × ⌈5,994 / 128⌉ steps ÷ 4 GPUs (a perfect split of each batch; data loading, evaluation and
    Stage 1 left out). None without that measurement."""
    t = record["parts"]["step"].get("students", {}).get("resnet18", {}).get("fp32", {}).get("pand_online")
    if t is None:
        return None
    steps = math.ceil(CUB_TRAIN_IMAGES / PAPER_BATCH)
    s = t["median_s"] * PAPER_EPOCHS * steps / ORIGINAL_GPUS
    return {"stage2_s": s, "formula": f"{1000 * t['median_s']:.1f} ms × {PAPER_EPOCHS} epochs × {steps} steps ÷ "
                                      f"{ORIGINAL_GPUS} GPUs", "estimate": True}


def _part_body(name: str, p: dict, record: dict) -> list[str]:
    if name == "step":
        rows = ["| student | precision | CE ms (p10–p90) | PAND, bank ms (× CE) | PAND, online ms (× CE) |",
                "|---|---|---|---|---|"]
        for student, by_precision in p["students"].items():
            for precision, t in by_precision.items():
                q = p["ratios_to_ce"][student][precision]
                rows.append(f"| {student} | {precision} | {_ms(t['ce'])} | {_ms(t['pand_bank'])} ({q['pand_bank']:.2f}×) | "
                            f"{_ms(t['pand_online'])} ({q['pand_online']:.2f}×) |")
        missing = [f"- not measured: {g}" for g in p.get("skipped_groups", []) + p.get("failed_groups", [])]
        return rows + ["", f"{p['image']} px, batch {p['batch']}, {p['classes']} classes; the trainer's own step on "
                           "synthetic batches (data loading excluded)."] + missing
    if name == "memory":
        rows = ["| student | precision | mode | peak GiB | fits a 16 GB Colab GPU |", "|---|---|---|---|---|"]
        for student, by_precision in p["modes"].items():
            for precision, modes in by_precision.items():
                for mode, m in modes.items():
                    gib = "n/a" if m["peak_gib"] is None else f"{m['peak_gib']:.1f}"
                    fits = "n/a" if m["fits_16gb_colab"] is None else ("yes" if m["fits_16gb_colab"] else "no")
                    rows.append(f"| {student} | {precision} | {mode} | {gib} | {fits} |")
        return rows + ["", f"Usable on a 16 GB Colab GPU: {p['colab_usable_gib']} GiB; the teacher's weights stay "
                           "resident in every mode."]
    if name == "data_path":
        lines = [f"CPU loader ({p['workers']} workers): {p['cpu_path_images_per_s']:.0f} images/s; device path from the "
                 f"uint8 cache: {p['device_path_images_per_s']:.0f} images/s ({p['source_px']} px sources)."]
        for key, f in (record.get("summary", {}).get("can_feed") or {}).items():
            lines.append(f"- {key} step consumes {f['step_images_per_s']:.0f} images/s: CPU path "
                         f"{'feeds it' if f['cpu_path'] else 'cannot feed it'}, device path "
                         f"{'feeds it' if f['device_path'] else 'cannot feed it'}")
        return lines
    if name == "bank_build":
        return [f"Teacher image tower in bf16: {p['images_per_s']:.0f} images/s (input {p['teacher_input_px']} px). "
                f"An {p['bank_images'] // CUB_TRAIN_IMAGES}-view bank of {CUB_TRAIN_IMAGES:,} images: "
                f"{p['bank_build_s_projected']:.0f} s, **projected** (teacher forward only)."]
    if name == "stage1":
        return [f"{p['classes']} classes, batch {p['batch']}: truncated text tower ({p['truncated']['sequence_length']} "
                f"tokens) {p['truncated']['step_s']:.3f} s per step, {p['truncated']['cub_epoch_s_estimate']:.1f} s per "
                f"epoch; full ({p['full']['sequence_length']} tokens) {p['full']['step_s']:.3f} s per step, "
                f"{p['full']['cub_epoch_s_estimate']:.1f} s per epoch ({p['speedup']:.2f}× speed-up)."]
    times = ", ".join(f"{t:.1f}" for t in p["epoch_time_s"])
    lines = [f"`distill()` with `pand` and the bank ({p['config']['bank_views']} views) on a synthetic world of CUB's sizes "
             f"({p['train_images']:,} training images): {p['epochs_run']} epochs of {times} s (training + test "
             f"evaluation)" + (f"; between epoch ends (checkpoint writes included): "
                               f"{', '.join(f'{t:.1f}' for t in p['epoch_wall_s'])} s" if p.get("epoch_wall_s") else "")
             + f"; setup {p['setup_s']:.0f} s."]
    proj = record.get("summary", {}).get("projection")
    if proj:
        lines += ["", f"**Projected** whole CUB reproduction on this GPU: **{proj['total_min']:.1f} min** "
                      f"({proj['total_s']:.0f} s) = Stage 1 {proj['stage1_epochs']} × {proj['stage1_epoch_s']:.1f} s "
                      f"+ features {proj['stage1_features_s']:.0f} s + bank {proj['bank_build_s']:.0f} s + "
                      f"{proj['stage2_epochs']} × {proj['stage2_epoch_s']:.1f} s + teacher loads "
                      f"{2 * proj['teacher_load_s']:.0f} s.", "", f"Formula: `{proj['formula']}`"]
    orig = original_setup_estimate(record)
    if orig:
        lines += ["", f"The original setup ({ORIGINAL_GPUS} GPUs, teacher online in fp32 at every step), **estimated**: "
                      f"Stage 2 alone {orig['stage2_s'] / 3600:.1f} h ({orig['formula']})"
                      + (f", {orig['stage2_s'] / proj['total_s']:.1f}× this GPU's projected whole reproduction."
                         if proj else ".")]
    return lines


def gpu_suite_markdown(record: dict) -> str:
    """One GPU-suite record as markdown: the hardware, each part (its numbers, or pending / skipped / failed with the
    reason), the projection against the original setup, and the issue's targets."""
    gpu = record.get("gpu") or {}
    lines = [f"**GPU suite on {gpu.get('name', record['device'])}** ({bench_hardware(record)}; "
             f"{record['elapsed_s']:.0f} s of a {record['budget_s']:.0f} s budget"
             + ("" if record.get("finished") else "; did not finish") + ")"]
    for name, n, title in GPU_SUITE_PARTS:
        p = record["parts"][name]
        status = p["status"]
        lines += ["", f"**Part {n}: {title}**" + ("" if status == "measured" else f" — {status}"), ""]
        if status == "pending":
            lines.append("pending (not reached in this run)")
        elif status in ("skipped", "failed"):
            lines.append(f"{status}: {p.get('reason')}")
        else:
            lines += _part_body(name, p, record)
    t = record.get("targets") or {}

    def verdict(v) -> str:
        return "not measured" if v is None else ("met" if v else "NOT met")

    lines += ["", "**Targets**", "",
              f"- PAND + bank step ≤ 1.15× the CE step with bf16: {verdict(t.get('pand_bank_le_1.15x_ce_bf16'))}",
              f"- whole CUB reproduction ≤ 15 min on one GPU (projected): {verdict(t.get('cub_reproduction_le_15_min'))}",
              f"- device data path feeds the step: {verdict(t.get('device_data_path_feeds_step'))}"]
    return "\n".join(lines)
