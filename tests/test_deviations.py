"""The deviation study (`pand_core.deviations`): its arms, its paired contrasts by hand, the deviations table against
the committed results, and one short seed of every arm end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pand_core import deviations as dev
from pand_core.config import make_config, to_dict

REPO = Path(__file__).resolve().parents[1]


def test_each_arm_is_pand_changed_only_where_it_says(tmp_path):
    _, ref = dev.reference_configs(3, tmp_path)
    for arm in dev.ARMS:
        cal, cfg = dev.arm_configs(arm, 3, tmp_path)
        changed = {k for k, v in to_dict(cfg).items() if to_dict(ref)[k] != v} - {"out"}
        expected = set(arm.distill) | ({"anchors"} if arm.calibrate else set())
        assert changed == expected, arm.name
        assert Path(cfg.out).parent == tmp_path / "smoke" / "cub" / "deviations"
        if arm.calibrate:
            assert cal.select_on == arm.calibrate.get("select_on", "last")
            assert cfg.anchors == str(Path(cal.out) / "anchors.pt")
            assert to_dict(cal)["prompt_precision"] == arm.calibrate.get("prompt_precision", "auto")
        else:
            assert cal.out == make_config("calibrate", "smoke", runs=tmp_path, seed=3).out  # the study's Stage 1


def test_the_patience_and_the_nlrd_batch_follow_the_original():
    assert dev.SCALED_PATIENCE == 7  # 100 of 300 epochs -> 20/3, rounded
    whole = next(a for a in dev.ARMS if a.name == "nlrd-whole-batch")
    assert whole.distill == {"batch_size": 64, "nlrd_group_size": None}


def _fake(values: dict[str, list[tuple[float, float, float]]]) -> dict:
    """{arm: [(stage-1 test acc, test_acc_last, test_acc_best) per seed]} as run_deviations returns it."""
    return {arm: {s: ({"calibrated_acc": {"test": c}}, {"test_acc_last": last, "test_acc_best": best})
                  for s, (c, last, best) in enumerate(rows)} for arm, rows in values.items()}


def test_contrasts_by_hand():
    runs = _fake({"pand": [(80, 60, 63), (82, 62, 62)], "online": [(80, 58, 60), (82, 65, 66)],
                  "anchors-best-on-test": [(84, 61, 61), (83, 60, 61)]})
    by = {(c.row, c.metric, c.a, c.b): c for c in dev.CONTRASTS}
    assert dev.contrast_values(by[(1, "best-minus-last", "pand", "pand")], runs) == {0: 3, 1: 0}
    assert dev.contrast_values(by[(12, "test_acc_last", "pand", "online")], runs) == {0: 2, 1: -3}
    assert dev.contrast_values(by[(3, "stage1:test", "pand", "anchors-best-on-test")], runs) == {0: -4, 1: -1}
    assert dev.contrast_values(by[(3, "test_acc_last", "pand", "anchors-best-on-test")], runs) == {0: -1, 1: 2}


def test_measured_phrase_carries_mean_interval_and_seeds():
    record = {"label": "x − y", "mean": 1.234, "ci95": [-0.5, 2.96], "n": 15}
    assert dev.measured_phrase(record) == "x − y: +1.23 [-0.50, +2.96] points, 15 seeds"


def _table_rows() -> dict[int, str]:
    rows = {}
    for line in (REPO / "book" / "_deviations.md").read_text().splitlines():
        m = re.match(r"\| (\d+) \|", line)
        if m:
            rows[int(m.group(1))] = line
    return rows


def test_every_measured_row_of_the_deviations_table_matches_the_committed_results():
    results = json.loads((REPO / "studies" / "results" / "deviations.json").read_text())
    rows = _table_rows()
    measured = {r for r, line in rows.items() if "measured on the miniature" in line.lower()}
    assert measured == {c["row"] for c in results["contrasts"]} | {6}
    for c in results["contrasts"]:
        assert dev.measured_phrase(c) in rows[c["row"]], (c["row"], dev.measured_phrase(c))
        assert c["n"] == len(c["values"]) and c["n"] == results["seeds_used"]
    assert results["teacher_stochastic_layers"] == [] and "no stochastic layer" in rows[6]


def test_the_miniature_teacher_has_no_stochastic_layer():
    assert dev.teacher_stochastic_layers() == []


@pytest.mark.slow
def test_one_short_seed_of_every_arm_reuses_the_study_runs(tmp_path, monkeypatch, synthetic_root):
    from pand_core.stage2 import distill as distill_mod
    from pand_core.study import run_study

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    tiny = {"teacher": "pand-tiny-clip", "teacher_weights": None}
    study = {"calibrate": dict(tiny, epochs=2, n_ctx=4, batch_size=8),
             "distill": dict(tiny, epochs=1, nlrd_group_size=4, student_pretrained=False)}
    run_study("smoke", "cub", ["pand"], [0], runs=tmp_path / "runs", data_root=str(synthetic_root),
              progress=False, log=lambda *_: None, overrides=study)
    root = {"data_root": str(synthetic_root)}
    overrides = {"calibrate": dict(study["calibrate"], **root),
                 "distill": dict(study["distill"], **root)}
    calls = []
    original = distill_mod.distill
    monkeypatch.setattr(distill_mod, "distill", lambda cfg, **kw: calls.append(Path(cfg.out).name) or original(cfg, **kw))
    runs = dev.run_deviations([0], tmp_path / "runs", progress=False, log=lambda *_: None, overrides=overrides)
    assert sorted(calls) == sorted(f"{a.name}-s0" for a in dev.ARMS)  # the study's pand run is read, not retrained
    assert set(runs) == {"pand", *(a.name for a in dev.ARMS)}
    assert runs["online"][0][1]["teacher_mode"] == "online" and runs["pand"][0][1]["teacher_mode"] == "bank"
    assert runs["anchors-best-on-test"][0][0]["selected_on"] == "test"
    assert [runs[a][0][0]["prompt_autocast"] for a in ("pand", "stage1-bf16", "stage1-fp16")] == ["float32", "bfloat16",
                                                                                                "float16"]
    records = dev.summarise(runs)
    assert [r["row"] for r in records] == [c.row for c in dev.CONTRASTS] and all(r["n"] == 1 for r in records)
