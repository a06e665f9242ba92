"""The costs page's rendering of a GPU-suite record (`report.gpu_suite_markdown`), on hand-made records."""

from __future__ import annotations

import pytest

from pand_core.config import SPLIT_SIZES
from pand_core.report import (gpu_suite_markdown, gpu_suite_pending, gpu_suite_records, original_setup_estimate,
                              ran_on_gpu)

CUB_TRAIN = SPLIT_SIZES["cub"].train  # what the suite's records count, read where the suite reads it


def _t(median: float) -> dict:
    return {"median_s": median, "min_s": median * 0.9, "p10_s": median * 0.95, "p90_s": median * 1.1, "steps": 20,
            "images_per_s": 128 / median, "peak_memory_bytes": int(12 * 2**30)}


def _record(e2e: bool = True, dry: bool = False) -> dict:
    times = {"fp32": {"ce": _t(0.1), "pand_bank": _t(0.12), "pand_online": _t(0.5)},
             "bf16": {"ce": _t(0.05), "pand_bank": _t(0.055), "pand_online": _t(0.2)}}
    ratios = {p: {m: t["median_s"] / v["ce"]["median_s"] for m, t in v.items()} for p, v in times.items()}
    mem = {p: {m: {"peak_bytes": 2**30 * g, "peak_gib": g, "fits_16gb_colab": g <= 15.0}
               for m, g in (("ce", 3.0), ("pand_bank", 8.0), ("pand_online", 20.0))} for p in times}
    parts = {
        "step": {"part": 1, "status": "measured", "students": {"resnet18": times}, "ratios_to_ce": {"resnet18": ratios},
                 "image": 224, "batch": 128, "classes": 200},
        "memory": {"part": 2, "status": "measured", "modes": {"resnet18": mem}, "colab_usable_gib": 15.0},
        "data_path": {"part": 3, "status": "measured", "workers": 16, "cpu_path_images_per_s": 1500.0,
                      "device_path_images_per_s": 9000.0, "source_px": 256},
        "bank_build": {"part": 4, "status": "measured", "images_per_s": 800.0, "teacher_input_px": 256,
                       "bank_images": 8 * CUB_TRAIN, "bank_build_s_projected": 8 * CUB_TRAIN / 800.0},
        "stage1": {"part": 5, "status": "skipped", "reason": "budget: 500 s elapsed + this part's usual 30 s ..."},
        "end_to_end": {"part": 6, "status": "pending", "reason": "not reached (yet)"},
    }
    summary = {"can_feed": {"resnet18 bf16 ce": {"step_images_per_s": 2560.0, "cpu_path": False, "device_path": True}},
               "projection": None}
    if e2e:
        parts["end_to_end"] = {"part": 6, "status": "measured", "config": {"bank_views": 2}, "train_images": CUB_TRAIN,
                               "epochs_run": 3, "epoch_time_s": [4.0, 2.5, 2.5], "epoch_wall_s": [2.75, 2.75],
                               "setup_s": 40.0}
        summary["projection"] = {"formula": "total_s = ...", "total_s": 1200.0, "total_min": 20.0, "stage1_epochs": 200,
                                 "stage1_epoch_s": 1.0, "stage1_features_s": 15.0, "bank_build_s": 60.0,
                                 "stage2_epochs": 300, "stage2_epoch_s": 2.5, "teacher_load_s": 20.0}
    return {"benchmark": "gpu_suite", "dry_run": dry, "device": "cuda", "gpu": {"name": "NVIDIA H100 80GB HBM3"},
            "environment": {"device": "NVIDIA H100 80GB HBM3", "cpu_count": 16, "torch": "2.x"},
            "budget_s": 540.0, "elapsed_s": 530.0, "finished": True, "parts": parts, "summary": summary,
            "targets": {"pand_bank_le_1.15x_ce_bf16": True, "cub_reproduction_le_15_min": False,
                        "device_data_path_feeds_step": True}}


def test_records_leave_out_dry_runs_and_count_as_gpu():
    bench = [_record(), _record(dry=True) | {"device": "cpu", "environment": {"device": "cpu"}}]
    assert gpu_suite_records(bench) == [bench[0]] and ran_on_gpu(bench)


def test_pending_page_names_the_command_and_every_part():
    text = gpu_suite_pending()
    assert "has not run yet" in text and "python benchmarks/gpu_suite.py" in text and "--dry-run" in text
    assert "{" not in text, "an f-string placeholder was left unfilled"
    assert text.count("pending (no GPU run yet)") == 6


def test_original_setup_estimate_from_the_online_fp32_step():
    est = original_setup_estimate(_record())
    assert est["stage2_s"] == pytest.approx(0.5 * 300 * 47 / 4) and est["estimate"] is True
    r = _record()
    r["parts"]["step"]["students"]["resnet18"].pop("fp32")
    assert original_setup_estimate(r) is None


def test_markdown_renders_measured_skipped_and_pending_parts():
    text = gpu_suite_markdown(_record(e2e=False))
    assert "GPU suite on NVIDIA H100 80GB HBM3" in text
    assert "| resnet18 | bf16 | 50.0 (48–55) | 55.0 (52–61) (1.10×) | 200.0 (190–220) (4.00×) |" in text
    assert "| resnet18 | fp32 | pand_online | 20.0 | no |" in text and "| resnet18 | fp32 | ce | 3.0 | yes |" in text
    assert "CPU path cannot feed it, device path feeds it" in text
    assert "60 s, **projected**" in text and "An 8-view bank of 5,994 images" in text
    assert "Part 5: Stage 1 epoch** — skipped" in text and "skipped: budget" in text
    assert "Part 6: end to end, and the whole reproduction projected** — pending" in text
    assert "pending (not reached in this run)" in text
    assert "≤ 1.15× the CE step with bf16: met" in text and "(projected): NOT met" in text


def test_markdown_names_step_groups_left_out():
    r = _record()
    r["parts"]["step"].update(status="partial", failed_groups=["mobilenet_v2 fp32: out of memory (...)"])
    text = gpu_suite_markdown(r)
    assert "Part 1: Stage 2 step at the paper's sizes** — partial" in text
    assert "- not measured: mobilenet_v2 fp32: out of memory (...)" in text


def test_markdown_compares_the_projection_with_the_original_setup():
    text = gpu_suite_markdown(_record())
    assert "3 epochs of 4.0, 2.5, 2.5 s (training + test evaluation); between epoch ends (checkpoint writes " \
           "included): 2.8, 2.8 s; setup 40 s." in text
    assert "**20.0 min** (1200 s)" in text and "Formula: `total_s = ...`" in text
    assert "**estimated**: Stage 2 alone 0.5 h (500.0 ms × 300 epochs × 47 steps ÷ 4 GPUs), 1.5× this GPU's" in text
