"""The miniature chapter's regime map: every number and verdict it states is the committed `regimes.json`'s."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pand_core.report.regime_map import map_claims, regime_words, regimes_markdown

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "studies" / "results"
MAP = json.loads((RESULTS / "regimes.json").read_text())
PAGE = (REPO / "book" / "miniature.md").read_text()
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
LONGER = [n for n in MAP["regimes"] if n != MAP["study"]]


def _verdict(regime: str, difference: str) -> str:
    return {c["difference"]: c["verdict"] for c in MAP["regimes"][regime]["claims"]}[difference]


def _mean(regime: str, method: str) -> float:
    return MAP["regimes"][regime]["methods"][method]["test_acc_last"]["mean"]


def test_the_committed_map_files_are_the_reports():
    assert (RESULTS / "regimes-words.md").read_text() == regime_words(MAP), "rerun make regimes (it reads its runs)"
    tables = (RESULTS / "regimes.md").read_text()
    assert tables.startswith(regimes_markdown(MAP)), "rerun make regimes (it reads its runs)"


def test_the_chapter_shows_the_maps_files_and_figures():
    section = PAGE.split("(miniature-regimes)=")[1].split("(miniature-anchors)=")[0]
    for name in ("regimes-words.md", "regimes.md"):
        assert f"```{{include}} ../studies/results/{name}\n```" in section
    for name in ("regimes.png", "regimes-accuracy.png"):
        figure = section.split(f"(../studies/results/{name})")[1]
        assert figure.lstrip("\n")[:1].isalpha(), f"a sentence follows {name}"
    assert "T_max = round(epochs × 7 / 20)" in section and "after its last epoch" in section


def test_the_chapters_words_on_the_map_are_the_maps():
    rows = map_claims(MAP, MAP["study"])
    across = {r["difference"]: r["across_map"] for r in rows}
    flips = sum(v == "flips" for v in across.values())
    assert f"{WORDS[flips]} of the six flip" in PAGE
    assert [d for d, v in across.items() if v == "holds"] == ["calibrated-hand"]  # "only Stage 1's gain ... holds"
    assert "only Stage 1's gain to the teacher holds everywhere" in PAGE
    # "with four times the steps or four times the images, PAND beats VL2Lite and PSC adds accuracy on top of NLRD"
    for regime in ("8img-80ep", "32img-20ep"):
        assert MAP["regimes"][regime]["steps"] == 4 * MAP["regimes"][MAP["study"]]["steps"]
        assert _verdict(regime, "pand-vl2lite") == _verdict(regime, "pand-pand-no-psc") == "reproduced"
    # "labels alone beat every distilled student" in every longer regime
    for regime in LONGER:
        assert all(_mean(regime, "ce") > _mean(regime, m) for m in MAP["regimes"][regime]["methods"] if m != "ce")
    # "NLRD's own contribution is resolved above zero in no regime"
    assert all(_verdict(n, "pand-pand-no-nlrd") != "reproduced" for n in MAP["regimes"])
    # "at 32 images and 1,920 steps every one of them passes" the teacher
    top = MAP["regimes"]["32img-80ep"]
    assert top["steps"] == 1920 and all(_mean("32img-80ep", m) > top["stage1"]["calibrated"]["mean"]
                                        for m in top["methods"])
    # "end 20–30 points below their teacher" (the study) and "1 to 16 times the study's steps"
    study = MAP["regimes"][MAP["study"]]
    gaps = [study["stage1"]["calibrated"]["mean"] - v["test_acc_last"]["mean"] for v in study["methods"].values()]
    assert f"end {round(min(gaps))}–{round(max(gaps))} points below their" in PAGE
    steps = sorted(MAP["regimes"][n]["steps"] for n in LONGER)
    assert f"run {steps[0]:,}, {steps[1]:,} and {steps[2]:,} optimiser steps" in PAGE.replace("\n", " ")
    assert f"1 to {steps[-1] // study['steps']} times the study's steps" in PAGE


def test_every_flipped_verdict_on_the_chapter_names_its_regime():
    """The study's verdict paragraph and the chapter's answer say the 120-step regime and point to the map."""
    steps = MAP["regimes"][MAP["study"]]["steps"]
    answer = PAGE.split("**The answer.**")[1].split("\n\n")[0]
    assert f"{steps} optimiser steps" in answer and "<miniature-regimes>" in answer
    words = PAGE.split("What the numbers show, in words")[1].split("\n\n")[0]
    assert f"the {steps}-step regime's" in words and "<miniature-regimes>" in words
    assert re.search(r"four of\s+them flip", words)
