"""Markdown the pages display: the results and ablation tables, the study's intervals and claims, Stage 1, and
what a page cost."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import ABLATION, METHOD_ORDER
from .paper import METHOD_NOTES, PAPER_DERIVED, PAPER_SOURCE
from .findings import findings_beside, study_figure
from .style import apply_style
from .results import claims

def _interval(mean: float | None, ci: list[float] | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:+.2f}" + ("" if ci is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")


def _acc_interval(mean: float, ci: list[float] | None) -> str:
    return f"{mean:.2f}" + ("" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]")


def claims_markdown(summary: dict) -> str:
    """The claims table and one sentence per verdict class, in words generated from the numbers.

    Args:
        summary: A `study_summary` (its `paired` and `stage1` sections, through `results.claims`).
    """
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
    """Per-method mean test accuracy with its 95 % t-interval and every seed's value.

    Args:
        summary: A `study_summary` (its `methods` section).
    """
    lines = [f"| {m} | {v['n']} | {_acc_interval(v['test_acc_last']['mean'], v['test_acc_last']['ci95'])} | "
             f"{', '.join(f'{x:.1f}' for x in v['test_acc_last']['values'])} |" for m, v in summary["methods"].items()]
    return ("| method | seeds | test acc, last epoch: mean [95 % interval] | every seed |\n|---|---|---|---|\n"
            + "\n".join(lines))


def stage1_markdown(summary: dict) -> str:
    """One sentence: the teacher's hand-prompt and calibrated zero-shot test accuracy, mean [95 % interval].

    Args:
        summary: A `study_summary` (its `stage1` section); without a `hand` entry the sentence says that no Stage 1
            run was found.
    """
    st = summary.get("stage1", {})
    if "hand" not in st:
        return "No Stage 1 run was found."
    parts = [f"{label} {_acc_interval(st[k]['mean'], st[k]['ci95'])} %" for k, label in
             (("hand", "hand prompts"), ("calibrated", "calibrated prompts (Stage 1)"))]
    return (f"Teacher zero-shot accuracy on the test split over {len(st['hand']['values'])} seeds, mean [95 % "
            f"interval]: {parts[0]}; {parts[1]}.")


def write_study_report(summary: dict, out_md: str | Path, provenance: str = "") -> tuple[Path, Path, Path]:
    """Write a study's tables, claims in words and figure (`findings.study_figure`) as `out_md`, a PNG and the
    summary's JSON beside it, and the findings box (`findings.md`); return the first three paths.

    Args:
        summary: A `study_summary`.
        out_md: The Markdown file; the PNG and the JSON take its name with `.png` and `.json`, `findings.md` goes
            into its folder (made if missing).
        provenance: A last paragraph (where the numbers come from); "": none.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_md = Path(out_md)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    png = out_md.with_suffix(".png")
    with plt.rc_context():
        apply_style()
        fig = study_figure(summary)
        fig.savefig(png)
        plt.close(fig)
    out_md.with_name("findings.md").write_text(findings_beside(summary, out_md.parent))
    text = "\n\n".join([summary_markdown(summary), stage1_markdown(summary), claims_markdown(summary)]
                        + ([provenance] if provenance else []))
    out_md.write_text(text + "\n")
    data = out_md.with_suffix(".json")
    data.write_text(json.dumps(summary, indent=1) + "\n")
    return out_md, png, data


def dataset_label(dataset: str, profile: str | None) -> str:
    """The name a reader sees for a data set: the smoke profile's world is the miniature, not CUB-200 itself.

    Args:
        dataset: The data set's name.
        profile: The profile its runs used; "smoke" names the miniature, anything else (None too) the data set.
    """
    return f"miniature ({dataset.upper()} layout)" if profile == "smoke" else dataset


