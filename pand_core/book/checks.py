"""What can be checked in the built book without a browser: code and output lines that fit the page, no builders'
history (issue numbers, commit hashes) on reader pages, and the findings box's numbers equal to the study's.

`python -m pand_core.book.checks [_build/html]` prints every problem and exits 1 when there is one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

CODE_COLUMNS = 90  # a code line wider than this runs off the page's text column at 1280 px
OUTPUT_COLUMNS = 100  # an output line (which the book's CSS wraps) longer than this reads badly even wrapped
# Pages for maintainers, where history and long lines may stay: the appendix.
APPENDIX = ("book/api.html", "book/miniature-design.html", "book/miniature-preregistration.html", "book/shipped.html",
            "genindex.html", "search.html", "py-modindex.html")
HISTORY = (re.compile(r"\bissues? #?\d+\b", re.I), re.compile(r"\bcommit `?[0-9a-f]{7,40}\b"),
           re.compile(r"\bten seeds\b", re.I), re.compile(r"\btests/test_\w+\.py\b"))


def _pages(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def _article(soup):
    return soup.select_one("article.bd-article") or soup


def page_problems(page: Path, html_dir: Path) -> list[str]:
    """The problems of one built page: long code lines, long output lines, and (outside the appendix) history.

    Args:
        page: The page's HTML file.
        html_dir: The built book's HTML folder, which `page` is in (its path below it names the page).
    """
    from bs4 import BeautifulSoup

    rel = page.relative_to(html_dir).as_posix()
    article = _article(BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser"))
    problems = []
    for block in article.select("div.cell_input pre"):
        for line in block.get_text().splitlines():
            if len(line) > CODE_COLUMNS:
                problems.append(f"{rel}: code line of {len(line)} characters: {line[:60]}…")
    for block in article.select("div.cell_output pre"):
        for line in block.get_text().splitlines():
            if len(line) > OUTPUT_COLUMNS:
                problems.append(f"{rel}: output line of {len(line)} characters: {line[:60]}…")
    if rel not in APPENDIX:
        text = article.get_text(" ")
        for pattern in HISTORY:
            for m in pattern.finditer(text):
                problems.append(f"{rel}: builders' history on a reader page: {m.group(0)!r}")
    return problems


def findings_numbers(page: Path) -> list[tuple[str, ...]]:
    """(claim, difference, verdict[, across the regime map]) rows of the findings box on a built page; [] when it
    has none.

    Args:
        page: The page's HTML file.
    """
    from bs4 import BeautifulSoup

    box = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select_one(".admonition.findings")
    if box is None:
        return []
    rows = []
    for tr in box.select("tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in tr.select("td")]
        rows.append(tuple(cells))
    return rows


def book_problems(html_dir: str | Path, study_json: str | Path | None = None) -> list[str]:
    """Every page's problems, and whether the intro's findings box says what `study_json` holds.

    Args:
        html_dir: The built book's HTML folder.
        study_json: The study summary the intro's findings box must show; None: that check is skipped.
    """
    from ..report.findings import findings_beside

    html_dir = Path(html_dir)
    problems = [p for page in _pages(html_dir) for p in page_problems(page, html_dir)]
    if study_json is not None:
        expected = [tuple(cell.strip() for cell in line.strip("|").split("|"))
                    for line in findings_beside(json.loads(Path(study_json).read_text()),
                                                Path(study_json).parent).splitlines()
                    if line.startswith("| ") and not line.startswith("| the paper's claim")]
        intro = html_dir / "book" / "intro.html"
        if not intro.exists():
            intro = html_dir / "index.html"
        found = findings_numbers(intro)
        if found != expected:
            problems.append(f"{intro.relative_to(html_dir)}: the findings box says {found}, the study {expected}")
    return problems


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    study = Path("studies/results/study.json")
    found = book_problems(root, study if study.exists() else None)
    print("\n".join(found) or f"{root}: no problems found")
    sys.exit(1 if found else 0)
