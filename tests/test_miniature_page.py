"""Every interval the miniature's page quotes in its prose is one of the committed study's (studies/results/study.json),
rounded as the findings box rounds it: "mean [lo, hi]", "[lo, hi]" or "lo to hi", one decimal."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NUMBER = r"[-+−]?\d+(?:\.\d+)?"
BRACKETED = re.compile(rf"(?:({NUMBER}) )?\[({NUMBER}), ({NUMBER})\]")
WORDED = re.compile(rf"(?<![\w.])({NUMBER}) to ({NUMBER})(?![\w.])")


def _value(text: str) -> float:
    return float(text.replace("−", "-"))


def _study_entries() -> list[dict]:
    study = json.loads((REPO / "studies" / "results" / "study.json").read_text())
    return [e for e in (*study["paired"].values(), *study["stage1"].values()) if "ci95" in e]


def _rounded(x: float, decimals: int) -> float:
    return float(f"{x:.{decimals}f}")


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _quoted_intervals(text: str) -> list[tuple[str | None, str, str]]:
    found = [(m.group(1), m.group(2), m.group(3)) for m in BRACKETED.finditer(text)]
    found += [(None, m.group(1), m.group(2)) for m in WORDED.finditer(text) if "." in m.group(1) + m.group(2)]
    return found


def _matches(entry: dict, mean: str | None, lo: str, hi: str) -> bool:
    d = max(_decimals(lo), _decimals(hi))
    if (_value(lo), _value(hi)) != tuple(_rounded(x, d) for x in entry["ci95"]):
        return False
    return mean is None or _value(mean) == _rounded(entry["mean"], _decimals(mean))


def test_every_interval_in_the_miniature_prose_is_the_studys():
    page = (REPO / "book" / "miniature.md").read_text()
    prose = "\n".join(line for line in page.splitlines() if not line.startswith(("|", "```", "![")))
    quoted = _quoted_intervals(prose)
    assert len(quoted) >= 5, quoted  # the page quotes the claims' intervals
    entries = _study_entries()
    wrong = [q for q in quoted if not any(_matches(e, *q) for e in entries)]
    assert not wrong, f"intervals on book/miniature.md that are no rounded ci95 of study.json: {wrong}"


def test_the_check_catches_a_misrounded_interval():
    entries = _study_entries()
    assert _quoted_intervals("NLRD on top of PSC by 1.6 (−2.5 to −0.7)") == [(None, "−2.5", "−0.7")]
    for wrong in ("NLRD on top of PSC by 1.6 (−2.5 to −0.7)", "1.5 points below VL2Lite (-1.5 [-2.5, -0.6])"):
        (quoted,) = _quoted_intervals(wrong)
        assert not any(_matches(e, *quoted) for e in entries), wrong
    (quoted,) = _quoted_intervals("1.5 points below VL2Lite (-1.5 [-2.4, -0.6])")
    assert any(_matches(e, *quoted) for e in entries)
