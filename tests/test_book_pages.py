"""The book's pages: every file a chapter includes exists, the notebooks' Colab badges and install cells name the one
repository address (`pand_core.book.colab`), and a page's start and cost line (`pand_core.book.page.start_page`)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_the_repository_address_has_one_home():
    """The Colab badges and install cells name the repository of `_config.yml` (its one home) and this notebook's
    path on its branch; every install cell is `book.colab.install_cell` (a wheel on Drive first, the address after)."""
    import re

    import yaml

    from pand_core.book.colab import install_cell

    repo = yaml.safe_load((NOTEBOOKS.parent / "_config.yml").read_text())["repository"]
    url, branch = repo["url"].rstrip("/"), repo["branch"]
    slug = url.removeprefix("https://github.com/")
    found = set()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        badges = re.findall(r"colab\.research\.google\.com/github/([^)\s]+)", text)
        assert badges == [f"{slug}/blob/{branch}/notebooks/{path.name}"], (path.name, badges)
        assert nb.cells[1].source == install_cell(url), f"{path.name}: its first code cell is not the install cell"
        found |= set(re.findall(r"https?://github\.com/[\w.-]+/[\w.-]+", text))
    for other in ("README.md", "pyproject.toml", *map(str, Path("book").glob("*.md"))):
        found |= set(re.findall(r"https?://github\.com/[\w.-]+/[\w.-]+", (NOTEBOOKS.parent / other).read_text()))
    assert found <= {url}, found - {url}


def test_every_file_a_book_page_includes_or_shows_exists():
    """The chapters include generated tables and figures from studies/results/: a renamed or missing one would break
    the book build (warnings are errors) for every user; caught here without building it."""
    import re

    pattern = re.compile(r"```\{include\} (\S+)|!\[[^\]]*\]\((\.\./[^)]+)\)")
    refs = [(page, m.group(1) or m.group(2)) for page in sorted((REPO / "book").glob("*.md"))
            for m in pattern.finditer(page.read_text())]
    assert any(target.endswith("studies/results/study.md") for _, target in refs)
    missing = [f"{page.name}: {target}" for page, target in refs if not (page.parent / target).resolve().exists()]
    assert not missing, missing


def test_a_page_starts_with_its_runs_folder_and_reports_its_cost(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from pand_core.book.page import PLOT_STYLE, start_page

    monkeypatch.setenv("PAND_RUNS", "elsewhere")
    with plt.rc_context():
        page = start_page(tmp_path)
        assert os.environ["PAND_RUNS"] == str(tmp_path) and page.runs == tmp_path
        assert all(plt.rcParams[k] == v for k, v in PLOT_STYLE.items())
    text = page.cost({})
    assert text.startswith("**What this page cost, measured.** This execution of the page: ") and "CPU cores" in text
