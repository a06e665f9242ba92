"""Reports, neighbourhood analysis, load-or-compute stages, and the papermill pipeline end to end with the book."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
import torch

from pand_core.config import make_config
from pand_core.infra.errors import ConfigError, PipelineError
from pand_core.method.neighborhood import knn_graph, knn_overlap, neighbour_label_purity, pair_divergences, purity_upper_bound
from pand_core.book.build import build_book
from pand_core.book.executed import stderr_cells
from pand_core.pipeline import make_plan, run_plan, run_studies
from pand_core.report import ablation_markdown, collect_results, results_markdown, summarise

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------- report
def _result(method, seed, last, best, profile="smoke", val=None):
    return {"method": method, "dataset": "cub", "student": "resnet18", "teacher_mode": "online", "seed": seed,
            "profile": profile, "test_acc_last": last, "test_acc_best": best, "val_selected_test_acc": val}


def test_summarise_means_stds_and_paper_numbers(tmp_path):
    results = [_result("pand", 0, 70.0, 72.0, "paper"), _result("pand", 1, 74.0, 75.0, "paper"), _result("ce", 0, 60.0, 61.0, "paper")]
    rows = summarise(results)
    assert [r["method"] for r in rows] == ["ce", "pand"]  # method order, not alphabetical by accident
    pand = rows[1]
    assert pand["last_mean"] == 72.0 and pand["last_std"] == pytest.approx(2 ** 0.5 * 2)  # stdev of (70, 74)
    assert pand["best_mean"] == 73.5 and pand["seeds"] == [0, 1] and pand["paper"] == 76.09
    assert rows[0]["paper"] is None  # the paper reports no ce row
    table = results_markdown(rows)
    assert "72.00 ± 2.83" in table and "76.09" in table
    assert "†" not in table  # 76.09 is quoted
    derived = results_markdown(summarise([_result("vl2lite-original", 0, 70.0, 71.0, "paper"),
                                          _result("vl2lite", 0, 71.0, 72.0, "paper")]))
    assert "| vl2lite-original | online | 1 | 70.00 | 71.00 | — | 72.69† |" in derived  # VL2Lite's own recipe
    assert "| vl2lite | online | 1 | 71.00 | 72.00 | — | — |" in derived  # the controlled row has no paper number
    assert "† derived: 76.09 − 3.4" in derived  # 72.69 is derived, and says so
    assert "`vl2lite`: controlled" in derived and "`vl2lite-original`: VL2Lite's own recipe" in derived
    assert "`kd`" not in derived and "the original code has no counterpart" in results_markdown(summarise([_result("kd", 0, 1.0, 1.0)]))
    smoke_rows = summarise([_result("pand", 0, 10.0, 12.0)])
    assert smoke_rows[0]["paper"] is None  # never compare a miniature with the paper


def test_ablation_marks_missing_runs_and_collect_finds_nested(tmp_path):
    rows = summarise([_result("vl2lite", 0, 50.0, 51.0), _result("pand", 0, 55.0, 56.0)])
    text = ablation_markdown(rows, "cub", "resnet18")
    assert "| — | — | vl2lite | 50.00 |" in text and "| — | ✓ | pand-no-psc | not run |" in text and "| ✓ | ✓ | pand | 55.00 |" in text
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "result.json").write_text(json.dumps(_result("ce", 0, 1.0, 2.0)))
    (tmp_path / "a" / "calib").mkdir()
    (tmp_path / "a" / "calib" / "result.json").write_text(json.dumps({"stage": "calibrate"}))  # not a Stage 2 run
    found = collect_results(tmp_path)
    assert len(found) == 1 and found[0]["run_dir"].endswith("a/b")
    assert results_markdown([]) == "_No Stage 2 runs found._"


def test_cost_markdown_reports_only_measured_times(tmp_path):
    from pand_core.report import cost_markdown

    env = {"device": "cpu", "cpu_count": 2, "torch": "2.x"}
    teacher = tmp_path / "teachers" / "mini"
    teacher.mkdir(parents=True)
    (teacher / "pretraining.json").write_text(json.dumps({"spec": {"epochs": 8, "pairs": 5000}, "train_time_s": 118.8,
                                                          "environment": env}))
    cal = {"stage": "calibrate", "teacher": {"source": f"dir:{teacher}"}, "environment": env,
           "timings": {"features_s": 0.4, "stage1_s": 22.7, "total_s": 147.5}}
    ce = dict(_result("ce", 0, 1.0, 2.0), epochs=8, train_time_s=11.04, environment=env, teacher=None)
    text = cost_markdown(191.2, {"Stage 1": cal, "Stage 2, ce": ce}, env)
    assert "This execution of the page: 191 s of wall time (cpu, 2 CPU cores, torch 2.x)" in text
    assert "| Stage 1 | Stage 1 in all (loading the teacher, its features 0.4 s, prompt learning 22.7 s) | 147.5 |" in text
    assert "| Stage 2, ce | Stage 2: 8 epochs of training and evaluation | 11.0 |" in text
    assert "pretraining, 8 epochs on 5,000 image–caption pairs | 118.8 | cpu, 2 CPU cores" in text
    assert str(tmp_path) not in text  # times, never paths
    log = json.loads((teacher / "pretraining.json").read_text())
    (teacher / "pretraining.json").write_text(json.dumps(dict(log, stored_as="fp16")))  # the shipped teacher
    text = cost_markdown(191.2, {"Stage 1": cal}, env)
    assert "| the miniature teacher" not in text  # it did not run for this page: no row of the cost table
    assert "Not part of this cost: the miniature teacher's pretraining, 8 epochs on 5,000 image–caption pairs (119 s" in text


def test_method_order_is_the_registrys_with_each_original_recipe_first():
    from pand_core.config import ABLATION, METHOD_ORDER, METHODS

    assert ABLATION == {(False, False): "vl2lite", (False, True): "pand-no-psc", (True, False): "pand-no-nlrd",
                        (True, True): "pand"}  # derived from the specs, the paper's PSC x NLRD table
    assert sorted(METHOD_ORDER) == sorted(METHODS)
    for m in METHODS:
        if m.endswith("-original"):
            assert METHOD_ORDER.index(m) + 1 == METHOD_ORDER.index(m.removesuffix("-original"))
    assert METHOD_ORDER[0] == "ce-original" and METHOD_ORDER[-1] == "pand"


def test_results_page_tables_of_the_paper_and_of_stage1(tmp_path):
    from pand_core.report import calibrations_markdown, collect_calibrations, paper_markdown

    paper = paper_markdown()
    assert "| cub | resnet18 | pand | 76.09 | quoted |" in paper
    assert "| cub | resnet18 | vl2lite-original | 72.69 | derived: 76.09 − 3.4" in paper
    assert "| pets | (unconfirmed) | pand, best listed | 88.97 | quoted from [WizWand's benchmark listing](https://" in paper
    assert "76.09 is the paper's own statement" in paper and "76.52 is the best PAND entry for CUB" in paper
    for seed, cal in ((1, 41.25), (0, 40.0), (10, 39.0)):
        path = tmp_path / "smoke" / "cub" / f"calibrate-s{seed}" / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"stage": "calibrate", "dataset": "cub", "seed": seed, "chance_acc": 100 / 24,
                                    "hand_prompt_acc": {"test": 33.333}, "calibrated_acc": {"test": cal},
                                    "selected_on": "last"}))
    (tmp_path / "smoke" / "cub" / "ce-s0").mkdir()
    (tmp_path / "smoke" / "cub" / "ce-s0" / "result.json").write_text(json.dumps(_result("ce", 0, 1.0, 2.0)))
    found = collect_calibrations(tmp_path)
    assert [c["seed"] for c in found] == [0, 1, 10]  # Stage 1 runs only, seeds as numbers (not "0, 1, 10, 2")
    found = collect_calibrations(tmp_path, seeds={0, 1})  # the seeds of the Stage 2 runs a page shows
    table = calibrations_markdown(found)
    assert table.splitlines()[2:] == ["| cub | 0 | 4.17 | 33.33 | 40.00 | last |", "| cub | 1 | 4.17 | 33.33 | 41.25 | last |"]
    assert calibrations_markdown([]).splitlines()[2] == "| — | — | — | — | — | — |"


def _step_time(size="full", batch=128, ce=0.1, bank=0.2, online=0.5, device="gpu", amp=True):
    return {"benchmark": "stage2_step_time", "size": size, "amp": amp,
            "environment": {"device": device, "cpu_count": 16, "torch": "2.x"},
            "sizes": {"image": 224, "batch": batch, "classes": 200},
            "times": {"ce": {"median_s": ce}, "pand_bank": {"median_s": bank}, "pand_online": {"median_s": online}},
            "ratios_to_ce": {"pand_bank": bank / ce, "pand_online": online / ce}}


def test_costs_page_estimates_cub_from_the_measured_steps():
    """300 epochs × ⌈5994 / 128⌉ = 47 steps: online 14,100 × 0.5 s = 1.958 h; bank 14,100 × 0.2 s + 8 views × 5994
    images × (0.5 − 0.1) / 128 s = 2820 + 149.85 s = 0.825 h."""
    from pand_core.report import cub_estimate, cub_estimate_markdown, step_demand, step_demand_lines, step_time_markdown

    assert cub_estimate(_step_time()) == pytest.approx({"online": 7050 / 3600, "bank": 2969.85 / 3600})
    assert cub_estimate(_step_time(online=0.05))["bank"] == pytest.approx(300 * 47 * 0.2 / 3600)  # no negative teacher
    bench = [_step_time(), _step_time(batch=4, device="cpu", amp=False), _step_time(size="smoke", batch=32)]
    rows = cub_estimate_markdown(bench).splitlines()[2:]
    assert rows == ["| gpu (16 CPU cores, torch 2.x) | bf16 | 2.0 | 0.8 |"]  # only the paper's step size
    assert cub_estimate_markdown(bench[1:]).startswith("_No estimate yet") and "|" not in cub_estimate_markdown(bench[1:])
    assert step_demand(_step_time()) == pytest.approx(1280.0)  # 128 images / 0.1 s
    assert step_demand_lines(bench) == ["gpu (16 CPU cores, torch 2.x): a student-only training step consumes 1280 "
                                        "images/s at full size", "cpu (16 CPU cores, torch 2.x): a student-only "
                                        "training step consumes 40 images/s at full size"]
    assert ("| gpu (16 CPU cores, torch 2.x) | full (224 px, batch 128, 200 classes) | bf16 | 100.0 | 200.0 (2.00×) | "
            "500.0 (5.00×) |") in step_time_markdown(bench)
    assert "no step-time benchmark yet" in step_time_markdown([])


def test_costs_page_reads_every_benchmark_file(tmp_path):
    from pand_core.report import (benchmarks_of, collect_benchmarks, data_path_markdown, inference_markdown, ran_on_gpu,
                                  stage1_step_markdown)

    cpu = {"device": "cpu", "cpu_count": 2, "torch": "2.x"}
    records = {
        "b-data.json": {"benchmark": "data_path", "environment": cpu, "workers": 2, "cpu_path_images_per_s": 80.6,
                        "device": "cpu", "device_path_images_per_s": 93.4},
        "a-stage1.json": {"benchmark": "stage1_step", "environment": cpu, "teacher": "t", "classes": 8,
                          "full": {"sequence_length": 77, "step_s": 4.0}, "truncated": {"sequence_length": 36, "step_s": 2.5},
                          "speedup": 1.6},
        "c-inference.json": {"benchmark": "inference", "environment": cpu, "image_size": 224,
                             "models": {"student": {"params": 11_300_000, "macs_per_image": 1.81e9,
                                                    "fp32_weights_bytes": 45_088_768, "latency_batch1_s": 0.0262,
                                                    "latency_batch32_s": 0.8694}},
                             "export_check": {"torchscript_max_abs_err": 0.0, "onnx_max_abs_err": 2.5e-6}},
    }
    for name, record in records.items():
        (tmp_path / name).write_text(json.dumps(record))
    bench = collect_benchmarks(tmp_path)
    assert [r["file"] for r in bench] == ["a-stage1.json", "b-data.json", "c-inference.json"]
    assert [r["file"] for r in benchmarks_of(bench, "data_path")] == ["b-data.json"]
    assert not ran_on_gpu(bench) and ran_on_gpu(bench + [_step_time()])
    assert "| cpu (2 CPU cores, torch 2.x) | 2 | 81 | cpu | 93 |" in data_path_markdown(bench)
    assert "| cpu (2 CPU cores, torch 2.x) | t | 8 | 77 → 36 | 4.000 | 2.500 | 1.60× |" in stage1_step_markdown(bench)
    [table] = inference_markdown(bench)
    assert table.startswith("**cpu (2 CPU cores, torch 2.x), 224 px**")
    assert "| student | 11.3 M | 1.81 | 43 | 26.2 | 869 |" in table  # 45,088,768 B = 43 MiB; 26.2 ms; 869 ms
    assert table.endswith("TorchScript max |Δlogit| 0.0e+00, ONNX 2.5e-06.")
    assert inference_markdown([]) == ["_No inference benchmark yet._"]
    assert "no data-path benchmark yet" in data_path_markdown([]) and "no Stage 1 benchmark yet" in stage1_step_markdown([])


# ------------------------------------------------------------------------------------- neighbourhood
def test_knn_graph_groups_use_global_indices():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 1.0]])
    g = knn_graph(z, k=1, group_size=2)
    assert g[:, 0].tolist() == [1, 0, 3, 2, -1]  # the trailing singleton group has no neighbour
    assert knn_graph(z, k=1)[:4, 0].tolist() == [1, 0, 3, 2]


def test_purity_overlap_and_pair_divergences():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    assert neighbour_label_purity(z, labels, [1, 2]) == {1: 1.0, 2: pytest.approx(4 / 8)}
    assert knn_overlap(z, z, k=1) == 1.0
    flipped = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])  # rows 0 and 1 now pair with 3 and 2
    assert knn_overlap(flipped, z, k=1) == 0.0
    assert torch.allclose(pair_divergences(z, z, k=1, group_size=None), torch.zeros(4), atol=1e-7)
    assert (pair_divergences(flipped, z, k=1, group_size=None) > 0).all()


def test_purity_upper_bound_counts_the_same_class_samples_a_group_holds():
    """Labels [0,0,0,1 | 1,2,2,2]: in group 1 the three 0s each have 2 others, the 1 none; for k = 2 the best purity
    is (2+2+2+0 + 0+2+2+2)/(2·8) = 12/16, for k = 1 it is 6/8; without groups the 1s pair up: k = 1 gives 8/8."""
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    assert purity_upper_bound(labels, [1, 2], group_size=4) == {1: pytest.approx(6 / 8), 2: pytest.approx(12 / 16)}
    assert purity_upper_bound(labels, [1], group_size=None) == {1: 1.0}
    z = torch.nn.functional.one_hot(labels, 3).float() + 0.01 * torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    for k in (1, 2, 3):  # logits that separate the classes perfectly reach the bound, none exceeds it
        assert neighbour_label_purity(z, labels, [k], group_size=4)[k] == pytest.approx(purity_upper_bound(labels, [k], 4)[k])


# --------------------------------------------------------------------------------------------- stages
def test_stages_load_finished_runs_and_refuse_other_configs(tmp_path, monkeypatch, synthetic_root):
    from pand_core.stage1 import calibrate as cal_mod
    from pand_core.stages import calibrated

    monkeypatch.setenv("PAND_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PAND_CACHE", str(tmp_path / "cache"))
    cfg = make_config("calibrate", "smoke", data_root=str(synthetic_root), teacher="pand-tiny-clip", epochs=2, n_ctx=4)
    first = calibrated(cfg, progress=False)
    monkeypatch.setattr(cal_mod, "calibrate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert calibrated(cfg) == json.loads(json.dumps(first))
    other = make_config("calibrate", "smoke", data_root=str(synthetic_root), teacher="pand-tiny-clip", epochs=3, n_ctx=4)
    with pytest.raises(ConfigError, match=r"another configuration[\s\S]*epochs: 2 != 3"):
        calibrated(other)


def test_a_run_saved_before_named_random_streams_is_not_taken_for_one_after(tmp_path):
    """A config.json without `seeding` was written when views and batches were seeded by bare tags: it differs
    from a config of this code, while any other option a run saved before it existed counts as its default."""
    from pand_core.config import config_diff, to_dict
    from pand_core.infra.seeds import SEEDING_VERSION

    current = to_dict(make_config("distill", "smoke"))
    old = {k: v for k, v in current.items() if k not in ("seeding", "early_stop_patience")}
    assert config_diff(old, current) == [f"seeding: 1 != {SEEDING_VERSION}"]
    assert config_diff(dict(old, seeding=SEEDING_VERSION), current) == []


def test_config_changes_ignore_what_a_resume_may_change(tmp_path):
    from pand_core.infra.files import write_json
    from pand_core.config import config_changes
    from pand_core.infra.rundir import read_config, started

    assert not started(tmp_path)
    write_json(tmp_path / "config.json", {"epochs": 2, "out": "a", "device": "cpu"})
    assert started(tmp_path) and read_config(tmp_path)["epochs"] == 2
    assert config_changes(tmp_path, {"epochs": 2, "out": "b", "device": "cuda"}) == []
    assert config_changes(tmp_path, {"epochs": 3, "out": "a", "device": "cpu"}) == ["epochs: 2 != 3"]


# ------------------------------------------------------------------------------------------- pipeline
def test_plan_runs_each_study_then_each_notebook_once(tmp_path):
    plan = make_plan("smoke", tmp_path, ["cub"], ["ce", "pand"], None, [0, 1])
    names = [(j.notebook, j.tag) for j in plan.jobs]
    assert names == [("00_quickstart", "smoke"), ("01_prompt_calibration", "cub-s0"),
                     ("03_distillation", "cub-pand-mini-resnet-pand-s0"), ("02_neighborhood_graph", "cub-pand-mini-resnet"),
                     ("04_results", "smoke"), ("05_costs", "")]
    assert plan.studies == [dict(profile="smoke", dataset="cub", methods=["ce", "pand"], seeds=[0, 1],
                                 student="pand-mini-resnet", runs=tmp_path.resolve(), teacher_mode=None, data_root=None,
                                 overrides={"calibrate": {}, "distill": {}})]
    job = plan.book_copies["03_distillation"]
    assert job.marker == tmp_path.resolve() / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json"
    assert not job.done(plan.out)
    assert make_plan("paper", tmp_path, ["cub"], ["ce"], None, [0]).studies[0]["student"] == "resnet18"
    with pytest.raises(Exception, match="unknown method"):
        make_plan("smoke", tmp_path, ["cub"], ["pandas"], None, [0])


def test_an_executed_copy_is_done_only_while_its_notebook_is_unchanged(tmp_path, monkeypatch):
    """The copy records its notebook's cell digest: editing a cell makes it out of date, editing only metadata (or
    outputs) does not, and a copy without the digest (made before it was recorded) is out of date."""
    from pand_core import pipeline
    from pand_core.book.executed import stamp_source
    from pand_core.pipeline import NotebookJob

    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", tmp_path / "nb")
    (tmp_path / "nb").mkdir()
    source = tmp_path / "nb" / "x.ipynb"
    nb = {"cells": [{"cell_type": "code", "source": ["a = 1\n", "print(a)"], "metadata": {}, "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    source.write_text(json.dumps(nb))
    job = NotebookJob("x", "", {})
    copy = job.output(tmp_path / "out")
    copy.parent.mkdir(parents=True)
    copy.write_text(json.dumps(nb))
    assert not job.done(tmp_path / "out")  # no digest recorded
    stamp_source(copy, source)
    assert job.done(tmp_path / "out")
    source.write_text(json.dumps(dict(nb, metadata={"kernelspec": {"name": "python3"}})))
    assert job.done(tmp_path / "out")  # metadata is not the notebook's content
    nb["cells"][0]["source"] = ["a = 2\n", "print(a)"]
    source.write_text(json.dumps(nb))
    assert not job.done(tmp_path / "out")


def test_the_plan_gives_the_teacher_and_schedule_to_the_studies_and_every_stage_notebook(tmp_path):
    from pand_core.params import RunParams

    run = RunParams("paper", teacher="ViT-B-32", teacher_weights="openai", stage1_epochs=3, stage2_epochs=4)
    plan = make_plan("paper", tmp_path, ["cub"], ["ce", "pand"], None, [0], run=run)
    assert plan.studies[0]["overrides"] == {"calibrate": {"teacher": "ViT-B-32", "teacher_weights": "openai", "epochs": 3},
                                            "distill": {"teacher": "ViT-B-32", "teacher_weights": "openai", "epochs": 4}}
    stage_pages = {"00_quickstart", "01_prompt_calibration", "02_neighborhood_graph", "03_distillation"}
    for job in plan.jobs:
        given = {k: job.params.get(k) for k in ("TEACHER", "TEACHER_WEIGHTS", "STAGE1_EPOCHS", "STAGE2_EPOCHS")}
        expected = {"TEACHER": "ViT-B-32", "TEACHER_WEIGHTS": "openai", "STAGE1_EPOCHS": 3, "STAGE2_EPOCHS": 4}
        assert given == (expected if job.notebook in stage_pages else dict.fromkeys(expected)), job.notebook
    with pytest.raises(ConfigError, match="TEACHER = 'ViT-B-32' needs TEACHER_WEIGHTS"):  # the paper tag is XXL's
        make_plan("paper", tmp_path, ["cub"], ["ce"], None, [0], run=RunParams("paper", teacher="ViT-B-32"))


def test_run_params_make_the_configs_a_page_runs(tmp_path, monkeypatch):
    from pand_core.params import RunParams

    monkeypatch.setenv("PAND_RUNS", str(tmp_path))
    p = RunParams("paper", teacher="pand-tiny-clip", teacher_weights="none", student="mobilenet_v2", stage1_epochs=2,
                  stage2_epochs=3, teacher_mode="bank")
    cal, dis = p.calibrate(), p.distill("pand")
    assert (cal.teacher, cal.teacher_weights, cal.epochs) == ("pand-tiny-clip", None, 2)
    assert (dis.student, dis.epochs, dis.teacher_mode, dis.teacher_weights) == ("mobilenet_v2", 3, "bank", None)
    assert dis.anchors == str(Path(cal.out) / "anchors.pt")  # learned anchors: this page's Stage 1 run
    assert p.distill("ce").anchors is None
    assert RunParams("smoke").distill("pand").epochs == make_config("distill", "smoke").epochs  # None: the profile's


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_every_parameters_cell_parses_in_papermill(caplog):
    """papermill reads each assignment of a parameters cell (`papermill --help-notebook`, and no 'Unable to parse'
    warning during `make smoke`); the stage pages all offer a teacher choice."""
    from papermill.translators import PythonTranslator

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        caplog.clear()
        names = {p.name for p in PythonTranslator.inspect(cell)}
        assert "Unable to parse" not in caplog.text, (path.name, caplog.text)
        assigned = {line.split("=")[0].strip() for line in cell.source.splitlines() if line[:1].isupper() and "=" in line}
        assert names == assigned, (path.name, assigned - names)
        if path.stem[:2] in ("00", "01", "02", "03"):
            assert {"PROFILE", "DATA_ROOT", "TEACHER", "TEACHER_WEIGHTS", "STAGE1_EPOCHS"} <= names, path.name


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


@pytest.mark.slow
def test_pipeline_end_to_end_with_failure_recovery_and_book(tmp_path, monkeypatch, synthetic_root):
    """Smoke pipeline on the small world: a failing stage stops with its name and cell and keeps earlier work;
    the rerun continues; the book is built from the executed notebooks with warnings as errors."""
    out = tmp_path / "runs"  # the teacher and student are the shipped ones: nothing is pretrained here
    bad = make_plan("smoke", out, ["cub"], ["ce", "pand"], None, [0], data_root=str(synthetic_root))
    bad.jobs[1].params["DATASET"] = "aircraft"  # the quickstart succeeds, then Stage 1 finds no FGVC-Aircraft files
    log = []
    with pytest.raises(PipelineError) as e:
        run_plan(bad, log=log.append)
    msg = str(e.value)
    assert "01_prompt_calibration.ipynb" in msg and "cell" in msg and "DatasetNotFoundError" in msg
    assert bad.jobs[0].output(bad.out).exists()  # the finished stage's copy is kept
    failed = bad.jobs[1].output(bad.out).with_name("01_prompt_calibration-cub-s0.failed.ipynb")
    assert failed.exists() and not bad.jobs[1].output(bad.out).exists()  # the failed copy is kept aside

    good = make_plan("smoke", out, ["cub"], ["ce", "pand"], None, [0], data_root=str(synthetic_root))
    good.jobs[0].marker = None
    studies = run_studies(good, log=log.append)  # every run first, in this process; the notebooks then read them
    summary_path = out.resolve() / "smoke" / "cub" / "summary.json"
    assert [r["summary"] for r in studies] == [str(summary_path)]
    assert set(json.loads(summary_path.read_text())["methods"]) == {"ce", "pand"}
    trained = (out / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json").stat().st_mtime_ns
    summary = run_plan(good, log=log.append)
    status = {(s["notebook"], s["tag"]): s["status"] for s in summary}
    assert status[("00_quickstart", "smoke")] == "skipped"  # finished before the failure: not redone
    assert status[("01_prompt_calibration", "cub-s0")] == "ran"
    assert all(j.output(out.resolve()).exists() for j in good.jobs)
    assert (out / "smoke" / "cub" / "pand-pand-mini-resnet-s0" / "result.json").stat().st_mtime_ns == trained  # read

    # Stray stderr in finished copies: a dependency's first-run message is scrubbed and the copy kept; anything else
    # makes the copy unfit for the book, so it is set aside and executed again — never silently reused.
    def add_stderr(job, text):
        nb = nbformat.read(str(job.output(out.resolve())), as_version=4)
        [c for c in nb.cells if c.cell_type == "code"][-1].outputs.append(
            nbformat.v4.new_output("stream", name="stderr", text=text))
        nbformat.write(nb, str(job.output(out.resolve())))

    add_stderr(good.jobs[0], "Matplotlib is building the font cache; this may take a moment.\n")
    add_stderr(good.jobs[1], "UserWarning: a real warning\n")
    status = {(s["notebook"], s["tag"]): s["status"] for s in run_plan(good, log=log.append)}
    assert status[("00_quickstart", "smoke")] == "skipped" and status[("01_prompt_calibration", "cub-s0")] == "ran"
    assert sum(s == "ran" for s in status.values()) == 3  # that one, and the two summary pages that always rerun
    assert stderr_cells(nbformat.read(str(good.jobs[0].output(out.resolve())), as_version=4)) == []
    assert good.jobs[1].output(out.resolve()).with_name("01_prompt_calibration-cub-s0.rejected.ipynb").exists()
    assert any("not fit for the book" in line and "a real warning" in line for line in log)

    distillation = good.book_copies["03_distillation"]
    add_stderr(distillation, "UserWarning: appeared after the run\n")
    with pytest.raises(PipelineError, match="03_distillation.ipynb is not fit for the book"):
        build_book(good.executed_copies(), good.out / "book-src", REPO, tmp_path / "html")
    assert not distillation.output(out.resolve()).exists()  # set aside: the next run executes it again
    status = {(s["notebook"], s["tag"]): s["status"] for s in run_plan(good, log=log.append)}
    assert status[("03_distillation", "cub-pand-mini-resnet-pand-s0")] == "ran"
    assert status[("02_neighborhood_graph", "cub-pand-mini-resnet")] == "skipped"

    html = build_book(good.executed_copies(), good.out / "book-src", REPO, tmp_path / "html")
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    assert {"book/intro.html", "book/method.html", "book/reproduction.html", "book/api.html", "book/gpu-recipe.html",
            "notebooks/03_distillation.html", "notebooks/04_results.html"} <= pages
    page = (html / "notebooks" / "04_results.html").read_text()
    assert "Traceback" not in page and "it/s]" not in page  # no tracebacks, no progress-bar noise
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()  # math renders offline
    assert (html / "_static" / "tables.css").exists()  # the book's own table styles, as `make book` has them
    deviations = (html / "book" / "deviations.html").read_text()
    assert "tables.css" in deviations and 'class="deviations-table' in deviations
    assert 'class="deviations-table' not in (html / "book" / "reproduction.html").read_text()  # printed once
    # what a browser is not needed for: code and outputs fit, no builders' history, the findings box is the study's
    from pand_core.book.checks import book_problems

    assert book_problems(html, REPO / "studies" / "results" / "study.json") == []
    assert '<details class="provenance">' in (html / "book" / "miniature.html").read_text()  # provenance folded
    published = [p for p in html.rglob("*") if p.suffix in (".html", ".ipynb", ".txt", ".js") and p.is_file()]
    for page in published:  # no path of this machine, in pages or downloadable sources: injected cells are left out
        text = page.read_text(errors="replace")
        assert str(tmp_path) not in text and str(REPO) not in text and "tag_injected-parameters" not in text, page.name
    injected = nbformat.read(str(good.jobs[0].output(out.resolve())), as_version=4).cells
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in injected)  # kept in the executed copy


def test_paired_interval_matches_a_hand_computed_case():
    """Differences 2, 3, 5: mean 10/3, s = √(7/3), t(0.975, 2) = 4.302653 → half width 4.302653·s/√3 = 3.79458."""
    from pand_core.report import paired_difference, t_interval

    d = paired_difference({0: 50.0, 1: 52.0, 2: 55.0, 7: 1.0}, {0: 48.0, 1: 49.0, 2: 50.0})  # seed 7 has no partner
    assert d["seeds"] == [0, 1, 2] and d["n"] == 3
    assert d["mean"] == pytest.approx(10 / 3)
    assert d["ci95"] == pytest.approx([10 / 3 - 3.79458, 10 / 3 + 3.79458], abs=1e-4)
    assert t_interval([4.0]) == {"n": 1, "mean": 4.0, "ci95": None}  # one seed: no interval, never a made-up one


def test_summary_json_is_computed_from_the_result_files_only(tmp_path):
    from pand_core.report import write_study_summary

    def put(name, payload):
        path = tmp_path / "smoke" / "cub" / name / "result.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))

    accs = {"ce": [40.0, 42.0, 41.0], "vl2lite": [38.0, 40.0, 45.0], "pand": [44.0, 43.0, 47.0]}
    for method, values in accs.items():
        for seed, acc in enumerate(values):
            put(f"{method}-resnet18-s{seed}", {"method": method, "dataset": "cub", "student": "resnet18", "seed": seed,
                                               "test_acc_last": acc, "profile": "smoke"})
    for seed, (hand, cal) in enumerate([(30.0, 35.0), (30.0, 33.0), (30.0, 37.0)]):
        put(f"calibrate-s{seed}", {"stage": "calibrate", "seed": seed, "hand_prompt_acc": {"test": hand},
                                   "calibrated_acc": {"test": cal}})
    put("calibrate-s10", {"stage": "calibrate", "seed": 10, "hand_prompt_acc": {"test": 30.0},
                          "calibrated_acc": {"test": 90.0}})  # another study's Stage 1: no Stage 2 run of seed 10
    path = write_study_summary(tmp_path, "smoke", "cub", "resnet18")
    s = json.loads(path.read_text())
    assert s["stage1"]["calibrated"]["seeds"] == [0, 1, 2]
    assert path == tmp_path / "smoke" / "cub" / "summary.json"
    assert s["methods"]["pand"]["seeds"] == [0, 1, 2] and s["methods"]["pand"]["test_acc_last"]["values"] == [44.0, 43.0, 47.0]
    assert s["methods"]["pand"]["test_acc_last"]["mean"] == pytest.approx(134 / 3)
    assert set(s["paired"]) == {"pand-ce", "pand-vl2lite", "vl2lite-ce"}  # contrasts whose runs exist
    assert s["paired"]["pand-ce"]["mean"] == pytest.approx((4 + 1 + 6) / 3)
    assert s["stage1"]["calibrated-hand"]["mean"] == pytest.approx(5.0)
    put("pand-resnet18-s1", {"method": "pand", "dataset": "cub", "student": "resnet18", "seed": 1, "test_acc_last": 52.0,
                             "profile": "smoke"})  # edit one result: the summary follows
    s2 = json.loads(write_study_summary(tmp_path, "smoke", "cub", "resnet18").read_text())
    assert s2["paired"]["pand-ce"]["mean"] == pytest.approx((4 + 10 + 6) / 3)
    assert s2["methods"]["pand"]["test_acc_last"]["values"] == [44.0, 52.0, 47.0]
    assert json.loads(write_study_summary(tmp_path, "smoke", "cub").read_text())["methods"] == {}  # smoke's student: none

    from pand_core.report import write_study_report

    md, png, data = write_study_report(s2, tmp_path / "report" / "study.md", "made by a test")
    text = md.read_text()
    assert json.loads(data.read_text()) == s2
    assert png.exists() and png.stat().st_size > 1000
    assert "| pand | 3 | 47.67 [" in text and "44.0, 52.0, 47.0" in text  # mean (44 + 52 + 47) / 3, every seed
    assert "hand prompts 30.00 [30.00, 30.00] %;" in text  # three equal values: no spread
    assert "calibrated prompts (Stage 1) 35.00 [" in text and text.rstrip().endswith("made by a test")


def test_claims_are_read_from_the_intervals():
    from pand_core.report import claims, claims_markdown, verdict

    assert verdict({"n": 5, "ci95": [0.1, 2.0]}) == "reproduced"
    assert verdict({"n": 5, "ci95": [-3.0, -0.2]}) == "contradicted"
    assert verdict({"n": 5, "ci95": [-1.0, 2.0]}) == "not resolved"
    assert verdict({"n": 1, "ci95": None}) == verdict(None) == "not testable"
    summary = {"paired": {"pand-vl2lite": {"n": 3, "mean": 2.0, "ci95": [0.5, 3.5]},
                          "pand-ce": {"n": 3, "mean": -1.0, "ci95": [-4.0, 2.0]}},
               "stage1": {"calibrated-hand": {"n": 3, "mean": -2.0, "ci95": [-3.0, -1.0]}}}
    got = {c["difference"]: c["verdict"] for c in claims(summary)}
    assert got["pand-vl2lite"] == "reproduced" and got["pand-ce"] == "not resolved"
    assert got["calibrated-hand"] == "contradicted" and got["pand-pand-no-psc"] == "not testable"
    text = claims_markdown(summary)
    assert "The miniature reproduces: pAND beats VL2Lite" not in text and "reproduces: PAND beats VL2Lite." in text
    assert "It contradicts: PSC improves the teacher's zero-shot accuracy." in text


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


def test_pipeline_command_stops_a_user_error_with_one_line(tmp_path, capsys):
    from pand_core.pipeline import main

    assert main(["--methods", "pandas", "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown method(s) ['pandas']") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # stopped before any work


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


def test_the_costs_page_takes_the_recipe_from_the_paper_profile():
    from pand_core.report import BANK_VIEWS, PAPER_BATCH, PAPER_EPOCHS

    paper = make_config("distill", "paper")
    assert (PAPER_BATCH, PAPER_EPOCHS, BANK_VIEWS) == (paper.batch_size, paper.epochs, paper.bank_views) == (128, 300, 8)


def test_confusions_are_counted_ranked_and_named():
    from pand_core.report import confusion_matrix, confusion_summary, most_confused, name_difference

    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 0, 2, 2, 1])  # 0→1 twice, 1→0 once, 2→1 once
    conf = confusion_matrix(torch.nn.functional.one_hot(predicted, 3).float(), labels, 3)
    assert conf.tolist() == [[1, 2, 0], [1, 1, 0], [0, 1, 2]] and int(conf.sum()) == 8
    assert most_confused(conf, 2) == [(0, 1, 2), (1, 0, 1)] and len(most_confused(conf, 9)) == 3
    assert name_difference("Red Spotted Finch", "Red Striped Finch") == "Spotted ↔ Striped"
    names = ["Red Spotted Finch", "Red Striped Finch", "Blue Striped Finch"]
    text = confusion_summary(conf, names, top=2)
    assert text.startswith("4 of 8 test images are misclassified. The 2 most frequent confusions")
    assert "2 × *Red Spotted Finch* taken for *Red Striped Finch*" in text and "account for 75 % of them" in text
    assert "**Spotted ↔ Striped**" in text and "**Striped ↔ Spotted**" in text
    assert confusion_summary(torch.eye(3, dtype=torch.long), names) == "All 3 test images are classified correctly."


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
