"""What the book found, from a study's summary (`studies/results/study.json`): the findings box that heads the intro
and the results page, and the study figure (paired differences per claim; accuracy per method with the teacher).

`python -m pand_core.report.redraw [study.json]` redraws `findings.md` and `study.png` beside the summary from its
numbers alone (no run is repeated).
"""

from __future__ import annotations

import json
from pathlib import Path

from .results import claims

STUDY_JSON = Path("studies/results/study.json")  # relative to the repository's root
REGIMES_JSON = STUDY_JSON.with_name("regimes.json")  # the regime map (`pand_core.regimes`), beside the study

HEADLINE = {  # one sentence per verdict pattern of the three claims about PAND's gain over its baselines
    "reproduced": "beats", "contradicted": "does not beat", "not resolved": "cannot be told apart from",
    "not testable": "was not compared with",
}


def _pm(mean: float | None, ci: list[float] | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:+.1f}" if not ci else f"{mean:+.1f} [{ci[0]:+.1f}, {ci[1]:+.1f}]"


def committed_study() -> dict | None:
    """The committed study's summary (`studies/results/study.json` of the repository this package runs from); None
    where the package was installed without the repository (e.g. from a wheel on Colab)."""
    path = Path(__file__).resolve().parents[2] / STUDY_JSON
    return json.loads(path.read_text()) if path.exists() else None


def committed_regimes() -> dict | None:
    """The committed regime map (`studies/results/regimes.json`); None where it is absent (installed from a wheel,
    or before `make regimes` ran)."""
    path = Path(__file__).resolve().parents[2] / REGIMES_JSON
    return json.loads(path.read_text()) if path.exists() else None


def _map_sentence(regimes: dict, map_link: str) -> str:
    """The box's paragraph on the regime map: how many verdicts hold, flip or depend on the regime, and PAND's two
    comparisons in the regime nearest the paper's, with the students against the teacher there."""
    from .regime_map import NEAREST_PAPER, _teacher

    across = [c["across_map"] for c in regimes["claims"]]
    plural = {"holds": "hold", "flips": "flip", "depends on the regime": "depend on the regime"}
    parts = [f"{across.count(k)} {k if across.count(k) == 1 else many}" for k, many in plural.items() if k in across]
    count = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
    study = regimes["regimes"][regimes["study"]]
    images = max(r["images_per_class"] for r in regimes["regimes"].values())
    steps = max(r["steps"] for r in regimes["regimes"].values()) / study["steps"]
    out = (f"**With longer training or more labelled images** ([the regime map]({map_link}): up to {images} images "
           f"per class and {steps:.0f} times the steps), of these six verdicts {count}.")
    near = regimes["regimes"].get(NEAREST_PAPER)
    if near:
        v = {c["difference"]: c["verdict"] for c in near["claims"]}
        out += (f" In the regime nearest the paper's ({near['images_per_class']} images per class, "
                f"{near['steps']:,} steps), PAND {HEADLINE[v['pand-vl2lite']]} VL2Lite and {HEADLINE[v['pand-ce']]} "
                "CE")
        teacher = _teacher(near)
        accs = {m: r["test_acc_last"]["mean"] for m, r in near["methods"].items()}
        if teacher is not None and accs and min(accs.values()) > teacher and max(accs, key=accs.get) == "ce":
            out += ", and every student ends above its teacher, CE highest: the miniature's premise no longer holds there"
        out += "."
    return out


def findings_markdown(summary: dict, study_link: str = "miniature.md", regimes: dict | None = None,
                      map_link: str | None = None) -> str:
    """The findings box: one lead sentence generated from the verdicts, the six claims with their paired differences
    and 95 % intervals, what the regime map makes of each, and what the evidence is and is not.

    Args:
        summary: A `study_summary` (e.g. `studies/results/study.json`).
        study_link: Where "The study" links to, relative to the page that shows the box.
        regimes: The regime map (`regimes.json`); None: the box says nothing of it. When a verdict flips across the
            map, the lead says in which regime the study's verdicts were found.
        map_link: Where "the regime map" links to; None: the study's page.
    """
    rows = {c["difference"]: c for c in claims(summary)}
    n = max(c["n"] for c in rows.values())  # seeds
    ce, vl2lite = rows["pand-ce"]["verdict"], rows["pand-vl2lite"]["verdict"]
    across = {c["difference"]: c["across_map"] for c in regimes["claims"]} if regimes else {}
    where = "On the miniature"
    if "flips" in across.values():
        study = regimes["regimes"][regimes["study"]]
        where = (f"In the miniature's {study['steps']}-step regime ({study['images_per_class']} labelled images per "
                 f"class, {study['epochs']} epochs)")
    lead = (f"{where}, PAND {HEADLINE[ce]} training on labels alone (CE) {'and' if ce == vl2lite else 'but'} "
            f"{HEADLINE[vl2lite]} VL2Lite.")
    parts = [rows["pand-pand-no-psc"]["verdict"], rows["pand-pand-no-nlrd"]["verdict"]]
    if parts == ["contradicted", "contradicted"]:
        lead += " Each of its two parts lowers the student when added to the other."
    elif parts == ["reproduced", "reproduced"]:
        lead += " Each of its two parts raises the student when added to the other."
    if across:
        table = ["| the paper's claim | difference, points [95 % interval] | verdict | across the regime map |",
                 "|---|---|---|---|"]
        table += [f"| {c['claim']} | {_pm(c['mean'], c['ci95'])} | {c['verdict']} | {across[k]} |"
                  for k, c in rows.items()]
    else:
        table = ["| the paper's claim | difference, points [95 % interval] | verdict |", "|---|---|---|"]
        table += [f"| {c['claim']} | {_pm(c['mean'], c['ci95'])} | {c['verdict']} |" for c in rows.values()]
    evidence = (f"**The evidence:** {n} paired seeds on the offline miniature (a synthetic 24-class bird world, a "
                "small CLIP teacher, a 32 px student), not CUB-200. **Not yet run:** the paper profile on a GPU, so "
                f"none of the paper's numbers is confirmed or refuted. [The study]({study_link}) gives every run.")
    blocks = [f"**{lead}**", "", *table, "", evidence]
    if regimes:
        blocks += ["", _map_sentence(regimes, map_link or study_link)]
    return "\n".join(blocks) + "\n"