def _pm(mean: float, std: float, n: int) -> str:
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def results_markdown(rows: list[dict]) -> str:
    """The main table as Markdown, one table per (data set, student) under its own heading: clean (last epoch) and
    test-selected (best test epoch, optimistic) side by side, and the paper's number where a row has one.

    Args:
        rows: Rows of `summarise`; a table gets a paper column only when one of its rows has a paper number.
    """
    if not rows:
        return "_No Stage 2 runs found._"
    tables = []
    for dataset, student in sorted({(r["dataset"], r["student"]) for r in rows}):
        group = [r for r in rows if (r["dataset"], r["student"]) == (dataset, student)]
        with_paper = any(r["paper"] is not None for r in group)  # the paper's setting: only paper-profile runs
        head = ("| method | teacher | seeds | clean: last epoch | best epoch chosen on test (optimistic) | val-selected "
                + ("| paper |\n|---|---|---|---|---|---|---|\n" if with_paper else "|\n|---|---|---|---|---|---|\n"))
        lines = []
        for r in group:
            n = len(r["seeds"])
            val = "—" if r["val_selected_mean"] is None else f"{r['val_selected_mean']:.2f}"
            key = (r["dataset"], r["student"], r["method"])
            paper = "—" if r["paper"] is None else f"{r['paper']:.2f}" + (PAPER_DERIVED if PAPER_SOURCE[key] != "quoted" else "")
            lines.append(f"| {r['method']} | {r['teacher_mode']} | {n} | {_pm(r['last_mean'], r['last_std'], n)} | "
                         f"{_pm(r['best_mean'], r['best_std'], n)} | {val} |" + (f" {paper} |" if with_paper else ""))
        tables.append(f"**{dataset_label(dataset, group[0]['profile'])}, {student}**\n\n" + head + "\n".join(lines))
    notes = sorted({PAPER_SOURCE[(r["dataset"], r["student"], r["method"])] for r in rows if r["paper"] is not None}
                   - {"quoted"})
    rows_shown = {r["method"] for r in rows}
    methods = [METHOD_NOTES[m] for m in METHOD_ORDER if m in rows_shown and m in METHOD_NOTES]
    return ("\n\n".join(tables) + "".join(f"\n\n{PAPER_DERIVED} {n}" for n in notes)
            + "".join(f"\n\n{n}" for n in methods))


def ablation_markdown(rows: list[dict], dataset: str, student: str, profile: str | None = None) -> str:
    """PSC × NLRD ablation: one row per cell of `config.ABLATION` with its method's clean (last-epoch) accuracy,
    mean ± std over seeds; missing runs show as 'not run'.

    Args:
        rows: Rows of `summarise`.
        dataset: The data set of the rows shown.
        student: The student of the rows shown.
        profile: The profile of the rows shown; None: any (a method's later row then replaces an earlier one).
    """
    by_method = {r["method"]: r for r in rows
                 if r["dataset"] == dataset and r["student"] == student and (profile is None or r["profile"] == profile)}
    out = f"| PSC | NLRD | method | test acc, last epoch |\n|---|---|---|---|\n"
    for (psc, nlrd), method in ABLATION.items():
        r = by_method.get(method)
        acc = "not run" if r is None else _pm(r["last_mean"], r["last_std"], len(r["seeds"]))
        out += f"| {'✓' if psc else '—'} | {'✓' if nlrd else '—'} | {method} | {acc} |\n"
    return out


def calibrations_markdown(calibrations: list[dict]) -> str:
    """One row per Stage 1 run: chance, hand-prompt and calibrated test accuracy, and what the anchors were
    selected on; a row of dashes when there is none.

    Args:
        calibrations: Stage 1 `result.json` contents (`collect_calibrations`).
    """
    lines = [f"| {c['dataset']} | {c['seed']} | {c['chance_acc']:.2f} | {c['hand_prompt_acc']['test']:.2f} | "
             f"{c['calibrated_acc']['test']:.2f} | {c['selected_on']} |" for c in calibrations]
    return ("| data set | seed | chance | hand prompts (test) | calibrated (test) | anchors selected on |\n"
            "|---|---|---|---|---|---|\n" + ("\n".join(lines) if lines else "| — | — | — | — | — | — |"))


def _hardware(env: dict) -> str:
    return f"{env.get('device', '?')}, {env.get('cpu_count', '?')} CPU cores, torch {env.get('torch', '?')}"


def cost_markdown(page_seconds: float, runs: dict[str, dict], environment: dict) -> str:
    """"What this page cost", from measurements only: this execution's wall time on this machine, each run's own
    time as its `result.json` recorded it when it was computed (a run loaded from disk cost nothing now), and the
    miniature teacher's one-time pretraining when the runs used it.

    Args:
        page_seconds: The page's wall time so far.
        runs: Run name -> its `result.json` contents: Stage 1 (`stage` "calibrate") with its `timings`, Stage 2 with
            its `epochs` and `train_time_s`; both with the `environment` they ran in.
        environment: This machine (`infra.environment.environment()`: device, CPU cores, torch).
    """
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
