"""Studies (`pand_core.study`): every method and seed runs once and is summarised; the command refuses an unknown
method with one line."""

from __future__ import annotations

import json
import os

import pytest


@pytest.mark.slow
def test_a_study_runs_every_method_and_seed_once_and_summarises_them(tmp_path, monkeypatch, synthetic_root):
    """Two seeds × two methods on the small world: one Stage 1 per seed, learned anchors passed on, finished runs
    read (not retrained) when the study is extended, and summary.json pairs the seeds."""
    from pand_core.study import run_study

    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    calls = []
    from pand_core.stage2 import distill as distill_mod

    original = distill_mod.distill

    def counted(cfg, **kw):
        calls.append((cfg.method, cfg.seed))
        return original(cfg, **kw)

    monkeypatch.setattr(distill_mod, "distill", counted)
    tiny = {"teacher": "pand-tiny-clip", "teacher_weights": None}
    kw = dict(student="resnet18", runs=tmp_path / "runs", teacher_mode="bank", data_root=str(synthetic_root), progress=False,
              log=lambda *_: None, overrides={"calibrate": dict(tiny, epochs=2, n_ctx=4, batch_size=8),
                                              "distill": dict(tiny, epochs=1, batch_size=8, nlrd_group_size=4,
                                                              image_size=32, resize=36, student_pretrained=False)})
    before = os.environ.get("PAND_RUNS")
    path = run_study("smoke", "cub", ["ce", "pand"], [0, 1], **kw)
    assert os.environ.get("PAND_RUNS") == before  # the study's runs folder does not leak into the process
    s = json.loads(path.read_text())
    assert sorted(calls) == [("ce", 0), ("ce", 1), ("pand", 0), ("pand", 1)]
    assert s["methods"]["pand"]["seeds"] == [0, 1] and s["paired"]["pand-ce"]["seeds"] == [0, 1]
    pand = json.loads((tmp_path / "runs" / "smoke" / "cub" / "pand-resnet18-s1" / "result.json").read_text())
    assert pand["anchors"].endswith("calibrate-s1/anchors.pt")  # each seed's own Stage 1
    calls.clear()
    run_study("smoke", "cub", ["ce", "pand"], [0, 1, 2], **kw)  # extended by one seed: only seed 2 trains
    assert sorted(calls) == [("ce", 2), ("pand", 2)]


def test_study_command_refuses_an_unknown_method_with_one_line(capsys):
    from pand_core.study import main

    assert main(["--methods", "pand", "nope", "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown method(s) ['nope']") and err.count("\n") == 1
