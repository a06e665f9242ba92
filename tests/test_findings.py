"""The book's findings box and study figure (from the committed study), the figures' style, and what the built book
is checked for: code and output lines that fit, no builders' history on reader pages, the box's numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from pand_core.book.checks import book_problems
from pand_core.report.findings import findings_beside, findings_markdown, study_figure
from pand_core.report.style import MIN_FONT_PT, PAGE_WIDTH_IN, displayed_font_px, smallest_font_pt

REPO = Path(__file__).resolve().parents[1]
STUDY = json.loads((REPO / "studies" / "results" / "study.json").read_text())
READER_PAGES = ("intro", "method", "miniature", "deviations", "_deviations", "gpu-recipe", "reproduction", "recovery")


def test_the_committed_findings_box_is_the_studys():
    """findings.md (the intro's box) is `findings_markdown` of study.json; its rows are the six claims' intervals."""
    committed = (REPO / "studies" / "results" / "findings.md").read_text()
    assert committed == findings_beside(STUDY, REPO / "studies" / "results"), \
        "run python -m pand_core.report.redraw and commit the files"
    pand_vl2lite = STUDY["paired"]["pand-vl2lite"]
    lo, hi = pand_vl2lite["ci95"]
    assert f"| PAND beats VL2Lite | {pand_vl2lite['mean']:+.1f} [{lo:+.1f}, {hi:+.1f}] | contradicted |" in committed
    # four verdicts flip across the regime map: the lead names the regime its verdicts belong to, and links the map
    assert committed.startswith("**In the miniature's 120-step regime (8 labelled images per class, 20 epochs), PAND "
                                "beats training on labels alone (CE) but does not beat VL2Lite.")
    assert "| PAND beats CE | +4.8 [+2.9, +6.8] | reproduced | flips |" in committed
    assert "of these six verdicts 1 holds, 4 flip and 1 depends on the regime" in committed
    assert "[the regime map](miniature.md#the-regime-map)" in committed
    assert "42 paired seeds" in committed and "not CUB-200" in committed


def test_without_the_map_the_box_keeps_the_studys_words():
    box = findings_markdown(STUDY)
    assert box.startswith("**On the miniature, PAND beats training on labels alone (CE) but does not beat VL2Lite.")
    assert "across the regime map" not in box and "regime map" not in box
    regimes = json.loads((REPO / "studies" / "results" / "regimes.json").read_text())
    holds = dict(regimes, claims=[dict(c, across_map="holds") for c in regimes["claims"]])
    box = findings_markdown(STUDY, regimes=holds, map_link="m.md")
    assert box.startswith("**On the miniature,") and "of these six verdicts 6 hold." in box  # nothing flips


def test_the_intro_opens_with_the_findings_box():
    intro = (REPO / "book" / "intro.md").read_text()
    head = intro.split("\n## ")[0]
    assert re.search(r":::\{admonition\} What this book found\n:class: findings\n\n```\{include\} "
                     r"\.\./studies/results/findings\.md\n```", head)
    assert head.index(":::{admonition}") < head.index("This book is")  # the answer before anything else


def test_the_study_figure_is_made_for_the_page():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pand_core.report.diagram import two_stages_figure
    from pand_core.report.style import apply_style

    with plt.rc_context():
        apply_style()
        for fig in (study_figure(STUDY), two_stages_figure()):
            fig.canvas.draw()
            assert fig.get_figwidth() <= PAGE_WIDTH_IN
            assert smallest_font_pt(fig) >= MIN_FONT_PT
            plt.close(fig)
    assert displayed_font_px(MIN_FONT_PT, PAGE_WIDTH_IN) == pytest.approx(12.5 * 690 / 700)
    assert displayed_font_px(9, 14) == pytest.approx(12.5 * 690 / 1400)  # a wider figure is shrunk to the column


def _notebooks():
    return sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebook_code_fits_the_page():
    for path in _notebooks():
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                long = [line for line in cell.source.splitlines() if len(line) > 88]
                assert not long, (path.name, long)


def test_reader_pages_hold_no_builders_history():
    """No issue numbers, commit hashes, test-file names or the stale "ten seeds" on the pages a reader meets."""
    history = re.compile(r"\bissues? #?\d+\b|\bcommit `?[0-9a-f]{7,40}\b|\bten seeds\b|tests/test_\w+\.py", re.I)
    texts = {f"book/{name}.md": (REPO / "book" / f"{name}.md").read_text() for name in READER_PAGES}
    for path in _notebooks():
        nb = nbformat.read(str(path), as_version=4)
        texts[path.name] = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for name, text in texts.items():
        assert not history.findall(text), (name, history.findall(text))


def _page(root: Path, rel: str, body: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body><article class='bd-article'>{body}</article></body></html>")


def test_the_built_book_check_finds_each_kind_of_problem(tmp_path):
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" for cells in (
        tuple(cell.strip() for cell in line.strip("|").split("|"))
        for line in findings_beside(STUDY, REPO / "studies" / "results").splitlines()
        if line.startswith("| ") and "paper's claim" not in line))
    box = f"<div class='admonition findings'><table><tbody>{rows}</tbody></table></div>"
    _page(tmp_path, "book/intro.html", box + "<p>Answer first.</p>")
    _page(tmp_path, "notebooks/00_quickstart.html",
          "<div class='cell_input'><pre>" + "x" * 80 + "</pre></div><div class='cell_output'><pre>ok</pre></div>")
    assert book_problems(tmp_path, REPO / "studies" / "results" / "study.json") == []
    _page(tmp_path, "notebooks/01_prompt_calibration.html",
          "<div class='cell_input'><pre>" + "y" * 95 + "</pre></div><div class='cell_output'><pre>" + "z" * 120
          + "</pre></div><p>as issue 40 asked, in commit 85b810c</p>")
    _page(tmp_path, "book/api.html", "<p>issue 29 may stay in the appendix</p>")
    found = book_problems(tmp_path, REPO / "studies" / "results" / "study.json")
    assert len(found) == 4 and all(p.startswith("notebooks/01_prompt_calibration.html") for p in found), found
    _page(tmp_path, "book/intro.html", box.replace("contradicted", "reproduced", 1))
    assert any("findings box" in p for p in book_problems(tmp_path, REPO / "studies" / "results" / "study.json"))


def test_figures_drawn_by_a_page_are_measured_when_asked(tmp_path, monkeypatch):
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pand_core.report.style import record_figures

    from matplotlib.backend_bases import FigureCanvasBase

    monkeypatch.setattr(FigureCanvasBase, "print_figure", FigureCanvasBase.print_figure)  # undone after the test
    log = tmp_path / "figures.jsonl"
    record_figures(str(log), page="a page")
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.set_title("wide", fontsize=10)
    ax.tick_params(labelsize=8)
    fig.canvas.print_figure(io.BytesIO(), format="png", dpi=100)
    plt.close(fig)
    (row,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert row["page"] == "a page" and row["title"] == "wide" and row["smallest_font_pt"] == 8
    assert row["width_in"] > 10 and row["displayed_font_px"] == pytest.approx(8 * 100 / 72 * 690 / (100 * row["width_in"]), abs=0.1)


def test_a_plain_savefig_is_measured_at_the_figures_dpi(tmp_path, monkeypatch):
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    from pand_core.report.style import record_figures

    monkeypatch.setattr(FigureCanvasBase, "print_figure", FigureCanvasBase.print_figure)
    log = tmp_path / "figures.jsonl"
    record_figures(str(log))
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.set_title("t", fontsize=10)
    fig.savefig(io.BytesIO(), format="png")  # dpi="figure"
    plt.close(fig)
    (row,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert row["dpi"] == 80
