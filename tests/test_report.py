"""The reports (`pand_core.report`): results and ablation tables with the paper's numbers, the costs page's tables
and estimates, paired intervals, the study summary and report, claims, confusions."""

from __future__ import annotations

import json

import pytest
import torch

from pand_core.config import make_config
from pand_core.report import ablation_markdown, collect_results, results_markdown, summarise


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