def findings_beside(summary: dict, folder: str | Path) -> str:
    """The committed box (`findings.md`) of `summary`: with the regime map when `folder` holds `regimes.json`.

    Args:
        summary: A `study_summary`.
        folder: The study's results folder (`studies/results/`).
    """
    path = Path(folder) / REGIMES_JSON.name
    regimes = json.loads(path.read_text()) if path.exists() else None
    return findings_markdown(summary, regimes=regimes, map_link=MAP_LINK)


MAP_LINK = "miniature.md#the-regime-map"  # from book/: the miniature page's heading "The regime map"


def study_figure(summary: dict):
    """Two panels at the page's width: each claim's paired difference with its 95 % interval (the verdicts' basis),
    and every method's accuracy over seeds with the teacher's zero-shot accuracy as lines; returns the figure.

    Args:
        summary: A `study_summary` of at least two seeds (the claims without an interval are left out).
    """
    from .style import page_figure

    import textwrap

    fig, (top, bottom) = page_figure(2, 1, height=7.6, layout="constrained", gridspec_kw={"height_ratios": [1, 1.1]})
    rows = [c for c in claims(summary) if c["ci95"]][::-1]  # claims the summary can test (an interval needs 2 seeds)
    colour = {"reproduced": "#2a7a3b", "contradicted": "#b3261e", "not resolved": "0.45", "not testable": "0.7"}
    for y, c in enumerate(rows):
        lo, hi = c["ci95"]
        top.errorbar(c["mean"], y, xerr=[[c["mean"] - lo], [hi - c["mean"]]], fmt="o", capsize=4,
                     color=colour[c["verdict"]])
        top.annotate(c["verdict"], (hi, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9.5,
                     color=colour[c["verdict"]])
    top.axvline(0, color="k", lw=1)
    top.set_yticks(range(len(rows)), [textwrap.fill(c["claim"], 26) for c in rows])
    top.set_xlabel("paired difference, points (mean and 95 % interval)")
    top.set_xlim(min(c["ci95"][0] for c in rows) - 1, max(c["ci95"][1] for c in rows) + 4)
    top.set_title(f"The paper's claims, {rows[0]['n']} paired seeds")
    methods = summary["methods"]
    for i, (method, v) in enumerate(methods.items()):
        acc = v["test_acc_last"]
        bottom.scatter([i] * len(acc["values"]), acc["values"], s=10, color="0.65", zorder=2)
        lo, hi = acc["ci95"]
        bottom.errorbar(i, acc["mean"], yerr=[[acc["mean"] - lo], [hi - acc["mean"]]], fmt="o", color="C0",
                        capsize=4, zorder=3)
    for key, label, style in (("calibrated", "teacher, calibrated prompts", "-"), ("hand", "teacher, hand prompts", "--")):
        stage1 = summary.get("stage1", {}).get(key)
        if stage1:
            bottom.axhline(stage1["mean"], color="#7a4fa3", ls=style, lw=1.3, label=f"{label} ({stage1['mean']:.1f} %)")
    bottom.set_xticks(range(len(methods)), list(methods), rotation=25, ha="right")
    bottom.set_ylabel("test accuracy, last epoch (%)")
    bottom.set_title("Students per method (dots: seeds) and the teacher")
    bottom.legend(loc="lower right")
    return fig


def write_findings(summary_json: str | Path = STUDY_JSON) -> tuple[Path, Path]:
    """Redraw `findings.md` and the study figure (`<name>.png`) beside `summary_json` from its numbers alone;
    return both paths.

    Args:
        summary_json: A `study_summary` saved as JSON.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .style import apply_style

    summary_json = Path(summary_json)
    summary = json.loads(summary_json.read_text())
    md = summary_json.with_name("findings.md")
    md.write_text(findings_beside(summary, summary_json.parent))
    with plt.rc_context():
        apply_style()
        fig = study_figure(summary)
        png = summary_json.with_suffix(".png")
        fig.savefig(png)
        plt.close(fig)
    return md, png
